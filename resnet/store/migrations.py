"""The store's tables, derived from :mod:`resnet.schema`, and their migrations.

Four tables: ``machines`` (one per machine label and identity), ``runs`` (one per run,
keyed by the SHA-256 of its file), ``cases`` (a column per row field of the schema:
every axis, figure, interval and flag, typed) and ``samples`` (the step samples and
probe series, as JSON, one row per case and field: the statistics need them, a history
does not, so readers that need none never read them).  ``resnet_bench_meta`` holds the
schema version.

Migrations are numbered; :func:`migrate` runs the ones a store lacks, in one transaction
under a lock, then adds a column for every row field the schema gained since the store
was made (a field added to :mod:`resnet.schema` needs no hand-written migration).  A
store newer than this code is refused, never changed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from resnet.errors import InputError
from resnet.schema import FIELDS, Field

#: The schema version this code writes; every store is migrated up to it on opening.
SCHEMA_VERSION = 3
#: pytest-benchmark's statistics of the timed steps, kept as columns (``step_median_s``).
STEP_COLUMNS = tuple(f"step_{k}_s" for k in ("min", "max", "mean", "median", "stddev", "iqr", "q1", "q3"))
#: Row fields stored per case in ``samples`` (lists), not as columns of ``cases``.
SAMPLE_FIELDS = tuple(name for name, f in FIELDS.items() if f.role == "samples")
#: Row fields that are the case table's key, not data columns.
KEY_FIELDS = ("case_id",)


def column_type(field: Field) -> sa.types.TypeEngine:
    """The SQL type of a row field: whole numbers, floating point (IEEE double), text or a
    boolean, as the schema types it."""
    types = set(field.type)
    if types == {bool}:
        return sa.Boolean()
    if types == {int}:
        return sa.BigInteger()
    if types <= {int, float}:
        return sa.Double()
    return sa.Text()


def case_columns() -> dict[str, sa.types.TypeEngine]:
    """Every data column of ``cases``: the schema's row fields but the samples, and the
    steps' statistics."""
    out: dict[str, sa.types.TypeEngine] = {
        name: column_type(f) for name, f in FIELDS.items() if name not in SAMPLE_FIELDS + KEY_FIELDS
    }
    out.update({name: sa.Double() for name in STEP_COLUMNS})
    return out


def _machines(meta: sa.MetaData) -> sa.Table:
    return sa.Table(
        "machines",
        meta,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("label", sa.Text, nullable=False),
        sa.Column("slug", sa.Text, nullable=False),
        sa.Column("identity", sa.Text, nullable=False),  # JSON: the facts that name the hardware
        sa.Column("cpu_model", sa.Text),
        sa.Column("cpu_cores", sa.Integer),
        sa.Column("gpu_model", sa.Text),
        sa.Column("gpu_count", sa.Integer),
        sa.Column("memory_gb", sa.Double),
        sa.Column("facts", sa.Text, nullable=False),  # JSON: machine_info as the first run gave it
        sa.UniqueConstraint("label", "identity", name="machines_label_identity"),
    )


def _runs(meta: sa.MetaData, version: int = SCHEMA_VERSION) -> sa.Table:
    # Since version 3: the sweep a run came from (its journal's id), so a resumed sweep
    # replaces its earlier partial run instead of adding a second one.
    sweep = [sa.Column("sweep", sa.Text, index=True)] if version >= 3 else []
    return sa.Table(
        "runs",
        meta,
        sa.Column("id", sa.String(12), primary_key=True),  # the digest's first 12 hex digits
        sa.Column("digest", sa.String(64), nullable=False, unique=True),
        sa.Column("machine_id", sa.Integer, sa.ForeignKey("machines.id"), nullable=False),
        sa.Column("datetime", sa.Text),
        sa.Column("commit", sa.Text),
        sa.Column("branch", sa.Text),
        sa.Column("dirty", sa.Boolean),
        sa.Column("backend", sa.Text),
        sa.Column("profile", sa.Text),
        sa.Column("versions", sa.Text),  # JSON: framework and library versions
        sa.Column("source", sa.Text, nullable=False),  # the file it was added from, as given
        sa.Column("cpu_cores", sa.Integer),
        sa.Column("cases", sa.Integer, nullable=False),
        sa.Column("added", sa.Text, nullable=False),
        *sweep,
        sa.Index("runs_machine_datetime", "machine_id", "datetime"),
    )


def _cases(meta: sa.MetaData, columns: dict[str, sa.types.TypeEngine], inline_samples: bool) -> sa.Table:
    cols = [sa.Column(name, kind) for name, kind in columns.items()]
    if inline_samples:  # schema version 1
        cols.append(sa.Column("samples", sa.Text))
    return sa.Table(
        "cases",
        meta,
        sa.Column("run_id", sa.String(12), sa.ForeignKey("runs.id"), primary_key=True),
        sa.Column("case_id", sa.Text, primary_key=True),
        sa.Column("seq", sa.Integer, nullable=False),  # the row's place in its run
        *cols,
        sa.Column("extra", sa.Text),  # JSON: row keys the schema does not name (older tools)
    )


