"""From result rows to tables: one function per table, each a pandas DataFrame whose
index names what the figures are of.

Several runs of one machine are kept side by side (a ``run`` level in the index,
added only where two rows would otherwise share a cell), never merged or dropped.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from resnet.schema import AXES, OURS_FOR, SCENARIO_METRIC, SCENARIOS, finite
from resnet.stats import percentile_min_samples

#: What a configuration is, besides its version and batch size: the machine, the run
#: (only where needed to keep runs apart) and every other case axis.
CONFIG = ["machine", *[a for a in AXES if a not in ("version", "batch_size", "scenario")]]
#: Keys a reader always needs, even when they do not vary.
ALWAYS = {"mode", "precision", "device", "version", "ratio_of", "comparison"}


def cases(df: pd.DataFrame) -> pd.DataFrame:
    """The throughput cases (timed steps, not LoadGen scenarios), their axes with plain
    values (threads 0 = all cores)."""
    out = df[(df["kind"] == "case") & df["scenario"].isna()].copy()
    out["threads"] = out["threads"].fillna(0).astype(int)
    out["jit"] = out["jit"].fillna(False).astype(bool)
    out["batch_size"] = out["batch_size"].astype(int)
    out["replicas"] = out["replicas"].fillna(1).astype(int)
    out["runtime"] = out["runtime"].fillna("keras")
    out["data"] = out["data"].fillna("synthetic")
    return out


def ok(df: pd.DataFrame) -> pd.DataFrame:
    """The rows that finished with a throughput figure."""
    return df[(df["status"] == "ok") & df["images_per_sec"].notna()]


def index_keys(df: pd.DataFrame, keys: list[str], cell: list[str] | None = None) -> list[str]:
    """The grouping keys that vary (a table reads better without constants), the ones a
    reader always needs, and ``run`` where two runs would otherwise share a cell
    (``cell``: the keys that, with these, address one figure)."""
    out = [k for k in keys if k in ALWAYS or df[k].nunique(dropna=False) > 1]
    full = [*out, *(cell or [])]
    clash = df.duplicated(full).any() if full else len(df) > 1
    if "run" in df and len(df) and clash:
        out.insert(out.index("machine") + 1 if "machine" in out else 0, "run")
    return out


def _num(value: Any) -> bool:
    """Whether a cell holds a figure (resnet.schema.finite)."""
    return finite(value) is not None


def flags(row: pd.Series) -> list[str]:
    """Why a figure should be read with care: its windows disagreed (``unstable``), its
    windows' steps were too noisy to tell (``stability?``), or the machine ran more than 10%
    off its run median while it was measured (``drift``)."""
    out = []
    if row.get("unstable") is True:
        out.append("unstable")
    elif row.get("stability") == "unknown" and _num(row.get("windows")) and row["windows"] > 1:
        out.append("stability?")
    if row.get("drifted") is True:
        out.append("drift")
    return out


def figure(row: pd.Series, column: str, digits: int = 1, flagged: bool = True) -> Any:
    """A cell: the figure, with its 95% interval and sample count where the row has
    them (``22.7 [22.3, 23.1] n=12``) and its flags; a failed case shows its status,
    never a zero.  A bare number where the row has no interval (older runs)."""
    if row["status"] != "ok":
        return str(row["status"])
    value = row.get(column)
    if not _num(value):
        return "n/a"
    lo, hi = row.get(f"{column}_ci_low"), row.get(f"{column}_ci_high")
    marks = flags(row) if flagged else []
    if not (_num(lo) and _num(hi)) and not marks:
        return round(float(value), digits)
    text = f"{value:.{digits}f}"
    if _num(lo) and _num(hi):
        text += f" [{lo:.{digits}f}, {hi:.{digits}f}]"
        if _num(row.get("rounds")):
            steps = int(row["rounds"])
            # Fewer steps than a distribution-free 95% interval of the median needs: indicative.
            text += f" n={steps}" + ("*" if steps < percentile_min_samples(50) else "")
    return " ".join([text, *marks])


def _by_batch(frame: pd.DataFrame, column: str, digits: int = 1, flagged: bool = True) -> pd.DataFrame:
    """``column`` laid out as configuration x version rows and batch-size columns."""
    if frame.empty:
        return pd.DataFrame()
    keys = index_keys(frame, [*CONFIG, "version"], ["batch_size"])
    cell = frame.apply(lambda r: figure(r, column, digits, flagged), axis=1)
    table = frame.assign(cell=cell).pivot(index=keys, columns="batch_size", values="cell")
    table.columns = [f"bs {c}" for c in table.columns]
    return table


#: The axes a paired row shares with the plain case of each model it stepped.
PAIRED_KEYS = ("machine", "run", "mode", "batch_size", "device", "image_size", "backend")


def paired_steps(df: pd.DataFrame) -> dict[tuple, list[float]]:
    """Each model a paired group stepped, by (its axes, version, precision): the step times
    of every round it ran (the longest sample list its ratio rows hold)."""
    out: dict[tuple, list[float]] = {}
    rows = df[(df["kind"] == "paired") & (df["status"] == "ok")] if "kind" in df else df.iloc[0:0]
    for _, row in rows.iterrows():
        samples = row.get("samples_s")
        if not isinstance(samples, list) or len(samples) != 2:
            continue
        common = tuple(row.get(k) for k in PAIRED_KEYS)
        if row["comparison"] == "version":  # numerator and denominator versions, one precision
            models = [(row["numerator"], row["precision"]), (row["denominator"], row["precision"])]
        elif row["comparison"] == "precision":  # one version, two precisions
            models = [(row["version"], row["numerator"]), (row["version"], row["denominator"])]
        else:  # a runtime's or a peer's ratio: not a Keras model's own figure
            continue
        for (version, precision), steps in zip(models, samples, strict=True):
            key = (*common, version, precision)
            if isinstance(steps, list) and len(steps) > len(out.get(key, [])):
                out[key] = [float(t) for t in steps]
    return out


def throughput_table(df: pd.DataFrame) -> pd.DataFrame:
    """images/s, version x batch size, for each mode, precision and device. A cell that a
    paired group also timed shows the group's figure (its images over every round's time,
    with its 95% interval and rounds: :func:`paired_figures`), the isolated window's figure
    beside it."""
    frame = cases(df)
    paired = paired_figures(df)
    if not paired or frame.empty:
        return _by_batch(frame, "images_per_sec")
    cells = []
    for _, row in frame.iterrows():
        key = (*(row.get(k) for k in PAIRED_KEYS), row["version"], row["precision"])
        found = paired.get(key) if row["status"] == "ok" and row.get("runtime", "keras") == "keras" else None
        if not found:
            cells.append(figure(row, "images_per_sec"))
            continue
        images = row.get("global_batch") or row["batch_size"]
        text = f"{images / found['mean']:.1f}"
        if math.isfinite(found["low"]) and math.isfinite(found["high"]):
            text += f" [{images / found['high']:.1f}, {images / found['low']:.1f}]"
        cells.append(f"{text} n={found['rounds']} paired (alone: {figure(row, 'images_per_sec')})")
    keys = index_keys(frame, [*CONFIG, "version"], ["batch_size"])
    table = frame.assign(cell=cells).pivot(index=keys, columns="batch_size", values="cell")
    table.columns = [f"bs {c}" for c in table.columns]
    return table


#: A paired model's rounds are cut into this many consecutive segments to see how far its
#: figure moves over the time of its block (as windows show it for the isolated cases).
SEGMENTS = 4


def _log_spread(groups: list[list[float]]) -> tuple[float, int]:
    """Variance of log values about their group's mean, pooled over groups, and its df."""
    squares, dof = 0.0, 0
    for values in groups:
        if len(values) > 1:
            logs = np.log(values)
            squares += float(np.sum((logs - logs.mean()) ** 2))
            dof += len(values) - 1
    return (squares / dof, dof) if dof else (math.nan, 0)


