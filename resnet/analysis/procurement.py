"""Procurement: which machine gives the most ResNet-50 per second, per dollar."""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from resnet.analysis.pages import csv_text, markdown_cell, markdown_table, table_data, write_page
from resnet.analysis.tables import best_batches, cases, loadgen_rows, ok, ratio_text, side_by_side_rows
from resnet.errors import InputError
from resnet.outputs import staged_folder
from resnet.runs import identity_conflicts
from resnet.schema import finite

SECONDS_PER_YEAR = 365.25 * 24 * 3600
#: What the procurement table compares across machines.
CONFIG = ["version", "mode", "precision"]


class PriceError(InputError):
    """A price file that cannot be used: one line naming the problem."""


def read_prices(path: str | Path) -> pd.DataFrame:
    """A price CSV: ``machine`` and ``price_per_hour`` and/or ``purchase_price`` with
    ``years`` of use. Returns one row per machine label."""
    p = Path(path)
    if not p.is_file():
        raise PriceError(f"{p}: no such price file")
    try:
        with p.open(newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except (UnicodeDecodeError, csv.Error) as err:
        raise PriceError(f"{p}: not a CSV text file ({err})") from None
    if not rows:
        raise PriceError(f"{p}: no rows")
    cols = set(rows[0])
    if "machine" not in cols:
        raise PriceError(f"{p}: missing column 'machine'")
    if not cols & {"price_per_hour", "purchase_price"}:
        raise PriceError(f"{p}: needs a 'price_per_hour' or a 'purchase_price' column (with 'years')")
    if "purchase_price" in cols and "years" not in cols:
        raise PriceError(f"{p}: 'purchase_price' needs a 'years' column")
    out = []
    seen: dict[str, int] = {}
    for n, row in enumerate(rows, start=2):
        machine = (row.get("machine") or "").strip()
        if not machine:
            raise PriceError(f"{p}: line {n}: empty machine name")
        if machine in seen:
            raise PriceError(
                f"{p}: line {n}: machine {machine!r} is priced twice (first on line {seen[machine]})"
            )
        seen[machine] = n
        item: dict[str, object] = {"machine": machine}
        for key in ("price_per_hour", "purchase_price", "years"):
            text = (row.get(key) or "").strip()
            if not text:
                item[key] = math.nan
                continue
            try:
                value = float(text)
            except ValueError:
                raise PriceError(f"{p}: line {n}: {key} {text!r} is not a number") from None
            if not math.isfinite(value) or value < 0 or (key == "years" and value == 0):
                raise PriceError(f"{p}: line {n}: {key} must be a positive number, got {text}")
            item[key] = value
        out.append(item)
    return pd.DataFrame(out).set_index("machine")


def machines_table(
    df: pd.DataFrame, reference: str | None = None, prices: pd.DataFrame | None = None
) -> pd.DataFrame:
    """One row per machine and (version, mode, precision): best images/s and its batch,
    latency at batch 1, largest batch that fit, speed-up over the reference machine,
    images per dollar where a price is known, joules per image where measured."""
    conflicts = identity_conflicts(df)
    if conflicts:
        raise InputError(conflicts[0])
    frame = cases(df)
    runs = df.groupby("machine")["source"].nunique()
    paired_runtimes = side_by_side_rows(df)
    if not paired_runtimes.empty:
        paired_runtimes = paired_runtimes[paired_runtimes["comparison"] == "runtime"]
    rows = []
    for _, best in best_batches(frame, ["machine", *CONFIG]).iterrows():
        if best["best_row"] is None:
            continue
        top = best["best_row"]
        group = ok(frame[(frame["machine"] == best["machine"]) & (frame[CONFIG] == best[CONFIG]).all(axis=1)])
        bs1 = group[group["batch_size"] == 1]
        machine = best["machine"]
        row = {
            "machine": machine,
            **{k: best[k] for k in CONFIG},
            "runs": int(runs.get(machine, 1)),
            "best_images_per_sec": best["best_images_per_sec"],
            "best_batch": best["best_batch"],
            "best_path": best_path(top),
            "latency_ms_bs1": float(bs1["latency_ms_p50"].min()) if not bs1.empty else math.nan,
            "largest_batch_that_fit": best["largest_that_fit"],
            "joules_per_image": float(top["joules_per_image"])
            if pd.notna(top["joules_per_image"])
            else math.nan,
            "best_ci_low": _number(top.get("images_per_sec_ci_low")),
            "best_ci_high": _number(top.get("images_per_sec_ci_high")),
            "date": _day(top.get("datetime")),
            **_system(top),
        }
        if best["mode"] == "inference" and not paired_runtimes.empty:
            text = runtimes_over_keras(paired_runtimes, machine, best["version"], best["precision"])
            if text:
                row["runtimes_over_keras"] = text
        if prices is not None and machine in prices.index:
            price = prices.loc[machine]
            if pd.notna(price.get("price_per_hour")) and price["price_per_hour"] > 0:
                row["images_per_dollar_rented"] = row["best_images_per_sec"] * 3600 / price["price_per_hour"]
            if pd.notna(price.get("purchase_price")) and price["purchase_price"] > 0:
                row["images_per_dollar_owned"] = (
                    row["best_images_per_sec"] * price["years"] * SECONDS_PER_YEAR / price["purchase_price"]
                )
        feed = _per_core(df, machine)
        if best["mode"] == "training" and feed is not None:
            rate, pipeline = feed
            row["input_images_per_sec_per_core"] = rate
            row["input_pipeline"] = pipeline
            row["cores_to_feed"] = row["best_images_per_sec"] / rate
            cores = df[df["machine"] == machine]["cpu_cores"].dropna()
            if not cores.empty:
                row["input_bound"] = bool(row["cores_to_feed"] > float(cores.max()))
        serving = loadgen_rows(df)
        serving = serving[(serving["machine"] == machine) & (serving["status"] == "ok")]
        serving = serving[
            (serving["version"] == best["version"]) & (serving["precision"] == best["precision"])
        ]
        if best["mode"] == "inference" and not serving.empty:
            offline = serving[serving["scenario"] == "offline"]["samples_per_sec"].dropna()
            peak = serving[serving["scenario"] == "server"]["server_peak_qps"].dropna()
            row["loadgen_offline_samples_per_sec"] = float(offline.max()) if not offline.empty else math.nan
            row["loadgen_server_peak_qps"] = float(peak.max()) if not peak.empty else math.nan
        rows.append(row)
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    with_intervals = table[table["best_ci_low"].notna()]["machine"]
    # The first machine whose figures carry intervals, so the speed-ups get theirs.
    ref = reference or (with_intervals.iloc[0] if not with_intervals.empty else table["machine"].iloc[0])
    if ref not in set(table["machine"]):
        raise InputError(
            f"--reference {ref!r} is not among the machines: {', '.join(sorted(set(table['machine'])))}"
        )
    base = table[table["machine"] == ref].set_index(CONFIG)["best_images_per_sec"]
    table["speedup_vs_reference"] = [
        r["best_images_per_sec"] / base.get(tuple(r[c] for c in CONFIG), math.nan)
        for _, r in table.iterrows()
    ]
    # The speed-up's interval from the two figures' own (conservative: their ends crossed).
    low = table[table["machine"] == ref].set_index(CONFIG)["best_ci_low"]
    high = table[table["machine"] == ref].set_index(CONFIG)["best_ci_high"]
    key = [tuple(r[c] for c in CONFIG) for _, r in table.iterrows()]
    table["speedup_ci_low"] = [
        r["best_ci_low"] / high.get(k, math.nan) for k, (_, r) in zip(key, table.iterrows(), strict=True)
    ]
    table["speedup_ci_high"] = [
        r["best_ci_high"] / low.get(k, math.nan) for k, (_, r) in zip(key, table.iterrows(), strict=True)
    ]
    # A speed-up between different software paths (OpenVINO here, Keras there) is marked.
    paths = table[table["machine"] == ref].set_index(CONFIG)["software"]
    table["same_software_as_reference"] = [
        (paths.get(k) == r["software"]) if k in paths.index else None
        for k, (_, r) in zip(key, table.iterrows(), strict=True)
    ]
    table.attrs["reference"] = ref
    table.attrs["reference_chosen"] = reference is None
    return table.set_index(["machine", *CONFIG]).round(3)


def runtimes_over_keras(rows: pd.DataFrame, machine: str, version: str, precision: str) -> str:
    """Each runtime's images/s over Keras's, stepped alternately in one worker (a paired
    group), for one machine, version and precision: ``openvino/keras bs32: 1.32 [1.28, 1.36]``."""
    mine = rows[
        (rows["comparison"] == "runtime") & (rows["machine"] == machine) & (rows["version"] == version)
    ]
    mine = mine[mine["precision"] == precision]
    return "; ".join(
        f"{r['ratio_of']} bs{int(r['batch_size'])}: {ratio_text(r)}"
        for _, r in mine.sort_values(["numerator", "batch_size"]).iterrows()
    )


def best_path(top: pd.Series) -> str:
    """``tensorflow``, ``tensorflow -> openvino`` or ``tensorflow -> openvino (throughput)``."""
    path = str(top["backend"])
    if top.get("runtime") not in (None, "keras") and not pd.isna(top.get("runtime")):
        path += f" -> {top['runtime']}"
        if top.get("runtime_config") == "throughput":
            path += " (throughput)"
    return path


def _day(value: object) -> str | None:
    """A run's date as YYYY-MM-DD (None where it has none)."""
    text = str(value) if value is not None and not (isinstance(value, float) and math.isnan(value)) else ""
    return text[:10] if re.match(r"\d{4}-\d{2}-\d{2}", text) else None


def clean_version(text: object) -> str | None:
    """A runtime's version as people write it: OpenVINO's build string
    ``2026.4.1-22982-e213a147257-releases/2026/4`` is 2026.4.1; others are kept as they are."""
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return None
    found = re.match(r"\d+(\.\d+)+", str(text))
    return found.group(0) if found else str(text)


def _number(value: object) -> float:
    """A figure as a finite float, NaN where there is none (a table cell)."""
    number = finite(value)
    return math.nan if number is None else number


def _system(top: pd.Series) -> dict[str, object]:
    """What a procurement table names besides the figure: the CPU, its cores and the
    memory, the accelerator and how many, the software that gave the best figure and the
    versions of its framework (Keras and the backend's, as the run recorded them)."""
    import json

    try:
        identity = json.loads(top.get("machine_identity") or "{}")
    except (TypeError, ValueError):
        identity = {}
    gpus = [g for g in identity.get("gpus") or [] if g]
    runtime = top.get("runtime")
    software = str(top.get("backend"))
    if runtime and runtime != "keras":
        software += f" -> {runtime} {clean_version(top.get('runtime_version')) or ''}".rstrip()
    cores = top.get("cpu_cores")
    try:
        versions = json.loads(top.get("versions") or "{}")
    except (TypeError, ValueError):
        versions = {}
    backend = top.get("backend")
    names = ["keras", backend, *(["jaxlib"] if backend == "jax" else [])]
    framework = ", ".join(f"{n} {versions[n]}" for n in names if isinstance(versions.get(n), str))
    memory = _number(top.get("memory_gb"))
    return {
        "cpu": identity.get("cpu_model"),
        "cores": int(cores) if pd.notna(cores) else None,
        "memory_gb": round(memory, 1) if math.isfinite(memory) else None,
        "accelerator": f"{len(gpus)} x {gpus[0]}" if gpus else "none",
        "software": software,
        "framework": framework or None,
    }


def _per_core(df: pd.DataFrame, machine: str) -> tuple[float, str] | None:
    """The machine's best training-augmentation rate per core, and which pipeline gave it."""
    rows = df[(df["kind"] == "pipeline") & (df["machine"] == machine) & (df["status"] == "ok")]
    rows = rows[(rows["stage"] == "train") & rows["images_per_sec_per_core"].notna()]
    if rows.empty:
        return None
    best = rows.loc[rows["images_per_sec_per_core"].astype(float).idxmax()]
    return float(best["images_per_sec_per_core"]), f"{best['pipeline']} ({int(best['workers'])} workers)"


CHARTS = (
    ("speedup_vs_reference", "throughput relative to {reference} (x)"),
    ("images_per_dollar_rented", "images per dollar (hourly price)"),
    ("images_per_dollar_owned", "images per dollar (purchase over its years)"),
)


def write_machines(
    table: pd.DataFrame, out: str | Path, notes: list[str], inputs: Iterable[str] = ()
) -> Path:
    """Markdown, CSV, bar charts (relative throughput, images per dollar) and an HTML page,
    built beside ``out`` and put in place whole (resnet.outputs)."""
    target = Path(out)
    with staged_folder(target, "machines", inputs) as tmp:
        _write_machines(table, tmp, notes)
    return target / "machines.html"


def _write_machines(table: pd.DataFrame, out: Path, notes: list[str]) -> None:
    from resnet.analysis.plots import embed_figure, plt

    (out / "machines.csv").write_text(csv_text(table))
    (out / "machines.md").write_text(
        "## Machines\n\n"
        + markdown_table(table)
        + "\n\n"
        + "\n".join(f"- {markdown_cell(n)}" for n in notes)
        + "\n"
    )
    figures = []
    flat = table.reset_index()
    flat["config"] = flat["version"] + " " + flat["mode"] + " " + flat["precision"]
    for column, template in CHARTS:
        label = template.format(reference=table.attrs.get("reference", "the reference"))
        if column not in flat or flat[column].isna().all():
            continue
        pivot = flat.pivot_table(index="config", columns="machine", values=column)
        fig, ax = plt.subplots(figsize=(max(6.5, 0.8 * len(pivot) + 3) + 2.5, 4.6))
        pivot.plot.bar(ax=ax, rot=30)
        ax.legend(
            title="machine", loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8
        )  # beside, not on, the bars
        ax.set_ylabel(label)
        ax.set_xlabel("")
        ax.grid(True, axis="y", alpha=0.3)
        ax.set_title(f"ResNet-50: {label}")
        fig.tight_layout()
        figures.append(
            {"stem": column, "heading": label, "alt": label, "data": embed_figure(fig, out, column)}
        )
    from resnet.analysis.explorer import page_json

    rows = [
        {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in r.items()}
        for r in flat.drop(columns=["config"]).to_dict(orient="records")
    ]
    write_page(
        out / "machines.html",
        "machines.html",
        title="ResNet-50 across machines",
        notes=notes,
        figures=figures,
        machines=table_data(table),
        data_json=page_json({"rows": rows, "reference": table.attrs.get("reference")}),
        machines_js=(Path(__file__).parent / "templates" / "machines.js").read_text(encoding="utf-8"),
    )


def notes(table: pd.DataFrame, prices: pd.DataFrame | None) -> list[str]:
    """What the procurement page says beside its table: the reference machine, the machines
    without a price, and whether any energy counter was readable."""
    chosen = " (the first whose best figures carry intervals; --reference picks another)"
    said = chosen if table.attrs.get("reference_chosen") else ""
    out = [f"Reference machine: {table.attrs['reference']}{said}."]
    different = table["same_software_as_reference"].eq(False)
    if different.any():
        out.append(
            f"{int(different.sum())} speed-up(s) compare a different software path with the reference's "
            "(same_software_as_reference false; marked * on the page): the speed-up is of machine "
            "and software together."
        )
    machines = sorted(set(table.index.get_level_values("machine")))
    priced = set(prices.index) if prices is not None else set()
    unpriced = [m for m in machines if m not in priced]
    if unpriced:
        out.append(f"No price for: {', '.join(unpriced)} (images per dollar left out for them).")
    if table["joules_per_image"].isna().all():
        out.append(
            "No energy counter was readable on these machines: joules per image is empty, not estimated."
        )
    return out
