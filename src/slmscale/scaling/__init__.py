"""Scaling-law analysis: loss forms and robust fits, envelopes, IsoFLOPs, downstream laws,
bootstrap uncertainty, hold-out checks, the compute-optimal planner and the papers' figures.

Pure numpy/scipy/pandas (matplotlib only in `figures`); it reads any results table with
`params, tokens, loss` (or a metric column), so published numbers work as well as our own runs.
"""