def paired_figures(df: pd.DataFrame) -> dict[tuple, dict[str, Any]]:
    """Each model a paired group stepped (keyed as :func:`paired_steps`), in step times:
    ``mean``, the block's time over its rounds (the figure is images over it, as a window's
    figure is its images over its time: a median step jumps between the machine's states
    where about half the steps meet a neighbour, the mean moves with their share);
    ``low``/``high``, its 95% interval by batch means over SEGMENTS consecutive segments,
    at least the run's segment-to-segment spread pooled over its paired models (as a windowed
    case's interval is at least its run's window spread); ``best``, the fastest step;
    ``rerun``, the log half-width of where a rerun's figure is expected to land (95%) from
    that pooled spread, None where the run has too few segments to say; ``rounds``."""
    from resnet.stats import batch_means_interval, pooled_half_width, rerun_half_width, segment_means

    steps = paired_steps(df)
    out: dict[tuple, dict[str, Any]] = {}
    for run in dict.fromkeys(k[1] for k in steps):
        mine = {k: v for k, v in steps.items() if k[1] == run}
        variance, dof = _log_spread(
            [segment_means(v, SEGMENTS) for v in mine.values() if len(v) >= 2 * SEGMENTS]
        )
        pooled = pooled_half_width(variance, dof, SEGMENTS)
        rerun = rerun_half_width(variance, dof, SEGMENTS)
        for key, times in mine.items():
            mean, low, high = batch_means_interval(times, SEGMENTS)
            if pooled is not None:
                low = float(np.fmin(low, mean * math.exp(-pooled)))
                high = float(np.fmax(high, mean * math.exp(pooled)))
            out[key] = {"mean": mean, "low": low, "high": high, "best": float(np.min(times)), "rerun": rerun,
                        "rounds": len(times)}  # fmt: skip
    return out


