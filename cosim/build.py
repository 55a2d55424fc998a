"""Scene -> the parts: brain model and a rank's engine, body, motor pools, cell table.

Voxel-atlas models go through the model cache (``cosim.cache``): built once, loaded later.
"""
from __future__ import annotations

import dataclasses
import weakref

import numpy as np

from body import Body
from brain.connectivity import connect
from brain.engine import Engine, exchange_period
from brain.inputs import afferent_cells
from brain.distributed import connect_local, local_model
from brain.model import Model, build_layout_model, build_model
from brain.params import AtlasSpec
from brain.distributed import voxel_areas
from brain.partition import cell_cost, local_cells, partition, partition_areas, partition_tiles
from bridge import BridgeParams, ExcitationTransfer, afferent_channels, motor_pools

from . import cache
from .scene import Scene, SceneError

__all__ = ["build_brain_model", "build_layout_model_of", "build_local_model", "build_engine",
           "rank_of_cells", "build_body", "build_pools", "cell_table", "cell_table_blocks",
           "afferent_map", "build_synapses", "run_cells", "brain_rank_model", "body_rank_model"]

# id(model) -> its cache key, so build_engine finds the cached synapses of the model
_KEY_OF: dict = {}
_LOADED: set = set()     # ids of models read from the cache (not built)


def _remember(model: Model, key: str) -> None:
    _KEY_OF[id(model)] = key
    weakref.finalize(model, _KEY_OF.pop, id(model), None)


def build_brain_model(scene: Scene) -> Model:
    """Atlas, cells and per-type tables (every rank builds the same).

    Voxel-atlas models are loaded from the cache when present (``cosim.cache``)."""
    if not isinstance(scene.brain.atlas, AtlasSpec):
        return build_model(scene.brain, scene.run.dt_ms, scene.run.seed)
    try:
        if not cache.ENABLED:
            return build_model(scene.brain, scene.run.dt_ms, scene.run.seed,
                               cache_dir=cache.cache_root())
        key = cache.model_key(scene)
        model = cache.load_model(key, scene.brain, scene.run.dt_ms, scene.run.seed)
        if model is None:
            model = build_model(scene.brain, scene.run.dt_ms, scene.run.seed,
                                cache_dir=cache.cache_root())
            cache.save_model(key, model)
        else:
            _LOADED.add(id(model))
            weakref.finalize(model, _LOADED.discard, id(model))
    except (ValueError, FileNotFoundError) as exc:
        raise SceneError(scene.path, getattr(exc, "key", "brain.atlas"), str(exc)) from None
    _remember(model, key)
    return model


def build_layout_model_of(scene: Scene) -> Model:
    """The distributed build's starting point (``run.build = "distributed"``): atlas, cell
    layout and tables, no cell placed (``brain.model.build_layout_model``; not cached)."""
    try:
        return build_layout_model(scene.brain, scene.run.dt_ms, scene.run.seed,
                                  cache_dir=cache.cache_root())
    except (ValueError, FileNotFoundError) as exc:
        raise SceneError(scene.path, getattr(exc, "key", "brain.atlas"), str(exc)) from None


def build_local_model(scene: Scene, n_ranks: int, rank: int):
    """(model, local gids) of one brain rank of a distributed build: the rank's cells and
    the sources its rules reach (``brain.distributed.local_model``)."""
    return local_model(build_layout_model_of(scene), n_ranks, rank, scene.run.partition)


def build_synapses(scene: Scene, model: Model, gids: np.ndarray, n_ranks: int):
    """Incoming synapses of ``gids``; single-rank voxel-atlas synapses go through the cache."""
    if model.layout is not None:
        return connect_local(model, gids)
    key = _KEY_OF.get(id(model)) if (n_ranks == 1 and cache.ENABLED) else None
    if key is not None:
        syn = cache.load_synapses(key, model.n_cells)
        if syn is not None:
            return syn
    syn = connect(model.params, model.cells, gids, scene.run.dt_ms, scene.run.seed,
                  grid_um=model.atlas.voxel_um)
    if key is not None:
        cache.save_synapses(key, syn)
    return syn


