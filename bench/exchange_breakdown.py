"""Where the sparse exchange's messages and bytes come from, table by table (exact, no MPI).

    python bench/exchange_breakdown.py [--scene scenes/bilateral_cortex.toml]
        [--duration-ms 100] [--ranks 4] [--set KEY=VALUE ...]

Runs the scene embedded with ``run.partition = "area"`` and ``run.long_period_ms = 2``
(unless ``--set`` says otherwise), then counts with ``brain.traffic`` (exact: the MPI
runs' ``exchange_stats`` equal these counts, ``tests/mpi/test_mpi_twolevel.py``) what the
sparse exchange sends per interval and rank, split into its short-table exchange (every
period) and its long-table exchange (every long period), against allgather's. It also
prints which area each rank holds, the delays of the synapses between areas, how many
other ranks each population's spikes go to in each table, and how many bits a compact
wire format (the index of the source in a list both sides know, and the step in the
period) would need for each exchange.
"""
import argparse
import math
import os
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

TWO_LEVEL = ['run.partition="area"', "run.long_period_ms=2.0"]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--scene", default=os.path.join(os.path.dirname(HERE), "scenes",
                                                   "bilateral_cortex.toml"))
    p.add_argument("--duration-ms", type=float, default=100.0)
    p.add_argument("--ranks", type=int, default=4)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = p.parse_args(argv)

    import h5py
    from brain.engine import exchange_period, long_synapse_mask, split_synapses
    from brain.traffic import _sparse_counts, rank_traffic, source_targets
    from cosim.build import build_brain_model, build_synapses, long_period_steps, rank_of_cells
    from cosim.runner import run_embedded
    from cosim.scene import load

    scene = load(args.scene, duration_ms=args.duration_ms, overrides=TWO_LEVEL + args.set)
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "run.h5")
        run_embedded(scene, out, progress=False)
        with h5py.File(out, "r") as f:
            ids = f["spikes/brain/node_ids"][:].astype(np.int64)
            t = f["spikes/brain/timestamps"][:]
    model = build_brain_model(scene)
    R = args.ranks
    gids = np.arange(model.n_cells, dtype=np.int64)
    syn = build_synapses(scene, model, gids, 1)
    L = long_period_steps(scene)
    period = exchange_period(model.min_delay_steps, scene.interval_steps)
    n_steps = scene.n_intervals * scene.interval_steps
    K = scene.n_intervals
    if L:
        short, long_ = split_synapses(syn, long_synapse_mask(model, gids, syn, L))
    else:
        short, long_ = syn, None
    rank_of = rank_of_cells(model, R, scene.run.partition)
    steps = np.rint(t / model.dt_ms).astype(np.int64) - 1
    own = rank_of[ids].astype(np.int64)
    pairs = source_targets(short.indptr, short.target.astype(np.int64), rank_of, R)
    lpairs = None if long_ is None else \
        source_targets(long_.indptr, long_.target.astype(np.int64), rank_of, R)
    want = rank_traffic(steps, ids, rank_of, R, pairs, period, n_steps, lpairs, L)
    print(f"{scene.path}: {model.n_cells} cells, {syn.n} synapses ({0 if long_ is None else long_.n}"
          f" in the long table), {len(ids)} spikes in {args.duration_ms:g} ms; {R} ranks, "
          f"partition {scene.run.partition}, period {period * model.dt_ms:g} ms, long period "
          f"{L * model.dt_ms:g} ms, {K} intervals of {scene.interval_steps * model.dt_ms:g} ms")

    area = model.area_of(gids)
    names = {a: f"{model.cells.region_names[a // 2]}-{'LR'[a % 2]}" for a in np.unique(area)}
    print("\nranks of each area (area key region * 2 + hemisphere):")
    for a in np.unique(area):
        print(f"  {names[a]:>8}: ranks {np.unique(rank_of[area == a]).tolist()}, "
              f"{int(np.sum(area == a))} cells")

    src = np.repeat(gids, np.diff(syn.indptr))
    tgt = syn.target.astype(np.int64)
    d_ms = syn.delay_steps * model.dt_ms
    print("\nsynapses between areas (delay ms: min / 5 % / median / max):")
    for a in np.unique(area):
        for b in np.unique(area):
            m = (area[src] == a) & (area[tgt] == b)
            if a != b and m.any():
                q = np.percentile(d_ms[m], [0, 5, 50, 100])
                print(f"  {names[a]:>8} -> {names[b]:<8} {int(m.sum()):>8} synapses, "
                      + " / ".join(f"{x:.1f}" for x in q))

    def per_interval_rank(v):
        return float(np.sum(v)) / K / R

    ag = {k: per_interval_rank(want[f"allgather_{k}"])
          for k in ("messages", "bytes", "control_messages")}
    rows = [("allgather", ag)]
    n_per = n_steps // period
    tables = [("short", pairs, period, n_per)]
    if lpairs is not None:
        tables.append(("long", lpairs, L, n_steps // L))
    for name, tab, per, n in tables:
        c = _sparse_counts(steps, ids, own, rank_of, R, tab, per, n)
        rows.append((f"sparse, {name} table", {
            "messages": per_interval_rank(c["sparse_messages"]),
            "bytes": per_interval_rank(c["sparse_bytes"]),
            "control_messages": per_interval_rank(c["sparse_control_messages"])}))
    rows.append(("sparse, both", {k: per_interval_rank(want[f"sparse_{k}"])
                                  for k in ("messages", "bytes", "control_messages")}))
    print(f"\nper interval and rank{'':>14} messages           bytes    control messages")
    for name, r in rows:
        print(f"  {name:<24}" + "".join(
            f"{r[k]:>9.3f} ({r[k] / ag[k]:.3f}x)" for k in ("messages", "bytes",
                                                           "control_messages")))

    def remote(tab):
        s, dst, _ = tab
        keep = dst != rank_of[s]
        return np.bincount(s[keep], minlength=model.n_cells)
    rem = [remote(tab) for _, tab, _, _ in tables]
    print("\nother ranks a spike goes to, mean over the population's spikes:")
    print(f"  {'population':>14} {'spikes':>7}" + "".join(f" {n + ' table':>12}"
                                                         for n, *_ in tables))
    tid = model.cells.type_id
    for ty in np.unique(tid[ids]):
        m = tid[ids] == ty
        print(f"  {model.params.cell_types[ty].name:>14} {int(m.sum()):>7}"
              + "".join(f" {r[ids[m]].mean():>12.3f}" for r in rem))
    print(f"  {'all':>14} {len(ids):>7}" + "".join(f" {r[ids].mean():>12.3f}" for r in rem)
          + f"   (allgather: {R - 1})")

    # a compact wire format: the index of the source in a list both ends know, and the
    # step offset in the period. Allgather's receivers all get the same buffer, so its
    # list is the sender's own cells; the sparse exchange's is the per-peer list of the
    # sources the peer asked for (its routes).
    n_local = np.bincount(rank_of, minlength=R)
    bits_ag = math.ceil(math.log2(max(int(n_local.max()), 2) * period))
    print(f"\ncompact wire format, bits per spike (index in a list both ends know x step "
          f"offset): allgather {bits_ag} (largest rank {int(n_local.max())} cells x "
          f"{period} steps)", end="")
    for name, tab, per, _ in tables:
        s, dst, _ = tab
        keep = dst != rank_of[s]
        key = rank_of[s[keep]].astype(np.int64) * R + dst[keep]
        largest = int(np.bincount(key, minlength=R * R).max()) if keep.any() else 0
        print(f", sparse {name} {math.ceil(math.log2(max(largest, 2) * per))} (largest "
              f"per-peer list {largest} x {per} steps)", end="")
    print()


if __name__ == "__main__":
    main()
