"""Houlsby et al. 2019, *Parameter-Efficient Transfer Learning for NLP*: one module per table or figure, each
declaring its ``Study`` (registered on import) and its ``table``, ``plot`` and ``claims``; ``runs`` and ``report``
hold what several of them share.

    from adapterlib.studies.houlsby import table1
    saved = pd.read_csv(results.save_table(table1.table(profile), profile.name, table1.STUDY.name))
    checks = table1.claims(saved)
"""
from adapterlib.studies.houlsby import table1, table2, fig3, fig4, fig5, fig6  # noqa: I001 (the paper's order)

__all__ = ["table1", "table2", "fig3", "fig4", "fig5", "fig6"]
