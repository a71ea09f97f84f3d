"""Everything that reads results: loading runs, tables, plots, reports, comparisons,
procurement and history pages.  Nothing here measures; the engine never imports it."""

from resnet.analysis.loading import LoadError, load, load_file

__all__ = ["LoadError", "load", "load_file"]
