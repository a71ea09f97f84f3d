"""The ``resnet-bench`` command: report, compare, machines, dashboard, versions.

Every bad input ends the same way: one line on stderr naming the file (and line, for
journals) and the problem, exit code 2, and whatever was readable still reported.
``compare`` exits 1 only for a regression, so a CI gate can tell bad input from a
slowdown.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit code 2
        self.exit(2, f"{self.prog}: error: {message}\n")


def _fail(message: str) -> int:
    print(f"resnet-bench: error: {message}", file=sys.stderr)
    return 2


def _out_folder(path: str, command: str, inputs: list[str]) -> Path:
    """``--out`` checked before any work: not an input, and empty, missing or an earlier
    output of this command (resnet.outputs)."""
    from resnet.outputs import check_folder

    return check_folder(path, command, inputs)


def _load_all(files: list[str], label: str | None = None, args: argparse.Namespace | None = None):
    """Load what is readable (the files, and the store's selected runs with ``--db``); print
    one line per unreadable file; return (frame, errors)."""
    import pandas as pd

    from resnet.analysis.loading import LoadError, load
    from resnet.store.commands import db_url, frame_from_db

    errors: list[LoadError] = []
    if args is not None and not files and not db_url(args):
        raise _Usage("give runs (files) or a store (--db URL)")
    df = load(files, label=label, errors=errors)
    for err in errors:
        print(f"resnet-bench: error: {err}", file=sys.stderr)
    if args is not None and db_url(args):
        stored = frame_from_db(args)
        df = stored if df.empty else pd.concat([df, stored], ignore_index=True)
    return df, errors


class _Usage(Exception):
    """A command line that names no input: one line, exit 2."""


def cmd_report(args: argparse.Namespace) -> int:
    """Tables, plots and an HTML report from benchmark JSON files and journals."""
    from resnet.analysis.report import write_report

    out = _out_folder(args.out, "report", args.files)
    df, errors = _load_all(args.files, args.label, args)
    if df.empty:
        return _fail("no readable results; nothing written") if not errors else 2
    path = write_report(df, out, title=args.title, inputs=args.files)
    done = int((df["status"] == "ok").sum())
    print(f"report of {len(df)} cases ({done} ok) from {df['source'].nunique()} file(s): {path}")
    return 2 if errors else 0


def cmd_compare(args: argparse.Namespace) -> int:
    """Pair the cases of two runs; exit 1 if any metric regressed past its threshold."""
    import pandas as pd

    from resnet.analysis.compare import (
        DEFAULT_THRESHOLDS,
        CompareError,
        agreement,
        compare,
        machine_speeds,
        parse_threshold,
        run_wide,
        run_window_variance,
    )
    from resnet.outputs import check_file, write_file
    from resnet.stats import relative_sd

    thresholds = [parse_threshold(t) for t in (args.fail_on or DEFAULT_THRESHOLDS)]
    if args.out:
        check_file(args.out, COMPARE_CSV_HEADER, [args.base, args.new])
    base, new = _compare_side(args, args.base), _compare_side(args, args.new)
    try:
        table = compare(base, new, thresholds, args.allow_machine_mismatch, args.allow_missing)
    except CompareError as err:
        return _fail(str(err))
    if table.empty:
        return _fail("no metric of the thresholds was measured in both runs")
    with pd.option_context("display.width", 200, "display.max_rows", 500, "display.max_columns", 20):
        print(table.to_string(index=False))
    if args.out:
        write_file(args.out, table.to_csv(index=False))
    counts = table["verdict"].value_counts().to_dict()
    summary = ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
    print(f"{len(table)} comparisons: {summary}")
    wide = run_wide(base, new, thresholds, args.allow_machine_mismatch)
    for _, line in wide.iterrows():
        print(_run_wide_line(line))
    notes: list[str] = []
    differ, tested = agreement(table)
    if tested:
        notes.append(
            f"{differ} of {tested} comparisons tested on their step samples differ beyond their 95% interval "
            f"({100 * differ / tested:.0f}%)"
        )
    (vb, db), (vn, dn) = run_window_variance(base), run_window_variance(new)
    if db and dn:
        notes.append(
            "window-to-window spread of a case's median step (1 sd, pooled over the cases; what a "
            f"rerun moves by): base {relative_sd(vb):.1f}% ({db} df), new {relative_sd(vn):.1f}% ({dn} df)"
        )
    speed_base, speed_new = machine_speeds(base, new)
    if speed_base and speed_new:
        moved = 100 * (speed_new / speed_base - 1)
        notes.append(
            f"machine speed (drift probe, median over the cases): base {speed_base:.0f} GFLOP/s, "
            f"new {speed_new:.0f} ({moved:+.0f}%)"
        )
        if abs(moved) >= MACHINE_MOVED_PCT:
            notes.append(
                f"note: the machine itself ran {abs(moved):.0f}% {'faster' if moved > 0 else 'slower'} in "
                "the new run; the intervals above hold for one machine state, so a change in a cell "
                "may be the machine's, not the model's (the run-wide line is read at no machine-speed "
                "change): rerun both on one quiet machine to tell"
            )
    for note in notes:
        print(note)
    failed = bool(
        (table["verdict"] == "regression").any()
        or (not wide.empty and (wide["verdict"] == "regression").any())
    )
    if args.markdown:
        from resnet.analysis.summary import append, compare_markdown

        append(args.markdown, compare_markdown(table, wide, notes, failed, args.base, args.new))
    return 1 if failed else 0


def _compare_side(args: argparse.Namespace, ref: str):
    """One side of compare: a file, or with ``--db`` a run of the store (an id, a unique
    prefix of one, ``latest`` or ``latest~N`` of the selection)."""
    from resnet.analysis.loading import load
    from resnet.store import Store
    from resnet.store.commands import db_url, selection
    from resnet.store.core import Selection

    if not db_url(args) or Path(ref).exists():
        return load(ref)
    store = Store(db_url(args))
    try:
        run_id = store.resolve(ref, selection(args))
        return store.load(Selection(ids=(run_id,)))
    finally:
        store.close()


def _history_from_db(args: argparse.Namespace, metric: str | None):
    """With ``--db``: the store's selected runs as a history frame, and (for a history of
    ``metric``) a reader of the samples it left out; else (None, None): a folder."""
    from resnet.store.commands import db_url, frame_from_db, history_frame, history_from_store

    if not db_url(args):
        if not args.directory:
            raise _Usage("give a directory of runs or a store (--db URL)")
        return None, None
    if metric is None:  # the dashboard compares every pair of runs: it reads them whole
        return history_frame(frame_from_db(args)), None
    return history_from_store(args, metric)


def _report_skipped(errors: list) -> list:
    """One line per file a folder's walk could not read; files that are not runs at all (a
    benchmark's summary.json) are passed over with a note and are not errors. Returns the errors."""
    from resnet.store.commands import NOT_A_RUN

    real = []
    for err in errors:
        if err.problem.startswith(NOT_A_RUN):
            print(f"resnet-bench: passed over {err.path}: {err.problem}", file=sys.stderr)
        else:
            print(f"resnet-bench: error: skipped {err}", file=sys.stderr)
            real.append(err)
    return real


