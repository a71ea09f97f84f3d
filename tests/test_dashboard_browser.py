"""The interactive dashboard in a real headless Chromium (Debian's package), driven by
Playwright pointed at it: filters, hover, commit links, no console error, and markup in a
run's labels shown as text."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from resnet.analysis.synthetic import write_synthetic_runs
from resnet.cli import main
from tests.test_results import FLAGS as RESULTS_FLAGS

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - the test extra installs it
    sync_playwright = None

pytestmark = [
    pytest.mark.skipif(
        CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install chromium; CI does)"
    ),
    pytest.mark.skipif(
        sync_playwright is None, reason="playwright is not installed (pip install playwright)"
    ),
]
FLAGS = [f for f in RESULTS_FLAGS if f != "--headless"]  # Playwright starts it headless
MARKUP_MACHINE = "CPU <img src=x onerror=window.__pwned=1>"
MARKUP_CASE = "case0<script>window.__pwned2=1</script>"
MARKUP_COMMIT = "c0ffee<b onmouseover=window.__pwned3=1>"


def _runs(folder: Path) -> Path:
    """Ten dated runs of four cases; case0 30% slower from the seventh run on (a change point
    and a regression), the last run's machine, case id and commit carrying markup."""
    paths = write_synthetic_runs(folder, files=10, cases=4, steps=8, dated=True)
    for n, path in enumerate(paths):
        data = json.loads(path.read_text())
        for bench in data["benchmarks"]:
            extra = bench["extra_info"]
            if extra["case_id"] == "case0" and n >= 6:
                for key in (
                    "images_per_sec",
                    "images_per_sec_best",
                    "images_per_sec_ci_low",
                    "images_per_sec_ci_high",
                ):
                    extra[key] *= 0.7
                extra["samples_s"] = [[t / 0.7 for t in extra["samples_s"][0]]]
        path.write_text(json.dumps(data))
    marked = folder / "markup"
    marked.mkdir()
    data = json.loads(paths[-1].read_text())
    data["machine_info"]["cpu_model"] = MARKUP_MACHINE
    data["commit_info"]["id"] = MARKUP_COMMIT
    data["benchmarks"] = data["benchmarks"][:1]
    data["benchmarks"][0]["extra_info"]["case_id"] = MARKUP_CASE
    (marked / "markup.json").write_text(json.dumps(data))
    return folder


