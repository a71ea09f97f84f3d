"""The store: opening it (URL, locking, migrations), adding, listing, removing and reading runs."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from resnet.engine.machine import slug
from resnet.runs import (
    RUN_COLUMNS,
    SOURCE_COLUMNS,
    RunFile,
    as_history,
    drift_columns,
    to_frame,
    versions_text,
)
from resnet.store.migrations import (
    SAMPLE_FIELDS,
    SCHEMA_VERSION,
    StoreError,
    Tables,
    case_columns,
    migrate,
    stored_version,
)

DEFAULT_URL = "sqlite:///.benchmarks/resnet-bench.sqlite"
#: Run-level columns the loader adds to every row, stored once per run.
RUN_FACTS = frozenset(SOURCE_COLUMNS)
#: An advisory-lock key for PostgreSQL migrations (any constant; "rnbench").
_PG_LOCK = 0x726E62656E6368


def default_url() -> str:
    """``RESNET_BENCH_DB``, else (unset) the SQLite file beside pytest-benchmark's storage.
    Set but empty is refused: it is what a CI secret the job cannot read looks like (a pull
    request from a fork), and falling back to a local file would gate on no history."""
    value = os.environ.get("RESNET_BENCH_DB")
    if value is None:
        return DEFAULT_URL
    if not value.strip():
        raise StoreError(
            "RESNET_BENCH_DB is set but empty (a CI secret this job cannot read, as in a pull "
            "request from a fork?): set it to a store URL, or unset it for the local SQLite file"
        )
    return value


def resolve_url(url: str | None) -> str:
    """The store a ``--db``/``--store`` value names: ``default`` (or none) is
    RESNET_BENCH_DB, else the SQLite file beside pytest-benchmark's storage."""
    return default_url() if url in (None, "default") else url


def redact(url: str) -> str:
    """``url`` as it may be shown: anything between the user name and the host's ``@`` masked
    (``***``), whether or not the URL parses (a password holding ``@`` included)."""
    text = str(url)
    start = text.find("://")
    if start < 0:
        return text
    end = text.find("/", start + 3)
    netloc = text[start + 3 : end if end >= 0 else len(text)]
    if "@" not in netloc or ":" not in netloc.rpartition("@")[0]:
        return text
    user, _, host = netloc.rpartition("@")
    masked = f"{user.partition(':')[0]}:***@{host}"
    return text[: start + 3] + masked + (text[end:] if end >= 0 else "")


def _engine_url(url: str) -> sa.URL:
    try:
        parsed = sa.make_url(url)
    except (sa.exc.ArgumentError, ValueError):
        raise StoreError(
            f"{redact(url)!r} is not a database URL; valid: sqlite:///PATH or postgresql://USER@HOST/DB"
        ) from None
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise StoreError(f"{redact(url)!r}: a store is SQLite or PostgreSQL, not {backend!r}")
    if backend == "postgresql" and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")  # psycopg 3, the postgres extra
    if backend == "sqlite" and parsed.database in (None, "", ":memory:"):
        raise StoreError(f"{redact(url)!r}: a store is a file (sqlite:///PATH), not an in-memory database")
    return parsed


#: How long a writer waits for another's lock before giving up, by default (seconds).
LOCK_TIMEOUT_S = 60.0
#: Row keys a store keeps for itself: a run's row may not carry them (they would name its
#: columns on the way back).
RESERVED_KEYS = frozenset({"run_id", "seq", "extra", "store_run", "sweep"})