def _commit_url(template: str | None) -> str | None:
    """``--commit-url``, checked: an http(s) URL with ``{commit}`` in it."""
    if template is None:
        return None
    if "{commit}" not in template or not template.startswith(("https://", "http://")):
        raise _Usage(
            f"--commit-url {template!r}: give an http(s) URL with {{commit}} in it, "
            "e.g. https://github.com/OWNER/REPO/commit/{commit}"
        )
    return template


def _run_wide_line(line) -> str:
    """``run-wide images_per_sec over 24 cells: -5.00% [-5.00, -5.00]: REGRESSION``."""
    verdict = "REGRESSION" if line["verdict"] == "regression" else line["verdict"]
    machine = ""
    if not pd_isna(line["machine_change_pct"]):
        moved = line["machine_change_pct"]
        machine = f"; raw {line['raw_change_pct']:+.2f}%, while the machine itself moved {moved:+.2f}%"
    head = f"run-wide {line['metric']} over {line['cells']} cells: {line['change_pct']:+.2f}%"
    return f"{head} {line['interval_pct']}{machine}: {verdict}"


def pd_isna(value) -> bool:
    """Whether a table cell is empty (None or NaN)."""
    return value is None or (isinstance(value, float) and value != value)


#: A drift-probe change between two runs (percent) that compare points out.
MACHINE_MOVED_PCT = 5.0
#: How the CSV files of ``compare --out`` and ``history --out`` begin: an existing file is
#: replaced only when its first line does.
COMPARE_CSV_HEADER = "case_id,metric,base,new,"
HISTORY_CSV_HEADER = "run,commit,machine,"


