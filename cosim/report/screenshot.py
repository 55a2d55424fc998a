"""Open a report in headless Chromium: what loaded, what the console said, and a screenshot.

Used by the report test and by ``make report-docs``.  Needs selenium (the ``test`` extra)
and Debian's ``chromium`` and ``chromium-driver`` packages (no browser is downloaded).
Run as ``python -m cosim.report.screenshot DIR/index.html OUT.png``.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

__all__ = ["inspect_page", "CHROMIUM", "CHROMEDRIVER"]

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"

_MEDIA = """
const imgs = Array.from(document.images).map(i => ({src: i.getAttribute('src'),
    complete: i.complete, naturalWidth: i.naturalWidth}));
const videos = Array.from(document.querySelectorAll('video')).map(v => ({
    src: v.currentSrc, readyState: v.readyState, duration: v.duration,
    error: v.error ? v.error.code : null}));
return {imgs: imgs, videos: videos, height: document.documentElement.scrollHeight};
"""


def inspect_page(index_html, png=None, width_px: int = 1100, max_height_px: int = 20000,
                 wait_s: float = 15.0) -> dict:
    """Load ``index_html`` from ``file://`` and report on its media.

    Parameters
    ----------
    index_html : str or Path
    png : str or Path, optional
        Write a screenshot of the whole page (up to ``max_height_px`` tall) here.
    width_px, max_height_px : int
        Window width and screenshot height limit, CSS pixels.
    wait_s : float
        How long to wait for every image to complete and every video to get metadata.

    Returns
    -------
    dict
        ``imgs``: [{src, complete, naturalWidth}], ``videos``: [{src, readyState, duration,
        error}], ``console``: [{level, message}] from the browser log, ``height``: page
        height (px).
    """
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--allow-file-access-from-files", "--autoplay-policy=no-user-gesture-required",
                f"--window-size={width_px},900"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    try:
        driver.get(Path(index_html).resolve().as_uri())
        deadline = time.monotonic() + wait_s
        while True:
            state = driver.execute_script(_MEDIA)
            done = (all(i["complete"] for i in state["imgs"])
                    and all(v["readyState"] >= 1 or v["error"] for v in state["videos"]))
            if done or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        if png is not None:
            height = min(int(state["height"]), max_height_px)
            driver.set_window_size(width_px, height)
            time.sleep(0.5)     # let the layout settle at the new size before capturing
            Path(png).parent.mkdir(parents=True, exist_ok=True)
            driver.save_screenshot(str(png))
        state["console"] = driver.get_log("browser")
        return state
    finally:
        driver.quit()


def main(argv=None) -> int:
    args = sys.argv[1:] if argv is None else argv
    state = inspect_page(args[0], args[1] if len(args) > 1 else None)
    print(json.dumps(state, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
