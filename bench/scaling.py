"""Scaling model of the brain ranks: counts measured on 1-4 ranks, times projected to 4,096.

    python bench/scaling.py [--scene scenes/bilateral_cortex.toml] [--duration-ms 100]
                            [--max-ranks 4] [--json OUT.json]

1. Measures. Runs the scene embedded and over ``mpiexec`` with 1..max brain ranks (+ the
   body rank), with the sparse and the allgather exchange, and reads what each rank
   counted (run file attributes ``exchange_stats`` and ``rank_timing``).
2. Checks the model of the counts. ``brain.traffic.rank_traffic`` predicts, from the
   model, the partition and the embedded run's spikes, every rank's neuron updates,
   delivered events, messages and bytes; the script fails unless they equal the
   measured counts exactly, for every rank count and both exchanges.
3. Projects. Per-core costs measured here (ns per neuron update and per delivered
   event on one rank, ns per received spike in the exchange's decode and sort) and a
   stated network model give the wall time per simulated second on 64-4,096 ranks for
   a full-density bilateral mouse cortex and a whole mouse brain (see ``MODELS`` and
   ``NETWORK``: every number there is an assumption, with its source where it has one).
"""
import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

#: network assumptions: per-message cost (latency + injection overhead, s; no overlap
#: between messages, a pessimistic choice) and per-link bandwidth (bytes/s)
NETWORK = {"alpha_s": 1.5e-6, "bandwidth_Bps": 12.5e9}

#: models to project. neurons: ~14 M cerebral cortex and ~70 M whole-brain neurons in
#: the mouse (Herculano-Houzel, Mota & Lent 2006, PNAS 103:12138, as usually quoted;
#: Eroe et al. 2018, Front Neuroinform 12:84 give the same order; not re-checked here);
#: synapses: ~7,000 per cortical neuron (Braitenberg & Schuez 1998, an assumption) and
#: 1e11 in the whole brain (the issue's figure). Volumes: both hemispheres in the Allen
#: CCFv3 annotation (50 um, ../shared/data/ccfv3_annotation): isocortex 123.3 mm3, whole
#: brain 506.1 mm3. Geometry (a crude tile model, see ``peers``): recursive bisection
#: cuts the tissue into P equal cubes; a neuron's synapses lie in a local field of
#: radius ``local_um`` (2 sigma of the scenes' 200 um local rules) and ``n_fields``
#: long-range fields of radius ``field_um``; ``long_fraction`` of them are long-range
#: (0.26 in scenes/bilateral_cortex.toml).
MODELS = {
    "bilateral cortex": {"neurons": 14e6, "syn_per_neuron": 7000.0, "volume_mm3": 123.3,
                         "local_um": 400.0, "field_um": 500.0, "n_fields": 4,
                         "long_fraction": 0.3},
    "whole brain": {"neurons": 70e6, "syn_per_neuron": 1e11 / 70e6, "volume_mm3": 506.1,
                    "local_um": 400.0, "field_um": 500.0, "n_fields": 3,
                    "long_fraction": 0.3},
}
RANKS = (64, 256, 1024, 4096)


def _read(path):
    import h5py
    with h5py.File(path, "r") as f:
        return (f["spikes/brain/node_ids"][:].astype(np.int64),
                f["spikes/brain/timestamps"][:], dict(f.attrs))