def headline_cells(df: pd.DataFrame) -> pd.DataFrame:
    """Every finished case's headline images/s as the throughput table shows it (a paired
    group's figure where one stepped the model, else the case's own), its 95% interval, and
    where a rerun's figure is expected to land (95%): for a case from windows, the run's
    window-to-window spread pooled over its cases (the sweep writes it since #36; derived the
    same way for older runs); for a paired figure (:func:`paired_figures`), the spread of the
    means of SEGMENTS consecutive segments of each model's rounds, pooled over the run's
    paired models; both with Student's t, at MIN_DF degrees of freedom at least.
    ``adjusted``: a case from windows at the run's median machine speed (the median of its
    windows' figures, each over its own probe). ``best``: the images/s of the fastest step
    behind the figure (the paired model's rounds, or the case's windows:
    ``images_per_sec_best``)."""
    from resnet.stats import rerun_half_width, window_variance

    frame = ok(cases(df))
    if frame.empty:
        return pd.DataFrame()
    paired = paired_figures(df)
    adjusted: dict[tuple, list[float]] = {}  # each window's images/s over its own probe reading
    windows = df[(df["kind"] == "window") & (df["status"] == "ok")]
    for _, w in windows.iterrows():
        if _num(w.get("machine_speed_rel")) and _num(w.get("images_per_sec")):
            key = (w["run"], str(w["case_id"]).split("@w")[0])
            adjusted.setdefault(key, []).append(float(w["images_per_sec"]) / float(w["machine_speed_rel"]))
    out = []
    for run, rows in frame.groupby("run", sort=False):
        variance, dof = window_variance([s for s in rows["samples_s"] if isinstance(s, list)])
        for _, row in rows.iterrows():
            key = (*(row.get(k) for k in PAIRED_KEYS), row["version"], row["precision"])
            found = paired.get(key) if (row.get("runtime") or "keras") == "keras" else None
            images = row.get("global_batch") or row["batch_size"]
            cell = {"machine": row["machine"], "run": run, "case_id": row["case_id"]}
            if found:
                figure = images / found["mean"]
                cell.update(source="paired", images_per_sec=figure, best=images / found["best"],
                            ci_low=images / found["high"], ci_high=images / found["low"])  # fmt: skip
                half = found["rerun"]
            else:
                figure = float(row["images_per_sec"])
                cell.update(source="windows", images_per_sec=figure, best=row.get("images_per_sec_best"),
                            ci_low=row.get("images_per_sec_ci_low"),
                            ci_high=row.get("images_per_sec_ci_high"))  # fmt: skip
                windows = len(row["samples_s"]) if isinstance(row.get("samples_s"), list) else 0
                half = rerun_half_width(variance, dof, windows)
            if cell["source"] == "windows":
                found = adjusted.get((run, row["case_id"]))
                cell["adjusted"] = (
                    float(np.median(found)) if found else row.get("images_per_sec_speed_adjusted")
                )
            if _num(row.get("images_per_sec_rerun_low")) and cell["source"] == "windows":
                cell.update(
                    rerun_low=row["images_per_sec_rerun_low"], rerun_high=row["images_per_sec_rerun_high"]
                )
            elif half is not None:
                cell.update(rerun_low=figure * math.exp(-half), rerun_high=figure * math.exp(half))
            out.append(cell)
    return pd.DataFrame(out)


def rerun_table(df: pd.DataFrame) -> pd.DataFrame:
    """Each headline figure with where a rerun's figure is expected to land (95%)."""
    cells = headline_cells(df)
    if cells.empty or "rerun_low" not in cells or cells["rerun_low"].isna().all():
        return pd.DataFrame()
    frame = ok(cases(df)).set_index(["run", "case_id"])
    axes = [k for k in dict.fromkeys([*CONFIG, "version", "batch_size"]) if k in frame and k != "machine"]
    cells = cells.join(frame[axes], on=["run", "case_id"])

    def text(r: pd.Series) -> str:
        if not _num(r.get("rerun_low")):
            return f"{r['images_per_sec']:.1f}"
        mark = " paired" if r["source"] == "paired" else ""
        return f"{r['images_per_sec']:.1f} ({r['rerun_low']:.1f}-{r['rerun_high']:.1f}){mark}"

    cells["cell"] = [text(r) for _, r in cells.iterrows()]
    keys = index_keys(cells, [*CONFIG, "version"], ["batch_size"])
    table = cells.pivot(index=keys, columns="batch_size", values="cell")
    table.columns = [f"bs {c}" for c in table.columns]
    return table


def utilization_table(df: pd.DataFrame) -> pd.DataFrame:
    """Percent of the device's measured matrix-product peak (the fastest library's). A case
    whose counted work ran faster than that peak (``above_peak``) has no figure here."""
    frame = cases(df)
    frame["utilization_pct"] = pd.to_numeric(frame["utilization"], errors="coerce") * 100
    return _by_batch(frame, "utilization_pct", 0, flagged=False)