def _samples(meta: sa.MetaData) -> sa.Table:
    return sa.Table(
        "samples",
        meta,
        sa.Column("run_id", sa.String(12), primary_key=True),
        sa.Column("case_id", sa.Text, primary_key=True),
        sa.Column("field", sa.Text, primary_key=True),
        sa.Column("data", sa.Text, nullable=False),  # JSON list
        sa.ForeignKeyConstraint(["run_id", "case_id"], ["cases.run_id", "cases.case_id"]),
    )


def _meta_table(meta: sa.MetaData) -> sa.Table:
    return sa.Table(
        "resnet_bench_meta",
        meta,
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )


class Tables:
    """The tables of the current schema version, for queries."""

    def __init__(self, columns: dict[str, sa.types.TypeEngine] | None = None) -> None:
        self.metadata = sa.MetaData()
        self.meta = _meta_table(self.metadata)
        self.machines = _machines(self.metadata)
        self.runs = _runs(self.metadata)
        self.cases = _cases(self.metadata, columns or case_columns(), inline_samples=False)
        self.samples = _samples(self.metadata)


def tables_of_version(version: int, columns: dict[str, sa.types.TypeEngine] | None = None) -> sa.MetaData:
    """The DDL of a schema version (1: samples inline in ``cases.samples``; 2: ``samples``;
    3: ``runs.sweep``)."""
    meta = sa.MetaData()
    _meta_table(meta)
    _machines(meta)
    _runs(meta, version)
    _cases(meta, columns or case_columns(), inline_samples=version == 1)
    if version >= 2:
        _samples(meta)
    return meta


def _to_v2(conn: sa.Connection) -> None:
    """Version 1 -> 2: the samples move from ``cases.samples`` (one JSON object per case)
    to their own table, one row per case and field; nothing is dropped but the column."""
    import json

    meta = sa.MetaData()
    sa.Table("cases", meta, autoload_with=conn)  # the samples' foreign key refers to it
    _samples(meta).create(conn)
    samples = meta.tables["samples"]
    rows = conn.execute(sa.text("SELECT run_id, case_id, samples FROM cases WHERE samples IS NOT NULL"))
    batch: list[dict[str, Any]] = []
    for run_id, case_id, text in rows:
        for name, values in json.loads(text).items():
            batch.append({"run_id": run_id, "case_id": case_id, "field": name, "data": json.dumps(values)})
    if batch:
        conn.execute(samples.insert(), batch)
    conn.execute(sa.text("ALTER TABLE cases DROP COLUMN samples"))


def _to_v3(conn: sa.Connection) -> None:
    """Version 2 -> 3: ``runs.sweep``, the sweep a run came from (empty for runs added before)."""
    conn.execute(sa.text("ALTER TABLE runs ADD COLUMN sweep TEXT"))
    conn.execute(sa.text("CREATE INDEX ix_runs_sweep ON runs (sweep)"))


#: Migration to version N (from N - 1).
MIGRATIONS: dict[int, Callable[[sa.Connection], None]] = {2: _to_v2, 3: _to_v3}


class StoreError(InputError):
    """A store that cannot be used as asked: one line saying what and what is valid."""


def stored_version(conn: sa.Connection) -> int:
    """The store's schema version; 0 for an empty database."""
    if not sa.inspect(conn).has_table("resnet_bench_meta"):
        return 0
    value = conn.execute(sa.text("SELECT value FROM resnet_bench_meta WHERE key = 'schema_version'")).scalar()
    try:
        return int(value) if value is not None else 0
    except (TypeError, ValueError):
        raise StoreError(f"its schema version reads {value!r}, not a number: it is damaged") from None


def migrate(conn: sa.Connection) -> list[str]:
    """Bring the store up to SCHEMA_VERSION inside the caller's transaction (which holds the
    store's write lock); returns what it did, one line per step."""
    done: list[str] = []
    version = stored_version(conn)
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"the store is at schema version {version}, newer than this resnet-bench's "
            f"({SCHEMA_VERSION}): upgrade resnet-bench to read it"
        )
    if version == 0:
        foreign = sorted(sa.inspect(conn).get_table_names())
        if foreign:
            raise StoreError(
                f"holds another application's tables ({', '.join(foreign[:5])}), not a resnet-bench store; "
                "nothing was created in it: give a database of its own"
            )
        tables_of_version(SCHEMA_VERSION).create_all(conn)
        done.append(f"created the tables (schema version {SCHEMA_VERSION})")
    for step in range(version + 1 if version else SCHEMA_VERSION + 1, SCHEMA_VERSION + 1):
        MIGRATIONS[step](conn)
        done.append(f"migrated to schema version {step}")
    have = {c["name"] for c in sa.inspect(conn).get_columns("cases")}
    for name, kind in case_columns().items():
        if name not in have:
            type_sql = kind.compile(dialect=conn.dialect)
            conn.execute(sa.text(f"ALTER TABLE cases ADD COLUMN {_quoted(conn, name)} {type_sql}"))
            done.append(f"added the column cases.{name} (a field the schema gained)")
    if version != SCHEMA_VERSION:
        table = Tables().meta
        conn.execute(table.delete().where(table.c.key == "schema_version"))
        conn.execute(table.insert().values(key="schema_version", value=str(SCHEMA_VERSION)))
    return done


def _quoted(conn: sa.Connection, name: str) -> str:
    return conn.dialect.identifier_preparer.quote(name)
