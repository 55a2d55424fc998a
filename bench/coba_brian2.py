"""Brian2 backends of the COBA benchmark: runtime 'cython' and 'cpp_standalone'.

The drive is a PoissonInput (binomial draw per neuron and step, N=1000 sources
at 11 Hz = 11 kHz), acting on g_ex with weight w_ex.  Spikes are counted with a
per-neuron counter incremented in the reset and zeroed after the warm-up, which
is cheaper than a SpikeMonitor and works in both modes.
"""
import os
import shutil
import tempfile
import time

from coba_common import P, sizes, rss_mb, hwm_mb, finish_row

_HERE = os.path.dirname(os.path.abspath(__file__))

EQS = """
dv/dt = (g_L*(E_L - v) + g_ex*(E_ex - v) + g_in*(E_in - v)) / C : volt (unless refractory)
dg_ex/dt = -g_ex / tau_ex : siemens
dg_in/dt = -g_in / tau_in : siemens
C : farad (constant)
nspk : 1
"""

# C++ snippets inserted into the standalone main() (timing + memory inside the
# binary, so compile time and process start are excluded from the timed part).
_CPP_RSS = r"""
auto __bench_rss_kb = [](const char* key) -> long {
    std::ifstream f("/proc/self/status"); std::string l; std::string k(key);
    while (std::getline(f, l)) if (l.compare(0, k.size(), k) == 0) return std::stol(l.substr(k.size()));
    return -1L; };
"""


def _network(b2, N, seed, standalone, mark):
    """Build the network. `mark(name)` is called at the points where the
    driver wants a timestamp / RSS (python side or inserted C++)."""
    from brian2 import (NeuronGroup, Synapses, PoissonInput, Network, ms, mV,
                        nS, pF, Hz)
    NE, NI = sizes(N)
    ns = dict(g_L=P["g_L"] * nS, E_L=P["E_L"] * mV, E_ex=P["E_ex"] * mV,
              E_in=P["E_in"] * mV, tau_ex=P["tau_ex"] * ms,
              tau_in=P["tau_in"] * ms, w_ex=P["w_ex"] * nS,
              w_in=P["w_in"] * nS, V_th=P["V_th"] * mV,
              V_reset=P["V_reset"] * mV, NE=NE, NI=NI,
              KE=P["K_E"], KI=P["K_I"])
    G = NeuronGroup(N, EQS, threshold="v > V_th",
                    reset="v = V_reset; nspk += 1",
                    refractory=P["t_ref"] * ms, method="exponential_euler",
                    namespace=ns, name="neurons")
    G.C[:NE] = P["C_E"] * pF
    G.C[NE:] = P["C_I"] * pF
    G.v = "V_reset + rand() * (V_th - V_reset)"
    G.g_ex = 0 * nS
    G.g_in = 0 * nS
    G.nspk = 0
    drive = PoissonInput(G, "g_ex", N=1000, rate=P["nu_ext"] / 1000 * Hz,
                         weight="w_ex")
    GE, GI = G[:NE], G[NE:]
    # Four pathways (E->E, E->I, I->E, I->I) so that the autapse exclusion is
    # exact: Brian2 (2.9) rejects a sample() range that depends on the
    # postsynaptic index in the i='...' (fixed in-degree) form.
    syn = {}
    for pre_name, pre, var, w in (("E", GE, "g_ex", "w_ex"), ("I", GI, "g_in", "w_in")):
        for post_name, post in (("E", GE), ("I", GI)):
            syn[pre_name + post_name] = Synapses(
                pre, post, on_pre=f"{var}_post += {w}", delay=P["delay"] * ms,
                namespace=ns, name=f"syn_{pre_name}{post_name}")
    mark("before_connect")
    # Fixed in-degree (generator over postsynaptic j), no multapses (sample
    # draws without replacement); within a population, no autapses: draw from
    # the other N_pre-1 sources and skip over the target's own index.
    for name, S in syn.items():
        k_in = P["K_E"] if name[0] == "E" else P["K_I"]
        if name[0] == name[1]:
            S.connect(i=f"k + int(k >= j) for k in sample(N_pre - 1, size={k_in})")
        else:
            S.connect(i=f"k for k in sample(N_pre, size={k_in})")
    mark("after_connect")
    net = Network(G, drive, *syn.values())
    return net, G, list(syn.values())




