"""Loading results and writing reports, on small synthetic result files."""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from resnet.cli import main
from resnet.runs import LoadError, load

MACHINE = {"cpu_model": "Test CPU <b>9000</b>", "cpu_affinity": 2, "gpus": []}


def _row(version, mode, bs, precision="float32", status="ok", ips=10.0, **extra):
    row = {
        "case_id": f"{version}-{mode}-bs{bs}-{precision}-cpu",
        "version": version,
        "mode": mode,
        "batch_size": bs,
        "precision": precision,
        "device": "cpu",
        "jit": False,
        "image_size": 224,
        "threads": None,
        "backend": "tensorflow",
        "status": status,
        "reason": None if status == "ok" else "worker killed by SIGKILL (out of memory?)",
        "images_per_sec": ips if status == "ok" else None,
        "latency_ms_p50": 1000 * bs / ips if status == "ok" else None,
        "latency_ms_p90": 1100 * bs / ips if status == "ok" else None,
        "latency_ms_p99": 1200 * bs / ips if status == "ok" else None,
        "peak_host_rss_mb": 1000.0 + bs,
        "peak_device_mem_mb": None,
        "utilization": 0.5,
    }
    row.update(extra)
    return row


def make_run(path: Path, rows: list[dict], machine=MACHINE) -> Path:
    benchmarks = []
    for row in rows:
        if row["status"] != "ok":
            continue
        median = row["batch_size"] / row["images_per_sec"]
        benchmarks.append(
            {
                "name": f"test_case[{row['case_id']}]",
                "params": {"case_id": row["case_id"]},
                "extra_info": {k: v for k, v in row.items() if k != "case_id"},
                "stats": {"median": median, "mean": median, "min": median, "max": median, "rounds": 5},
            }
        )
    data = {
        "machine_info": machine,
        "commit_info": {"id": "abc123"},
        "datetime": "2026-11-26T10:00:00",
        "benchmarks": benchmarks,
        "resnet_bench": {"cases": rows},
    }
    path.write_text(json.dumps(data))
    return path


@pytest.fixture
def run_file(tmp_path):
    rows = []
    for version, factor in [("v1", 1.0), ("v1.5", 0.95), ("v2", 0.97)]:
        for mode, base in [("inference", 20.0), ("training", 6.0)]:
            for bs in (1, 8, 32):
                for precision, speed in [("float32", 1.0), ("mixed_bfloat16", 1.5)]:
                    rows.append(_row(version, mode, bs, precision, ips=base * factor * speed * (1 + bs / 64)))
    rows.append(_row("v1", "training", 256, status="oom"))
    rows.append(_row("v1", "inference", 64, "float32", status="skipped"))
    return make_run(tmp_path / "run.json", rows)


def test_load_one_row_per_case_failed_included(run_file):
    df = load(run_file)
    assert len(df) == 3 * 2 * 3 * 2 + 2
    assert set(df["status"]) == {"ok", "oom", "skipped"}
    oom = df[df["status"] == "oom"].iloc[0]
    assert pd.isna(oom["images_per_sec"])  # never a zero
    assert df["machine"].iloc[0] == "Test <b>9000</b> x2"
    ok = df[df["status"] == "ok"].iloc[0]
    assert ok["step_median_s"] == pytest.approx(ok["batch_size"] / ok["images_per_sec"])
    assert load(run_file, label="box")["machine"].unique().tolist() == ["box"]


def test_journal_with_cut_off_line(tmp_path):
    path = tmp_path / "run.journal.jsonl"
    lines = [
        json.dumps({"type": "header", "profile": "quick", "machine": "m1"}),
        json.dumps({"type": "case", "row": _row("v1", "inference", 1)}),
        json.dumps({"type": "case", "row": _row("v1", "inference", 8)})[:40],
    ]
    path.write_text("\n".join(lines))
    df = load(path)
    assert len(df) == 1 and df["machine"].iloc[0] == "m1"


@pytest.mark.parametrize(
    "content,problem",
    [
        (None, "no such file"),
        ("{not json", "not JSON"),
        ('{"hello": 1}', "not a pytest-benchmark JSON file"),
        ('{"benchmarks": []}', "no resnet-bench cases"),
    ],
)
def test_bad_files(tmp_path, content, problem):
    path = tmp_path / "bad.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(LoadError) as info:
        load(path)
    assert str(path) in str(info.value) and problem in str(info.value)


