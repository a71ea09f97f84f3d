"""The results store: where the runs of many machines meet.

One interface over SQLAlchemy Core, on SQLite (embedded, the default) or PostgreSQL (a
team's server), chosen by a URL: ``--db URL``, else ``RESNET_BENCH_DB``, else
``sqlite:///.benchmarks/resnet-bench.sqlite`` (beside pytest-benchmark's own storage).
A run goes in whole or not at all (one transaction), once (keyed by the SHA-256 of its
file), checked exactly as the file loader checks it; readers get the same DataFrame
from the store as from the files (:func:`resnet.runs.to_frame`). It stands on
:mod:`resnet.runs`, beside the analysis, which never imports it.
"""

from resnet.store.core import DEFAULT_URL, Selection, Store, default_url, resolve_url
from resnet.store.migrations import StoreError

__all__ = ["DEFAULT_URL", "Selection", "Store", "StoreError", "default_url", "resolve_url"]