def cmd_machines(args: argparse.Namespace) -> int:
    """Procurement table: best throughput, latency, memory fit and cost per machine."""
    from resnet.analysis.procurement import machines_table, read_prices, write_machines

    out = _out_folder(args.out, "machines", [*args.files, *([args.prices] if args.prices else [])])
    prices = read_prices(args.prices) if args.prices else None
    df, errors = _load_all(args.files, None, args)
    if df.empty:
        return 2
    try:
        table = machines_table(df, args.reference, prices)
    except ValueError as err:  # a --reference that is not among the machines
        return _fail(str(err))
    if table.empty:
        return _fail("no finished cases in these runs")
    notes = [f"Reference machine: {table.attrs['reference']}."]
    machines = sorted(set(table.index.get_level_values("machine")))
    priced = set(prices.index) if prices is not None else set()
    unpriced = [m for m in machines if m not in priced]
    if unpriced:
        notes.append(f"No price for: {', '.join(unpriced)} (images per dollar left out for them).")
    if table["joules_per_image"].isna().all():
        notes.append(
            "No energy counter was readable on these machines: joules per image is empty, not estimated."
        )
    path = write_machines(table, out, notes, inputs=[*args.files, *([args.prices] if args.prices else [])])
    print(table.reset_index().to_string(index=False))
    print(f"written: {path}")
    return 2 if errors else 0


def cmd_dashboard(args: argparse.Namespace) -> int:
    """A static HTML dashboard over a directory of runs."""
    from resnet.analysis.compare import parse_threshold
    from resnet.analysis.dashboard import write_dashboard

    threshold = parse_threshold(args.fail_on)
    frame, _ = _history_from_db(args, None)
    if frame is None and not Path(args.directory).is_dir():
        return _fail(f"{args.directory}: not a directory of runs")
    out = _out_folder(args.out, "dashboard", [args.directory] if args.directory else [])
    path, count, errors = write_dashboard(args.directory, out, threshold, frame, _commit_url(args.commit_url))
    errors = _report_skipped(errors)
    print(f"dashboard: {path} ({count} regression(s) marked)")
    return 2 if errors else 0


