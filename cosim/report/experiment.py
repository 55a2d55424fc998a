"""The report of a ``cosim experiment`` folder: the seed's claim, every metric against its
criterion, the experiment's figures, and a run report for each of its runs.

The metrics come from DIR/metrics.json as the experiment wrote them; nothing is
recomputed here, so the page shows exactly what the experiment's exit status was based on.
"""
from __future__ import annotations

import json
from pathlib import Path
import shutil

from cosim.report import html
from cosim.report.compose import write_report

__all__ = ["CLAIMS", "is_experiment_folder", "write_experiment_report"]

# What the seed reports (SPEC section 7), per experiment.
CLAIMS = {
    "gamma": "DC stimulation of L2/3 cells in one 100 um voxel of the M1 model produces "
             "30-50 Hz (gamma) synchronous activity (a peak in the power spectrum of the "
             "population rate).",
    "phase": "Relative to the gamma cycle, E and FS cells fire at the same phase, LTS cells "
             "later; from L2/3 to L6 the phase distributions of all three types shift "
             "progressively later.",
    "propagation": "Gamma started in M1 propagates to M2, pons and cerebellum; pons E cells "
                   "and granule cells are strongly phase-locked, Purkinje cells weakly; M1/M2 "
                   "distributions are broader than in M1 alone.",
    "topography": "In M1/M2/S1/S2, gamma propagates between the same body-part "
                  "representations through topographic connections.",
    "forelimb": "L5B spikes of M1, summed per communication interval, drive the forelimb "
                "muscles and the forelimb moves; without that output it does not.",
    "ensemble": "100 ensemble members ran simultaneously: 100 members x 10 s of activity in "
                "250 s on 5,200 Fugaku CPUs.",
}


# Runs that get a report of their own (each takes seconds to draw)
MAX_RUN_REPORTS = 12


def is_experiment_folder(path) -> bool:
    return Path(path).is_dir() and (Path(path) / "metrics.json").is_file()


def _read_metrics(exp_dir: Path) -> dict:
    path = exp_dir / "metrics.json"
    if not path.is_file():
        raise FileNotFoundError(f"{exp_dir}: no metrics.json: not a `cosim experiment` folder")
    try:
        m = json.loads(path.read_text())
    except ValueError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from None
    for key in ("experiment", "metrics"):
        if key not in m:
            raise ValueError(f"{path}: key {key!r} missing: not written by `cosim experiment`")
    return m


def _value(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, (dict, list)):
        text = json.dumps(v)
        return text if len(text) < 120 else text[:117] + "..."
    return str(v)


def _metrics_table(metrics: dict) -> str:
    rows = []
    for key, m in metrics.items():
        verdict = "" if "pass" not in m else ("pass" if m["pass"] else "FAIL")
        rows.append((key, _value(m.get("value")), m.get("criterion", ""), verdict,
                     m.get("note", "")))
    return html.grid(("metric", "value", "criterion", "holds", "note"), rows,
                     mark={"pass": "ok", "FAIL": "bad"})


def write_experiment_report(exp_dir, out_dir=None, video: bool = True) -> Path:
    """Write ``out_dir/index.html`` (default EXP_DIR/report) for an experiment folder.

    The experiment's PNG figures are copied beside the page; each run file listed in
    metrics.json gets its own run report in ``out_dir/runs/<label>/`` (the limb video only
    for the first, when ``video``), linked from the page.
    """
    exp_dir = Path(exp_dir)
    m = _read_metrics(exp_dir)
    out = Path(out_dir) if out_dir else exp_dir / "report"
    out.mkdir(parents=True, exist_ok=True)
    name = m["experiment"]
    summary = [("experiment", name), ("scene", m.get("scene", "?")),
               ("atlas", m.get("atlas", "?")), ("scale", m.get("scale", "?")),
               ("seeds", ", ".join(map(str, m.get("seeds", [])))),
               ("criteria that hold", f"{m.get('n_pass', '?')} of {m.get('n_checks', '?')}"),
               ("all hold", m.get("all_pass", "?")),
               ("wall time", f"{m['wall_s']} s" if "wall_s" in m else "not recorded")]
    figures = []
    for fig in m.get("figures", []):
        src = exp_dir / fig
        if src.is_file():
            shutil.copy(src, out / src.name)
            figures.append(html.image(src.name, src.stem.replace("_", " ")))
        else:
            figures.append(html.note(f"{fig}: listed in metrics.json but missing"))
    run_rows = []
    for i, (label, run) in enumerate(m.get("runs", {}).items()):
        h5 = exp_dir / run["file"]
        if i >= MAX_RUN_REPORTS:   # an ensemble's 100 members: list the files, report a few
            run_rows.append((label, run["file"], "(no report: first "
                             f"{MAX_RUN_REPORTS} runs only)", " ".join(run.get("overrides", []))))
            continue
        if not h5.is_file():
            run_rows.append((label, run["file"], "file missing", ""))
            continue
        page = write_report(h5, out / "runs" / label, video=video and i == 0)
        run_rows.append((label, run["file"], html.link(page.relative_to(out).as_posix(),
                                                       "run report"),
                         " ".join(run.get("overrides", []))))
    sections = [
        html.section("The seed's claim", f"<p>{html.escape(CLAIMS.get(name, '(none recorded)'))}"
                     "</p>", anchor="claim"),
        html.section("Summary", html.table(summary), anchor="summary"),
        html.section("Metrics against the criteria", _metrics_table(m["metrics"]),
                     anchor="metrics"),
        html.section("Figures", *(figures or [html.note("no figures listed")]),
                     anchor="figures"),
        html.section("Runs (HDF5 files in the experiment folder)",
                     html.grid(("run", "file", "report", "overrides"), run_rows, raw=(2,)),
                     anchor="runs"),
    ]
    return html.write_page(out / "index.html", f"Experiment report: {name} ({exp_dir.name})",
                           sections)