def peak_memory(frame: pd.DataFrame) -> pd.Series:
    """Device memory on GPUs, the worker's peak RSS on CPUs (MiB)."""
    dev = pd.to_numeric(frame["peak_device_mem_mb"], errors="coerce")
    host = pd.to_numeric(frame["peak_host_rss_mb"], errors="coerce")
    return dev.where(dev.notna(), host)


def memory_table(df: pd.DataFrame) -> pd.DataFrame:
    """Peak memory (device memory on GPUs, process RSS on CPUs), MiB."""
    frame = cases(df)
    frame["peak_mem_mb"] = peak_memory(frame)
    return _by_batch(frame, "peak_mem_mb", 0, flagged=False)


def latency_table(df: pd.DataFrame) -> pd.DataFrame:
    """Step latency (ms): the median with its interval, p90 and p99 marked ``*`` where
    the steps are too few for the percentile (36 for p90, 368 for p99), and n."""
    from resnet.stats import percentile_min_samples

    frame = ok(cases(df))
    if frame.empty:
        return pd.DataFrame()
    keys = [*index_keys(frame, [*CONFIG, "version"], ["batch_size"]), "batch_size"]
    out = pd.DataFrame(index=pd.MultiIndex.from_frame(frame[keys]))
    out["p50"] = [figure(r, "latency_ms_p50") for _, r in frame.iterrows()]
    for q in (90, 99):
        need = percentile_min_samples(q)
        out[f"p{q}"] = [
            f"{r[f'latency_ms_p{q}']:.1f}" + ("" if _num(r["rounds"]) and r["rounds"] >= need else "*")
            if _num(r[f"latency_ms_p{q}"])
            else "n/a"
            for _, r in frame.iterrows()
        ]
    out["n"] = [int(r["rounds"]) if _num(r["rounds"]) else None for _, r in frame.iterrows()]
    return out.sort_index()


LATENCY_NOTE = (
    "* fewer timed steps than a percentile's 95% interval needs (36 for p90, 368 for p99): "
    "indicative only. MLPerf's latency rules ask far more steps than these."
)


def _ratio_to(df: pd.DataFrame, column: str, base: str) -> pd.DataFrame:
    """Each finished case with ``ratio``: its images/s over the case that differs only
    by ``column`` == ``base`` (same machine and run)."""
    frame = ok(cases(df))
    keys = [k for k in ["run", *CONFIG, "version", "batch_size"] if k != column]
    ref = frame[frame[column] == base].set_index(keys)["images_per_sec"]
    out = frame[frame[column] != base].copy()
    out["ratio"] = [
        r["images_per_sec"] / ref.get(tuple(r[k] for k in keys), math.nan) for _, r in out.iterrows()
    ]
    return out[out["ratio"].notna()]


def _ratio_table(out: pd.DataFrame, digits: int) -> pd.DataFrame:
    if out.empty:
        return pd.DataFrame()
    keys = index_keys(out, [*CONFIG, "version"], ["batch_size"])
    table = out.pivot(index=keys, columns="batch_size", values="ratio").round(digits)
    table.columns = [f"bs {c}" for c in table.columns]
    return table


def paired_rows(df: pd.DataFrame, comparison: str) -> pd.DataFrame:
    """The finished paired comparisons of one kind ("version" or "precision")."""
    rows = df[(df["kind"] == "paired") & (df["comparison"] == comparison) & (df["status"] == "ok")].copy()
    if rows.empty:
        return rows
    rows["threads"] = rows["threads"].fillna(0).astype(int)
    rows["replicas"] = rows["replicas"].fillna(1).astype(int)
    rows["batch_size"] = rows["batch_size"].astype(int)
    rows["ratio_of"] = rows["numerator"] + "/" + rows["denominator"]
    return rows


def ratio_text(row: pd.Series) -> str:
    """``0.943 [0.925, 0.961]``, or ``no difference (1.004 [0.981, 1.030])`` when the
    interval contains 1."""
    text = f"{row['ratio']:.3f} [{row['ratio_ci_low']:.3f}, {row['ratio_ci_high']:.3f}]"
    return text if row.get("differs") is True else f"no difference ({text})"


def _paired_table(rows: pd.DataFrame, comparison: str) -> pd.DataFrame:
    """The paired rows of one comparison laid out as ratio cells, batch sizes as columns."""
    if rows.empty:
        return pd.DataFrame()
    fixed = "precision" if comparison == "version" else "version"
    config = [k for k in CONFIG if k != fixed and k not in ("version", "precision")]
    keys = index_keys(rows, [*config, fixed, "ratio_of"], ["batch_size"])
    rows = rows.assign(cell=[ratio_text(r) for _, r in rows.iterrows()])
    table = rows.pivot(index=keys, columns="batch_size", values="cell")
    table.columns = [f"bs {c}" for c in table.columns]
    return table