def measure(scene_path, duration_ms, max_ranks, tmp):
    """Embedded raster and, per (ranks, exchange), the counters of a real MPI run."""
    from cosim.launch import launch_env, mpmd_command
    env = {**launch_env(), "OMP_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}
    ref = os.path.join(tmp, "embedded.h5")
    subprocess.run([sys.executable, "-m", "cosim", "run", str(scene_path), "-o", ref,
                    "--duration", str(duration_ms), "--no-progress", "--no-figure",
                    "--overwrite"], check=True, env=env, capture_output=True)
    ids, t, _ = _read(ref)
    runs = {}
    for n in range(1, max_ranks + 1):
        for ex in ("sparse", "allgather"):
            out = os.path.join(tmp, f"r{n}_{ex}.h5")
            res = subprocess.run(mpmd_command(scene_path, n, out, duration_ms=duration_ms,
                                              progress=False,
                                              overrides=[f'run.exchange="{ex}"']),
                                 env=env, capture_output=True, text=True, timeout=1800)
            if res.returncode:
                raise RuntimeError(f"{n} ranks, {ex}: {res.stderr[-2000:]}")
            got_ids, got_t, attrs = _read(out)
            if not (np.array_equal(got_ids, ids) and np.array_equal(got_t, t)):
                raise RuntimeError(f"{n} ranks, {ex}: spikes differ from the embedded run")
            runs[n, ex] = {"stats": json.loads(attrs["exchange_stats"]),
                           "timing": json.loads(attrs["rank_timing"]),
                           "wall_s": float(attrs["run_wall_s"])}
    return ids, t, runs


def predicted(scene, ids, t, n_ranks):
    """``brain.traffic.rank_traffic`` of the scene's partition on n_ranks."""
    from brain.engine import exchange_period
    from brain.traffic import rank_traffic, source_targets
    from cosim.build import build_brain_model, build_synapses, rank_of_cells
    model = build_brain_model(scene)
    syn = build_synapses(scene, model, np.arange(model.n_cells, dtype=np.int64), 1)
    rank_of_cell = rank_of_cells(model, n_ranks)
    pairs = source_targets(syn.indptr, syn.target.astype(np.int64), rank_of_cell, n_ranks)
    steps = np.rint(t / model.dt_ms).astype(np.int64) - 1
    period = exchange_period(model.min_delay_steps, scene.interval_steps)
    return rank_traffic(steps, ids, rank_of_cell, n_ranks, pairs, period,
                        scene.n_intervals * scene.interval_steps), model, period


def compare(want, run, ex):
    """Names of the counts where the run differs from the prediction (empty: exact)."""
    bad = []
    for key in ("messages", "bytes", "control_messages", "control_bytes"):
        if [s[key] for s in run["stats"]] != want[f"{ex}_{key}"].tolist():
            bad.append(key)
    if [tm["events"] for tm in run["timing"]] != want["events"].tolist():
        bad.append("events")
    if [s["periods"] for s in run["stats"]] != want["periods"].tolist():
        bad.append("periods")
    return bad


def recv_ns_per_spike(n=200_000, repeats=7) -> float:
    """ns per received spike in the exchange's decode + (step, gid) sort."""
    from brain.exchange import _unwire
    rng = np.random.default_rng(1)
    wire = (rng.integers(0, 10**7, n) << 8) | rng.integers(0, 10, n)
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        _unwire(wire, 0)
        best = min(best, time.perf_counter() - t0)
    return best / n * 1e9


def bulk_event_ns(scene, ids, t, repeats=7) -> float:
    """ns per event of the delivery kernel on the whole raster at once: the per-event
    cost without the fixed cost of a call per period (large models deliver thousands of
    events per period and call, this scene a few hundred)."""
    import numba
    from brain.exchange import LocalExchange
    from brain.kernels.delivery import _deliver
    from cosim.build import build_brain_model, build_engine
    model = build_brain_model(scene)
    eng = build_engine(scene, model, 1, 0, LocalExchange())
    steps = np.rint(t / model.dt_ms).astype(np.int64) - 1
    s = eng.syn
    args = (steps, ids, s.indptr, s.target, s.weight_code, s.weight_table_nS, s.delay_steps,
            eng.receptor_of_source, eng.ring_nS, numba.get_num_threads())
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        _deliver(*args)
        best = min(best, time.perf_counter() - t0)
    return best / max(int(np.diff(s.indptr)[ids].sum()), 1) * 1e9


def _tiles(radius_um, side_um):
    """Cubes of side ``side_um`` touched by a ball of ``radius_um`` (Minkowski sum)."""
    return 4 / 3 * math.pi * (radius_um + side_um / 2) ** 3 / side_um ** 3


def peers(m, P, random=False):
    """(other ranks one spike goes to, graph neighbours of a rank) on P tiles.

    ``random``: no locality at all (every synapse on a uniformly drawn rank), the worst
    case of Helias et al. 2012 (Front Neuroinform 6:26).
    """
    K = m["syn_per_neuron"]
    if random:
        return (P - 1) * -math.expm1(-K / P), P - 1.0
    side = (m["volume_mm3"] / P) ** (1 / 3) * 1e3
    k_long = K * m["long_fraction"] / m["n_fields"]
    k_local = K * (1 - m["long_fraction"])
    # k synapses spread over the T tiles of a field reach T (1 - e^{-k/T}) of them
    hit = lambda k, T: T * -math.expm1(-k / T)       # noqa: E731
    t_loc, t_far = _tiles(m["local_um"], side), _tiles(m["field_um"], side)
    per_spike = max(hit(k_local, t_loc) - 1, 0.0) + m["n_fields"] * hit(k_long, t_far)
    # together, a tile's cells reach the fields around the whole tile
    neighbours = _tiles(m["local_um"] + side / 2, side) - 1 + \
        m["n_fields"] * _tiles(m["field_um"] + side / 2, side)
    return min(per_spike, P - 1), min(max(neighbours, per_spike), P - 1)


def tile_check(scene, ids, t, ranks=(4, 8, 16, 32, 64), like="bilateral cortex"):
    """The tile model against the exact counts of the scene itself, on more ranks than
    were run (``brain.traffic`` needs no MPI): rows of (ranks, exact peers per spike,
    model, exact neighbours per rank, model), the model with the scene's volume,
    synapses per neuron and long-range fraction and the field sizes of ``MODELS[like]``."""
    from cosim.build import build_brain_model, build_synapses
    model = build_brain_model(scene)
    syn = build_synapses(scene, model, np.arange(model.n_cells, dtype=np.int64), 1)
    voxel = model.cells.voxel
    hemi = model.atlas.hemisphere
    region = np.unique(model.atlas.region[voxel], return_inverse=True)[1]
    area = region * 2 + (0 if hemi is None else hemi[voxel])
    source = np.repeat(np.arange(model.n_cells), np.diff(syn.indptr))
    m = {**MODELS[like], "syn_per_neuron": syn.n / model.n_cells,
         "volume_mm3": len(np.unique(voxel)) * (model.atlas.voxel_um * 1e-3) ** 3,
         "long_fraction": float(np.mean(area[source] != area[syn.target]))}
    rows = []
    for n in ranks:
        want = predicted(scene, ids, t, n)[0]
        exact_d = want["sparse_bytes"].sum() / 8 / max(len(ids), 1)
        exact_nb = want["sparse_control_messages"].mean() / want["periods"][0]
        rows.append((n, exact_d, *peers(m, n)[:1], exact_nb, peers(m, n)[1]))
    return m, rows


def project(m, P, rate_Hz, period_ms, cost, net=NETWORK):
    """Wall seconds per simulated second of one rank (the slowest is assumed the mean):
    compute, and compute + each exchange (sparse with the tile model's locality and
    with none)."""
    n = m["neurons"] / P
    updates_s = n * 1e3 / cost["dt_ms"]
    events_s = m["neurons"] * m["syn_per_neuron"] * rate_Hz / P
    compute = updates_s * cost["update_ns"] * 1e-9 + events_s * cost["event_ns"] * 1e-9
    periods = 1e3 / period_ms
    local = n * rate_Hz * period_ms * 1e-3                    # spikes per rank per period
    total = m["neurons"] * rate_Hz * period_ms * 1e-3
    # allgather: counts + data in log2 P rounds each; every rank gets every spike
    ag = 2 * math.ceil(math.log2(P)) * net["alpha_s"] + \
        8 * total * (P - 1) / P / net["bandwidth_Bps"] + total * cost["recv_ns"] * 1e-9

    def sparse(d, nb):
        # counts to every neighbour, data to those with a spike due; a rank receives
        # as many spikes as it sends on average
        msgs = nb * -math.expm1(-local * d / nb)
        return msgs, (nb + msgs) * net["alpha_s"] + 8 * local * d / net["bandwidth_Bps"] + \
            local * d * cost["recv_ns"] * 1e-9
    d, nb = peers(m, P)
    msgs, sp = sparse(d, nb)
    _, sp_random = sparse(*peers(m, P, random=True))
    return {"P": P, "neurons_per_rank": n, "compute_s": compute,
            "allgather_s": compute + periods * ag, "sparse_s": compute + periods * sp,
            "sparse_random_s": compute + periods * sp_random,
            "peers_per_spike": d, "neighbours": nb, "sparse_msgs_per_period": msgs,
            "sparse_bytes_per_period": 8 * local * d, "allgather_bytes_per_period": 8 * total}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--scene", default=os.path.join(os.path.dirname(HERE), "scenes",
                                                   "bilateral_cortex.toml"))
    p.add_argument("--duration-ms", type=float, default=100.0)
    p.add_argument("--max-ranks", type=int, default=4)
    p.add_argument("--json", help="write everything to this file")
    args = p.parse_args(argv)
    from cosim.scene import load
    scene = load(args.scene, duration_ms=args.duration_ms)
    with tempfile.TemporaryDirectory() as tmp:
        ids, t, runs = measure(args.scene, args.duration_ms, args.max_ranks, tmp)
    rows, exact = [], True
    print(f"{scene.path}: {len(ids)} spikes in {args.duration_ms:g} ms")
    print(f"{'ranks':>5} {'exchange':>9} {'match':>5} {'updates/rank':>13} {'events/rank':>12} "
          f"{'msgs/intv/rank':>14} {'bytes/intv/rank':>15} {'exch s (mean)':>13} {'wall s':>7}")
    for n in range(1, args.max_ranks + 1):
        want, model, period = predicted(scene, ids, t, n)
        for ex in ("sparse", "allgather"):
            run = runs[n, ex]
            bad = compare(want, run, ex)
            exact &= not bad
            K = scene.n_intervals
            row = {"ranks": n, "exchange": ex, "exact": not bad, "mismatch": bad,
                   "updates": want["updates"].tolist(), "events": want["events"].tolist(),
                   "messages": [s["messages"] for s in run["stats"]],
                   "bytes": [s["bytes"] for s in run["stats"]],
                   "exchange_s": [tm["exchange_s"] for tm in run["timing"]],
                   "update_s": [tm["update_s"] for tm in run["timing"]],
                   "deliver_s": [tm["deliver_s"] for tm in run["timing"]],
                   "wall_s": run["wall_s"]}
            rows.append(row)
            print(f"{n:>5} {ex:>9} {'yes' if not bad else 'NO':>5} "
                  f"{np.mean(row['updates']):>13.3g} {np.mean(row['events']):>12.3g} "
                  f"{np.mean(row['messages']) / K:>14.2f} {np.mean(row['bytes']) / K:>15.1f} "
                  f"{np.mean(row['exchange_s']):>13.3f} {row['wall_s']:>7.2f}")
    # the two 1-rank runs do the same work: the faster one is the less disturbed
    ones = [r for r in rows if r["ranks"] == 1]
    one = min(ones, key=lambda r: r["update_s"][0])
    rate_Hz = len(ids) / (model.n_cells * args.duration_ms * 1e-3)
    cost = {"update_ns": one["update_s"][0] / one["updates"][0] * 1e9,
            "event_ns_in_run": min(r["deliver_s"][0] for r in ones) / max(one["events"][0], 1)
            * 1e9,
            "event_ns": bulk_event_ns(scene, ids, t),
            "recv_ns": recv_ns_per_spike(), "dt_ms": model.dt_ms}
    period_ms = period * model.dt_ms
    print(f"\nper core, measured here (1 brain rank): {cost['update_ns']:.1f} ns per neuron "
          f"update, {cost['event_ns']:.1f} ns per delivered event in bulk "
          f"({cost['event_ns_in_run']:.1f} in the run, with a kernel call per period), "
          f"{cost['recv_ns']:.1f} ns per received spike (decode + sort); "
          f"rate {rate_Hz:.2f} Hz, exchange period {period_ms:g} ms")
    m, check = tile_check(scene, ids, t)
    print(f"\ntile model on this scene ({m['volume_mm3']:.1f} mm3, {m['syn_per_neuron']:.0f} "
          f"synapses per neuron, long-range fraction {m['long_fraction']:.2f}) vs its exact "
          f"counts:\n{'ranks':>5} {'peers/spike':>11} {'model':>6} {'neighbours':>10} {'model':>6}")
    for n, d, dm, nb, nbm in check:
        print(f"{n:>5} {d:>11.2f} {dm:>6.2f} {nb:>10.2f} {nbm:>6.2f}")
    print(f"\nnetwork (assumed): {NETWORK['alpha_s'] * 1e6:g} us per message, "
          f"{NETWORK['bandwidth_Bps'] / 1e9:g} GB/s per link\n")
    print(f"{'model':>16} {'ranks':>5} {'neurons/rank':>12} {'compute':>8} {'+allgather':>10} "
          f"{'+sparse':>8} {'+sparse(rnd)':>12} {'peers/spike':>11} {'nbrs':>6} "
          f"{'msgs/period':>11}   (s wall / s sim)")
    proj = []
    for name, m in MODELS.items():
        for P in RANKS:
            r = {"model": name, **project(m, P, rate_Hz, period_ms, cost)}
            proj.append(r)
            print(f"{name:>16} {P:>5} {r['neurons_per_rank']:>12.3g} {r['compute_s']:>8.2f} "
                  f"{r['allgather_s']:>10.2f} {r['sparse_s']:>8.2f} "
                  f"{r['sparse_random_s']:>12.2f} {r['peers_per_spike']:>11.1f} "
                  f"{r['neighbours']:>6.0f} {r['sparse_msgs_per_period']:>11.1f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"scene": scene.path, "duration_ms": args.duration_ms, "rows": rows,
                       "tile_check": check,
                       "cost": cost, "rate_Hz": rate_Hz, "network": NETWORK,
                       "models": MODELS, "projection": proj}, f, indent=1)
    if not exact:
        raise SystemExit("the counts model does not match the measured counts")
    print("\ncounts model: exact for every rank count and both exchanges")


if __name__ == "__main__":
    main()
