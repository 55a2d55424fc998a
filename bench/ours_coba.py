"""Our engine on the COBA benchmark network (see coba_common.P), for bench/coba.py.

``run(N, threads, ranks, warmup_ms, duration_ms, seed)`` returns one result row.
With ranks > 1 it starts ``mpiexec -n ranks`` on this file and merges the ranks' rows.
"""
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from coba_common import P, finish_row, hwm_mb, rss_mb, sizes  # noqa: E402


def coba_params():
    from brain.params import BrainParams, CellType, ConnectionRule, DelayParams, PoissonInput, Receptor

    def cell(name, C, receptor):
        return CellType(name=name, C_m_pF=C, g_L_nS=P["g_L"], E_L_mV=P["E_L"],
                        V_th_mV=P["V_th"], V_reset_mV=P["V_reset"], t_ref_ms=P["t_ref"],
                        receptor=receptor)
    return BrainParams(
        receptors=(Receptor(name="ex", kind="exp", E_rev_mV=P["E_ex"], tau_ms=P["tau_ex"]),
                   Receptor(name="in", kind="exp", E_rev_mV=P["E_in"], tau_ms=P["tau_in"])),
        cell_types=(cell("E", P["C_E"], "ex"), cell("I", P["C_I"], "in")),
        connections=(ConnectionRule(pre=("E",), post=("E", "I"), indegree=P["K_E"],
                                    weight_nS=P["w_ex"], delay_ms=P["delay"]),
                     ConnectionRule(pre=("I",), post=("E", "I"), indegree=P["K_I"],
                                    weight_nS=P["w_in"], delay_ms=P["delay"])),
        delays=DelayParams(min_ms=P["delay"]),
        poisson=(PoissonInput(cell_types=("E", "I"), rate_Hz=P["nu_ext"], weight_nS=P["w_ex"],
                              receptor="ex"),))


def _compile_kernels(params):
    """Build and step a tiny copy of the network so that JIT compilation (or loading the
    cache) happens before the memory and build time are measured."""
    import numpy as np
    from brain.connectivity import connect
    from brain.engine import Engine
    from brain.exchange import LocalExchange
    from brain.model import build_population_model
    import dataclasses
    small = dataclasses.replace(params, connections=tuple(
        dataclasses.replace(c, indegree=min(c.indegree, 10)) for c in params.connections))
    model = build_population_model(small, {"E": 80, "I": 20}, P["dt"], 0)
    gids = np.arange(model.n_cells, dtype=np.int64)
    engine = Engine(model, gids, connect(small, model.cells, gids, P["dt"], 0),
                    LocalExchange(), model.min_delay_steps)
    engine.prepare()
    engine.run(model.min_delay_steps)


def _bare_scatter_events_per_s(syn, spike_gids, n_local):
    """The practical ceiling of delivery: a bare numba CSR scatter-add of the same spikes
    over the same synapse arrays (int32 target, weight code into the float32 table) into
    one float32 array of the local cells (no delays, no receptors, no thread split), on
    one thread. Returns (events per second, wall seconds)."""
    import numpy as np
    from numba import njit

    @njit(cache=True)
    def scatter(gids, indptr, target, weight_code, weight_table, out):
        for k in range(gids.shape[0]):
            for s in range(indptr[gids[k]], indptr[gids[k] + 1]):
                out[target[s]] += weight_table[weight_code[s]]

    out = np.zeros(n_local, dtype=np.float32)
    gids = np.ascontiguousarray(spike_gids, dtype=np.int64)
    args = (syn.indptr, syn.target, syn.weight_code, syn.weight_table_nS, out)
    scatter(gids[:10], *args)
    t0 = time.perf_counter()
    scatter(gids, *args)
    wall = time.perf_counter() - t0
    return int(np.sum(np.diff(syn.indptr)[gids])) / max(wall, 1e-12), wall


# Floating-point operations of one COBA neuron-step in brain/kernels/neurons.py (a
# division counts as one): per receptor the arrival and exact 2x2 step (8; +2 for the
# Poisson weight on the excitatory one) and the two sums (3); the membrane (g_tot 1,
# v_inf 3, a 2, exp(-a) polynomial 13, V 3). Integer work (the RNG hash, 16 table
# compares) is not counted, so the fraction of peak below is a lower bound.
FLOPS_PER_NEURON_STEP = 2 * (8 + 3) + 2 + (1 + 3 + 2 + 13 + 3)


def simd_peak_gflops():
    """Double-precision SIMD peak of one core (GFLOP/s): 512-bit FMA units x 16 flops x
    clock. Intel cores with AVX-512 up to Rocket/Ice Lake client have one 512-bit FMA
    (ports 0+1 fused) = 16 flops/cycle, as two 256-bit FMAs do; the clock is the
    nominal one of /proc/cpuinfo (turbo would make the fraction smaller)."""
    mhz = 0.0
    try:
        with open("/proc/cpuinfo") as f:
            mhz = max(float(line.split(":")[1]) for line in f if line.startswith("cpu MHz"))
    except (OSError, ValueError):
        return None
    return 16 * mhz * 1e-3