def speedup_table(df: pd.DataFrame, paired: pd.DataFrame | None = None) -> pd.DataFrame:
    """Mixed precision's images/s over float32 for the same version: paired (both
    stepped alternately in one process) where the run has it, else from separate cases.
    ``paired``: the run's paired precision rows, where the caller has them already."""
    table = _paired_table(paired_rows(df, "precision") if paired is None else paired, "precision")
    return table if not table.empty else _ratio_table(_ratio_to(df, "precision", "float32"), 2)


def version_cost_table(df: pd.DataFrame, paired: pd.DataFrame | None = None) -> pd.DataFrame:
    """Each version's images/s relative to v1 (published: v1.5 about 5% slower): paired
    where the run has it, else from separate cases. ``paired``: as for speedup_table."""
    table = _paired_table(paired_rows(df, "version") if paired is None else paired, "version")
    if not table.empty:
        return table
    out = _ratio_to(df, "version", "v1")
    out["version"] = out["version"] + "/v1"
    return _ratio_table(out, 3)


#: Ratios of models measured side by side that are not a version's or a precision's: a
#: deployment runtime over Keras (one process), a peer over ours (two processes), stack B
#: over stack A (an A/B run).
SIDE_BY_SIDE = ("runtime", "peer", "ab")


def side_by_side_rows(df: pd.DataFrame) -> pd.DataFrame:
    """The finished ratios of SIDE_BY_SIDE, with ``ratio_of`` (``openvino/keras``, ``B/A``)."""
    if "kind" not in df or "comparison" not in df:
        return df.iloc[0:0]
    rows = df[
        df["kind"].isin(("paired", "ab")) & df["comparison"].isin(SIDE_BY_SIDE) & (df["status"] == "ok")
    ]
    rows = rows[rows["ratio"].map(_num)].copy()
    if rows.empty:
        return rows
    rows["threads"] = rows["threads"].fillna(0).astype(int)
    rows["replicas"] = rows["replicas"].fillna(1).astype(int)
    rows["batch_size"] = rows["batch_size"].astype(int)
    rows["runtime"] = rows["runtime"].fillna("keras")
    rows["ratio_of"] = rows["numerator"] + "/" + rows["denominator"]
    return rows


def side_by_side_table(df: pd.DataFrame) -> pd.DataFrame:
    """Each runtime's images/s over Keras's, each peer's over ours, stack B's over stack A's:
    measured alternately (in one process, across two, across two stacks), with the ratio's
    95% interval, batch sizes as columns."""
    rows = side_by_side_rows(df)
    if rows.empty:
        return pd.DataFrame()
    config = [k for k in CONFIG if k not in ("version", "precision", "runtime", "jit")]
    keys = index_keys(rows, ["comparison", *config, "version", "precision", "ratio_of"], ["batch_size"])
    rows = rows.assign(cell=[ratio_text(r) for _, r in rows.iterrows()])
    table = rows.pivot(index=keys, columns="batch_size", values="cell")
    table.columns = [f"bs {c}" for c in table.columns]
    return table


