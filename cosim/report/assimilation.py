"""The report of a ``cosim assimilate`` output file: parameter trajectories with spread
bands, the observation fit, innovation statistics and timings."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from cosim.report import html

__all__ = ["write_assimilation_report", "parameter_figure", "fit_figure"]


def _figure(size):
    fig = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def parameter_figure(res: dict, png) -> str:
    """One panel per parameter: every member (thin), the mean and mean +- sd (band),
    against the end of each window (ms; 0 = the prior)."""
    names, t = res["parameters/names"], res["parameters/time_ms"]
    mean, sd, mem = res["parameters/mean"], res["parameters/sd"], res["parameters/members"]
    fig = _figure((9.0, 2.6 * len(names)))
    axes = fig.subplots(len(names), 1, squeeze=False)[:, 0]
    for i, (ax, n) in enumerate(zip(axes, names)):
        ax.plot(t, mem[:, :, i], color="0.6", lw=0.5)
        ax.fill_between(t, mean[:, i] - sd[:, i], mean[:, i] + sd[:, i], alpha=0.3,
                        color="C0", label="mean +- sd")
        ax.plot(t, mean[:, i], color="C0", lw=2, label="ensemble mean")
        ax.set_ylabel(n)
        ax.set_title(f"{n}: {mean[0, i]:.4g} +- {sd[0, i]:.2g} (prior) -> {mean[-1, i]:.4g} "
                     f"+- {sd[-1, i]:.2g}", fontsize=9)
    axes[0].legend(fontsize=8)
    axes[-1].set_xlabel("time (ms): end of the window after which the ensemble is shown")
    fig.savefig(png, dpi=100)
    return str(png)


def fit_figure(res: dict, png) -> str:
    """Observed rate of each observable (black) against the members' predictions (mean
    and +- sd band) bin by bin over the whole assimilation."""
    names = res["observations/names"]
    bin_ms = res["observations/bin_ms"]
    pred, obs = res["observations/predicted"], res["observations/observed"]
    w, m, kb = pred.shape
    k = len(names)
    pred = pred.reshape(w, m, kb // k, k).transpose(1, 0, 2, 3).reshape(m, -1, k)
    obs = obs.reshape(-1, k)
    t = (np.arange(obs.shape[0]) + 0.5) * bin_ms
    cols = 3
    rows = (k + cols - 1) // cols
    fig = _figure((11.0, 2.0 * rows))
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for j, ax in enumerate(axes):
        if j >= k:
            ax.set_visible(False)
            continue
        mu, s = pred[:, :, j].mean(axis=0), pred[:, :, j].std(axis=0, ddof=1)
        ax.fill_between(t, mu - s, mu + s, alpha=0.3, color="C1")
        ax.plot(t, mu, color="C1", label="predicted (members)")
        ax.plot(t, obs[:, j], "k.", ms=3, label="observed")
        ax.set_title(names[j], fontsize=9)
        ax.tick_params(labelsize=7)
    axes[0].legend(fontsize=7)
    fig.supxlabel("time (ms)")
    fig.supylabel("rate (Hz)")
    fig.savefig(png, dpi=100)
    return str(png)


def innovation_figure(res: dict, png) -> str:
    """Normalised innovation squared per window (about 1 when consistent) and the wall
    time of each window split into members and update."""
    fig = _figure((9.0, 3.0))
    a, b = fig.subplots(1, 2)
    nis = res["innovation/nis"]
    a.plot(np.arange(1, len(nis) + 1), nis, "o-")
    a.axhline(1.0, color="0.5", ls="--")
    a.set_xlabel("window")
    a.set_ylabel("NIS")
    a.set_title("innovation^2 / (ens. var + noise), mean", fontsize=9)
    x = np.arange(1, len(nis) + 1)
    b.bar(x, res["timing/advance_s"], label="members")
    b.bar(x, res["timing/update_s"], bottom=res["timing/advance_s"], label="update")
    b.set_xlabel("window")
    b.set_ylabel("wall s")
    b.legend(fontsize=8)
    fig.savefig(png, dpi=100)
    return str(png)


def write_assimilation_report(h5_path, out_dir) -> Path:
    """Write ``out_dir/index.html`` with the figures of an assimilation output file."""
    from cosim.assimilation.results import read_results
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    res = read_results(h5_path)
    a = res["attrs"]
    names, mean, sd = res["parameters/names"], res["parameters/mean"], res["parameters/sd"]
    rows = [("file", h5_path), ("scene", a.get("scene_path")), ("members", a.get("members")),
            ("windows", f"{len(res['innovation/nis'])} x {a.get('window_ms')} ms"),
            ("ranks", f"{a.get('n_ranks')} ({a.get('mode')})"), ("seed", a.get("seed")),
            ("inflation", a.get("inflation")), ("observations", a.get("observations")),
            ("overrides", ", ".join(json.loads(a.get("overrides", "[]"))) or "-"),
            ("cosim version", a.get("cosim_version")),
            ("wall s per window (mean)", f"{np.mean(res['timing/window_s']):.2f}"),
            ("update / window", f"{np.sum(res['timing/update_s']) / np.sum(res['timing/window_s']):.2%}")]
    table = html.grid(["parameter", "prior mean", "prior sd", "final mean", "final sd",
                       "spread shrink"],
                      [(n, f"{mean[0, i]:.4g}", f"{sd[0, i]:.3g}", f"{mean[-1, i]:.4g}",
                        f"{sd[-1, i]:.3g}", f"{sd[0, i] / max(sd[-1, i], 1e-300):.1f}x")
                       for i, n in enumerate(names)])
    sections = [
        html.section("Assimilation", html.table(rows), table, anchor="summary"),
        html.section("Parameters", html.image(
            Path(parameter_figure(res, out / "parameters.png")).name,
            "Parameter ensemble after each window: members (grey), mean and +- sd band.")),
        html.section("Observation fit", html.image(
            Path(fit_figure(res, out / "fit.png")).name,
            "Observed population rates (dots) and the members' predictions (mean, +- sd).")),
        html.section("Innovations and timing", html.image(
            Path(innovation_figure(res, out / "innovations.png")).name,
            "Normalised innovation squared per window; wall time per window.")),
    ]
    return html.write_page(out / "index.html", f"Assimilation: {Path(str(h5_path)).name}",
                           sections)