def _run_rank(N, threads, warmup_ms, duration_ms, seed, comm=None):
    import numba
    from brain.connectivity import connect
    from brain.engine import Engine
    from brain.exchange import LocalExchange, MpiExchange
    from brain.model import build_population_model
    from brain.partition import local_cells, partition

    numba.set_num_threads(threads)
    n_ranks, rank = (comm.Get_size(), comm.Get_rank()) if comm else (1, 0)
    NE, NI = sizes(N)
    params = coba_params()
    _compile_kernels(params)         # JIT memory is not synapse memory
    t0 = time.perf_counter()
    rss0 = rss_mb()
    model = build_population_model(params, {"E": NE, "I": NI}, P["dt"], seed)
    gids = local_cells(partition(model.n_cells, model.cells.voxel, n_ranks), rank)
    syn = connect(params, model.cells, gids, P["dt"], seed)
    steps_per_period = model.min_delay_steps
    engine = Engine(model, gids, syn, MpiExchange(comm) if comm else LocalExchange(),
                    steps_per_period)
    engine.prepare()
    rss_built = rss_mb()
    engine.run(steps_per_period)          # compile outside the timing
    build_s = time.perf_counter() - t0
    warm = int(round(warmup_ms / P["dt"]))
    engine.run(warm - warm % steps_per_period)
    n = int(round(duration_ms / P["dt"]))
    n -= n % steps_per_period
    if comm:
        comm.Barrier()
    for k in engine.timing:
        engine.timing[k] = 0
    t1 = time.perf_counter()
    _, spk = engine.run(n)
    if comm:
        comm.Barrier()
    wall = time.perf_counter() - t1
    tm = dict(engine.timing)
    bare, bare_s = _bare_scatter_events_per_s(syn, spk, len(gids))
    is_e = model.cells.type_id[spk] == 0
    return {"simulator": "ours", "threads": threads, "ranks": n_ranks, "N": N,
            "build_s": build_s, "wall_s": wall, "spikes_E": int(is_e.sum()),
            "spikes_I": int((~is_e).sum()), "n_synapses": int(syn.n),
            "storage_bytes_per_synapse": syn.nbytes_per_synapse,
            "rss_built_mb": rss_built - rss0, "peak_mem_mb": hwm_mb(),
            "update_s": tm["update_s"], "exchange_s": tm["exchange_s"],
            "deliver_s": tm["deliver_s"],
            "deliver_events_per_s": tm["events"] / max(tm["deliver_s"], 1e-12),
            "bare_scatter_events_per_s": bare, "bare_scatter_s": bare_s,
            "python_s": tm["python_s"], "neuron_steps": len(gids) * n, **_derived(tm, len(gids) * n, threads, bare)}


def _derived(tm, neuron_steps, threads, bare):
    """ns per neuron-step per thread, the fraction of the SIMD peak, delivery vs ceiling."""
    ns = tm["update_s"] * threads / max(neuron_steps, 1) * 1e9
    peak = simd_peak_gflops()
    return {"update_ns_per_neuron_step_thread": ns,
            "flops_per_neuron_step": FLOPS_PER_NEURON_STEP,
            "simd_peak_gflops_core": peak,
            "simd_peak_fraction": FLOPS_PER_NEURON_STEP / ns / peak if peak else None,
            "deliver_vs_bare": tm["events"] / max(tm["deliver_s"], 1e-12) / max(bare, 1e-12)}


def run(N, threads, ranks, warmup_ms, duration_ms, seed):
    """One benchmark row for our engine (see bench/coba.py for the fields)."""
    if ranks == 1:
        row = _run_rank(N, threads, warmup_ms, duration_ms, seed)
    else:
        fd, out = tempfile.mkstemp(suffix=".json")
        os.close(fd)
        mpiexec = os.path.join(os.path.dirname(sys.executable), "mpiexec")
        env = dict(os.environ, OMP_NUM_THREADS=str(threads), NUMBA_NUM_THREADS=str(threads))
        subprocess.run([mpiexec, "-n", str(ranks), sys.executable, __file__, str(N), str(threads),
                        str(warmup_ms), str(duration_ms), str(seed), out], check=True, env=env)
        with open(out) as f:
            rows = json.load(f)
        os.unlink(out)
        row = dict(rows[0])
        row.update(spikes_E=sum(r["spikes_E"] for r in rows),
                   spikes_I=sum(r["spikes_I"] for r in rows),
                   n_synapses=sum(r["n_synapses"] for r in rows),
                   wall_s=max(r["wall_s"] for r in rows), build_s=max(r["build_s"] for r in rows),
                   peak_mem_mb=sum(r["peak_mem_mb"] for r in rows),
                   rss_built_mb=sum(r["rss_built_mb"] for r in rows))
    row["bytes_per_synapse"] = row["rss_built_mb"] * 2**20 / row["n_synapses"]
    return finish_row(row, N, warmup_ms, duration_ms)


if __name__ == "__main__":
    from mpi4py import MPI
    N, threads, warmup, duration, seed, out = sys.argv[1:]
    comm = MPI.COMM_WORLD
    row = _run_rank(int(N), int(threads), float(warmup), float(duration), int(seed), comm)
    rows = comm.gather(row, root=0)
    if comm.Get_rank() == 0:
        with open(out, "w") as f:
            json.dump(rows, f)
