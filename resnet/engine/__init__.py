"""The measurement engine: cases, worker processes, timing, journals.

Nothing here imports a deep-learning backend; only the worker processes do.
"""
