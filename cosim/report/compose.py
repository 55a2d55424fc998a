"""``cosim report``: one run file -> DIR/index.html with its figures, animation and video."""
from __future__ import annotations

import sys
from pathlib import Path

from cosim.report import figures, html
from cosim.report.animation import rate_map_animation
from cosim.report.data import RunFile, read_run

__all__ = ["write_report", "summary_rows"]

# root attributes shown in the table under their own label; any others follow as they are
_KNOWN = ("scene_path", "cosim_version", "commit", "git_commit", "mode", "n_brain_ranks",
          "n_synapses", "seed", "dt_ms", "interval_ms", "duration_ms", "run_wall_s", "wall_s",
          "real_time_factor", "build_s", "complete", "interrupted", "error", "created",
          "overrides", "rank_pids")
_HIDDEN = ("magic", "version")      # SONATA's markers: the same in every file


def _seconds(v) -> str:
    return f"{float(v):.2f} s"


def summary_rows(run: RunFile) -> list[tuple[str, str]]:
    """(label, value) rows of the run summary, from whatever root attributes exist."""
    a = run.attrs
    scene = str(a.get("scene_path", "?"))
    rows = [("scene", Path(scene).stem), ("scene path", scene),
            ("cosim_version", a.get("cosim_version", "not recorded")),
            ("commit", a.get("commit", a.get("git_commit", "not recorded")))]
    ranks = a.get("n_brain_ranks")
    mode = a.get("mode", "?")
    rows += [("mode", mode),
             ("ranks", f"{ranks} brain + 1 body" if mode != "embedded" and ranks is not None
              else "1 process (brain, bridge and body embedded)"),
             ("cells", f"{run.n_cells:,}"),
             ("synapses", f"{int(a['n_synapses']):,}" if "n_synapses" in a else "not recorded"),
             ("spikes", f"{len(run.t_ms):,} (mean {_mean_rate(run):.2f} Hz per cell)"),
             ("seed", a.get("seed", "?")),
             ("dt / bridge interval", f"{a.get('dt_ms', '?')} ms / {a.get('interval_ms', '?')} ms"),
             ("simulated", f"{run.duration_ms:g} ms written of {a.get('duration_ms', '?')} ms"),
             ("complete", a.get("complete", "?"))]
    for key, label in (("interrupted", "interrupted"), ("error", "error")):
        if key in a:
            rows.append((label, a[key]))
    if "run_wall_s" in a:
        rows.append(("wall time (loop)", _seconds(a["run_wall_s"])))
    if "wall_s" in a:
        rows.append(("wall time (total)", _seconds(a["wall_s"])))
    if "real_time_factor" in a:
        rows.append(("real-time factor", f"{float(a['real_time_factor']):.2f} s wall / s simulated"))
    rows.append(("build time", _seconds(a["build_s"]) if "build_s" in a else "not recorded"))
    rows += [("created", a.get("created", "?")), ("overrides", a.get("overrides", "[]"))]
    rows += [(k, v) for k, v in a.items() if k not in _KNOWN and k not in _HIDDEN]
    return rows


def _mean_rate(run: RunFile) -> float:
    seconds = run.duration_ms * 1e-3
    return len(run.t_ms) / max(run.n_cells, 1) / seconds if seconds > 0 else float("nan")


class _Drawer:
    """Draws figures into the report folder; a figure that fails becomes a note, so one
    odd file (a run cut short, an atlas without voxels) still gets the rest of its report."""

    def __init__(self, out_dir: Path, run: RunFile):
        self.out_dir, self.run, self.failures = out_dir, run, []

    def __call__(self, draw, name: str, caption: str) -> str:
        try:
            path = draw(self.run, self.out_dir / name)
        except Exception as exc:  # noqa: BLE001 - any failure is reported on the page
            text = f"{name}: could not draw ({type(exc).__name__}: {exc})"
            self.failures.append(text)
            return html.note(text)
        return html.image(Path(path).name, caption)


def write_report(h5_path, out_dir, video: bool = True) -> Path:
    """Write ``out_dir/index.html`` and its PNG, GIF and MP4 files for one run file.

    Parameters
    ----------
    h5_path : str or Path
        A run's output file (complete or cut short).
    out_dir : str or Path
        Folder, created if missing; files of an earlier report there are replaced.
    video : bool
        Render the limb video (needs an OpenGL backend; without one the page says so).

    Returns
    -------
    Path
        The page.  Figures that could not be drawn are listed on stderr and on the page.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    run = read_run(h5_path)
    draw = _Drawer(out, run)
    rows = summary_rows(run)
    sections = [
        html.section("Run", html.table(rows), anchor="summary"),
        html.section(
            "Brain",
            draw(figures.raster_figure, "raster.png",
                 "Spike raster; cells sorted by region, layer and type (labels at the right)."),
            draw(figures.type_rates_figure, "rates.png", "Population rate of each cell type."),
            draw(figures.spectra, "spectra.png",
                 "Power spectra of the population rates per region and kind; 30-50 Hz shaded."),
            draw(figures.phase_figure, "phases.png",
                 "Spike phase relative to the 30-50 Hz band of the layered E cells' rate "
                 "(0 = its peak, later = positive); dashed: circular means."),
            anchor="brain"),
        html.section(
            "Voxel activity (top view)",
            draw(figures.rate_map_figure, "rate_map.png",
                 "Mean rate per voxel column over the run, one panel per region."),
            draw(rate_map_animation, "rate_map.gif",
                 "The same maps in consecutive time bins (one colour scale for all frames)."),
            anchor="voxels"),
        html.section(
            "Body",
            draw(figures.joints_figure, "joints.png", "Joint angles."),
            draw(figures.muscles_figure, "muscles.png",
                 "Muscle excitation, activation and force."),
            _video_part(run, out) if video else html.note("limb video not requested (--no-video)"),
            anchor="body"),
        html.section(
            "Bridge",
            draw(figures.bridge_figure, "bridge.png",
                 "Motor pool spike counts per bridge interval (as rate per pool cell) and the "
                 "Ia / II / Ib afferent rates sent to the brain, per muscle."),
            anchor="bridge"),
        html.section("Scene file", f"<details><summary>{len(run.scene_text.splitlines())} "
                     f"lines</summary>{html.pre(run.scene_text)}</details>", anchor="scene"),
    ]
    for text in draw.failures:
        print(f"cosim report: warning: {text}", file=sys.stderr)
    title = f"Run report: {Path(str(run.attrs.get('scene_path', h5_path))).stem} ({Path(h5_path).name})"
    return html.write_page(out / "index.html", title, sections)


def _video_part(run: RunFile, out: Path) -> str:
    from cosim.report.video import limb_video
    v = limb_video(run, out / "limb.mp4")
    if v.mp4 is None:
        return html.note(v.message)
    return html.video(Path(v.mp4).name, f"Limb replayed from /body/qpos through the scene's "
                      f"MJCF (MUJOCO_GL={v.backend}): {v.message}.",
                      poster=Path(v.poster_png).name if v.poster_png else None)