def test_report_writes_tables_plots_and_html(run_file, tmp_path):
    out = tmp_path / "report"
    assert main(["report", str(run_file), "--out", str(out)]) == 0
    for stem in ("throughput", "mixed_precision_speedup", "version_cost", "memory", "latency", "best_batch"):
        for ext in ("md", "csv"):
            assert (out / f"{stem}.{ext}").exists(), f"{stem}.{ext}"
    for stem in ("throughput", "memory", "speedup", "latency"):
        assert (out / f"{stem}.png").stat().st_size > 10_000
        assert (out / f"{stem}.svg").exists()
    page = (out / "report.html").read_text()
    assert "<b>9000</b>" not in page and "&lt;b&gt;9000&lt;/b&gt;" in page
    assert page.count("data:image/png;base64,") == 4
    throughput = pd.read_csv(out / "throughput.csv")
    assert "oom" in throughput.to_string()
    cost = pd.read_csv(out / "version_cost.csv")
    assert cost.filter(like="bs").stack().astype(float).between(0.9, 1.0).all()
    best = pd.read_csv(out / "best_batch.csv")
    v1_train = best[
        (best["version"] == "v1") & (best["mode"] == "training") & (best["precision"] == "float32")
    ]
    assert v1_train["largest_that_fit"].iloc[0] == 32
    assert "256 (oom)" in v1_train["failed_batches"].iloc[0]