def rank_of_cells(model: Model, n_ranks: int, kind: str = "bisection") -> np.ndarray:
    """Which rank owns each cell: compact voxel tiles for atlas models (recursive
    bisection balanced by neurons and incoming synapses, ``brain.partition.cell_cost``),
    or with ``kind = "area"`` (``run.partition``) whole (region, hemisphere) areas
    balanced by the same cost; contiguous id ranges for population models."""
    voxel = model.cells.voxel
    if n_ranks > 1 and len(voxel) and voxel.min() >= 0:
        if kind == "area":
            weight = np.bincount(voxel, weights=cell_cost(model),
                                 minlength=model.atlas.n_voxels).astype(np.float64)
            return partition_areas(weight, voxel_areas(model.atlas), n_ranks,
                                   model.atlas.center_um)[voxel]
        return partition_tiles(voxel, model.atlas.center_um, n_ranks, cell_cost(model))
    return partition(model.n_cells, voxel, n_ranks)


def build_engine(scene: Scene, model: Model, n_ranks: int, rank: int, exchange,
                 gids: np.ndarray | None = None) -> Engine:
    """The engine of one brain rank: its cells and their incoming synapses, prepared.

    ``gids``: the rank's cells (given by ``build_local_model`` for a distributed model)."""
    if gids is None:
        if model.layout is not None:
            raise ValueError("a distributed model's engine needs the rank's gids "
                             "(build_local_model)")
        gids = local_cells(rank_of_cells(model, n_ranks, scene.run.partition), rank)
    synapses = build_synapses(scene, model, gids, n_ranks)
    period = exchange_period(model.min_delay_steps, scene.interval_steps)
    engine = Engine(model, gids, synapses, exchange, period,
                    long_period_steps=long_period_steps(scene))
    engine.prepare()
    return engine


def long_period_steps(scene: Scene) -> int:
    """``run.long_period_ms`` in steps (0: one level of exchange)."""
    return int(round(scene.run.long_period_ms / scene.run.dt_ms))


def build_body(scene: Scene):
    """Body settled at the bridge's rest excitation (the transfer's output for no spikes)."""
    body = Body(scene.body)
    unknown = sorted(set(scene.bridge.muscles) - set(body.muscle_names))
    if unknown:
        raise SceneError(scene.path, f"bridge.muscles.{unknown[0]}",
                         f"no such muscle in {scene.body.mjcf_path}; its muscles are "
                         f"{', '.join(body.muscle_names)}")
    _, baseline, saturation = scene.bridge.transfer_arrays(body.muscle_names)
    rest = np.clip(baseline, 0.0, saturation)
    if np.any(rest > 0):
        body.settle(rest)
    return body


def build_pools(scene: Scene, model: Model, n_muscles: int):
    """One motor pool per muscle from the output cell type (same on every rank)."""
    gids = model.cells_of_type(scene.bridge.pool_cell_type)
    try:
        return motor_pools(gids, model.positions(gids), n_muscles)
    except ValueError as exc:
        raise SceneError(scene.path, "bridge.pool_cell_type", str(exc)) from None


def make_transfer(params: BridgeParams, muscle_names_, pools) -> ExcitationTransfer:
    return ExcitationTransfer(params, muscle_names_, pools.size)


def afferent_map(model: Model, n_muscles: int):
    """(gids, channel) of the afferent input cells: int64[k] each."""
    gids = afferent_cells(model)
    return gids, afferent_channels(len(gids), n_muscles)


