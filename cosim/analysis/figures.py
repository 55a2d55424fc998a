"""Figures of the analysis results, written as PNG files.

Every function takes data (no file reading) and a PNG path and returns the path as a string.
Figures are drawn on the Agg canvas directly, without pyplot, so they never touch the
global backend or leave figures open in a long-running process.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from cosim.analysis.phases import circular_mean

__all__ = ["phase_histograms", "spectra_figure", "rate_map_figure", "coherence_figure",
           "profile_figure"]

TYPE_COLOURS = {"E": "tab:red", "FS": "tab:blue", "LTS": "tab:green"}


def _figure(n_rows: int = 1, n_cols: int = 1, size=(6.0, 4.0), **kw):
    fig = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(n_rows, n_cols, squeeze=False, **kw)
    return fig, axes


def _save(fig: Figure, png) -> str:
    path = Path(png)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    return str(path)


def _colour(name, i: int):
    return TYPE_COLOURS.get(str(name), f"C{i % 10}")


def phase_histograms(phases_by_group: dict, layers, types, png, n_bins: int = 36,
                     two_cycles: bool = False, title: str | None = None) -> str:
    """Spike-phase histograms: one row per layer, one colour per cell type.

    Parameters
    ----------
    phases_by_group : dict
        ``(layer, type)`` -> spike phases, radians (see :mod:`cosim.analysis.phases` for the
        convention).  Missing or empty groups are left out.
    layers : sequence
        Layer names, top row first (e.g. ``["L2/3", "L5A", "L5B", "L6"]``).
    types : sequence
        Cell type names, one colour each (e.g. ``["E", "FS", "LTS"]``).
    png : str or Path
        Output file.
    n_bins : int
        Bins per cycle.
    two_cycles : bool
        Show -180..540 degrees (the cycle repeated) instead of -180..180.
    title : str, optional

    Returns
    -------
    str
        ``png``.  Each histogram is normalised to the fraction of the group's spikes per bin;
        a vertical line marks each group's circular mean.
    """
    layers, types = list(layers), list(types)
    fig, axes = _figure(len(layers), 1, size=(6.0, 1.6 * len(layers) + 0.8), sharex=True)
    edges = np.linspace(-180.0, 180.0, n_bins + 1)
    shifts = (0.0, 360.0) if two_cycles else (0.0,)
    for row, layer in enumerate(layers):
        ax = axes[row, 0]
        for i, cell_type in enumerate(types):
            p = np.asarray(phases_by_group.get((layer, cell_type), []), dtype=np.float64)
            if p.size == 0:
                continue
            frac = np.histogram(np.degrees(p), bins=edges)[0] / p.size
            colour = _colour(cell_type, i)
            mean_deg = np.degrees(circular_mean(p))
            for k, shift in enumerate(shifts):
                ax.stairs(frac, edges + shift, color=colour,
                          label=f"{cell_type} (n={p.size})" if k == 0 else None)
                ax.axvline(mean_deg + shift, color=colour, ls="--", lw=1)
        ax.set_ylabel(f"{layer}\nfraction")
        ax.set_xlim(-180.0, 540.0 if two_cycles else 180.0)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize="small", loc="upper right")
    axes[-1, 0].set_xlabel("phase (deg; 0 = reference peak, later = positive)")
    axes[-1, 0].set_xticks(np.arange(-180.0, (540.0 if two_cycles else 180.0) + 1, 90.0))
    if title:
        fig.suptitle(title)
    return _save(fig, png)


def spectra_figure(curves: dict, png, band: tuple[float, float] | None = (30.0, 50.0),
                   xlim: tuple[float, float] = (0.0, 150.0), ylabel: str = "PSD (Hz$^2$/Hz)",
                   title: str | None = None) -> str:
    """Power spectra on a log y axis, with one band shaded.

    Parameters
    ----------
    curves : dict
        Label -> ``(f_Hz, psd)``, arrays of equal length.
    png : str or Path
        Output file.
    band : (lo_Hz, hi_Hz) or None
        Band to shade, Hz.
    xlim : (float, float)
        Frequency range shown, Hz.
    ylabel, title : str

    Returns
    -------
    str
        ``png``.
    """
    # log axes cannot show the zero-frequency bin of a detrended spectrum
    kept = {}
    for label, (f, psd) in curves.items():
        f, psd = np.asarray(f), np.asarray(psd)
        kept[label] = (f[psd > 0], psd[psd > 0])
    return _frequency_plot(kept, png, band, xlim, ylabel, title, log=True)


def _frequency_plot(curves: dict, png, band, xlim, ylabel: str, title, log: bool,
                    ylim=None) -> str:
    """Curves (label -> (f_Hz, y)) against frequency with ``band`` shaded."""
    fig, axes = _figure()
    ax = axes[0, 0]
    if band is not None:
        ax.axvspan(*band, color="0.9", zorder=0)
    for i, (label, (f, y)) in enumerate(curves.items()):
        ax.plot(np.asarray(f), np.asarray(y), color=_colour(label, i), label=str(label))
    if log:
        ax.set_yscale("log")
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.set_xlim(*xlim)
    ax.set_xlabel("frequency (Hz)")
    ax.set_ylabel(ylabel)
    if curves:
        ax.legend(fontsize="small")
    if title:
        ax.set_title(title)
    return _save(fig, png)


def rate_map_figure(maps: dict, png, cmap: str = "viridis", shared_scale: bool = False,
                    label: str = "rate (Hz)", xlabel: str | None = None,
                    ylabel: str | None = None) -> str:
    """Rate maps side by side, each with its own colour bar; NaN pixels are transparent.

    Parameters
    ----------
    maps : dict
        Panel title -> 2-D array (e.g. from :func:`cosim.analysis.rates.voxel_rate_map`),
        drawn with row 0 at the top.
    png : str or Path
        Output file.
    cmap : str
        Matplotlib colour map name.
    shared_scale : bool
        Use one colour range for all panels (so panels compare) instead of one each.
    label, xlabel, ylabel : str
        Colour bar and axis labels.

    Returns
    -------
    str
        ``png``.
    """
    n = max(len(maps), 1)
    fig, axes = _figure(1, n, size=(3.6 * n, 3.4))
    finite = [np.asarray(m, float)[np.isfinite(m)] for m in maps.values()]
    finite = [v for v in finite if v.size]
    vmin = min(v.min() for v in finite) if shared_scale and finite else None
    vmax = max(v.max() for v in finite) if shared_scale and finite else None
    colours = matplotlib.colormaps[cmap].with_extremes(bad=(0.0, 0.0, 0.0, 0.0))
    for ax, (title, m) in zip(axes[0], maps.items()):
        im = ax.imshow(np.ma.masked_invalid(np.asarray(m, float)), cmap=colours, vmin=vmin,
                       vmax=vmax, origin="upper", interpolation="nearest")
        fig.colorbar(im, ax=ax, label=label, shrink=0.8)
        ax.set_title(str(title))
        if xlabel:
            ax.set_xlabel(xlabel)
        if ylabel:
            ax.set_ylabel(ylabel)
    return _save(fig, png)


def coherence_figure(curves: dict, png, band: tuple[float, float] | None = (30.0, 50.0),
                     xlim: tuple[float, float] = (0.0, 150.0), title: str | None = None) -> str:
    """Coherence spectra (0..1), with one band shaded.

    Parameters
    ----------
    curves : dict
        Label -> ``(f_Hz, Cxy)``.
    png : str or Path
        Output file.
    band : (lo_Hz, hi_Hz) or None
        Band to shade, Hz.
    xlim : (float, float)
        Frequency range shown, Hz.
    title : str, optional

    Returns
    -------
    str
        ``png``.
    """
    return _frequency_plot(curves, png, band, xlim, "coherence", title, log=False,
                           ylim=(0.0, 1.0))


def profile_figure(profiles: dict, png, xlabel: str = "position",
                   ylabel: str = "rate (Hz)", title: str | None = None) -> str:
    """Line plot of profiles (e.g. rate along the rostro-caudal axis); NaN leaves gaps.

    Parameters
    ----------
    profiles : dict
        Label -> ``(x, y)``, arrays of equal length.
    png : str or Path
        Output file.
    xlabel, ylabel, title : str

    Returns
    -------
    str
        ``png``.
    """
    fig, axes = _figure()
    ax = axes[0, 0]
    for i, (label, (x, y)) in enumerate(profiles.items()):
        ax.plot(np.asarray(x), np.asarray(y), marker=".", color=_colour(label, i),
                label=str(label))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if profiles:
        ax.legend(fontsize="small")
    if title:
        ax.set_title(title)
    return _save(fig, png)