def test_report_cli_bad_inputs(run_file, tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2")
    code = main(
        ["report", str(run_file), str(bad), str(tmp_path / "nope.json"), "--out", str(tmp_path / "r")]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 2 and "bad.json: not JSON" in err[0] and "nope.json: no such file" in err[1]
    assert (tmp_path / "r" / "report.html").exists()  # the readable input is still reported
    code = main(["report", str(bad), "--out", str(tmp_path / "r2")])
    assert code == 2 and not (tmp_path / "r2").exists()


def test_cli_usage_error_is_one_line_exit_2():
    out = subprocess.run(
        [sys.executable, "-m", "resnet.cli", "report"], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 2
    assert len(out.stderr.strip().splitlines()) == 1
    assert "Traceback" not in out.stderr


def test_report_of_two_runs_of_one_machine_keeps_both(tmp_path):
    """Two runs of one machine: every figure of both appears (side by side), none dropped."""
    from resnet.analysis.tables import throughput_table, version_cost_table

    rows_a = [_row(v, "inference", bs, ips=ips) for v, ips in [("v1", 10.0), ("v1.5", 9.5)] for bs in (1, 8)]
    rows_b = [_row(v, "inference", bs, ips=ips) for v, ips in [("v1", 12.0), ("v1.5", 11.0)] for bs in (1, 8)]
    a, b = make_run(tmp_path / "a.json", rows_a), make_run(tmp_path / "b.json", rows_b)
    df = load([a, b])
    table = throughput_table(df)
    assert "run" in table.index.names
    cells = sorted(float(v) for v in table.to_numpy().ravel())
    assert cells == sorted(r["images_per_sec"] for r in rows_a + rows_b)
    cost = version_cost_table(df).reset_index()
    assert sorted(cost["bs 1"]) == pytest.approx([11.0 / 12.0, 0.95], abs=1e-3)  # each run: its own v1
    out = tmp_path / "report"
    assert main(["report", str(a), str(b), "--out", str(out)]) == 0
    assert "side by side" in (out / "report.html").read_text()


def test_the_same_file_twice_is_read_once(run_file):
    assert len(load([run_file, run_file, str(run_file)])) == len(load(run_file))


def test_a_rerun_into_its_own_report_replaces_exactly_its_files(run_file, tmp_path):
    from resnet.outputs import MANIFEST

    out = tmp_path / "report"
    assert main(["report", str(run_file), "--out", str(out)]) == 0
    first = json.loads((out / MANIFEST).read_text())
    assert first["command"] == "report" and "README.md" in first["files"]
    (out / "scaling.md").write_text("stale")  # not listed: a file the report did not write
    assert main(["report", str(run_file), "--out", str(out)]) == 2
    (out / "scaling.md").unlink()
    one = make_run(tmp_path / "one.json", [_row("v1", "inference", 8)])
    assert main(["report", str(one), "--out", str(out)]) == 0
    second = json.loads((out / MANIFEST).read_text())
    assert set(second["files"]) < set(first["files"])  # the older report's extra tables are gone
    assert sorted(p.name for p in out.iterdir()) == sorted([MANIFEST, *second["files"]])


def _run_with_intervals(tmp_path: Path, batches=(8,), single=()) -> Path:
    """A run as the windows and paired groups write it: combined case rows with intervals
    and samples, and paired ratios; the batches in ``single`` ran in one window."""
    from resnet.engine.kinds.windows import combine_windows
    from resnet.schema import Case, new_row
    from tests.test_stats import _steps, _window

    rows = []
    for bs in batches:
        for version, speed in (("v1", 0.40), ("v1.5", 0.42)):
            case = Case(version, "inference", bs, "float32", "cpu", False, 64)
            seed = 10 + len(version) + 100 * bs
            windows = [_window(case, i, _steps(seed * i, 12, speed * bs / 8), 100.0 * i) for i in (1, 2)]
            if bs in single:  # the case measured in one window is just the case
                rows.append({**windows[0], "kind": "case", "case_id": case.id, "window": None})
                continue
            rows += [*windows, combine_windows(case, windows)]
    paired = new_row(Case("v1.5", "inference", 8, "float32", "cpu", False, 64), kind="paired")
    paired.update(case_id="paired-inference-bs8-cpu-64px-float32-v1.5/v1", status="ok", comparison="version")
    paired.update(numerator="v1.5", denominator="v1", ratio=0.95, ratio_ci_low=0.93, ratio_ci_high=0.97)
    paired.update(differs=True, pairs=10)
    rows.append(paired)
    data = {"machine_info": MACHINE, "datetime": "2026-11-28T10:00:00", "benchmarks": [],
            "resnet_bench": {"cases": rows}}  # fmt: skip
    path = tmp_path / "windows.json"
    path.write_text(json.dumps(data))
    return path


def test_headline_cells_carry_the_fastest_step_behind_each_figure(tmp_path):
    """A paired model's figure is its images over its rounds' time and its best their fastest;
    a windowed case's best is its own fastest step (images_per_sec_best, what compare gates on)."""
    from resnet.analysis.tables import headline_cells
    from resnet.runs import load

    path = _run_with_intervals(tmp_path, (1, 8))
    data = json.loads(path.read_text())
    v15, v1 = [0.40, 0.38, 0.45, 0.41] * 3, [0.42, 0.40, 0.47, 0.43] * 3  # 12 rounds of batch 8
    data["resnet_bench"]["cases"][-1]["samples_s"] = [v15, v1]
    path.write_text(json.dumps(data))
    cells = headline_cells(load(path)).set_index("case_id")
    paired = cells.loc["v1.5-inference-bs8-float32-cpu-64px"]
    assert paired["source"] == "paired" and paired["best"] == pytest.approx(8 / 0.38)
    assert paired["images_per_sec"] == pytest.approx(8 / np.mean(v15))
    assert cells.loc["v1-inference-bs8-float32-cpu-64px", "best"] == pytest.approx(8 / 0.40)
    windowed = cells.loc["v1-inference-bs1-float32-cpu-64px"]
    rows = load(path).set_index("case_id")
    assert windowed["source"] == "windows"
    assert windowed["best"] == rows.loc["v1-inference-bs1-float32-cpu-64px", "images_per_sec_best"]
    assert windowed["best"] >= windowed["images_per_sec"]


def _paired_frame(steps: list[list[float]], source: str = "r.json"):
    """One run's rows: v1.5 inference bs32 float32 alone, and a paired group that stepped
    v1.5 and v1 for ``steps`` (one list of step times each)."""
    from resnet.runs import to_frame
    from resnet.schema import Case, new_row

    case = Case("v1.5", "inference", 32, "float32", "cpu", False)
    alone = {**new_row(case), "status": "ok", "images_per_sec": 45.7, "source": source, "machine": "m"}
    ratio = {**new_row(case, kind="paired"), "status": "ok", "comparison": "version", "numerator": "v1.5",
             "denominator": "v1", "case_id": "paired-inference-bs32-cpu-float32-v1.5/v1", "source": source,
             "machine": "m", "samples_s": steps}  # fmt: skip
    return to_frame([alone, ratio])


def test_a_paired_figure_moves_with_the_share_of_slow_steps_not_across_the_gap():
    """Steps long enough that about half meet a neighbour: the median step lands in one state
    or the other (1.5x apart), images over the block's time moves with the share (4%)."""
    from resnet.analysis.tables import PAIRED_KEYS, paired_figures, paired_steps

    def run(slow: int) -> list[float]:  # 40 rounds, ``slow`` of them at 1.5x, spread over the block
        return [1.5 if i % 40 < slow else 1.0 for i in np.random.default_rng(slow).permutation(40)]

    figures = []
    for slow in (18, 22):
        df = _paired_frame([run(slow), [1.0 + 0.01 * (i % 5) for i in range(40)]])
        key = next(k for k in paired_steps(df) if k[len(PAIRED_KEYS)] == "v1.5")
        found = paired_figures(df)[key]
        assert found["mean"] == pytest.approx((slow * 1.5 + 40 - slow) / 40) and found["rounds"] == 40
        assert found["low"] < found["mean"] < found["high"] and found["best"] == 1.0
        figures.append(32 / found["mean"])
        assert 32 / np.median(run(slow)) == (32.0 if slow == 18 else 32 / 1.5)  # the median jumps
    assert figures[1] / figures[0] == pytest.approx(1.225 / 1.275, abs=1e-9)


def test_a_paired_interval_is_at_least_the_runs_pooled_segment_spread():
    """v1's steps are the same in every segment, v1.5's are not: v1's interval is the spread
    the run's paired segments show, not zero; the rerun bound is wider still."""
    from resnet.analysis.tables import PAIRED_KEYS, headline_cells, paired_figures, paired_steps

    v15 = [0.60 + 0.02 * (i // 8) + 0.01 * (i % 3) for i in range(32)]  # each segment a little slower
    df = _paired_frame([v15, [0.6] * 32])
    keys = {k[len(PAIRED_KEYS)]: k for k in paired_steps(df)}
    v1 = paired_figures(df)[keys["v1"]]
    assert v1["mean"] == pytest.approx(0.6) and v1["low"] < 0.6 < v1["high"]
    assert v1["rerun"] > math.log(v1["high"] / 0.6)  # a rerun adds its own segments' spread
    cell = headline_cells(df).set_index("case_id").iloc[0]
    assert cell["source"] == "paired" and cell["images_per_sec"] == pytest.approx(32 / np.mean(v15))
    assert cell["ci_low"] < cell["images_per_sec"] < cell["ci_high"]
    assert cell["rerun_low"] < cell["images_per_sec"] < cell["rerun_high"]


def test_report_shows_intervals_and_error_bars(tmp_path):
    out = tmp_path / "report"
    assert main(["report", str(_run_with_intervals(tmp_path)), "--out", str(out)]) == 0
    throughput = (out / "throughput.md").read_text()
    assert "\\[" in throughput and "n=24" in throughput  # 20.1 [19.8, 20.5] n=24, brackets escaped
    cost = (out / "version_cost.md").read_text()
    assert "v1.5/v1" in cost and "0.950 \\[0.930, 0.970\\]" in cost
    page = (out / "report.html").read_text()
    for fig in ("throughput", "version_cost", "drift"):
        assert f'id="fig-{fig}"' in page, fig
    assert "How to read a figure" in page
    latency = (out / "latency.md").read_text()
    assert "\\*" in latency  # p90 from 24 steps is marked
    assert "Reruns (" not in page  # 2 cases of 2 windows: too few to say how far a rerun moves


def test_report_says_how_far_a_rerun_may_move(tmp_path):
    """Six cases of two windows: the run's window spread, pooled over them, is stated."""
    out = tmp_path / "report"
    assert main(["report", str(_run_with_intervals(tmp_path, (1, 2, 8))), "--out", str(out)]) == 0
    readme = (out / "README.md").read_text()
    assert "Reruns (windows): between windows a case's median moved by" in readme
    assert "(1 sd, pooled over its cases, 6 df)" in readme
    assert "up to about 4% for a case with 2 windows (95%)" in readme  # t, 6 df: 2.45 x 1.5%


def test_the_rerun_note_gives_each_window_count_its_own_bound(tmp_path):
    """Cases a paired group times run in one window: a rerun of those moves further."""
    out = tmp_path / "report"
    run = _run_with_intervals(tmp_path, (1, 2, 8, 32), single=(32,))
    assert main(["report", str(run), "--out", str(out)]) == 0
    readme = (out / "README.md").read_text()
    assert "(1 sd, pooled over its cases, 6 df)" in readme  # one-window cases add no df
    assert "up to about 4% for a case with 2 windows and 5% for a case with 1 window (95%)" in readme


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
XSS = "<script>alert(1)</script><b>bold</b>"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _dom(page: Path, profile: Path) -> str:
    return subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout


def _pages_with_markup(tmp_path: Path) -> dict[str, Path]:
    """The three pages, each made from a run whose machine and reasons carry markup."""
    machine = {"cpu_model": f"CPU {XSS}", "cpu_affinity": 2, "gpus": []}
    rows = [_row("v1", "inference", bs, ips=10.0 * bs) for bs in (1, 8)]
    rows.append({**_row("v1", "inference", 64, status="error"), "reason": XSS})
    runs = tmp_path / "runs"
    runs.mkdir()
    first = make_run(runs / "0001_run.json", rows, machine)
    make_run(runs / "0002_run.json", rows, machine)
    main(["report", str(first), "--out", str(tmp_path / "report"), "--title", f"Report {XSS}"])
    main(["machines", str(first), "--out", str(tmp_path / "machines")])
    main(["dashboard", str(runs), "--out", str(tmp_path / "site")])
    return {
        "report": tmp_path / "report" / "report.html",
        "machines": tmp_path / "machines" / "machines.html",
        "dashboard": tmp_path / "site" / "index.html",
    }


def test_pages_share_one_base_and_escape_markup(tmp_path):
    """Without a browser: each page comes from the shared base, markup shows as text."""
    for name, page in _pages_with_markup(tmp_path).items():
        text = page.read_text()
        assert "<footer>resnet-bench" in text, name  # the shared base template
        assert "<script>alert" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text, name
    md = (tmp_path / "report" / "problems.md").read_text() + (
        tmp_path / "machines" / "machines.md"
    ).read_text()
    assert "<script>" not in md and "&lt;script&gt;" in md


@pytest.mark.skipif(
    CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install chromium; CI does)"
)
def test_pages_render_in_headless_chromium(tmp_path):
    pages = _pages_with_markup(tmp_path)
    for name, page in pages.items():
        dom = _dom(page, tmp_path / f"profile-{name}")
        assert "<footer>resnet-bench" in dom, name
        assert "<script>alert(1)" not in dom, name  # markup arrives as text, never as elements
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom, name
        if name != "dashboard":  # the dashboard draws its charts in the page (svg), no images
            assert "<img" in dom, name
        else:
            assert 'class="main-svg"' in dom and 'data-explorer="ready"' in dom
    dom = _dom(pages["report"], tmp_path / "profile-report-2")
    assert "Throughput (images/s)" in dom
    # Intervals and error bars, as a reader's browser shows them.
    out = tmp_path / "intervals"
    main(["report", str(_run_with_intervals(tmp_path)), "--out", str(out)])
    dom = _dom(out / "report.html", tmp_path / "profile-intervals")
    assert re.search(r"<td>\d+\.\d \[\d+\.\d, \d+\.\d\] n=24", dom)
    assert 'id="fig-version_cost"' in dom and 'id="fig-throughput"' in dom
    assert "0.950 [0.930, 0.970]" in dom


@pytest.mark.skipif(
    CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install chromium; CI does)"
)
def test_report_renders_in_headless_chromium(run_file, tmp_path):
    out = tmp_path / "report"
    main(["report", str(run_file), "--out", str(out)])
    page = (out / "report.html").as_uri()
    # Script-free check of what a person sees: the DOM after rendering, and a screenshot.
    dom = _dom(out / "report.html", tmp_path / "profile")
    assert "Throughput (images/s)" in dom and "Mixed precision speed-up" in dom
    assert dom.count("<img") == 4
    shot = tmp_path / "shot.png"
    subprocess.run(
        [
            CHROMIUM,
            *FLAGS,
            f"--user-data-dir={tmp_path / 'profile2'}",
            f"--screenshot={shot}",
            "--window-size=1400,3000",
            page,
        ],
        capture_output=True,
        timeout=120,
    )
    from matplotlib import image

    pixels = image.imread(shot)
    # Figures drawn: a good share of the page is neither white nor background.
    assert (pixels[..., :3].mean(axis=2) < 0.9).mean() > 0.02


def test_ours_against_the_peer_across_backends(tmp_path):
    """torchvision-resnet50 (torch backend) against our best v1.5 of the same machine and case."""
    from resnet.analysis.tables import peer_table

    rows = [
        _row("v1.5", "training", 256, "mixed_bfloat16", ips=5000.0, backend="jax", jit=True),
        _row("v1.5", "training", 256, "mixed_bfloat16", ips=2000.0, backend="torch"),
        _row("torchvision-resnet50", "training", 256, "mixed_bfloat16", ips=4000.0, backend="torch"),
        _row(
            "torchvision-resnet50", "training", 256, "mixed_bfloat16", ips=6250.0, backend="torch", jit=True
        ),
        _row("torchvision-resnet50", "inference", 256, "mixed_bfloat16", ips=9.0, backend="torch"),  # no ours
    ]
    for r in rows:
        r["case_id"] += f"-{r['backend']}-{r['jit']}"
    table = peer_table(load(make_run(tmp_path / "gpu.json", rows))).reset_index()
    assert len(table) == 2
    compiled = table[table["theirs"] == "torchvision-resnet50 (torch, jit on)"].iloc[0]
    assert compiled["ours"] == "v1.5 (jax, jit on)"
    assert compiled["ours_over_theirs"] == pytest.approx(0.8)
    eager = table[table["theirs"] == "torchvision-resnet50 (torch, jit off)"].iloc[0]
    assert eager["ours_over_theirs"] == pytest.approx(1.25)


def test_a_machine_label_says_its_bfloat16_hardware():
    """One CPU model name can come with AMX or without it (as a VM exposes it); runs that
    recorded the CPU's flags are told apart, older runs keep their label."""
    from resnet.engine.machine import machine_label

    xeon = {"cpu_model": "Intel(R) Xeon(R) Processor", "cpu_affinity": 2}
    assert machine_label(xeon) == "Intel Xeon x2"
    assert machine_label({**xeon, "cpu_flags": ["avx512f", "amx_tile", "amx_bf16"]}) == "Intel Xeon x2 (AMX)"
    assert machine_label({**xeon, "cpu_flags": ["avx2", "avx512f"]}) == "Intel Xeon x2 (no BF16)"
    epyc = {"cpu_model": "AMD EPYC", "cpu_affinity": 2, "cpu_flags": ["avx512f", "avx512_bf16"]}
    assert machine_label(epyc) == "AMD EPYC x2 (AVX-512 BF16)"


def test_one_run_needs_no_run_column_in_its_drift_table():
    """The drift table of a single run names each case once: no 'run' column, and the
    report's "several runs side by side" note stays away."""
    from resnet.analysis.tables import drift_table
    from resnet.runs import load

    root = Path(__file__).resolve().parent.parent / "results"
    runs = root / "intel-xeon-emerald-rapids-x2-no-bf16" / "2026-11-29-quick"
    df = load(runs / "quick-a.json")
    table = drift_table(df)
    assert len(table) >= 1 and "run" not in table.index.names
    two = load([runs / f"quick-{r}.json" for r in "ab"])
    assert "run" in drift_table(two).index.names  # two runs: which one drifted matters


def test_an_interval_from_too_few_steps_is_marked_indicative():
    from resnet.analysis.tables import figure

    row = pd.Series({"status": "ok", "images_per_sec": 45.7, "images_per_sec_ci_low": 45.7,
                     "images_per_sec_ci_high": 49.3, "rounds": 3})  # fmt: skip
    assert figure(row, "images_per_sec", flagged=False) == "45.7 [45.7, 49.3] n=3*"
    assert figure(row.replace(3, 12), "images_per_sec", flagged=False).endswith("n=12")