class Store:
    """A results store at ``url``; ``create``: make it (and migrate it) if needed, else a
    missing SQLite file is a StoreError (a reader never makes an empty store). A writer waits
    at most ``lock_timeout`` seconds for another's lock. A SQLite store this process may not
    write (a read-only file or folder) is opened read-only, for reading."""

    def __init__(
        self, url: str | None = None, create: bool = False, lock_timeout: float = LOCK_TIMEOUT_S
    ) -> None:
        given = url or default_url()
        #: The store's URL as it may be shown (a password masked); the real one stays inside.
        self.url = redact(given)
        self.lock_timeout = lock_timeout
        self.read_only = False
        parsed = _engine_url(given)
        self.dialect = parsed.get_backend_name()
        if self.dialect == "sqlite":
            path = Path(parsed.database or "")
            if not path.exists():
                if not create:
                    raise StoreError(f"no store at {path} (add runs with: resnet-bench store add PATH...)")
                try:
                    path.parent.mkdir(parents=True, exist_ok=True)
                except OSError as err:
                    raise StoreError(f"cannot make the store {path}: {err.strerror}") from None
            elif path.is_dir() or not os.access(path, os.R_OK):
                raise StoreError(
                    f"{path}: {'a folder' if path.is_dir() else 'not readable'}, not a store file"
                )
            self.read_only = path.exists() and not (
                os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)
            )
            if self.read_only:  # read as it is, nothing written beside it (no WAL files)
                parsed = parsed.set(database=f"file:{path.absolute()}?immutable=1", query={"uri": "true"})
            self.engine = sa.create_engine(parsed, poolclass=sa.pool.NullPool)
            sa.event.listen(self.engine, "connect", self._sqlite_connect)
            sa.event.listen(self.engine, "begin", _sqlite_begin)
        else:
            try:
                import psycopg  # noqa: F401
            except ImportError:
                raise StoreError(
                    "a PostgreSQL store needs psycopg: pip install 'resnet-bench[postgres]'"
                ) from None
            self.engine = sa.create_engine(parsed, poolclass=sa.pool.NullPool)
        self.tables = Tables()
        with self.translated("cannot open the store"):
            self._open(create)

    def _sqlite_connect(self, dbapi_conn: Any, record: Any) -> None:
        dbapi_conn.isolation_level = None  # transactions begin where _sqlite_begin says
        cursor = dbapi_conn.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(self.lock_timeout * 1000)}")
        if not self.read_only:
            cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @contextlib.contextmanager
    def translated(self, doing: str) -> Iterator[None]:
        """A database's error as one line naming the store and what to do (StoreError)."""
        try:
            yield
        except StoreError as err:
            text = str(err)
            raise StoreError(text if self.url in text else f"{self.url}: {text}") from None
        except sa.exc.SQLAlchemyError as err:
            raise StoreError(f"{doing} {self.url}: {_explain(err, self.lock_timeout)}") from None

    def _open(self, create: bool) -> None:
        with self.engine.connect() as conn:
            version = stored_version(conn)
            have = (
                {c["name"] for c in sa.inspect(conn).get_columns("cases")}
                if version == SCHEMA_VERSION
                else set()
            )
        if version == SCHEMA_VERSION and set(case_columns()) <= have:
            return
        if version == 0 and not create:
            raise StoreError(
                f"{self.url} holds no resnet-bench store (add runs with: resnet-bench store add)"
            )
        if self.read_only:
            raise StoreError(
                f"{self.url} is read-only here and at an older schema version (or lacks columns): open it "
                "once where it can be written, to migrate it"
            )
        with self.writing() as conn:
            migrate(conn)

    @contextlib.contextmanager
    def writing(self) -> Iterator[sa.Connection]:
        """One write transaction holding the store's write lock (SQLite: BEGIN IMMEDIATE;
        PostgreSQL: a transaction with an advisory lock for schema changes)."""
        if self.read_only:
            raise StoreError(f"{self.url} is read-only here: nothing can be written to it")
        with self.translated("cannot write to the store"), self.engine.connect() as conn:
            conn.info["immediate"] = True
            with conn.begin():
                if self.dialect == "postgresql":
                    timeout = int(self.lock_timeout * 1000)
                    conn.execute(sa.text(f"SET LOCAL lock_timeout = {timeout}"))
                    conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK})
                yield conn

    def close(self) -> None:
        """Release the store's connections."""
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- adding ------------------------------------------------------------------
    def add(self, run: RunFile) -> tuple[str, str]:
        """Add one run, whole or not at all; returns (its id, ``added``, ``replaced`` or ``""``).
        A run already there (same digest) is left as it is (``""``); a run of a sweep the store
        holds an earlier state of (a sweep resumed, or resumed after it finished) replaces it,
        so a sweep is one run. A row key the store keeps for itself is refused."""
        for row in run.rows:
            reserved = sorted(RESERVED_KEYS & set(row))
            if reserved:
                raise StoreError(
                    f"{run.path}: case {row.get('case_id')!r} has a row key {reserved[0]!r}, a name the "
                    f"store keeps for itself ({', '.join(sorted(RESERVED_KEYS))}); rename it to store the run"
                )
        run_id = run.digest[:12]
        cases, samples = _case_rows(run, run_id)
        first = run.rows[0]
        runs = self.tables.runs
        with self.writing() as conn:
            if conn.execute(sa.select(runs.c.id).where(runs.c.digest == run.digest)).first():
                return run_id, ""
            earlier = None
            if run.sweep_id:
                earlier = conn.execute(sa.select(runs.c.id).where(runs.c.sweep == run.sweep_id)).scalar()
                if earlier is not None:
                    self._delete(conn, earlier)
            machine_id = self._machine(conn, first, run.machine_info)
            commit = run.commit_info
            conn.execute(
                runs.insert().values(
                    id=run_id,
                    digest=run.digest,
                    machine_id=machine_id,
                    datetime=run.datetime,
                    commit=commit.get("id"),
                    branch=commit.get("branch") if isinstance(commit.get("branch"), str) else None,
                    dirty=commit.get("dirty") if isinstance(commit.get("dirty"), bool) else None,
                    backend=run.backend,
                    profile=run.profile,
                    versions=json.dumps(run.machine_info.get("versions") or {}, sort_keys=True),
                    source=first["source"],
                    cpu_cores=first.get("cpu_cores"),
                    cases=len(cases),
                    added=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                    sweep=run.sweep_id,
                )
            )
            for start in range(0, len(cases), 500):
                conn.execute(self.tables.cases.insert(), cases[start : start + 500])
                _pause_for_tests()
            for start in range(0, len(samples), 2000):
                conn.execute(self.tables.samples.insert(), samples[start : start + 2000])
        return run_id, "replaced" if earlier is not None else "added"

    def sample_series(self, runs: pd.Series, case_ids: pd.Series, field: str = "samples_s") -> pd.Series:
        """One sample field of the rows named by their run ids (``store_run``) and case ids,
        indexed as they are (None where a row kept none): what a reader that left the
        samples out reads for the few cases it needs them for."""
        table = self.tables.samples
        wanted = set(zip(runs, case_ids, strict=True))
        found: dict[tuple[str, str], Any] = {}
        ids = sorted(set(runs))
        with self.translated("cannot read the store"), self.engine.connect() as conn:
            for start in range(0, len(ids), 400):
                query = sa.select(table.c.run_id, table.c.case_id, table.c.data).where(
                    table.c.field == field,
                    table.c.run_id.in_(ids[start : start + 400]),
                    table.c.case_id.in_(sorted(set(case_ids))),
                )
                for run_id, case_id, data in conn.execute(query):
                    if (run_id, case_id) in wanted:
                        found[(run_id, case_id)] = json.loads(data)
        keys = zip(runs, case_ids, strict=True)
        return pd.Series([found.get(k) for k in keys], index=runs.index, dtype=object)

    def _machine(self, conn: sa.Connection, row: dict[str, Any], info: dict[str, Any]) -> int:
        """The machine's id, added if new (one per label and identity)."""
        machines = self.tables.machines
        label, identity = row["machine"], row.get("machine_identity") or "{}"
        where = (machines.c.label == label) & (machines.c.identity == identity)
        found = conn.execute(sa.select(machines.c.id).where(where)).scalar()
        if found is not None:
            return int(found)
        gpus = [g for g in info.get("gpus") or [] if isinstance(g, dict)]
        values = {
            "label": label,
            "slug": slug(label),
            "identity": identity,
            "cpu_model": info.get("cpu_model") if isinstance(info.get("cpu_model"), str) else None,
            "cpu_cores": row.get("cpu_cores"),
            "gpu_model": gpus[0].get("name") if gpus else None,
            "gpu_count": len(gpus),
            "memory_gb": info.get("memory_gb") if isinstance(info.get("memory_gb"), (int, float)) else None,
            "facts": json.dumps(
                {k: v for k, v in info.items() if k != "cpu_flags"}, sort_keys=True, default=str
            ),
        }
        insert = _insert(self.dialect, machines).values(**values).on_conflict_do_nothing()
        conn.execute(insert)
        return int(conn.execute(sa.select(machines.c.id).where(where)).scalar_one())

    # -- listing and removing ---------------------------------------------------------
    def runs(self, selection: Selection | None = None) -> list[dict[str, Any]]:
        """The runs, oldest first (by date, then id), each with its machine, as dicts."""
        runs, machines = self.tables.runs, self.tables.machines
        query = sa.select(
            runs.c.id, runs.c.datetime, machines.c.label.label("machine"), machines.c.slug,
            runs.c.commit, runs.c.branch, runs.c.backend, runs.c.profile, runs.c.cases,
            runs.c.source, runs.c.added, runs.c.digest,
        ).join(machines, runs.c.machine_id == machines.c.id)  # fmt: skip
        query = (selection or Selection()).where(query, runs, machines)
        with self.translated("cannot read the store"), self.engine.connect() as conn:
            out = [dict(r._mapping) for r in conn.execute(query.order_by(runs.c.datetime, runs.c.id))]
        last = (selection or Selection()).last
        return out[-last:] if last else out

    def resolve(self, ref: str, selection: Selection | None = None) -> str:
        """A run id from a reference: an id (or a unique prefix of one), ``latest`` or
        ``latest~N`` (the Nth before the newest of the selection)."""
        runs = self.runs(Selection(**{**(selection or Selection()).__dict__, "last": None}))
        match = re.fullmatch(r"latest(?:~(\d+))?", ref)
        if match:
            back = int(match.group(1) or 0)
            if back >= len(runs):
                raise StoreError(f"{ref!r}: the selection holds {len(runs)} run(s)")
            return runs[-1 - back]["id"]
        found = [r["id"] for r in runs if r["id"].startswith(ref.lower())]
        if len(found) != 1:
            what = "no run" if not found else f"{len(found)} runs ({', '.join(found[:4])})"
            raise StoreError(
                f"{ref!r} names {what} in {self.url}; valid: a run id (store list), latest, latest~N"
            )
        return found[0]

    def remove(self, run_id: str) -> dict[str, Any]:
        """Remove one run (its cases and samples); returns what it was."""
        runs, machines = self.tables.runs, self.tables.machines
        with self.writing() as conn:
            row = conn.execute(sa.select(runs).where(runs.c.id == run_id)).first()
            if row is None:
                raise StoreError(f"{run_id!r} is not a run in {self.url}; see: resnet-bench store list")
            self._delete(conn, run_id)
            still = sa.select(runs.c.id).where(runs.c.machine_id == row.machine_id).exists()
            conn.execute(machines.delete().where((machines.c.id == row.machine_id) & ~still))
        return dict(row._mapping)

    def _delete(self, conn: sa.Connection, run_id: str) -> None:
        """A run's samples, cases and row, inside the caller's write transaction."""
        runs, cases, samples = self.tables.runs, self.tables.cases, self.tables.samples
        conn.execute(samples.delete().where(samples.c.run_id == run_id))
        conn.execute(cases.delete().where(cases.c.run_id == run_id))
        conn.execute(runs.delete().where(runs.c.id == run_id))

    # -- reading ------------------------------------------------------------------
    def load(
        self,
        selection: Selection | None = None,
        samples: bool | Iterable[str] = True,
        columns: Iterable[str] | None = None,
        keep_ids: bool = False,
        kinds: Iterable[str] | None = None,
        names: bool = True,
    ) -> pd.DataFrame:
        """The selected runs' rows as the file loader gives them (one row per case, every
        schema field a column, the same frame as ``loading.load`` of their files).

        Args:
            samples: which sample fields to read (True: all; False: none, the drift columns
                as the add derived them); a history needs ``samples_s`` only.
            columns: read only these row fields (the others are empty columns); None: all.
            keep_ids: keep each row's run id as a ``store_run`` column (for :meth:`sample_series`).
            kinds: only rows of these kinds (``case``: what a history reads); None: every row.
            names: name each run by its file, as ``load`` does (False: a history names them).
        """
        chosen = self.runs(selection)
        if not chosen:
            return to_frame([])
        order = {r["id"]: n for n, r in enumerate(chosen)}
        fields = SAMPLE_FIELDS if samples is True else () if samples is False else tuple(samples)
        cases, runs, machines = self.tables.cases, self.tables.runs, self.tables.machines
        wanted = None if columns is None else {*columns, "kind", "status"}
        picked = [c for c in cases.columns if c.name in _CASE_KEYS or wanted is None or c.name in wanted]
        parts, facts, found = [], [], []
        ids = list(order)
        with self.translated("cannot read the store"), self.engine.connect() as conn:
            for start in range(0, len(ids), 400):
                part = ids[start : start + 400]
                query = (
                    sa.select(
                        runs.c.id.label("run_id"),
                        runs.c.datetime,
                        runs.c.commit,
                        runs.c.source,
                        runs.c.cpu_cores,
                        runs.c.versions,
                        machines.c.label.label("machine"),
                        machines.c.identity.label("machine_identity"),
                        machines.c.memory_gb,
                    )
                    .join(machines, runs.c.machine_id == machines.c.id)
                    .where(runs.c.id.in_(part))
                )
                facts.extend(dict(r._mapping) for r in conn.execute(query))
                query = sa.select(*picked).where(cases.c.run_id.in_(part))
                if kinds is not None:
                    query = query.where(cases.c.kind.in_(list(kinds)))
                # The driver's rows as they come (SQLAlchemy's per-row processing is a third of
                # a large read); SQLite's booleans arrive as 0/1 and are made booleans below.
                cursor = conn.execute(query).cursor
                parts.append(
                    pd.DataFrame.from_records(cursor.fetchall(), columns=[d[0] for d in cursor.description])
                )
                if fields:
                    table = self.tables.samples
                    query = sa.select(table.c.run_id, table.c.case_id, table.c.field, table.c.data).where(
                        table.c.run_id.in_(part), table.c.field.in_(fields)
                    )
                    found.extend(conn.execute(query).fetchall())
        df = pd.concat(parts, ignore_index=True)
        if df.empty:
            return to_frame([])
        for column in picked:
            if isinstance(column.type, sa.Boolean) and column.name in df:
                values = df[column.name]
                known = values.notna().to_numpy()
                flags = np.full(len(df), None, dtype=object)
                flags[known] = values.to_numpy()[known].astype(bool)
                df[column.name] = flags
        _unpack_extra(df)
        run_facts = pd.DataFrame(facts).set_index("run_id").reindex(df["run_id"])
        run_facts["versions"] = run_facts["versions"].map(lambda v: versions_text(json.loads(v or "{}")))
        for name in RUN_COLUMNS:
            df[name] = run_facts[name].to_numpy()
        _attach_samples(df, fields, found)
        df["_order"] = df["run_id"].map(order)
        if keep_ids:
            df["store_run"] = df["run_id"]
        df = df.sort_values(["_order", "seq"], kind="stable").drop(columns=["_order", "run_id", "seq"])
        return to_frame(df.reset_index(drop=True), speeds="machine_speed_series" in fields, names=names)

    def history(
        self, selection: Selection | None, metric: str
    ) -> tuple[pd.DataFrame, Callable[[pd.DataFrame], pd.Series]]:
        """The selected runs as a history of ``metric`` (:func:`resnet.runs.as_history`), read
        as a store allows: the figures a history needs of every run (no samples), the newest two
        runs of each machine whole (the newest-run check compares them as ``compare`` does), and
        a function reading a case's step samples, for the few cases with a change point."""
        chosen = self.runs(selection)
        if not chosen:
            raise StoreError(f"{self.url}: no runs match the selection")
        newest: list[str] = []
        for machine in dict.fromkeys(r["machine"] for r in chosen):
            newest += [r["id"] for r in chosen if r["machine"] == machine][-2:]
        older = Selection(ids=tuple(r["id"] for r in chosen if r["id"] not in newest))
        light = self.load(
            older,
            samples=False,
            columns=[*HISTORY_COLUMNS, metric],
            keep_ids=True,
            kinds=["case"],
            names=False,
        )
        whole = self.load(Selection(ids=tuple(newest)), keep_ids=True, kinds=["case"], names=False)
        frame = whole if light.empty else pd.concat([light, whole], ignore_index=True)

        def samples(group: pd.DataFrame) -> pd.Series:
            return self.sample_series(group["store_run"], group["case_id"], "samples_s")

        return as_history(frame), samples


