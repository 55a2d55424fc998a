"""The report's figures of one run, each a PNG: brain activity, body and bridge.

Every function takes a :class:`~cosim.report.data.RunFile` and a PNG path and returns the path
as a string.  Spectra, phase histograms and rate maps are drawn by
:mod:`cosim.analysis.figures`; this module only chooses what goes into them.  Figures are
drawn on the Agg canvas directly, as in :mod:`cosim.analysis.figures`.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from cosim import analysis as an
from cosim.analysis import figures as afig
from cosim.report.data import RunFile

__all__ = ["raster_figure", "type_rates_figure", "spectra", "phase_figure", "voxel_grid",
           "voxel_maps", "rate_map_figure", "joints_figure", "muscles_figure", "bridge_figure",
           "GAMMA_HZ"]

GAMMA_HZ = (30.0, 50.0)
AFFERENT_KINDS = ("Ia", "II", "Ib")


def _figure(n_rows: int = 1, size=(9.0, 4.0), **kw):
    fig = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.subplots(n_rows, 1, squeeze=False, **kw)[:, 0]


def _save(fig: Figure, png) -> str:
    Path(png).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=100)
    return str(png)


def _kind_colour(kind: str, i: int) -> str:
    return afig.TYPE_COLOURS.get(kind, f"C{(i + 3) % 10}")


def _cell_order(run: RunFile) -> np.ndarray:
    """Cells sorted by region (file order), layer (top first), kind, type, then id."""
    regions, layers = run.regions, [""] + run.layers
    r = np.array([regions.index(x) for x in run.region])
    lay = np.array([layers.index(x) if x in layers else len(layers) for x in run.layer])
    kinds = run.kind
    k = np.unique(kinds, return_inverse=True)[1]
    return np.lexsort((np.arange(run.n_cells), run.type_id, k, lay, r))


def raster_figure(run: RunFile, png, max_cells: int = 3000) -> str:
    """Spike raster with cells sorted by region, layer and type; one colour per kind.

    With more than ``max_cells`` cells an evenly spaced subset of the sorted order is drawn,
    so every group keeps its share of rows.
    """
    order = _cell_order(run)
    if len(order) > max_cells:
        order = order[np.linspace(0, len(order) - 1, max_cells).astype(np.int64)]
    row = np.full(run.n_cells, -1, dtype=np.int64)
    row[order] = np.arange(len(order))
    shown = row[run.gid] >= 0
    kinds = run.kind
    fig, (ax,) = _figure(size=(9.0, 6.0))
    for i, kind in enumerate(dict.fromkeys(kinds[order])):
        sel = shown & (kinds[run.gid] == kind)
        ax.scatter(run.t_ms[sel], row[run.gid[sel]], s=1.0, lw=0, color=_kind_colour(kind, i),
                   label=f"{kind} ({np.count_nonzero(kinds == kind)} cells)")
    # a line and a label at each (region, layer) boundary so a row can be placed
    group = np.char.add(np.char.add(run.region[order], " "), run.layer[order])
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    for s, e in zip(starts, np.r_[starts[1:], len(order)]):
        ax.axhline(s - 0.5, color="0.6", lw=0.5)
        # x in axes units, y in rows: the label stays beside its group on the inverted axis
        ax.text(1.005, (s + e - 1) / 2, group[s], transform=ax.get_yaxis_transform(),
                fontsize=7, va="center")
    ax.set_xlim(0.0, run.duration_ms)
    ax.set_ylim(len(order), -1)
    ax.set_xlabel("time (ms)")
    ax.set_ylabel(f"cell ({len(order)} of {run.n_cells}, sorted)")
    ax.legend(fontsize=7, loc="upper left", markerscale=6)
    ax.set_title("spikes by region / layer / type")
    return _save(fig, png)


def type_rates_figure(run: RunFile, png, bin_ms: float = 5.0) -> str:
    """Population rate of every cell type in ``bin_ms`` bins, Hz per cell."""
    fig, (ax,) = _figure(size=(9.0, 4.0))
    for t, name in enumerate(run.type_names):
        cells = run.type_id == t
        if not cells.any():
            continue
        sel = cells[run.gid]
        x, y = an.population_rate(run.t_ms[sel], int(cells.sum()), 0.0, run.duration_ms, bin_ms)
        ax.plot(x, y, lw=0.8, color=f"C{t % 10}", ls=("-", "--", ":")[t // 10 % 3], label=name)
    ax.set_xlabel("time (ms)")
    ax.set_ylabel(f"rate (Hz, {bin_ms:g} ms bins)")
    ax.legend(fontsize=6, ncol=5, loc="upper right")
    return _save(fig, png)


def _rate_1ms(run: RunFile, cells: np.ndarray):
    sel = cells[run.gid]
    return an.population_rate(run.t_ms[sel], int(cells.sum()), 0.0, run.duration_ms, 1.0)


def spectra(run: RunFile, png) -> str:
    """Welch spectra of the 1 ms population rate of each (region, kind) with >= 10 cells."""
    curves = {}
    for region in run.regions:
        for kind in dict.fromkeys(run.kind[run.region == region]):
            cells = (run.region == region) & (run.kind == kind)
            if cells.sum() >= 10:
                curves[f"{region} {kind}"] = an.welch_psd(_rate_1ms(run, cells)[1], 1000.0)
    return afig.spectra_figure(curves, png, band=GAMMA_HZ,
                               title="population rate spectra (1 ms bins, Welch 256 ms)")


def phase_figure(run: RunFile, png, edge_ms: float = 50.0) -> str:
    """Spike phase relative to the 30-50 Hz component of the layered E cells' rate.

    The reference is the 1 ms population rate of every E cell with a layer; ``edge_ms`` at
    each end is left out (filter edge effects).  One row per layer, one colour per kind.
    Raises ValueError when the run is too short or the reference has no E cells.
    """
    layered = run.layer != ""
    ref = layered & (run.kind == "E")
    t0, t1 = edge_ms, run.duration_ms - edge_ms
    if not ref.any() or t1 - t0 < 100.0:
        raise ValueError(f"needs layered E cells and > {100 + 2 * edge_ms:g} ms of run")
    t, rate = _rate_1ms(run, ref)
    phase = an.hilbert_phase(rate, 1000.0, *GAMMA_HZ)
    keep = (t >= t0) & (t < t1)
    kinds = list(dict.fromkeys(run.kind[layered]))
    groups = {(lay, k): np.flatnonzero((run.layer == lay) & (run.kind == k))
              for lay in run.layers for k in kinds}
    phases = an.group_spike_phases(run.t_ms, run.gid, groups, t[keep], phase[keep])
    return afig.phase_histograms(phases, run.layers, kinds, png,
                                 title="spike phase vs 30-50 Hz rate of layered E cells")


def voxel_grid(run: RunFile):
    """Voxel index per cell, grid shape and the axis a top view collapses.

    Voxel atlases store (AP, DV, LR) indices: the top view collapses DV (axis 1).  Column
    patches store only positions (x, y along the surface, depth): the index is the position
    over ``brain.atlas.voxel_um`` and the top view collapses depth (axis 2).

    Returns
    -------
    ijk : ndarray of int64, shape (n_cells, 3)
    grid_shape : tuple of 3 int
    project_axis : int
    axis_names : (str, str)
        Names of the rows and columns of a top-view map.
    """
    if run.ijk is not None:
        return run.ijk, run.grid_shape, 1, ("AP", "LR")
    voxel_um = float(run.scene.get("brain", {}).get("atlas", {}).get("voxel_um", 100.0))
    ijk = np.floor(np.maximum(run.pos_um, 0.0) / voxel_um).astype(np.int64)
    return ijk, tuple(int(x) for x in ijk.max(axis=0) + 1), 2, ("x", "y")


def voxel_maps(run: RunFile, t_start_ms: float, t_stop_ms: float) -> dict:
    """Top-view mean rate (Hz) per region in [t_start_ms, t_stop_ms), cropped to the region.

    Returns
    -------
    dict
        Region -> 2-D float64 array (NaN where the column holds none of its cells).
    """
    ijk, shape, axis, _ = voxel_grid(run)
    maps = {}
    for region in run.regions:
        mask = run.region == region
        m, n = an.voxel_rate_map(run.gid, run.t_ms, ijk, shape, t_start_ms, t_stop_ms,
                                 cells_mask=mask, project_axis=axis)
        rows, cols = np.flatnonzero(n.any(axis=1)), np.flatnonzero(n.any(axis=0))
        maps[region] = m[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    return maps


def rate_map_figure(run: RunFile, png) -> str:
    """Top view of the mean rate per voxel column over the whole run, one panel per region."""
    _, _, _, (rows, cols) = voxel_grid(run)
    return afig.rate_map_figure(voxel_maps(run, 0.0, run.duration_ms), png,
                                xlabel=f"{cols} (voxel)", ylabel=f"{rows} (voxel)")


def joints_figure(run: RunFile, png) -> str:
    """Joint angles (degrees) against time; slide joints would read as m x 57.3."""
    t_ms = run.body["time_s"] * 1e3
    qpos = run.body["qpos"]
    fig, (ax,) = _figure(size=(9.0, 3.5))
    for j, name in enumerate(run.joint_names[: qpos.shape[1]]):
        ax.plot(t_ms, np.degrees(qpos[:, j]), label=name)
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("joint angle (deg)")
    ax.legend(fontsize=7)
    return _save(fig, png)


def muscles_figure(run: RunFile, png) -> str:
    """Excitation and activation (unitless, [0, 1]) and force (N) of every muscle."""
    t_ms = run.body["time_s"] * 1e3
    fig, axes = _figure(3, size=(9.0, 8.0), sharex=True)
    for ax, key, label in zip(axes, ("excitation", "activation", "force_N"),
                              ("excitation", "activation", "force (N)")):
        for m, name in enumerate(run.muscle_names):
            ax.plot(t_ms, run.body[key][:, m], lw=0.8, color=f"C{m % 10}", label=name)
        ax.set_ylabel(label)
    axes[0].legend(fontsize=6, ncol=5, loc="upper right")
    axes[-1].set_xlabel("time (ms)")
    return _save(fig, png)


def bridge_figure(run: RunFile, png, smooth_ms: float = 10.0) -> str:
    """Motor pool spike counts (as Hz per pool cell, ``smooth_ms`` boxcar) and afferent rates.

    Top: counts of each muscle's pool per bridge interval.  Below: Ia, II and Ib fibre rates
    (Hz) sent to the brain for each muscle.
    """
    b = run.bridge
    interval_ms = float(run.attrs.get("interval_ms", 1.0))
    t_ms = (b["interval"] + 1) * interval_ms
    size = np.maximum(b["pool_size"], 1)
    width = max(1, int(round(smooth_ms / interval_ms)))
    box = np.ones(width) / width
    fig, axes = _figure(4, size=(9.0, 10.0), sharex=True)
    for m, name in enumerate(run.muscle_names):
        rate = b["counts"][:, m] / size[m] / (interval_ms * 1e-3)
        axes[0].plot(t_ms, np.convolve(rate, box, mode="same"), lw=0.8, color=f"C{m % 10}",
                     label=f"{name} ({b['pool_size'][m]} cells)")
        for k in range(3):
            axes[k + 1].plot(t_ms, b["afferent_rates_Hz"][:, m, k], lw=0.8, color=f"C{m % 10}")
    axes[0].set_ylabel(f"pool rate (Hz/cell,\n{smooth_ms:g} ms boxcar)")
    axes[0].legend(fontsize=6, ncol=4, loc="upper right")
    for k, kind in enumerate(AFFERENT_KINDS):
        axes[k + 1].set_ylabel(f"{kind} afferent rate (Hz)")
    axes[-1].set_xlabel("time (ms)")
    return _save(fig, png)