def _cell_columns(model: Model, pools) -> dict:
    """Per-cell columns of the /cells table for the rows of ``model.cells``."""
    c = model.cells
    gids = c.gids()
    pool = np.full(c.n, -1, dtype=np.int64)
    j = np.searchsorted(pools.gids, gids)
    hit = j < len(pools.gids)
    hit[hit] = pools.gids[j[hit]] == gids[hit]
    pool[hit] = pools.pool[j[hit]]
    from brain.inputs import stimulated_cells
    # dc_site: index of the first brain.dc entry that selects voxels or columns and reaches
    # the cell (-1: none), so analyses can tell stimulated cells from the file alone
    site = np.full(c.n, -1, dtype=np.int16)
    for i, stim in reversed(list(enumerate(model.params.dc))):
        if stim.voxels or stim.columns:
            site[c.rows(stimulated_cells(model, stim))] = i
    table = {"type_id": c.type_id, "voxel": c.voxel, "pos_um": c.pos_um,
             "region": model.atlas.region[c.voxel], "layer": model.atlas.layer[c.voxel],
             "pool": pool, "dc_site": site}
    if c.sheet_um is not None:
        table.update(ijk=model.atlas.ijk[c.voxel], sheet_um=c.sheet_um,
                     hemisphere=c.hemisphere)
    return table


def _fixed_columns(model: Model) -> dict:
    table = {"type_names": np.array([t.name for t in model.params.cell_types], dtype=object)}
    if model.atlas.is_voxel_atlas:
        table["grid_shape"] = np.asarray(model.atlas.grid_shape, dtype=np.int64)
    return table


def cell_table(model: Model, pools) -> dict:
    """Columns of the /cells table of the output file (a replicated model's full table)."""
    return {**_cell_columns(model, pools), **_fixed_columns(model)}


def run_cells(model: Model, pools) -> dict:
    """Keyword arguments of ``RunWriter`` for the /cells table: the whole table of a
    replicated model, or a distributed model's placed block by block from its layout."""
    if model.layout is None:
        return {"cells_table": cell_table(model, pools)}
    fixed, blocks = cell_table_blocks(model, pools)
    return {"cells_table": fixed, "cell_blocks": blocks}


def brain_rank_model(scene: Scene, n_ranks: int, rank: int):
    """(model, gids or None) of a brain rank: the scene's ``run.build`` decides between the
    replicated model (every cell; the engine picks its gids) and the distributed one."""
    if scene.run.build == "distributed":
        return build_local_model(scene, n_ranks, rank)
    return build_brain_model(scene), None


def body_rank_model(scene: Scene) -> Model:
    """The model the body rank needs (pools and the /cells table): the full model, or,
    with ``run.build = "distributed"``, the layout alone."""
    if scene.run.build == "distributed":
        return build_layout_model_of(scene)
    return build_brain_model(scene)


def cell_table_blocks(model: Model, pools, block_cells: int = 1 << 20):
    """The /cells table of a distributed model, placed from its layout a block of about
    ``block_cells`` cells at a time (so no rank holds the whole table).

    Returns (fixed columns dict, iterator of per-cell column dicts in gid order); the
    blocks concatenate to ``cell_table`` of the replicated model, string columns with the
    width of the longest value present."""
    L = model.layout
    used = np.unique(L.entry_voxel[L.entry_count > 0])
    width = {k: max([len(x) for x in getattr(model.atlas, k)[used].tolist()] + [1])
             for k in ("region", "layer")}
    cuts = np.searchsorted(L.entry_first[1:], np.arange(block_cells, L.n, block_cells))
    bounds = np.unique(np.concatenate(([0], cuts + 1, [len(L.entry_voxel)])))

    def blocks():
        for a, b in zip(bounds[:-1], bounds[1:]):
            part = dataclasses.replace(model, cells=L.take(np.arange(a, b, dtype=np.int64)))
            cols = _cell_columns(part, pools)
            for k, w in width.items():
                cols[k] = cols[k].astype(f"S{w}")
            yield cols
    return _fixed_columns(model), blocks()


# ------------------------------------------------------------------ build summary