#: The row fields a history reads of every run but the newest two, beside its figure: what
#: its change points group by (machine and run come with the run), and the images a step
#: counts (for the interval from step samples).
HISTORY_COLUMNS = ["case_id", "kind", "status", "backend", "global_batch"]


#: Columns of ``cases`` every read takes: the row's key and place, and its unnamed keys.
_CASE_KEYS = frozenset({"run_id", "case_id", "seq", "extra"})


def _unpack_extra(df: pd.DataFrame) -> None:
    """The row keys the schema does not name, back from their JSON, where a row had any."""
    extra = df.pop("extra")
    for i, text in extra[extra.notna()].items():
        for key, value in json.loads(text).items():
            if key not in df:
                df[key] = pd.Series([None] * len(df), index=df.index, dtype=object)
            df.at[i, key] = value


def _attach_samples(df: pd.DataFrame, fields: Iterable[str], found: list) -> None:
    """Each sample field as a column of lists (None where a row kept none)."""
    if not fields:
        return
    by_field: dict[str, dict[tuple[str, str], Any]] = {name: {} for name in fields}
    for run_id, case_id, name, data in found:
        by_field[name][(run_id, case_id)] = json.loads(data)
    keys = list(zip(df["run_id"], df["case_id"], strict=True))
    for name, values in by_field.items():
        df[name] = pd.Series([values.get(k) for k in keys], index=df.index, dtype=object)