@pytest.fixture(scope="module")
def page_file(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("dash")
    runs = _runs(tmp / "runs")
    out = tmp / "site"
    code = main(
        ["dashboard", str(runs), "--out", str(out), "--commit-url", "https://example.test/commit/{commit}"]
    )
    assert code == 0
    return out / "index.html"


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield chromium
        chromium.close()


def _open(browser, page_file: Path | str):
    page = browser.new_page(viewport={"width": 1280, "height": 1400})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("dialog", lambda d: (errors.append(f"dialog: {d.message}"), d.dismiss()))
    page.goto(page_file if isinstance(page_file, str) else page_file.as_uri())
    page.wait_for_selector("body[data-explorer=ready]")
    page.wait_for_selector(".chart .main-svg")
    return page, errors


def _series_shown(page) -> int:
    return int(page.evaluate("document.getElementById('shown').textContent.split(' ')[0]"))


def test_a_filter_changes_the_series_shown(browser, page_file):
    page, errors = _open(browser, page_file)
    every = _series_shown(page)
    assert every == 5  # four cases on the synthetic machine, one on the marked-up one
    page.select_option("#filter-version", "v1.5")
    assert _series_shown(page) == 1
    page.select_option("#filter-version", "")
    page.fill("#search", "case2")
    assert _series_shown(page) == 1
    page.fill("#search", "")
    page.select_option("#metric", "latency_ms_p50")
    page.wait_for_selector(".chart .main-svg")
    title = page.evaluate("document.querySelector('.chart').layout.yaxis.title.text")
    assert title.startswith("latency_ms_p50")
    assert errors == []
    page.close()


def test_hover_shows_the_commit_and_links_open_the_template(browser, page_file):
    page, errors = _open(browser, page_file)
    page.fill("#search", "case1")
    page.wait_for_selector(".chart .main-svg")
    page.evaluate("Plotly.Fx.hover(document.querySelector('.chart'), [{curveNumber: 0, pointNumber: 2}])")
    hover = page.wait_for_selector(".hovertext")
    text = hover.text_content()
    assert f"commit: {2:040x}" in text and "images_per_sec" in text and "n: 5 steps" in text
    links = page.eval_on_selector_all("a.commit-link", "els => els.map(e => e.getAttribute('href'))")
    assert f"https://example.test/commit/{6:040x}" in links  # the change at the seventh run
    assert page.eval_on_selector_all("a.series-link", "els => els.length") >= 1
    assert errors == []
    page.close()


def test_markup_in_a_run_is_text_and_runs_nothing(browser, page_file):
    page, errors = _open(browser, page_file)
    page.select_option(
        "#filter-machine", page.evaluate("document.querySelector('#filter-machine').options[1].value")
    )
    page.wait_for_selector(".chart .main-svg")
    chart_text = page.evaluate("document.getElementById('charts').textContent")
    assert "<img src=x" in chart_text and "<script>window.__pwned2" in chart_text
    page.evaluate("Plotly.Fx.hover(document.querySelector('.chart'), [{curveNumber: 0, pointNumber: 0}])")
    hover = page.wait_for_selector(".hovertext").text_content()
    assert MARKUP_COMMIT in hover and MARKUP_CASE in hover
    assert page.evaluate("[window.__pwned, window.__pwned2, window.__pwned3]") == [None, None, None]
    assert page.evaluate("document.querySelectorAll('#charts img, #charts script, #marks img').length") == 0
    assert errors == []
    page.close()


def _trace_names(page) -> list[str]:
    page.wait_for_selector(".chart .main-svg")
    return page.evaluate("Array.from(document.querySelector('.chart').data).map(t => t.name)")


def test_the_page_opens_on_the_gates_metric_and_draws_its_marks_only_there(browser, page_file):
    page, errors = _open(browser, page_file)
    assert page.evaluate("document.getElementById('metric').value") == "images_per_sec_best"  # the gate's
    page.fill("#search", "case0")
    names = _trace_names(page)
    assert "regression" in names and "change point" in names, names
    page.select_option("#metric", "images_per_sec")
    names = _trace_names(page)
    assert "regression" not in names and "change point" not in names, names
    summary = page.evaluate("document.getElementById('marks-summary').textContent")
    assert "of images_per_sec_best" in summary
    assert errors == []
    page.close()


def test_the_view_is_kept_in_the_url_and_a_link_opens_it(browser, page_file):
    page, errors = _open(browser, page_file)
    page.select_option("#metric", "latency_ms_p50")
    page.select_option("#xaxis", "run")
    page.select_option("#filter-version", "v1.5")
    page.check("#speed")
    link = page.url
    assert "#" in link and all(
        part in link for part in ("metric=latency_ms_p50", "x=run", "f.version=v1.5", "speed=1")
    )
    page.close()
    shared, errors2 = _open(browser, link)
    values = shared.evaluate(
        "['metric', 'xaxis', 'filter-version'].map(id => document.getElementById(id).value)"
        ".concat([document.getElementById('speed').checked])"
    )
    assert values == ["latency_ms_p50", "run", "v1.5", True]
    assert _series_shown(shared) == 1
    title = shared.evaluate("document.querySelector('.chart').layout.yaxis.title.text")
    assert title.startswith("latency_ms_p50")
    shared.close()
    junk, errors3 = _open(browser, page_file.as_uri() + "#metric=nope&x=%3Cscript%3E&f.version=v9")
    assert junk.evaluate("document.getElementById('metric').value") == "images_per_sec_best"
    assert _series_shown(junk) == 5
    junk.close()
    assert errors == errors2 == errors3 == []


def test_the_page_has_no_network_reference(page_file):
    """Self-contained: no script, style or image fetched from anywhere."""
    html = page_file.read_text()
    assert "<script src" not in html and "<link" not in html
    assert 'src="http' not in html


@pytest.fixture(scope="module")
def machines_file(tmp_path_factory) -> Path:
    """The machines page over two machines' synthetic runs (one label with markup)."""
    tmp = tmp_path_factory.mktemp("machines")
    files = []
    for label, scale in (("Fast box", 2.0), (MARKUP_MACHINE, 1.0)):
        (path,) = write_synthetic_runs(tmp / f"m{len(files)}", files=1, cases=6, steps=8, dated=True)
        data = json.loads(path.read_text())
        data["machine_info"]["cpu_model"] = label
        for bench in data["benchmarks"]:
            for key in (
                "images_per_sec",
                "images_per_sec_best",
                "images_per_sec_ci_low",
                "images_per_sec_ci_high",
            ):
                bench["extra_info"][key] *= scale
        path.write_text(json.dumps(data))
        files.append(str(path))
    out = tmp / "site"
    assert main(["machines", *files, "--out", str(out)]) == 0
    return out / "machines.html"


def test_the_machines_table_sorts_filters_and_compares_two(browser, machines_file):
    page = browser.new_page(viewport={"width": 1400, "height": 1200})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(machines_file.as_uri())
    page.wait_for_selector("body[data-machines=ready]")
    count = "document.querySelectorAll('#machines-table tbody tr').length"
    every = page.evaluate(count)
    assert every >= 4
    page.select_option("#mfilter-version", "v1")
    assert 0 < page.evaluate(count) < every
    page.select_option("#mfilter-version", "")
    page.click("th[data-key=best_images_per_sec]")  # descending: the fast box first
    first = page.evaluate("document.querySelector('#machines-table tbody tr td').textContent")
    assert first == "Fast box"
    page.click("th[data-key=best_images_per_sec]")  # ascending
    first = page.evaluate("document.querySelector('#machines-table tbody tr td').textContent")
    assert first.startswith("CPU <img")  # the markup label, as text
    cells = page.evaluate(
        "Array.from(document.querySelectorAll('#machines-table td')).map(td => td.textContent)"
    )
    assert any(re_interval(c) for c in cells)  # a figure with its interval beside it
    column = page.evaluate(
        "Array.from(document.querySelectorAll('#machines-table th'))"
        ".findIndex(th => th.dataset.key === 'speedup_vs_reference')"
    )
    speedups = page.evaluate(
        "Array.from(document.querySelectorAll('#machines-table tbody tr'))"
        f".map(tr => tr.children[{column}].textContent)"
    )
    assert speedups and all(re_interval(c) for c in speedups), speedups  # every speed-up with its interval
    dates = page.evaluate(
        "Array.from(document.querySelectorAll('#machines-table th')).map(th => th.textContent)"
    )
    assert any(d.startswith("run date") for d in dates)
    page.select_option("#pair-a", index=0)
    page.select_option("#pair-b", index=1)
    ratios = page.evaluate(
        "Array.from(document.querySelectorAll('#pair-table tbody tr')).map(tr => tr.lastChild.textContent)"
    )
    assert ratios and all(re_interval(r) for r in ratios)
    assert page.evaluate("window.__pwned") is None
    assert page.evaluate("document.querySelectorAll('#machines-table img').length") == 0
    assert errors == []
    page.close()


def re_interval(text: str) -> bool:
    import re

    return re.fullmatch(r"[\d.]+ \[[\d.]+, [\d.]+\]", text) is not None


def test_a_long_history_draws_its_interval_as_a_band_and_every_chart_in_view(browser, tmp_path):
    runs = tmp_path / "runs"
    write_synthetic_runs(runs, files=200, cases=12, steps=3, dated=True)
    site = str(tmp_path / "site")
    assert main(["dashboard", str(runs), "--out", site, "--fail-on", "images_per_sec:-5%"]) == 0
    page, errors = _open(browser, tmp_path / "site" / "index.html")
    first = page.evaluate(
        "Array.from(document.querySelector('.chart').data).map(t => [t.mode, t.fill || '', !!t.error_y])"
    )
    # Each of the chart's series: its line (no markers, no whiskers) and its band's two edges.
    assert first[:3] == [["lines", "", False], ["lines", "", False], ["lines", "tonexty", False]], first
    page.evaluate("Plotly.Fx.hover(document.querySelector('.chart'), [{curveNumber: 0, pointNumber: 5}])")
    assert "commit: " + f"{5:040x}" in page.wait_for_selector(".hovertext").text_content()
    # The charts in view are drawn one per task after the first: all of them, in the end.
    page.wait_for_function(
        "Array.from(document.querySelectorAll('.chart'))"
        ".filter(d => d.getBoundingClientRect().top < innerHeight).every(d => d.data)"
    )
    assert errors == []
    page.close()