def _pathways(model: Model, gids: np.ndarray, syn) -> dict:
    """Synapse counts by (pre region -> post region) or (pre type -> post type) on a patch."""
    c = model.cells
    if c.region is not None:
        names = np.array(c.region_names + ("",), dtype=object)
        label, n_names = c.region, len(c.region_names)
    else:
        names = np.array([t.name for t in model.params.cell_types] + [""], dtype=object)
        label, n_names = c.type_id, len(model.params.cell_types)
    counts = np.zeros(n_names * n_names, dtype=np.int64)
    # rows in blocks of ~16 M synapses, so the summary never holds per-synapse int64 arrays
    n_rows = len(syn.indptr) - 1
    bounds = np.unique(np.append(np.minimum(np.searchsorted(
        syn.indptr, np.arange(0, syn.n, 1 << 24)), n_rows), [0, n_rows]))
    for a, b in zip(bounds[:-1], bounds[1:]):
        if b <= a:
            continue
        lo, hi = syn.indptr[a], syn.indptr[b]
        src = np.repeat(label[a:b].astype(np.int64), np.diff(syn.indptr[a:b + 1]))
        dst = label[gids[syn.target[lo:hi]]].astype(np.int64)
        counts += np.bincount(src * n_names + dst, minlength=n_names * n_names)
    return {f"{names[k // n_names]}->{names[k % n_names]}": int(counts[k])
            for k in np.flatnonzero(counts)}


