"""Open the built documentation site in headless Chromium and check what a reader sees.

For each page given (default: the lecture page and the layers page) it checks that the math is
drawn (MathML elements present, no raw ``$`` delimiters or TeX commands such as ``\\frac`` left in
the visible text), that every picture loaded, and saves a full-page screenshot. Chromium is the
system's (e.g. Debian's ``chromium`` package) driven by Playwright's Python API through
``executable_path``; the site is read from disk, so nothing needs the network.

    mkdocs build && python scripts/check_docs_site.py site --out runs/docs-screenshots
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright
from screenshot_tensorboard import CHROMIUM_ARGS  # the offline browser's flags, stated once

#: what raw, unrendered TeX looks like in a page's visible text
RAW_TEX = re.compile(
    r"\$[^$\s][^$]*\$|\\[()\[\]]|\\(frac|sum|partial|alpha|Delta|leftarrow|mathrm)(?![A-Za-z])"
)


def check_page(page, path: Path, shot: Path) -> list[str]:
    """Problems a reader would see on the page at ``path``; saves its screenshot to ``shot``."""
    page.goto(path.resolve().as_uri())
    page.wait_for_load_state("load")
    problems = []
    text = page.inner_text("body")  # the navigation and the table of contents too
    raw = sorted({m.group(0)[:40] for m in RAW_TEX.finditer(text)})
    if raw:
        problems.append(f"raw TeX visible: {raw[:5]}")
    maths = page.locator("article math").count()  # the formulas drawn in the page itself
    if maths == 0:
        problems.append("no rendered math (MathML) on the page")
    broken = page.evaluate(
        "[...document.querySelectorAll('article img')]"
        ".filter(i => !i.complete || i.naturalWidth === 0).map(i => i.getAttribute('src'))"
    )
    problems += [f"picture did not load: {src}" for src in broken]
    images = page.locator("article img").count()
    page.screenshot(path=str(shot), full_page=True)
    print(f"{path.name}: {maths} formulas drawn, {images} pictures, "
          f"{'ok' if not problems else '; '.join(problems)}; screenshot {shot}")  # fmt: skip
    return problems


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("site", type=Path, help="the built site (mkdocs build's site/)")
    ap.add_argument("--pages", default="lecture.html,layers.html")
    ap.add_argument("--out", type=Path, default=Path("runs/docs-screenshots"))
    ap.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    problems = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        for name in args.pages.split(","):
            shot = args.out / f"{Path(name).stem}.png"
            problems += check_page(page, args.site / name, shot)
        browser.close()
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
