"""The papers' tables and figures, one ``Study`` per notebook (``base``): the notebooks call these modules and hold
only narrative.

``houlsby/``: Houlsby et al. 2019 (table1, table2, fig3, fig4, fig5, fig6); ``fusion/``: Pfeiffer et al. 2021
(table1, table2, table3, fig3, fig4, cost); ``learning_curve``: our figure of the methods by training-set size;
``benchmarks``: speed against the peer libraries; ``common``: run-store
results to tidy tables with the paper's number beside ours. Importing this package registers every study, in
paper order; ``reproduce`` runs them in ``base.order``, which puts each after the studies it depends on.
"""
from adapterlib.studies import houlsby, fusion, learning_curve, benchmarks  # noqa: F401,I001  (registers, in order)
from adapterlib.studies.base import STUDIES, Study, order, register, setup_text

__all__ = ["STUDIES", "Study", "order", "register", "setup_text"]
