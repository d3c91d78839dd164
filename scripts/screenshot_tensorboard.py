"""Screenshots of TensorBoard's Scalars, Images and HParams tabs for a folder of runs.

Starts ``tensorboard --logdir LOGDIR`` on a free local port, opens it in headless Chromium driven by
Playwright's Python API (the system's ``chromium``, e.g. Debian's package, through
``executable_path``: Playwright's own browser download needs the internet), and saves
``tensorboard-scalars.png``, ``tensorboard-images.png`` and ``tensorboard-hparams.png`` (with
``--tabs health``, ``tensorboard-health.png``: the Custom Scalars tab's health charts).

    python scripts/screenshot_tensorboard.py runs/readme --out docs
    python scripts/screenshot_tensorboard.py runs/health --tabs health --out docs/img
"""

from __future__ import annotations

import argparse
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

# Chromium's own network chatter is refused on an offline machine: switch it off
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TABS = {  # file name -> (TensorBoard's hash route, what to wait for, extra width for wide tables)
    "scalars": ("#scalars", "loss", 0),
    "images": ("#images", "confusion", 0),
    "hparams": ("#hparams", "model", 700),
    # training health: one chart per quantity, a line per layer (lecnn.logs.tensorboard)
    "health": ("#custom_scalars", "saturated", 0),
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, seconds: float = 60) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"TensorBoard did not answer at {url} within {seconds:.0f} s")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("logdir", help="folder of runs (or one run) to show")
    ap.add_argument("--out", default="docs", help="where the PNGs go (default docs/)")
    ap.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    ap.add_argument("--width", type=int, default=1440)
    ap.add_argument("--height", type=int, default=800)
    ap.add_argument("--tabs", default="scalars,images,hparams", help=f"of {', '.join(TABS)}")
    args = ap.parse_args()
    if not Path(args.chromium).is_file():
        sys.stderr.write(f"no Chromium at {args.chromium}: apt install chromium, or --chromium\n")
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    tb = subprocess.Popen(
        [sys.executable, "-m", "tensorboard.main", "--logdir", args.logdir, "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(url)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": args.width, "height": args.height})
            for name in args.tabs.split(","):
                route, text, wider = TABS[name]
                page.set_viewport_size({"width": args.width + wider, "height": args.height})
                page.goto(url + route)
                page.get_by_text(text).first.wait_for(timeout=30_000)
                time.sleep(3)  # charts and images load after the page
                path = out / f"tensorboard-{name}.png"
                page.screenshot(path=str(path))
                print(path)
            browser.close()
    finally:
        tb.terminate()
        tb.wait(timeout=10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
