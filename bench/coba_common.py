"""Shared definition of the COBA benchmark network and small helpers.

Every backend (NEST, Brian2, ours) builds exactly this network; the numbers
live here once so they cannot drift apart.  Stdlib only: this module is
imported by the driver and by workers running in different venvs.
"""

# --- network (units: nS, pF, mV, ms, Hz) ---------------------------------
P = dict(
    frac_E=0.8,            # 80 % excitatory
    g_L=10.0,              # nS
    C_E=200.0,             # pF
    C_I=100.0,             # pF
    E_L=-70.0,             # mV
    V_th=-50.0,            # mV
    V_reset=-60.0,         # mV (V clamped here while refractory)
    t_ref=2.0,             # ms
    tau_ex=5.0,            # ms
    tau_in=10.0,           # ms
    E_ex=0.0,              # mV
    E_in=-80.0,            # mV
    K=1000,                # fixed in-degree
    K_E=800,               # of which excitatory sources
    K_I=200,               # of which inhibitory sources
    w_ex=0.3,              # nS
    w_in=1.8,              # nS
    delay=1.5,             # ms
    dt=0.1,                # ms
    nu_ext=11000.0,        # Hz, Poisson drive per neuron onto g_ex, weight w_ex
)


def sizes(N):
    NE = int(round(N * P["frac_E"]))
    return NE, N - NE


def _status_kb(key):
    """VmRSS / VmHWM etc. of this process in kB (Linux), or None."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def rss_mb():
    v = _status_kb("VmRSS")
    return None if v is None else v / 1024.0


def hwm_mb():
    v = _status_kb("VmHWM")
    if v is None:
        import resource
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return v / 1024.0


def finish_row(row, N, warmup_ms, duration_ms):
    """Fill derived fields (rates, events/s, rtf) from the raw counts."""
    NE, NI = sizes(N)
    T = duration_ms / 1000.0
    wall = row["wall_s"]
    nE, nI = row["spikes_E"], row["spikes_I"]
    row.setdefault("N", N)
    row.setdefault("warmup_ms", warmup_ms)
    row.setdefault("duration_ms", duration_ms)
    row["rate_E"] = nE / (NE * T)
    row["rate_I"] = nI / (NI * T)
    row["rtf"] = wall / T
    # each spike is delivered to on average K targets (fixed in-degree K)
    row["syn_events"] = (nE + nI) * P["K"]
    row["events_per_s"] = row["syn_events"] / wall
    row["poisson_events_per_s"] = N * P["nu_ext"] * T / wall
    return row