def best_batches(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Per group of ``keys``: the batch size with the most images/s, its images/s, and
    the largest batch that finished (the one rule the report and ``machines`` share)."""
    rows = []
    for key, group in frame.groupby(keys, dropna=False):
        done = ok(group)
        best = done.loc[done["images_per_sec"].idxmax()] if not done.empty else None
        failed = group[group["status"] != "ok"]
        rows.append(
            {
                **dict(zip(keys, key if isinstance(key, tuple) else (key,), strict=True)),
                "best_batch": int(best["batch_size"]) if best is not None else None,
                "best_images_per_sec": float(best["images_per_sec"]) if best is not None else None,
                "largest_that_fit": int(done["batch_size"].max()) if not done.empty else None,
                "failed_batches": ", ".join(
                    f"{int(b)} ({s})" for b, s in zip(failed["batch_size"], failed["status"], strict=True)
                ),
                "best_row": best,
            }
        )
    return pd.DataFrame(rows)


def best_batch_table(df: pd.DataFrame) -> pd.DataFrame:
    """Per configuration: the batch size with the most images/s, and the largest that fit."""
    frame = cases(df)
    if frame.empty:
        return pd.DataFrame()
    keys = index_keys(frame, [*CONFIG, "version"], ["batch_size"])
    table = best_batches(frame, keys).drop(columns="best_row").set_index(keys)
    return table.round({"best_images_per_sec": 1})


def size_table(df: pd.DataFrame) -> pd.DataFrame:
    """Parameters, multiply-accumulates and build time of each version."""
    builds = df[df["kind"] == "build"]
    if builds.empty:
        return pd.DataFrame()
    keys = (
        ["machine", "run", "version"]
        if builds.duplicated(["machine", "version"]).any()
        else ["machine", "version"]
    )
    cols = ["params_total", "params_trainable", "gmacs_per_image", "image_size", "build_s"]
    return builds.set_index(keys)[cols].round(3)


def goals_table(df: pd.DataFrame) -> pd.DataFrame:
    """The measured goals (ratios taken within one run)."""
    goals = df[df["kind"] == "goal"]
    if goals.empty:
        return pd.DataFrame()
    cols = [
        "machine",
        "goal",
        "datetime",
        "status",
        "images_per_sec",
        "reference_images_per_sec",
        "ratio",
        "reference",
    ]
    return goals[cols].set_index(["machine", "goal", "datetime"]).round(3)


def problems_table(df: pd.DataFrame) -> pd.DataFrame:
    """Every case that did not finish, with its reason."""
    bad = df[df["status"] != "ok"]
    if bad.empty:
        return pd.DataFrame()
    return bad[["machine", "run", "case_id", "status", "reason"]].set_index(["machine", "run", "case_id"])


def scaling_table(df: pd.DataFrame) -> pd.DataFrame:
    """images/s and scaling efficiency against data-parallel replicas."""
    frame = ok(cases(df))
    if frame["replicas"].nunique() < 2:
        return pd.DataFrame()
    keys = index_keys(frame, [k for k in [*CONFIG, "version"] if k != "replicas"], ["batch_size", "replicas"])
    cols = ["global_batch", "images_per_sec", "scaling_efficiency"]
    return frame.set_index([*keys, "batch_size", "replicas"])[cols].astype(float).round(3).sort_index()


def _jit_label(row: pd.Series) -> str:
    runtime = row.get("runtime")
    where = (
        row["backend"]
        if runtime in (None, "keras") or pd.isna(runtime)
        else f"{runtime} from {row['backend']}"
    )
    return f"{where}, jit {'on' if row['jit'] else 'off'}"


def peer_table(df: pd.DataFrame) -> pd.DataFrame:
    """Our model against each reference (keras.applications) or peer (torchvision) of
    the same layout, on the same machine, device, mode, precision and batch: the
    images/s of our best configuration (any backend, runtime, jit on or off) over theirs."""
    frame = ok(cases(df))
    refs = frame[frame["version"].isin(list(OURS_FOR))]
    match = ["machine", "device", "mode", "precision", "batch_size", "image_size", "threads", "replicas"]
    rows = []
    for _, ref in refs.iterrows():
        ours = frame[frame["version"] == OURS_FOR[ref["version"]]]
        for k in match:
            ours = ours[ours[k] == ref[k]]
        if ours.empty:
            continue
        best = ours.loc[ours["images_per_sec"].idxmax()]
        rows.append(
            {
                **{k: ref[k] for k in match},
                "theirs": f"{ref['version']} ({_jit_label(ref)})",
                "theirs_images_per_sec": round(float(ref["images_per_sec"]), 1),
                "ours": f"{best['version']} ({_jit_label(best)})",
                "ours_images_per_sec": round(float(best["images_per_sec"]), 1),
                "ours_over_theirs": round(float(best["images_per_sec"] / ref["images_per_sec"]), 3),
            }
        )
    if not rows:
        return pd.DataFrame()
    table = pd.DataFrame(rows)
    keys = [k for k in match if k in ("mode", "precision", "batch_size") or table[k].nunique() > 1]
    return table.set_index([*keys, "theirs"]).drop(columns=[k for k in match if k not in keys]).sort_index()


def drift_table(df: pd.DataFrame) -> pd.DataFrame:
    """The drift monitor's flags: cases measured while the machine ran more than 10% off
    its run's median speed (a fixed matrix-product probe run before and after each
    window of timed steps), with how far off."""
    frame = cases(df)
    frame = frame[frame["drifted"] == True]  # noqa: E712 (None means not probed)
    if frame.empty:
        return pd.DataFrame()
    keys = [*index_keys(frame, ["machine"], ["case_id"]), "case_id"]
    return frame.set_index(keys)[["machine_speed_gflops", "machine_speed_rel"]].astype(float).round(3)


def speed_adjustment(df: pd.DataFrame) -> pd.DataFrame:
    """Whether figures taken at the run's median machine speed (each window's images/s over
    its probe's speed relative to the run's median, resnet.stats.machine_speeds) move less
    from window to window than the figures as measured: per run and probe dtype, the spread
    (1 sd of the log window figure about its case's mean, pooled over cases, in percent) both
    ways, its degrees of freedom, and ``adopted`` where adjusting narrows it."""
    need = {"machine_speed_rel", "images_per_sec", "case_id", "kind", "status"}
    if not need <= set(df.columns):
        return pd.DataFrame()
    windows = df[(df["kind"] == "window") & (df["status"] == "ok")].copy()
    windows = windows[windows["machine_speed_rel"].map(_num) & windows["images_per_sec"].map(_num)]
    if windows.empty:
        return pd.DataFrame()
    windows["dtype"] = windows.get("machine_speed_dtype", pd.Series(index=windows.index)).fillna("float32")
    windows["case"] = windows["case_id"].str.replace(r"@w\d+$", "", regex=True)
    raw = np.log(windows["images_per_sec"].astype(float))
    windows["raw"], windows["adjusted"] = raw, raw - np.log(windows["machine_speed_rel"].astype(float))
    out = []
    for (run, dtype), group in windows.groupby(["run", "dtype"], sort=True):
        spread = {}
        for column in ("raw", "adjusted"):
            devs = group.groupby("case")[column].transform(lambda x: x - x.mean())
            dof = int((group.groupby("case")[column].count() - 1).clip(lower=0).sum())
            spread[column] = 100 * math.expm1(math.sqrt(float((devs**2).sum()) / dof)) if dof else math.nan
        if dof:
            out.append(
                {
                    "run": run,
                    "dtype": dtype,
                    "spread_pct": round(spread["raw"], 2),
                    "adjusted_spread_pct": round(spread["adjusted"], 2),
                    "df": dof,
                    "adopted": bool(spread["adjusted"] < spread["raw"]),
                }
            )
    return pd.DataFrame(out)


def speed_adjusted_table(df: pd.DataFrame) -> pd.DataFrame:
    """images/s at the run's median machine speed beside images/s as measured, for the cases
    whose probe dtype's adjustment narrows the window-to-window spread in their run (the
    others are left out: there the adjustment would add noise, not remove it)."""
    adopted = speed_adjustment(df)
    if adopted.empty or not adopted["adopted"].any():
        return pd.DataFrame()
    keep = set(map(tuple, adopted[adopted["adopted"]][["run", "dtype"]].to_numpy()))
    frame = ok(cases(df))
    frame = frame[frame["machine_speed_rel"].map(_num)].copy()
    frame["dtype"] = frame.get("machine_speed_dtype", pd.Series(index=frame.index)).fillna("float32")
    frame = frame[[(r, d) in keep for r, d in zip(frame["run"], frame["dtype"], strict=True)]]
    if frame.empty:
        return pd.DataFrame()
    frame["images/s adjusted"] = frame["images_per_sec"].astype(float) / frame["machine_speed_rel"].astype(
        float
    )
    keys = [*index_keys(frame, [*CONFIG, "version"], ["batch_size"]), "batch_size"]
    cols = ["images_per_sec", "images/s adjusted", "machine_speed_rel"]
    return frame.set_index(keys)[cols].astype(float).round(3).sort_index()


def loadgen_rows(df: pd.DataFrame) -> pd.DataFrame:
    """The LoadGen scenario rows."""
    return df[(df["kind"] == "case") & df["scenario"].notna()].copy()


def loadgen_figure(row: pd.Series) -> str:
    """A scenario's headline as MLPerf states it, with VALID or INVALID."""
    if row["status"] != "ok":
        return str(row["status"])
    scenario = row["scenario"]
    value = row.get(SCENARIO_METRIC[scenario])
    if not _num(value):
        text = "no rate met the bound" if scenario == "server" else "n/a"
    elif scenario == "offline":
        text = f"{value:.1f} samples/s"
    elif scenario == "server":
        text = f"{value:.1f} QPS at p99 <= {row['latency_bound_ms']:g} ms"
    else:
        text = f"p{90 if scenario == 'single-stream' else 99} {value:.1f} ms"
    validity = "VALID" if row.get("valid") is True else "INVALID"
    return f"{text} ({validity}, {row['duration_s']:.0f} s)" if _num(row.get("duration_s")) else text