def cmd_history(args: argparse.Namespace) -> int:
    """Change points over a directory of runs; exit 1 when the latest run starts a change
    beyond --fail-on-new (in the bad direction)."""
    import pandas as pd

    from resnet.analysis.compare import parse_threshold
    from resnet.analysis.history import MIN_RUNS, HistoryUnavailable, change_points
    from resnet.analysis.loading import LoadError, load_history
    from resnet.outputs import check_file, write_file
    from resnet.schema import METRICS

    threshold = parse_threshold(args.fail_on_new) if args.fail_on_new else None
    metric = threshold.metric if threshold else args.metric
    if metric not in METRICS:
        return _fail(f"--metric {metric!r} is not a figure with a direction; valid: {', '.join(METRICS)}")
    frame, samples = _history_from_db(args, metric)
    if frame is None and not Path(args.directory).is_dir():
        return _fail(f"{args.directory}: not a directory of runs")
    if args.out:
        check_file(args.out, HISTORY_CSV_HEADER, [args.directory] if args.directory else [])
    errors: list[LoadError] = []
    df = load_history(args.directory, errors) if frame is None else frame
    errors = _report_skipped(errors)
    if df.empty:
        raise LoadError(args.directory, "no readable runs in this directory")
    try:
        table, notes = change_points(df, metric, threshold.limit if threshold else None, samples)
    except HistoryUnavailable as err:
        return _fail(str(err))
    runs = df.groupby("machine")["run"].nunique()
    print(f"{df['run'].nunique()} runs, {df['case_id'].nunique()} cases; metric {metric}")
    for item in notes["too_short"]:
        print(f"too short for change points: {item}")
    for item in notes["outliers"]:
        print(f"outlier run (not a change): {item}")
    if table.empty:
        print("no change points" + ("" if (runs >= MIN_RUNS).any() else f" (fewer than {MIN_RUNS} runs)"))
    else:
        with pd.option_context("display.width", 220, "display.max_columns", 20, "display.max_rows", 500):
            print(table.to_string(index=False))
    if args.out:
        write_file(args.out, table.to_csv(index=False))
    new = _new_changes(df, table, threshold)
    for item in new:
        print(f"NEW CHANGE at the latest run: {item}")
    if args.markdown:
        from resnet.analysis.summary import append, history_markdown

        append(
            args.markdown, history_markdown(table, new, df["run"].nunique(), df["case_id"].nunique(), metric)
        )
    return 2 if errors else 1 if new else 0


def _new_changes(df, table, threshold) -> list[str]:
    """Changes that begin at their machine's latest run and cross the threshold: a case's
    change point, or the run-wide verdict of the latest run against the one before it (the
    gate's rule: a small change of every case that no case alone shows)."""
    from resnet.analysis.compare import run_wide

    if threshold is None:
        return []
    latest = df.sort_values("run").groupby("machine")["run"].last().to_dict()
    out = []
    for _, row in table.iterrows():
        if row["run"] == latest.get(row["machine"]) and threshold.crossed(row["change_pct"]):
            out.append(f"{row['case_id']} on {row['machine']}: {row['change_pct']:+.1f}% ({row['status']})")
    for machine, group in df.groupby("machine"):
        runs = list(dict.fromkeys(group.sort_values("run", kind="stable")["run"]))
        if len(runs) < 2:
            continue
        wide = run_wide(group[group["run"] == runs[-2]], group[group["run"] == runs[-1]], [threshold])
        for _, line in wide[wide["verdict"] == "regression"].iterrows() if not wide.empty else []:
            out.append(
                f"run-wide {line['metric']} on {machine}: {line['change_pct']:+.2f}% {line['interval_pct']} "
                f"over {line['cells']} cases against the run before"
            )
    return out


def cmd_make_data(args: argparse.Namespace) -> int:
    """Write a generated ImageNet-like JPEG data set (folder tree and TFRecord shards)."""
    from resnet.data import DataError, make_dataset

    try:
        stats = make_dataset(
            args.directory, args.images, seed=args.seed, shards=args.shards, force=args.force
        )
    except DataError as err:
        return _fail(str(err))
    size = f"{stats['mean_width']:.0f}x{stats['mean_height']:.0f}"
    print(
        f"{stats['images']} images in {args.directory}: mean {stats['mean_kb']} KiB "
        f"(10-90%: {stats['p10_kb']}-{stats['p90_kb']} KiB), {size} on average, "
        f"{stats['bits_per_pixel']} bits per pixel, {stats['tfrecord_shards']} TFRecord shards"
    )
    return 0


