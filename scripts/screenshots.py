"""Retake the documentation's screenshots (docs/img/dashboard.png, docs/img/machines.png)
from the committed pages that `bash scripts/reports.sh` builds, in Debian's Chromium driven
by Playwright, 1300 x 1000 as before:
    .venv/bin/python scripts/screenshots.py
Each image is written beside its target and put in place once complete."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHOTS = {
    "docs/img/dashboard.png": (
        "results/intel-xeon-x2-amx/2026-11-26-history/dashboard/index.html",
        "explorer",
    ),
    "docs/img/machines.png": ("results/machines/table/machines.html", "machines"),
}


def main() -> int:
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        print("screenshots: Debian's chromium is not installed (apt-get install chromium)", file=sys.stderr)
        return 2
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox"])
        for target, (page_path, ready) in SHOTS.items():
            page = browser.new_page(viewport={"width": 1300, "height": 1000})
            page.goto((ROOT / page_path).as_uri())
            page.wait_for_selector(f"body[data-{ready}=ready]")
            page.wait_for_timeout(500)  # the first chart's drawing settles
            out = ROOT / target
            staged = out.with_name(f".{out.name}.{os.getpid()}.png")
            page.screenshot(path=str(staged))
            staged.replace(out)
            print(f"{target}: {page_path}")
            page.close()
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