def loadgen_table(df: pd.DataFrame) -> pd.DataFrame:
    """Per machine: scenario x version, each cell the scenario's headline figure (Offline
    samples/s, SingleStream p90, MultiStream p99, Server peak QPS under the bound)."""
    rows = loadgen_rows(df)
    if rows.empty:
        return pd.DataFrame()
    rows["threads"] = rows["threads"].fillna(0).astype(int)
    config = ["machine", "backend", "device", "jit", "threads", "image_size", "precision", "version"]
    keys = index_keys(rows, config, ["scenario"])
    rows["cell"] = [loadgen_figure(r) for _, r in rows.iterrows()]
    table = rows.pivot(index=keys, columns="scenario", values="cell")
    return table[[s for s in SCENARIOS if s in table.columns]]


def loadgen_detail_table(df: pd.DataFrame) -> pd.DataFrame:
    """Every LoadGen case: the latencies LoadGen reports, queries, duration, validity."""
    rows = loadgen_rows(df)
    rows = rows[rows["status"] == "ok"]
    if rows.empty:
        return pd.DataFrame()
    cols = ["samples_per_sec", "lg_p50_ms", "lg_p90_ms", "lg_p99_ms", "lg_p999_ms", "queries", "duration_s",
            "mean_batch", "target_qps", "valid", "invalid_reason"]  # fmt: skip
    return rows.set_index(["machine", "case_id"])[cols].round(2)