def cmd_machine(args: argparse.Namespace) -> int:
    """This machine's facts and name (as asv's ``asv machine``); with --write, its
    ``<folder>/<slug>/machine.json``, which names every run filed under that folder."""
    import json
    import re

    from resnet.engine.machine import IDENTITY, machine_identity, machine_info, machine_label
    from resnet.outputs import OutputError, write_file

    info = machine_info()
    facts = {k: info[k] for k in (*IDENTITY, "cpu_flags", "cpu_caches_kb", "cpu_cores_logical",
                                  "cpu_affinity", "memory_gb") if info.get(k) is not None}  # fmt: skip
    label = args.name or machine_label(info)
    slug = re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")
    data = {"tool": "resnet-bench", "label": label, "slug": slug, "facts": facts}
    text = json.dumps(data, indent=1, sort_keys=True) + "\n"
    if not args.write:
        print(text, end="")
        return 0
    path = Path(args.write) / slug / "machine.json"
    if path.exists():
        try:
            old = json.loads(path.read_text())
        except ValueError:
            old = {}
        ours = (
            isinstance(old, dict) and old.get("tool") == "resnet-bench" and isinstance(old.get("facts"), dict)
        )
        if not ours or machine_identity(old["facts"]) != machine_identity(facts):
            raise OutputError(f"--write {path}: holds another machine's file; it is left untouched")
        if not args.name or old.get("label") == label:
            print(f"{old.get('label', label)}: {path} (already there, kept)")
            return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    write_file(path, text)
    print(f"{label}: {path}")
    return 0


def cmd_index(args: argparse.Namespace) -> int:
    """results/README.md from the machine.json and NOTES.md files under a results folder."""
    from resnet.analysis.index import NotesError, write_index

    if not Path(args.directory).is_dir():
        return _fail(f"{args.directory}: not a results folder")
    try:
        path = write_index(args.directory, args.out)
    except NotesError as err:
        return _fail(str(err))
    print(f"index: {path} ({len(path.read_text().splitlines())} lines)")
    return 0


def _an_export_of_ours(path: Path, fmt: str) -> bool:
    """Whether an existing file is one ``export --format fmt`` wrote (so it may be replaced)."""
    import json

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    if not text.strip():
        return True
    if fmt == "csv":
        return text.startswith("machine,run,datetime,commit,case_id,")
    if fmt == "openmetrics":
        return text.startswith("# TYPE resnet_bench_") and text.rstrip().endswith("# EOF")
    try:
        data = json.loads(text)
    except ValueError:
        return False
    if fmt == "bmf":
        return isinstance(data, dict) and all(
            isinstance(v, dict) and "images_per_sec" in v for v in data.values()
        )
    return isinstance(data, list) and all(
        isinstance(v, dict) and {"name", "unit", "value"} <= set(v) for v in data
    )


def cmd_export(args: argparse.Namespace) -> int:
    """A run in Bencher's, github-action-benchmark's, a flat CSV or OpenMetrics format."""
    from resnet.analysis.export import export
    from resnet.outputs import OutputError, check_inputs, write_file

    if args.out:
        out = Path(args.out)
        check_inputs(out, args.files)
        if out.is_dir() or (out.exists() and not _an_export_of_ours(out, args.format)):
            raise OutputError(
                f"--out {out}: exists and is not an export of this format; it is left untouched"
            )
    df, errors = _load_all(args.files, None, args)
    if df.empty:
        return 2
    text = export(df, args.format)
    if args.out:
        write_file(args.out, text)
        print(f"{args.format}: {args.out}")
    else:
        print(text, end="")
    return 2 if errors else 0


def cmd_options(args: argparse.Namespace) -> int:
    """The options reference of ``pytest bench`` (docs/options.md), from the options' table."""
    from resnet.engine.options import options_reference
    from resnet.outputs import check_file, write_file

    text = options_reference()
    if not args.out:
        print(text, end="")
        return 0
    check_file(args.out, text.splitlines()[0])
    print(f"options reference: {write_file(args.out, text)}")
    return 0


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive integer")
    return value