def build_summary(scene: Scene, n_ranks: int = 1) -> dict:
    """Build (or load) the model and every rank's synapses; counts, memory and times.

    Returns a JSON-able dict: cells per region and type, unscaled neuron density per
    region, synapses per pathway (and per target cell), bytes, seconds.
    """
    import resource
    import time

    from brain.placement import expected_counts
    t0 = time.perf_counter()
    model = build_brain_model(scene)
    t1 = time.perf_counter()
    rank_of = rank_of_cells(model, n_ranks, scene.run.partition)
    pathways, n_syn, syn_bytes = {}, [], []
    for r in range(n_ranks):
        gids = local_cells(rank_of, r)
        syn = build_synapses(scene, model, gids, n_ranks)
        for k, v in _pathways(model, gids, syn).items():
            pathways[k] = pathways.get(k, 0) + v
        n_syn.append(syn.n)
        syn_bytes.append(int(syn.nbytes))
        del syn
    t2 = time.perf_counter()
    c, names = model.cells, np.array([t.name for t in model.params.cell_types])
    out = {"scene": scene.path, "seed": scene.run.seed, "n_ranks": n_ranks,
           "n_cells": model.n_cells, "n_synapses": int(sum(n_syn)),
           "synapses_per_rank": n_syn, "model_s": t1 - t0, "synapses_s": t2 - t1,
           "build_s": t2 - t0, "from_cache": id(model) in _LOADED,
           "cells_per_type": {str(k): int(v) for k, v in zip(*np.unique(names[c.type_id],
                                                                         return_counts=True))},
           "synapses_per_pathway": dict(sorted(pathways.items())),
           "bytes": {"cells": int(sum(getattr(c, k).nbytes for k in ("type_id", "voxel", "pos_um"))),
                     "synapses_per_rank": syn_bytes},
           "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}
    if c.region is not None:
        regions = model.atlas.region_names
        count = np.bincount(c.region, minlength=len(regions))
        out["cells_per_region"] = {r: int(n) for r, n in zip(regions, count)}
        vol = (model.atlas.voxel_um * 1e-3) ** 3
        exp = expected_counts(model.atlas, model.params.cell_types, 1.0).sum(axis=0)
        nvox = np.bincount(model.atlas.region_id, minlength=len(regions))
        dens = np.bincount(model.atlas.region_id, exp, minlength=len(regions))
        out["volume_mm3"] = {r: float(n * vol) for r, n in zip(regions, nvox)}
        out["density_per_mm3_unscaled"] = {r: float(d / max(n * vol, 1e-12))
                                           for r, d, n in zip(regions, dens, nvox)}
        per_cell = {}
        for k, v in pathways.items():
            dst = k.split("->")[1]
            per_cell[k] = v / max(out["cells_per_region"].get(dst, 0), 1)
        out["synapses_per_target_cell"] = per_cell
    return out


def format_summary(s: dict) -> str:
    """The build summary as a plain-text table."""
    lines = [f"{s['scene']}: {s['n_cells']:,} cells, {s['n_synapses']:,} synapses on "
             f"{s['n_ranks']} rank(s); built in {s['build_s']:.2f} s (model {s['model_s']:.2f} s, "
             f"synapses {s['synapses_s']:.2f} s){' (loaded from the cache)' if s['from_cache'] else ''}",
             f"memory: cells {s['bytes']['cells'] / 1e6:.1f} MB, synapses "
             f"{sum(s['bytes']['synapses_per_rank']) / 1e6:.1f} MB, peak RSS "
             f"{s['peak_rss_bytes'] / 1e9:.2f} GB"]
    if "cells_per_region" in s:
        lines.append(f"\n{'region':10s} {'cells':>9s} {'mm^3':>7s} {'neurons/mm^3 (unscaled)':>24s}")
        for r, n in s["cells_per_region"].items():
            lines.append(f"{r:10s} {n:9,d} {s['volume_mm3'][r]:7.2f} "
                         f"{s['density_per_mm3_unscaled'][r]:24,.0f}")
    lines.append(f"\n{'cell type':16s} {'cells':>9s}")
    lines += [f"{t:16s} {n:9,d}" for t, n in s["cells_per_type"].items()]
    lines.append(f"\n{'pathway':24s} {'synapses':>11s} {'per target cell':>16s}")
    per = s.get("synapses_per_target_cell", {})
    lines += [f"{k:24s} {v:11,d} {per.get(k, float('nan')):16.1f}"
              for k, v in s["synapses_per_pathway"].items()]
    return "\n".join(lines)


# --------------------------------------------------------------------- atlas figure

def atlas_figure(model: Model, png, max_cells: int = 200_000):
    """Three orthogonal slices through the atlas (regions) with cell positions (types)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    a, c = model.atlas, model.cells
    vox = a.voxel_um
    names = list(dict.fromkeys(a.region.tolist()))
    rid = np.array([names.index(r) for r in a.region.tolist()])
    ijk = a.ijk if a.ijk is not None else np.floor(a.center_um / vox).astype(np.int64)
    shape = tuple(int(x) for x in ijk.max(axis=0) + 1)
    mid = [int(np.median(ijk[:, k])) for k in range(3)]
    cmap_r, cmap_t = plt.get_cmap("tab20"), plt.get_cmap("tab20b")
    fig, axes = plt.subplots(1, 3, figsize=(16, 5.5))
    axis_names = ("AP", "DV", "LR") if a.ijk is not None else ("x", "y", "depth")
    step = max(1, c.n // max_cells)
    for ax, (k, u, v) in zip(axes, ((0, 2, 1), (1, 2, 0), (2, 0, 1))):
        # coronal (LR x DV), horizontal (LR x AP), sagittal (AP x DV)
        img = np.full((shape[v], shape[u]), np.nan)
        on = ijk[:, k] == mid[k]
        img[ijk[on, v], ijk[on, u]] = rid[on]
        ax.imshow(img, cmap=cmap_r, vmin=0, vmax=19, origin="upper", interpolation="nearest",
                  extent=(0, shape[u] * vox, shape[v] * vox, 0), alpha=0.5)
        near = np.abs(c.pos_um[::step, k] - (mid[k] + 0.5) * vox) <= vox
        p, t = c.pos_um[::step][near], c.type_id[::step][near]
        ax.scatter(p[:, u], p[:, v], s=2, c=cmap_t(t % 20), linewidths=0)
        ax.set_title(f"{axis_names[k]} slice {mid[k]} ({near.sum()} cells within 1 voxel)")
        ax.set_xlabel(f"{axis_names[u]} (um)")
        ax.set_ylabel(f"{axis_names[v]} (um)")
    handles = [plt.Line2D([], [], marker="s", ls="", color=cmap_r(i % 20), label=n)
               for i, n in enumerate(names)]
    fig.legend(handles=handles, loc="lower center", ncol=min(len(names), 12), fontsize=8)
    fig.suptitle(f"{model.n_cells:,} cells in {len(names)} regions; colours: regions "
                 "(voxels), cell types (dots)")
    fig.savefig(png, dpi=110)
    plt.close(fig)
    return png