@dataclass
class Selection:
    """Which runs a reader takes: machine (label or slug), branch, a date range (ISO dates,
    inclusive), run ids, and the last N of what is left."""

    machine: str | None = None
    branch: str | None = None
    since: str | None = None
    until: str | None = None
    ids: tuple[str, ...] | None = None
    last: int | None = None

    def where(self, query: sa.Select, runs: sa.Table, machines: sa.Table) -> sa.Select:
        """``query`` narrowed to the selection (but for ``last``, applied to the ordered list)."""
        if self.machine:
            query = query.where((machines.c.label == self.machine) | (machines.c.slug == self.machine))
        if self.branch:
            query = query.where(runs.c.branch == self.branch)
        if self.since:
            query = query.where(runs.c.datetime >= self.since)
        if self.until:
            query = query.where(runs.c.datetime < _day_after(self.until))
        if self.ids is not None:
            query = query.where(runs.c.id.in_(list(self.ids)))
        return query


def _day_after(date: str) -> str:
    """The end of an inclusive ``--until`` date: a date string sorts below its next day."""
    try:
        day = dt.date.fromisoformat(date[:10])
    except ValueError:
        raise StoreError(f"--until {date!r} is not a date (YYYY-MM-DD)") from None
    return (day + dt.timedelta(days=1)).isoformat() if len(date) == 10 else date