def cmd_versions(args: argparse.Namespace) -> int:
    """List the versions with a one-line description each."""
    from resnet.schema import DESCRIPTIONS
    from resnet.specs import versions

    for name, text in {**versions(), **DESCRIPTIONS}.items():
        print(f"{name:20s} {text}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from resnet.store.commands import add_db_options, add_store_parser

    parser = _Parser(prog="resnet-bench", description="ResNet-50 v1/v1.5/v2 benchmark tools")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    rep = sub.add_parser("report", help="tables, plots and an HTML report from runs")
    rep.add_argument("files", nargs="*", help="pytest-benchmark JSON files or .jsonl journals")
    add_db_options(rep)
    rep.add_argument("--out", required=True, help="directory to write the report into")
    rep.add_argument("--label", default=None, help="machine label for every row (default: derived)")
    rep.add_argument("--title", default="ResNet benchmark report")
    rep.set_defaults(fn=cmd_report)
    cmp = sub.add_parser("compare", help="regression gate: compare two runs of one machine")
    cmp.add_argument("base", help="the baseline run (JSON or journal; with --db: a run id, latest~1)")
    cmp.add_argument("new", help="the run to check (with --db: a run id, latest)")
    add_db_options(cmp)
    cmp.add_argument(
        "--fail-on",
        action="append",
        metavar="METRIC:CHANGE",
        help="e.g. images_per_sec:-5%% or peak_host_rss_mb:+10%% (repeatable; default: "
        "images_per_sec_best:-5%%, peak_host_rss_mb:+10%%, peak_device_mem_mb:+10%%)",
    )
    cmp.add_argument("--allow-machine-mismatch", action="store_true", help="pair cases across machines")
    cmp.add_argument(
        "--allow-missing",
        action="store_true",
        help="a case of BASE missing from NEW passes (deliberate subsets)",
    )
    cmp.add_argument("--out", default=None, help="also write the table as CSV")
    cmp.add_argument(
        "--markdown", default=None, metavar="FILE", help='append a short summary, e.g. "$GITHUB_STEP_SUMMARY"'
    )
    cmp.set_defaults(fn=cmd_compare)
    mac = sub.add_parser("machines", help="procurement: compare machines, with prices")
    mac.add_argument("files", nargs="*", help="runs (JSON or journals) of one or more machines")
    add_db_options(mac)
    mac.add_argument("--reference", default=None, help="machine label to compare against")
    mac.add_argument(
        "--prices", default=None, help="CSV: machine, price_per_hour and/or purchase_price, years"
    )
    mac.add_argument("--out", required=True, help="directory for machines.md/.csv/.html and charts")
    mac.set_defaults(fn=cmd_machines)
    dash = sub.add_parser("dashboard", help="static HTML dashboard over a directory of runs")
    dash.add_argument(
        "directory", nargs="?", help="directory of runs (e.g. .benchmarks/ from --benchmark-autosave)"
    )
    add_db_options(dash)
    dash.add_argument("--out", required=True, help="directory for index.html")
    dash.add_argument(
        "--fail-on",
        default="images_per_sec_best:-5%",
        help="regression threshold, METRIC:+-N%% (default images_per_sec_best:-5%%: the fastest step, "
        "steady on shared machines)",
    )
    dash.add_argument(
        "--commit-url",
        default=None,
        metavar="TEMPLATE",
        help="make each commit a link: {commit} is replaced, e.g. https://github.com/OWNER/REPO/commit/{commit}",
    )
    dash.set_defaults(fn=cmd_dashboard)
    his = sub.add_parser("history", help="change points over a directory of runs (CI gate on the latest)")
    his.add_argument(
        "directory", nargs="?", help="directory of runs (e.g. .benchmarks/ from --benchmark-autosave)"
    )
    add_db_options(his)
    his.add_argument(
        "--metric", default="images_per_sec", help="the figure to follow (default images_per_sec)"
    )
    his.add_argument(
        "--fail-on-new",
        default=None,
        metavar="METRIC:CHANGE",
        help="exit 1 when the latest run starts a change beyond this, e.g. images_per_sec:-5%%",
    )
    his.add_argument("--out", default=None, help="also write the change points as CSV")
    his.add_argument(
        "--markdown", default=None, metavar="FILE", help='append a short summary, e.g. "$GITHUB_STEP_SUMMARY"'
    )
    his.set_defaults(fn=cmd_history)
    mk = sub.add_parser("make-data", help="write a generated ImageNet-like JPEG data set")
    mk.add_argument("directory", help="where to write it (jpeg/<class>/, tfrecord/, dataset.json)")
    mk.add_argument("--images", type=_positive, required=True, help="how many images")
    mk.add_argument("--seed", type=int, default=0, help="the set is deterministic from its seed (default 0)")
    mk.add_argument("--shards", type=_positive, default=4, help="TFRecord shards (default 4)")
    mk.add_argument("--force", action="store_true", help="replace an earlier set made by make-data")
    mk.set_defaults(fn=cmd_make_data)
    mch = sub.add_parser("machine", help="this machine's facts and name; --write files its machine.json")
    mch.add_argument("--name", default=None, help="the machine's label (default: derived from its facts)")
    mch.add_argument(
        "--write", default=None, metavar="DIR", help="write DIR/<slug>/machine.json (e.g. results)"
    )
    mch.set_defaults(fn=cmd_machine)
    idx = sub.add_parser("index", help="results/README.md from the runs' machine.json and NOTES.md")
    idx.add_argument("directory", help="the results folder (results/)")
    idx.add_argument("--out", default=None, help="where to write it (default: DIRECTORY/README.md)")
    idx.set_defaults(fn=cmd_index)
    exp = sub.add_parser("export", help="a run for Bencher, github-action-benchmark, CSV or OpenMetrics")
    exp.add_argument("files", nargs="*", help="runs (JSON or journals)")
    add_db_options(exp)
    exp.add_argument(
        "--format",
        required=True,
        choices=("bmf", "github-action-benchmark", "github-action-benchmark-smaller", "csv", "openmetrics"),
        help="bmf (Bencher), github-action-benchmark (customBiggerIsBetter: images/s), "
        "github-action-benchmark-smaller (customSmallerIsBetter: latency, memory), csv, openmetrics",
    )
    exp.add_argument("--out", default=None, help="write it there (default: print it)")
    exp.set_defaults(fn=cmd_export)
    opt = sub.add_parser("options", help="the options reference of pytest bench (docs/options.md)")
    opt.add_argument("--out", default=None, help="write it there (default: print it)")
    opt.set_defaults(fn=cmd_options)
    add_store_parser(sub)
    ver = sub.add_parser("versions", help="list the versions")
    ver.set_defaults(fn=cmd_versions)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``resnet-bench`` console script."""
    from resnet.analysis.compare import CompareError
    from resnet.analysis.loading import LoadError
    from resnet.analysis.parallel import JobsError, jobs
    from resnet.analysis.procurement import PriceError
    from resnet.outputs import OutputError
    from resnet.store import StoreError

    args = build_parser().parse_args(argv)
    try:
        jobs()  # RESNET_BENCH_JOBS checked before any work
        return int(args.fn(args))
    except (LoadError, CompareError, PriceError, OutputError, StoreError, JobsError) as err:
        return _fail(str(err))
    except _Usage as err:
        return _fail(str(err))
    except OSError as err:  # writing an output failed (disk full, permissions, ...)
        return _fail(f"{err.filename or ''}: {err.strerror or err}".lstrip(": "))


if __name__ == "__main__":
    sys.exit(main())
