"""cosim report: a short demo run -> DIR/index.html, opened in headless Chromium.

The browser test needs Debian's chromium and chromium-driver (.ci/run installs them); it
skips only when /usr/bin/chromium is absent.  The limb video is checked where an OpenGL
backend works; elsewhere the page must say why there is none.
"""
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import pytest

from cosim.report.screenshot import CHROMEDRIVER, CHROMIUM

# 300 ms of the demo at 10 % density: the DC pulse starts at 200 ms, so there is a gamma
# burst to show; about 10 s of run and 10 s of report on one core
RUN_ARGS = ("--duration", "300", "--set", "brain.density_scale=0.1", "--no-progress",
            "--no-figure")
FIGURES = ("raster.png", "rates.png", "spectra.png", "phases.png", "rate_map.png",
           "rate_map.gif", "joints.png", "muscles.png", "bridge.png")


def cosim(*args, timeout=600):
    return subprocess.run([sys.executable, "-m", "cosim", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report") / "demo.h5"
    res = cosim("run", "demo", "-o", out, *RUN_ARGS)
    assert res.returncode == 0, res.stderr
    return out


@pytest.fixture(scope="module")
def report(demo_run) -> tuple[Path, subprocess.CompletedProcess]:
    res = cosim("report", demo_run, "-o", demo_run.parent / "report")
    assert res.returncode == 0, res.stderr
    return demo_run.parent / "report" / "index.html", res


@pytest.mark.slow
def test_report_writes_every_figure_and_the_summary(report, demo_run):
    page, res = report
    assert f"wrote {page}" in res.stdout
    assert "warning" not in res.stderr, res.stderr          # every figure was drawn
    for name in FIGURES:
        assert (page.parent / name).stat().st_size > 5000, name
        assert f'src="{name}"' in page.read_text()
    text = page.read_text()
    with h5py.File(demo_run) as f:
        n_cells, n_syn = len(f["cells/type_id"]), int(f.attrs["n_synapses"])
        version, commit = f.attrs["cosim_version"], f.attrs["commit"]
    for expected in ("demo", version, commit, f"{n_cells:,}", f"{n_syn:,}", "embedded",
                     "real-time factor", "build time", "wall time"):
        assert expected in text, expected
    assert "http://" not in text and "https://" not in text       # nothing from the network


@pytest.mark.slow
def test_report_without_gl_or_recorded_stats_says_so(demo_run, tmp_path, monkeypatch):
    import cosim.gl
    from cosim.report import write_report
    bare = tmp_path / "bare.h5"
    shutil.copy(demo_run, bare)
    with h5py.File(bare, "a") as f:
        for key in ("n_synapses", "build_s", "commit"):
            del f.attrs[key]
    monkeypatch.setattr(cosim.gl, "probe_backend", lambda name, timeout_s=60.0:
                        (False, f"{name} disabled by the test"))
    text = write_report(bare, tmp_path / "out").read_text()
    assert "no OpenGL backend works on this machine" in text
    assert "egl disabled by the test" in text and "<video" not in text
    assert text.count("not recorded") >= 3                  # commit, synapses, build time


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.skipif(not Path(CHROMIUM).exists(),
                    reason=f"{CHROMIUM} absent (Debian packages chromium, chromium-driver)")
def test_report_loads_in_headless_chromium(report, tmp_path):
    assert Path(CHROMEDRIVER).exists(), f"{CHROMEDRIVER} missing: apt-get install chromium-driver"
    page, _ = report
    shot = tmp_path / "report.png"
    from cosim.report.screenshot import inspect_page
    state = inspect_page(page, shot)
    assert len(state["imgs"]) >= len(FIGURES)
    for img in state["imgs"]:
        assert img["complete"] and img["naturalWidth"] > 0, img
    if (page.parent / "limb.mp4").exists():
        (v,) = state["videos"]
        assert v["error"] is None and (v["readyState"] >= 1 or v["duration"] > 0), v
    else:                                   # no GL here: the page must say why
        assert not state["videos"] and "no OpenGL backend" in page.read_text()
    severe = [e for e in state["console"] if e.get("level") == "SEVERE"]
    assert not severe, severe
    assert shot.stat().st_size > 50_000
