"""The summary figure of a run file: raster, rates per type, joint angles, excitation (one PNG)."""
from __future__ import annotations

import h5py
import numpy as np

__all__ = ["summary_figure"]


def summary_figure(h5_path, png_path, max_raster_cells: int = 2000) -> str:
    """Raster, population rates per cell type, joint angles and muscle excitation -> PNG."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with h5py.File(h5_path, "r") as f:
        from ..output import read_spikes
        t_ms, ids = read_spikes(f)
        type_id = f["cells/type_id"][:]
        names = [n.decode() if isinstance(n, bytes) else str(n) for n in f["cells/type_names"][:]]
        time_s = f["body/time_s"][:]
        qpos = f["body/qpos"][:]
        exc = f["body/excitation"][:]
        joints = list(f["body"].attrs["joint_names"])
        muscles = list(f["body"].attrs["muscle_names"])
        duration = float(f.attrs["duration_ms"])
    fig, ax = plt.subplots(4, 1, figsize=(9, 11), sharex=True,
                           gridspec_kw={"height_ratios": [3, 2, 2, 2]})
    keep = ids < max_raster_cells if len(type_id) > max_raster_cells else np.ones(len(ids), bool)
    colors = plt.cm.tab20(np.linspace(0, 1, max(len(names), 2)))
    ax[0].scatter(t_ms[keep], ids[keep], s=0.5, c=colors[type_id[ids[keep]]], lw=0)
    ax[0].set_ylabel("cell id")
    ax[0].set_title(f"{h5_path}")
    bins = np.arange(0, duration + 5, 5.0)
    for t, name in enumerate(names):
        n = np.count_nonzero(type_id == t)
        if n == 0:
            continue
        h, _ = np.histogram(t_ms[type_id[ids] == t], bins=bins)
        ax[1].plot(bins[:-1], h / n / 5e-3, lw=0.8, color=colors[t], label=name)
    ax[1].set_ylabel("rate (Hz)")
    ax[1].legend(fontsize=6, ncol=4, loc="upper right")
    for j, name in enumerate(joints[: qpos.shape[1]]):
        ax[2].plot(time_s * 1e3, np.degrees(qpos[:, j] - qpos[0, j]), label=name)
    ax[2].set_ylabel("joint angle change (deg)")
    ax[2].legend(fontsize=7)
    for m, name in enumerate(muscles):
        ax[3].plot(time_s * 1e3, exc[:, m], lw=0.8, label=name)
    ax[3].set_ylabel("excitation")
    ax[3].set_xlabel("time (ms)")
    ax[3].legend(fontsize=6, ncol=5)
    fig.tight_layout()
    fig.savefig(png_path, dpi=100)
    plt.close(fig)
    return str(png_path)
