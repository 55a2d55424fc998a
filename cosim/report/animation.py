"""The top-view rate maps of a run over time, as an animated GIF (one frame per time bin)."""
from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from cosim.report.data import RunFile
from cosim.report.figures import voxel_grid, voxel_maps

__all__ = ["rate_map_animation"]


def _frame(maps: dict, t0_ms: float, t1_ms: float, vmax_Hz: float, names) -> np.ndarray:
    n = max(len(maps), 1)
    fig = Figure(figsize=(3.2 * n, 3.2), layout="constrained")
    canvas = FigureCanvasAgg(fig)
    axes = fig.subplots(1, n, squeeze=False)[0]
    cmap = matplotlib.colormaps["viridis"].with_extremes(bad=(0.0, 0.0, 0.0, 0.0))
    for ax, (region, m) in zip(axes, maps.items()):
        im = ax.imshow(np.ma.masked_invalid(m), cmap=cmap, vmin=0.0, vmax=vmax_Hz,
                       origin="upper", interpolation="nearest")
        ax.set_title(region)
        ax.set_xlabel(f"{names[1]} (voxel)")
        ax.set_ylabel(f"{names[0]} (voxel)")
    fig.colorbar(im, ax=list(axes), label="rate (Hz)", shrink=0.8)
    fig.suptitle(f"{t0_ms:.0f}-{t1_ms:.0f} ms")
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def rate_map_animation(run: RunFile, gif, bin_ms: float | None = None,
                       frame_s: float = 0.4) -> str:
    """Animated GIF of the per-region top-view rate maps in consecutive time bins.

    Parameters
    ----------
    run : RunFile
    gif : str or Path
        Output file.
    bin_ms : float, optional
        Width of each time bin, ms; default 1/20 of the run (at least 10 ms).
    frame_s : float
        How long each frame is shown, s.

    Returns
    -------
    str
        ``gif``.  One colour scale (0 to the largest voxel rate of any bin) for all frames, so
        frames compare.
    """
    import imageio.v2 as imageio

    duration = run.duration_ms
    bin_ms = bin_ms or max(10.0, duration / 20.0)
    edges = np.arange(0.0, duration - 1e-9, bin_ms)
    bins = [(t0, min(t0 + bin_ms, duration)) for t0 in edges]
    maps = [voxel_maps(run, t0, t1) for t0, t1 in bins]
    finite = [v[np.isfinite(v)] for m in maps for v in m.values()]
    vmax = max([float(v.max()) for v in finite if v.size] + [1.0])
    names = voxel_grid(run)[3]
    frames = [_frame(m, t0, t1, vmax, names) for m, (t0, t1) in zip(maps, bins)]
    Path(gif).parent.mkdir(parents=True, exist_ok=True)
    # loop=0: repeat forever; the pillow GIF writer takes each frame's duration in ms
    imageio.mimsave(gif, frames, duration=frame_s * 1000.0, loop=0)
    return str(gif)