def run(N, threads, ranks, warmup_ms, duration_ms, seed, mode="cython",
        keep_build=False):
    if ranks != 1:
        raise ValueError("Brian2 peer runs without MPI (ranks must be 1)")
    import brian2 as b2
    from brian2 import prefs, set_device, device, ms, defaultclock
    NE, NI = sizes(N)
    b2.seed(seed)
    defaultclock.dt = P["dt"] * ms
    row = dict(simulator="brian2-" + mode, threads=threads, ranks=1, N=N,
               version=b2.__version__)
    if mode == "cython":
        if threads != 1:
            raise ValueError("Brian2 runtime (cython) is single-threaded")
        prefs.codegen.target = "cython"
        marks = {}

        def mark(name):
            marks[name] = (time.perf_counter(), rss_mb())

        t0 = time.perf_counter()
        net, G, syns = _network(b2, N, seed, False, mark)
        t_built = time.perf_counter()
        n_syn = sum(len(S) for S in syns)
        tw = time.perf_counter()
        net.run(warmup_ms * ms)       # also compiles/loads all Cython code
        tw1 = time.perf_counter()
        mem2 = rss_mb()
        G.nspk = 0
        ts = time.perf_counter()
        net.run(duration_ms * ms)
        wall = time.perf_counter() - ts
        nspk = G.nspk[:]
        m0, m1 = marks["before_connect"], marks["after_connect"]
        row.update(build_s=t_built - t0, connect_s=m1[0] - m0[0],
                   warmup_wall_s=tw1 - tw, wall_s=wall, synapses=n_syn,
                   spikes_E=int(round(nspk[:NE].sum())),
                   spikes_I=int(round(nspk[NE:].sum())),
                   rss_before_connect_mb=m0[1], rss_after_connect_mb=m1[1],
                   rss_after_warmup_mb=mem2,
                   bytes_per_synapse=(m1[1] - m0[1]) * 2**20 / n_syn,
                   bytes_per_synapse_after_warmup=(mem2 - m0[1]) * 2**20 / n_syn,
                   peak_mem_mb=hwm_mb())
        return finish_row(row, N, warmup_ms, duration_ms)

    # ---------------- cpp_standalone ----------------
    base = os.environ.get("COBA_BUILD_ROOT") or os.path.join(_HERE, "results", "build")
    os.makedirs(base, exist_ok=True)
    bdir = tempfile.mkdtemp(prefix=f"b2sa_N{N}_t{threads}_", dir=base)
    set_device("cpp_standalone", directory=bdir, build_on_run=False)
    # threads == 1 -> plain serial code (no OpenMP), else OpenMP with n threads
    prefs.devices.cpp_standalone.openmp_threads = 0 if threads == 1 else threads
    prefs.codegen.cpp.headers += ["<chrono>"]
    stats_file = os.path.join(bdir, "bench_stats.txt")
    device.insert_code("main", _CPP_RSS +
                       "auto __bench_t_start = std::chrono::steady_clock::now();\n")

    def mark(name):
        device.insert_code("main", f"""
long __bench_rss_{name} = __bench_rss_kb("VmRSS:");
auto __bench_t_{name} = std::chrono::steady_clock::now();
""")

    t0 = time.perf_counter()
    net, G, syns = _network(b2, N, seed, True, mark)
    net.run(warmup_ms * ms)
    mark("after_warmup")
    G.nspk = 0
    mark("timed_start")
    net.run(duration_ms * ms)
    mark("timed_end")
    device.insert_code("main", f"""
{{
    std::ofstream __o("{stats_file}");
    auto __s = [](std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {{
        return std::chrono::duration<double>(b - a).count(); }};
    __o << "build_s " << __s(__bench_t_start, __bench_t_after_connect) << "\\n";
    __o << "connect_s " << __s(__bench_t_before_connect, __bench_t_after_connect) << "\\n";
    __o << "warmup_wall_s " << __s(__bench_t_after_connect, __bench_t_after_warmup) << "\\n";
    __o << "wall_s " << __s(__bench_t_timed_start, __bench_t_timed_end) << "\\n";
    __o << "rss_before_connect_kb " << __bench_rss_before_connect << "\\n";
    __o << "rss_after_connect_kb " << __bench_rss_after_connect << "\\n";
    __o << "rss_after_warmup_kb " << __bench_rss_after_warmup << "\\n";
    __o << "hwm_kb " << __bench_rss_kb("VmHWM:") << "\\n";
}}
""")

    device.build(directory=bdir, compile=True, run=False, with_output=False)
    t_comp = time.perf_counter()
    device.run(directory=bdir, with_output=False)
    t_run = time.perf_counter()
    st = {}
    with open(stats_file) as f:
        for line in f:
            k, v = line.split()
            st[k] = float(v)
    nspk = G.nspk[:]
    n_syn = sum(int(len(S)) for S in syns)
    m0 = st["rss_before_connect_kb"] / 1024
    m1 = st["rss_after_connect_kb"] / 1024
    m2 = st["rss_after_warmup_kb"] / 1024
    row.update(
        codegen_compile_s=t_comp - t0,           # python codegen + C++ compile
        binary_build_s=st["build_s"],            # in-binary setup incl. connect
        build_s=(t_comp - t0) + st["build_s"],
        connect_s=st["connect_s"], warmup_wall_s=st["warmup_wall_s"],
        binary_total_s=t_run - t_comp,
        wall_s=st["wall_s"], synapses=n_syn,
        spikes_E=int(round(nspk[:NE].sum())), spikes_I=int(round(nspk[NE:].sum())),
        rss_before_connect_mb=m0, rss_after_connect_mb=m1, rss_after_warmup_mb=m2,
        bytes_per_synapse=(m1 - m0) * 2**20 / n_syn,
        bytes_per_synapse_after_warmup=(m2 - m0) * 2**20 / n_syn,
        peak_mem_mb=st["hwm_kb"] / 1024,         # of the standalone binary
        python_peak_mem_mb=hwm_mb(),
    )
    if not keep_build:
        shutil.rmtree(bdir, ignore_errors=True)
    return finish_row(row, N, warmup_ms, duration_ms)
