"""NEST backend of the COBA benchmark (iaf_cond_exp, OpenMP threads, no MPI)."""
import os
import time

os.environ.setdefault("PYNEST_QUIET", "1")

from coba_common import P, sizes, rss_mb, hwm_mb, finish_row


def run(N, threads, ranks, warmup_ms, duration_ms, seed):
    if ranks != 1:
        raise ValueError("NEST peer runs without MPI (ranks must be 1)")
    import nest
    if hasattr(nest, "VerbosityLevel"):
        nest.verbosity = nest.VerbosityLevel.WARNING
    else:
        nest.set_verbosity("M_WARNING")
    nest.ResetKernel()
    nest.SetKernelStatus({"local_num_threads": threads,
                          "resolution": P["dt"],
                          "rng_seed": seed,
                          "print_time": False})
    NE, NI = sizes(N)
    t0 = time.perf_counter()
    common = {"g_L": P["g_L"], "E_L": P["E_L"], "V_th": P["V_th"],
              "V_reset": P["V_reset"], "t_ref": P["t_ref"],
              "E_ex": P["E_ex"], "E_in": P["E_in"],
              "tau_syn_ex": P["tau_ex"], "tau_syn_in": P["tau_in"], "I_e": 0.0}
    E = nest.Create("iaf_cond_exp", NE, params=dict(common, C_m=P["C_E"]))
    I = nest.Create("iaf_cond_exp", NI, params=dict(common, C_m=P["C_I"]))
    allp = E + I
    allp.V_m = nest.random.uniform(P["V_reset"], P["V_th"])
    allp.g_ex = 0.0
    allp.g_in = 0.0
    # one generator -> every neuron gets an independent Poisson train.
    # delay = 1.5 ms (not 0.1) so that min_delay, and thus NEST's
    # communication interval, stays at 1.5 ms; the drive is stationary.
    pg = nest.Create("poisson_generator", params={"rate": P["nu_ext"]})
    srE = nest.Create("spike_recorder", params={"start": warmup_ms})
    srI = nest.Create("spike_recorder", params={"start": warmup_ms})
    nest.Connect(E, srE)
    nest.Connect(I, srI)
    nest.Connect(pg, allp, syn_spec={"synapse_model": "static_synapse",
                                     "weight": P["w_ex"], "delay": P["delay"]})
    mem0 = rss_mb()
    t1 = time.perf_counter()
    nest.Connect(E, allp, {"rule": "fixed_indegree", "indegree": P["K_E"],
                           "allow_autapses": False, "allow_multapses": False},
                 {"synapse_model": "static_synapse", "weight": P["w_ex"],
                  "delay": P["delay"]})
    nest.Connect(I, allp, {"rule": "fixed_indegree", "indegree": P["K_I"],
                           "allow_autapses": False, "allow_multapses": False},
                 {"synapse_model": "static_synapse", "weight": -P["w_in"],
                  "delay": P["delay"]})
    t2 = time.perf_counter()
    mem1 = rss_mb()
    n_syn = nest.num_connections - N - N   # minus Poisson and recorder links
    # warm-up (not timed); the first Simulate also builds NEST's target tables
    t3 = time.perf_counter()
    nest.Simulate(warmup_ms)
    t4 = time.perf_counter()
    mem2 = rss_mb()
    t5 = time.perf_counter()
    nest.Simulate(duration_ms)
    wall = time.perf_counter() - t5
    row = dict(simulator="nest", threads=threads, ranks=1, N=N,
               version=nest.__version__ if hasattr(nest, "__version__") else "",
               build_s=t2 - t0, connect_s=t2 - t1, warmup_wall_s=t4 - t3,
               wall_s=wall, synapses=n_syn,
               spikes_E=int(srE.n_events), spikes_I=int(srI.n_events),
               rss_before_connect_mb=mem0, rss_after_connect_mb=mem1,
               rss_after_warmup_mb=mem2,
               bytes_per_synapse=(mem1 - mem0) * 2**20 / n_syn,
               bytes_per_synapse_after_warmup=(mem2 - mem0) * 2**20 / n_syn,
               peak_mem_mb=hwm_mb())
    return finish_row(row, N, warmup_ms, duration_ms)
