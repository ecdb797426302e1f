"""Retake the README's screenshots: build the demo gallery, open it in headless Chromium.

    python docs/screenshots.py          # writes docs/*.png (desktop 1280 px and a 390 px phone)

Looking is testing: open the PNGs after running this.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from browser_helpers import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

SHOTS = [  # file, page, viewport, full page?, position to open at
    ("gallery.png", "index.html", (1280, 900), False, ""),
    ("trace.png", "traces/openai/pizza-toppings/index.html", (1280, 1000), False, ""),
    ("trace-phone.png", "traces/openai/pizza-toppings/index.html", (390, 844), False, ""),
    ("rollout.png", "traces/rollouts/grpo-step-120/rollout-1/index.html", (1280, 1000), False, ""),
    ("group.png", "groups/train-trip-duration/index.html", (1280, 1000), False, ""),
    (
        "rollout-phone.png",
        "traces/rollouts/grpo-step-120/rollout-1/index.html",
        (390, 844),
        False,
        "",
    ),
]


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "site"
        subprocess.run(
            [sys.executable, "-m", "tracesite", "build", str(ROOT), "-o", str(out)], check=True
        )
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            for name, page_path, (w, h), full, pos in SHOTS:
                target = out / page_path
                if not target.exists():
                    sys.exit(f"{page_path} is not in the demo site: update SHOTS")
                phone = w < 600
                ctx = browser.new_context(
                    viewport={"width": w, "height": h},
                    device_scale_factor=2 if phone else 1,
                    is_mobile=phone,
                    has_touch=phone,
                )
                page = ctx.new_page()
                page.goto(target.as_uri() + pos)
                page.wait_for_load_state("load")
                page.wait_for_timeout(1500)  # BokehJS draws after load
                if (phone and "trace" in name) or (phone and "rollout" in name):
                    cell = page.locator(".bk-Canvas, canvas").first
                    box = cell.bounding_box()
                    if box:  # a tap on the third cell shows its tooltip
                        page.touchscreen.tap(box["x"] + box["width"] * 0.3, box["y"] + 20)
                        page.wait_for_timeout(400)
                page.screenshot(path=str(ROOT / "docs" / name), full_page=full)
                print(f"docs/{name}  {w}x{h}  from {target.relative_to(out)}")
                ctx.close()
            browser.close()


if __name__ == "__main__":
    main()
