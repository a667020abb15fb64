"""Pfeiffer et al. 2021, *AdapterFusion*: one module per table or figure, each registering its ``Study``.

``runs``: the ST-A, MT-A and fusion runs they share through the run store (see there how they build on each
other); ``report``: figure and text pieces they share. Table 1's runs feed Table 2, Table 3 (reduction factor 16),
Figure 3 and the attention figures.

    from adapterlib.studies.fusion import table1
    table = table1.table(profile)
    checks = table1.claims(table)
"""
# registration order = the notebooks' order
from adapterlib.studies.fusion import table1, table2, table3, fig3, fig4, cost, tradeoff  # noqa: I001

__all__ = ["table1", "table2", "table3", "fig3", "fig4", "cost", "tradeoff"]