def _case_rows(run: RunFile, run_id: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A run's rows as ``cases`` and ``samples`` rows; the drift monitor's columns derived
    once here (per run, as the file loader derives them)."""
    columns = case_columns()
    derived = drift_columns(run.rows)
    cases, samples = [], []
    for seq, row in enumerate(run.rows):
        out: dict[str, Any] = {
            **dict.fromkeys(columns),
            "run_id": run_id,
            "case_id": row["case_id"],
            "seq": seq,
        }
        extra = {}
        for key, value in row.items():
            if key in columns:
                out[key] = value
            elif key in SAMPLE_FIELDS:
                if value is not None:
                    samples.append(
                        {"run_id": run_id, "case_id": row["case_id"], "field": key, "data": json.dumps(value)}
                    )
            elif key not in RUN_FACTS and key != "case_id":
                extra[key] = value
        out["machine_speed_rel"], out["drifted"] = derived[seq]
        out["extra"] = json.dumps(extra, sort_keys=True) if extra else None
        cases.append(out)
    return cases, samples


def _insert(dialect: str, table: sa.Table):
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table)


def _sqlite_begin(conn: sa.Connection) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.info.pop("immediate", False) else "BEGIN")


def _pause_for_tests() -> None:
    """A test's hook: stop mid-add (the transaction open) until killed."""
    marker = os.environ.get("RESNET_BENCH_STORE_PAUSE_FILE")
    if marker:
        Path(marker).write_text(str(os.getpid()))
        import time

        time.sleep(3600)


def _first_line(err: BaseException) -> str:
    text = str(getattr(err, "orig", None) or err)
    return text.strip().splitlines()[0] if text.strip() else type(err).__name__


def _explain(err: BaseException, lock_timeout: float) -> str:
    """A database error in one line, with what to do for the common ones."""
    text = _first_line(err)
    low = text.lower()
    if "database is locked" in low or "lock timeout" in low or "canceling statement due to lock" in low:
        return (
            f"another writer held the store's lock for more than {lock_timeout:g} s; try again when it "
            "is done, or give a longer --lock-timeout"
        )
    if "file is not a database" in low or "database disk image is malformed" in low:
        return "not a SQLite database, or a damaged one; give the path of a resnet-bench store"
    if "readonly database" in low or "read-only" in low:
        return "read-only here; give a store this user may write, or read it where it is"
    if "permission denied" in low:
        need = "SELECT, INSERT and DELETE on the store's tables (CREATE to make them)"
        return f"{text}; the database role needs {need}"
    if "unable to open database file" in low:
        return "cannot open the file (a missing or read-only folder?)"
    return text
