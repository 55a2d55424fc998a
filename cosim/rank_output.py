"""Parallel spike output (``run.spikes = "per_rank"``): each brain rank writes its own file.

Brain rank r appends its spikes to ``OUT.rank{r:03d}.h5`` (``/spikes/brain/{timestamps,
node_ids}``, SONATA layout, sorted by time then node id, flushed once per output chunk,
so a crash leaves every rank's file readable up to its last chunk); the body rank never
sees a spike.  When the run file is closed, its ``/spikes/brain/timestamps`` and
``node_ids`` become HDF5 virtual datasets over the rank files (source paths relative to
the run file's folder: keep the files together).

The virtual population is the rank files one after the other, so with more than one rank
its ``sorting`` attribute is ``none`` (each rank's part is sorted by time); the spikes are
those of the gathered output, and ``cosim.output.read_spikes`` returns them in the
gathered order (by time, then node id).
"""
from __future__ import annotations

import os
import time

import h5py
import numpy as np

from .output import SONATA_MAGIC, SONATA_VERSION, SORTING, SpikeBuffer, _append, _appendable

__all__ = ["rank_path", "RankSpikeWriter", "link_rank_spikes", "peak_rss_bytes",
           "peak_memory_attrs"]


def rank_path(output, rank: int) -> str:
    """``run.h5`` -> ``run.rank003.h5``."""
    root, ext = os.path.splitext(str(output))
    return f"{root}.rank{rank:03d}{ext or '.h5'}"


def _population(f):
    pop = f.require_group("spikes").create_group("brain")
    t = _appendable(pop, "timestamps", (), np.float64)
    t.attrs["units"] = "ms"
    return pop, t, _appendable(pop, "node_ids", (), np.uint64)


class RankSpikeWriter:
    """One brain rank's spike file; the same calls as the gathering ``_SpikeForwarder``:
    ``add`` each interval, ``send_chunk`` at each output chunk (appends and flushes),
    ``close`` at the end."""

    def __init__(self, path, scene, rank: int, n_ranks: int, run_id: str = ""):
        self.path, self.dt_ms = str(path), scene.run.dt_ms
        self.f = h5py.File(self.path, "w")
        self.f.attrs.create("magic", SONATA_MAGIC, dtype="u4")
        self.f.attrs.create("version", SONATA_VERSION, dtype="u4")
        self.f.attrs.update(rank=rank, n_brain_ranks=n_ranks, seed=scene.run.seed,
                            dt_ms=scene.run.dt_ms, run_id=run_id, complete=False)
        pop, self.t, self.ids = _population(self.f)
        pop.attrs.create("sorting", 2, dtype=SORTING)          # by_time within the rank
        self.buf, self.n_spikes = SpikeBuffer(), 0
        self.f.flush()

    def add(self, steps, gids) -> None:
        self.buf.add(steps, gids)

    def send_chunk(self) -> None:
        steps, gids = self.buf.take()
        # stamped as RunWriter does: a spike found in step m is stamped t_(m+1)
        _append(self.t, (steps.astype(np.float64) + 1.0) * self.dt_ms)
        _append(self.ids, gids.astype(np.uint64))
        self.n_spikes += len(gids)
        self.f.flush()

    def close(self) -> None:
        if self.f:
            self.f.attrs["complete"] = True
            self.f.close()
            self.f = None


def _sizes(paths, wait_s: float) -> list:
    """Spikes in each rank file, waiting up to ``wait_s`` for a file still open."""
    sizes = []
    for p in paths:
        t_end = time.monotonic() + wait_s
        while True:
            try:
                with h5py.File(p, "r") as f:
                    sizes.append(int(f["spikes/brain/node_ids"].shape[0]))
                break
            except OSError:
                if time.monotonic() > t_end:
                    raise
                time.sleep(0.1)
    return sizes


def link_rank_spikes(f: h5py.File, paths, wait_s: float = 10.0) -> int:
    """Create ``/spikes/brain/{timestamps,node_ids}`` in the open run file ``f`` as virtual
    datasets over the rank files ``paths`` (in rank order); returns the spike count."""
    sizes = _sizes(paths, wait_s)
    total = int(sum(sizes))
    if "spikes/brain" in f:
        del f["spikes/brain"]
    pop = f.require_group("spikes").create_group("brain")
    here = os.path.dirname(os.path.abspath(f.filename))
    for name, dtype in (("timestamps", np.float64), ("node_ids", np.uint64)):
        if total == 0:
            ds = pop.create_dataset(name, shape=(0,), dtype=dtype)
        else:
            layout = h5py.VirtualLayout(shape=(total,), dtype=dtype)
            start = 0
            for p, n in zip(paths, sizes):
                if n:
                    rel = os.path.relpath(os.path.abspath(p), here)
                    layout[start:start + n] = h5py.VirtualSource(rel, f"spikes/brain/{name}",
                                                                 shape=(n,))
                start += n
            ds = pop.create_virtual_dataset(name, layout)
        if name == "timestamps":
            ds.attrs["units"] = "ms"
    sorted_by_time = sum(1 for n in sizes if n) <= 1
    pop.attrs.create("sorting", 2 if sorted_by_time else 0, dtype=SORTING)
    f.attrs["spike_files"] = [os.path.basename(p) for p in paths]
    return total


def peak_rss_bytes() -> int:
    """This process's peak resident set (bytes): VmHWM from /proc/self/status, else
    ``getrusage`` (ru_maxrss, KiB on Linux)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def peak_memory_attrs(brain_peaks, body_peak: int | None = None) -> dict:
    """Run-file attributes for the peak RSS of each brain rank (bytes, JSON list in rank
    order) and of the body rank (MPI runs; embedded runs are one process)."""
    import json
    out = {"peak_rss_bytes_brain": json.dumps([int(x) for x in brain_peaks])}
    if body_peak is not None:
        out["peak_rss_bytes_body"] = int(body_peak)
    return out