def pipeline_table(df: pd.DataFrame) -> pd.DataFrame:
    """Input pipelines alone: images/s (with interval) and images/s per core, per
    pipeline, stage and workers."""
    rows = df[df["kind"] == "pipeline"].copy()
    if rows.empty:
        return pd.DataFrame()
    rows["cell"] = [figure(r, "images_per_sec") for _, r in rows.iterrows()]
    rows["per_core"] = [
        round(float(r["images_per_sec_per_core"]), 1) if r["status"] == "ok" else r["status"]
        for _, r in rows.iterrows()
    ]
    keys = index_keys(rows, ["machine", "device", "pipeline", "stage"], ["workers"])
    out = rows.set_index([*keys, "workers"])[["cell", "per_core"]]
    return out.rename(columns={"cell": "images/s", "per_core": "images/s per core"}).sort_index()


def end_to_end_table(df: pd.DataFrame) -> pd.DataFrame:
    """Training fed from JPEG files against the same step on tensors on the device."""
    frame = cases(df)
    frame = frame[frame["data"] == "jpeg"]
    if frame.empty:
        return pd.DataFrame()
    keys = [*index_keys(frame, [*CONFIG, "version"], ["batch_size"]), "batch_size"]
    out = pd.DataFrame(index=pd.MultiIndex.from_frame(frame[keys]))
    out["end to end (JPEG) images/s"] = [figure(r, "images_per_sec") for _, r in frame.iterrows()]
    out["synthetic images/s"] = [
        round(float(r["synthetic_images_per_sec"]), 1) if _num(r["synthetic_images_per_sec"]) else "n/a"
        for _, r in frame.iterrows()
    ]
    out["lost to input"] = [
        f"{100 * r['input_bound_fraction']:.0f}%" if _num(r["input_bound_fraction"]) else "n/a"
        for _, r in frame.iterrows()
    ]
    return out.sort_index()


#: The report's tables, in order: file stem -> (heading, function).
TABLES = {
    "throughput": ("Throughput (images/s)", throughput_table),
    "mixed_precision_speedup": ("Mixed precision speed-up over float32", speedup_table),
    "version_cost": ("Each version's images/s relative to v1", version_cost_table),
    "drift": ("Cases measured while the machine ran more than 10% off its run's median speed", drift_table),
    "rerun": ("Where a rerun's images/s is expected to land (95%)", rerun_table),
    "speed_adjusted": (
        "Figures at the run's median machine speed, where that narrows the window-to-window spread",
        speed_adjusted_table,
    ),
    "side_by_side": (
        "Measured side by side (stepped alternately): runtimes over Keras, peers over ours, stack B over A",
        side_by_side_table,
    ),
    "ours_vs_theirs": (
        "Ours against references and peers of the same layout (not ours: keras-v1, keras-v2, "
        "torchvision-resnet50)",
        peer_table,
    ),
    "memory": ("Peak memory (MiB: device memory on GPUs, process RSS on CPUs)", memory_table),
    "latency": ("Step latency (ms)", latency_table),
    "best_batch": ("Best batch size and largest that fit", best_batch_table),
    "utilization": ("Utilization (% of the measured matrix-product peak)", utilization_table),
    "model_size": ("Parameters, multiply-accumulates, build time", size_table),
    "goals": ("Measured goals (ratios within one run)", goals_table),
    "scaling": (
        "Data-parallel scaling (per-replica batch; efficiency = N-replica over N x 1-replica)",
        scaling_table,
    ),
    "pipelines": (
        "Input pipelines alone (generated ImageNet-like JPEG files, batches of 32)",
        pipeline_table,
    ),
    "end_to_end": ("Training from JPEG files against synthetic data, same step", end_to_end_table),
    "loadgen": (
        "MLPerf LoadGen scenarios (LoadGen scenario, not an MLPerf submission: runs of seconds, not 600 s)",
        loadgen_table,
    ),
    "loadgen_detail": ("LoadGen runs in detail (latencies in ms)", loadgen_detail_table),
    "problems": ("Cases that did not run", problems_table),
}


#: The tables that read a run's paired rows, and the comparison each reads.
PAIRED_TABLES = {"mixed_precision_speedup": "precision", "version_cost": "version"}


def compute_tables(df: pd.DataFrame) -> tuple[dict[str, pd.DataFrame], dict[str, pd.DataFrame]]:
    """Every table of TABLES over ``df`` (by stem; empty ones included), and the paired rows
    of each comparison, each computed once: what a report writes and draws."""
    paired = {c: paired_rows(df, c) for c in PAIRED_TABLES.values()}
    tables = {
        stem: fn(df, paired[PAIRED_TABLES[stem]]) if stem in PAIRED_TABLES else fn(df)
        for stem, (_, fn) in TABLES.items()
    }
    return tables, paired
