"""The papers' tables and figures as functions of a profile: the notebooks call these and hold only narrative.

``common``: turning run-store results into the tidy output tables (our score beside the paper's); ``houlsby``:
Houlsby et al. 2019; ``fusion``: Pfeiffer et al. 2021.
"""
