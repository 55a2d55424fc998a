#!/usr/bin/env python3
"""COBA benchmark driver: the same conductance-based LIF network in several
simulators, each run in its own subprocess, one table at the end.

    python bench/coba.py --N 10000 50000 --simulators ours,nest,brian2 --json OUT.json

Simulators: ours, nest, brian2 (= brian2-cython + brian2-standalone),
brian2-cython, brian2-standalone.  Peers (NEST, Brian2) run from the venv made
by `bash bench/setup_peers.sh` (bench/.venv-peers); "ours" runs
bench/ours_coba.py:run(...) from the project's venv (<repo>/.venv).

The driver itself uses only the standard library, so any python3 can run it.
See bench/README.md for the meaning of every column.
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
ALL_SIMS = ["ours", "nest", "brian2-cython", "brian2-standalone"]
ALIASES = {"brian2": ["brian2-cython", "brian2-standalone"],
           "all": ALL_SIMS}
SETUP_HINT = "run `bash bench/setup_peers.sh` (creates bench/.venv-peers with nest-simulator and brian2)"


# --------------------------------------------------------------------------
# worker side (runs inside the simulator's venv)
# --------------------------------------------------------------------------
def worker(a):
    sys.path.insert(0, HERE)
    from coba_common import finish_row
    kw = dict(N=a.N[0], threads=a.threads[0], ranks=a.ranks[0],
              warmup_ms=a.warmup_ms, duration_ms=a.duration_ms, seed=a.seed)
    if a.worker == "nest":
        import coba_nest
        row = coba_nest.run(**kw)
    elif a.worker in ("brian2-cython", "brian2-standalone"):
        import coba_brian2
        row = coba_brian2.run(**kw, mode=a.worker.split("-")[1],
                              keep_build=a.keep_build)
    elif a.worker == "ours":
        import ours_coba
        row = dict(ours_coba.run(**kw))
        row.setdefault("simulator", "ours")
        for k in ("threads", "ranks", "N"):
            row.setdefault(k, kw[k])
        if "rtf" not in row and {"wall_s", "spikes_E", "spikes_I"} <= set(row):
            row = finish_row(row, kw["N"], a.warmup_ms, a.duration_ms)
    else:
        raise SystemExit(f"unknown worker {a.worker}")
    row.setdefault("seed", a.seed)
    with open(a.row_out, "w") as f:
        json.dump(row, f)


# --------------------------------------------------------------------------
# driver side
# --------------------------------------------------------------------------
def peers_python(a):
    if a.peers_python:
        return a.peers_python
    p = os.path.join(HERE, ".venv-peers", "bin", "python")
    return p if os.path.exists(p) else None


def ours_python(a):
    if a.ours_python:
        return a.ours_python
    if sys.prefix == os.path.join(REPO, ".venv"):
        return sys.executable
    p = os.path.join(REPO, ".venv", "bin", "python")
    return p if os.path.exists(p) else sys.executable


_avail_cache = {}


def availability(sim, a):
    """(python, None) if runnable, else (None, reason)."""
    if sim == "ours":
        if not os.path.exists(os.path.join(HERE, "ours_coba.py")):
            return None, "bench/ours_coba.py does not exist yet (the project's backend is not written)"
        return ours_python(a), None
    py = peers_python(a)
    if py is None:
        return None, f"peer venv bench/.venv-peers not found: {SETUP_HINT}"
    mod = "nest" if sim == "nest" else "brian2"
    key = (py, mod)
    if key not in _avail_cache:
        r = subprocess.run([py, "-c", f"import importlib.util,sys; sys.exit(importlib.util.find_spec('{mod}') is None)"],
                           capture_output=True)
        _avail_cache[key] = r.returncode == 0
    if not _avail_cache[key]:
        pkg = "nest-simulator" if mod == "nest" else "brian2"
        return None, f"{pkg} is not installed in {py}: {SETUP_HINT}"
    return py, None


def run_one(py, sim, N, threads, ranks, a, log_path):
    fd, row_out = tempfile.mkstemp(prefix="coba_row_", suffix=".json")
    os.close(fd)
    cmd = [py, os.path.abspath(__file__), "--worker", sim, "--N", str(N),
           "--threads", str(threads), "--ranks", str(ranks),
           "--warmup-ms", str(a.warmup_ms), "--duration-ms", str(a.duration_ms),
           "--seed", str(a.seed), "--row-out", row_out]
    if a.keep_build:
        cmd.append("--keep-build")
    env = dict(os.environ)
    env.update(OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS="1",
               MKL_NUM_THREADS="1", PYTHONUNBUFFERED="1", PYNEST_QUIET="1")
    env.pop("PYTHONPATH", None)
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    with open(log_path, "w") as log:
        log.write("$ " + " ".join(cmd) + "\n")
        log.flush()
        p = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env,
                             cwd=REPO, start_new_session=True)
        status, ru, timed_out = None, None, False
        while True:
            pid, status, ru = os.wait4(p.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() - t0 > a.timeout:
                timed_out = True
                os.killpg(p.pid, signal.SIGKILL)
                pid, status, ru = os.wait4(p.pid, 0)
                break
            time.sleep(0.2)
        p.returncode = os.waitstatus_to_exitcode(status)
    total = time.perf_counter() - t0
    row = None
    try:
        if p.returncode == 0 and os.path.getsize(row_out) > 0:
            with open(row_out) as f:
                row = json.load(f)
    finally:
        os.unlink(row_out)
    if row is None:
        why = f"timed out after {a.timeout:.0f} s" if timed_out else f"exit code {p.returncode}"
        with open(log_path) as f:
            tail = "".join(f.readlines()[-15:])
        return dict(simulator=sim, N=N, threads=threads, ranks=ranks,
                    error=why, log=log_path), tail
    # max RSS of the worker and every descendant it waited for (compiler,
    # standalone binary, mpirun children...), from wait4()
    row["peak_mem_tree_mb"] = ru.ru_maxrss / 1024.0
    row.setdefault("peak_mem_mb", row["peak_mem_tree_mb"])
    row["process_total_s"] = total
    row["process_cpu_s"] = ru.ru_utime + ru.ru_stime   # whole tree, incl. build
    row["loadavg_1m_start"] = load0                     # machine load before the run
    row["log"] = log_path
    return row, None


COLS = [  # (header, key, format)
    ("simulator", "simulator", "{:<17}"),
    ("N", "N", "{:>6}"),
    ("thr", "threads", "{:>3}"),
    ("rk", "ranks", "{:>2}"),
    ("build_s", "build_s", "{:>8.2f}"),
    ("rtf", "rtf", "{:>7.3f}"),
    ("syn_ev/s", "events_per_s", "{:>9.3g}"),
    ("poi_ev/s", "poisson_events_per_s", "{:>9.3g}"),
    ("rate_E", "rate_E", "{:>6.2f}"),
    ("rate_I", "rate_I", "{:>6.2f}"),
    ("peak_MB", "peak_mem_mb", "{:>8.0f}"),
    ("B/syn", "bytes_per_synapse", "{:>6.1f}"),
    ("load", "loadavg_1m_start", "{:>5.1f}"),
]


def _width(key, fmt):
    return 17 if key == "simulator" else len(fmt.format(0))


def header():
    return "  ".join(h.ljust(_width(k, f)) if k == "simulator" else h.rjust(_width(k, f))
                     for h, k, f in COLS)


def line(row):
    if "error" in row:
        return (f"{row['simulator']:<17}  {row['N']:>6}  {row['threads']:>3}  {row['ranks']:>2}"
                f"  FAILED: {row['error']} (log: {os.path.relpath(row['log'], REPO)})")
    cells = []
    for _, key, fmt in COLS:
        v = row.get(key)
        try:
            cells.append(fmt.format(v) if v is not None else "-".rjust(_width(key, fmt)))
        except (ValueError, TypeError):
            cells.append(str(v).rjust(_width(key, fmt)))
    return "  ".join(cells)


def ratios(rows):
    ours = {(r["N"], r["threads"]): r for r in rows
            if r.get("simulator") == "ours" and "error" not in r and r.get("ranks", 1) == 1}
    out = []
    for r in rows:
        if r.get("simulator") == "ours" or "error" in r:
            continue
        o = ours.get((r["N"], r["threads"]))
        if not o:
            continue

        def q(k):
            try:
                return r[k] / o[k]
            except (KeyError, TypeError, ZeroDivisionError):
                return None
        speed, mem, bps = q("rtf"), q("peak_mem_mb"), q("bytes_per_synapse")
        s = f"  {r['simulator']:<17} N={r['N']:<6} thr={r['threads']}:"
        s += f"  rtf peer/ours = {speed:.2f}" if speed else "  rtf -"
        s += f"  peak_mem peer/ours = {mem:.2f}" if mem else "  peak_mem -"
        s += f"  B/syn peer/ours = {bps:.2f}" if bps else ""
        out.append(s)
    if out:
        return "ratios vs ours (same N and threads; >1 means ours is faster / smaller):\n" + "\n".join(out)
    return ""


def profile(rows):
    """Where our time goes (``Engine.timing``) and the issue-13 target ratios."""
    out = []
    for o in rows:
        if o.get("simulator") != "ours" or "error" in o or "update_s" not in o:
            continue
        wall = o["wall_s"]
        parts = "  ".join(f"{k} {o.get(k + '_s', 0.0) / wall * o['rtf']:.3f}" for k in
                          ("update", "deliver", "exchange", "python"))
        out.append(f"  ours N={o['N']} thr={o['threads']} rk={o.get('ranks', 1)}: rtf {o['rtf']:.3f} = "
                   f"{parts} s/s (+ rest); update {o['update_ns_per_neuron_step_thread']:.2f} ns per "
                   f"neuron-step per thread"
                   + (f" ({100 * o['simd_peak_fraction']:.0f} % of the {o['simd_peak_gflops_core']:.0f} "
                      f"GFLOP/s SIMD peak at {o['flops_per_neuron_step']} flops)"
                      if o.get("simd_peak_fraction") else "")
                   + f"; delivery {o['deliver_events_per_s'] / 1e6:.0f} M events/s = "
                   f"{100 * o['deliver_vs_bare']:.0f} % of the bare scatter-add "
                   f"({o['bare_scatter_events_per_s'] / 1e6:.0f} M/s, 1 thread); "
                   f"{o['bytes_per_synapse']:.2f} B/synapse, peak {o['peak_mem_mb']:.0f} MB")
        for r in rows:
            if r.get("N") == o["N"] and r.get("threads") == o["threads"] and "error" not in r \
                    and r.get("simulator") in ("brian2-standalone", "nest"):
                out.append(f"    ours / {r['simulator']} = {o['rtf'] / r['rtf']:.3f}")
    if out:
        return "profile of ours (s per simulated s; issue 13 targets: ours/brian2-standalone <= 0.25 " \
               "at 50k, <= 0.4 at 10k and 100k; ours/nest <= 0.05; update <= 8 ns; delivery >= 70 %):\n" \
               + "\n".join(out)
    return ""


def rate_check(rows):
    """Warn when simulators disagree on the rates by more than 10 %."""
    msgs = []
    by_n = {}
    for r in rows:
        if "error" not in r:
            by_n.setdefault(r["N"], []).append(r)
    for N, rs in sorted(by_n.items()):
        for key in ("rate_E", "rate_I"):
            vals = sorted(r[key] for r in rs)
            med = vals[len(vals) // 2]
            for r in rs:
                if med and abs(r[key] - med) / med > 0.10:
                    msgs.append(f"  N={N} {r['simulator']} thr={r['threads']}: {key}={r[key]:.2f} Hz "
                                f"differs >10% from the median {med:.2f} Hz")
    if msgs:
        return "WARNING: rates disagree between runs:\n" + "\n".join(msgs)
    return ""


def expand_sims(spec):
    out = []
    for s in spec.split(","):
        s = s.strip()
        if not s:
            continue
        for x in ALIASES.get(s, [s]):
            if x not in ALL_SIMS:
                raise SystemExit(f"unknown simulator {x!r}; choose from {', '.join(ALL_SIMS)}, brian2, all")
            if x not in out:
                out.append(x)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--N", type=int, nargs="+", default=[10000], help="network sizes (default 10000)")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="thread counts (default 1 2)")
    ap.add_argument("--ranks", type=int, nargs="+", default=[1],
                    help="MPI ranks, only for 'ours' (peers always run 1 rank; default 1)")
    ap.add_argument("--simulators", default="ours,nest,brian2",
                    help="comma list of ours,nest,brian2,brian2-cython,brian2-standalone (default ours,nest,brian2)")
    ap.add_argument("--warmup-ms", type=float, default=100.0, help="untimed warm-up (default 100 ms)")
    ap.add_argument("--duration-ms", type=float, default=1000.0, help="timed simulation (default 1000 ms)")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--json", metavar="OUT.json", help="write the list of rows here")
    ap.add_argument("--repeat", type=int, default=1,
                    help="run each configuration R times and keep the fastest (min rtf); "
                         "useful when the cores are shared (default 1)")
    ap.add_argument("--timeout", type=float, default=3600.0, help="per-run timeout in s (default 3600)")
    ap.add_argument("--peers-python", help="python of the peers venv (default bench/.venv-peers/bin/python)")
    ap.add_argument("--ours-python", help="python for 'ours' (default <repo>/.venv/bin/python)")
    ap.add_argument("--log-dir", default=os.path.join(HERE, "results", "logs"))
    ap.add_argument("--keep-build", action="store_true", help="keep Brian2 standalone build directories")
    # internal
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--row-out", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        return worker(a)

    sims = expand_sims(a.simulators)
    os.makedirs(a.log_dir, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    rows, skipped = [], []
    plan = []
    for N in a.N:
        for sim in sims:
            for t in a.threads:
                if sim == "brian2-cython" and t != 1:
                    continue   # Brian2 runtime mode is single-threaded
                for rk in (a.ranks if sim == "ours" else [1]):
                    plan.append((N, sim, t, rk))
    if "brian2-cython" in sims and 1 not in a.threads:
        print("note: brian2-cython only runs with 1 thread; add 1 to --threads to include it")
    print(f"COBA benchmark: {len(plan)} configurations planned (x{a.repeat}), warm-up {a.warmup_ms:g} ms (untimed), "
          f"timed {a.duration_ms:g} ms, seed {a.seed}; logs in {os.path.relpath(a.log_dir)}")
    printed_header = False
    for N, sim, t, rk in plan:
        py, reason = availability(sim, a)
        if py is None:
            msg = f"skip {sim}: {reason}"
            if msg not in skipped:
                skipped.append(msg)
                print(msg, flush=True)
            continue
        print(f"... running {sim} N={N} threads={t} ranks={rk}", flush=True)
        tries = []
        for rep in range(a.repeat):
            sfx = f"_rep{rep + 1}" if a.repeat > 1 else ""
            log_path = os.path.join(a.log_dir, f"{stamp}_{sim}_N{N}_t{t}_r{rk}{sfx}.log")
            row, tail = run_one(py, sim, N, t, rk, a, log_path)
            tries.append((row, tail))
            if "error" in row:
                break
        ok = [x for x in tries if "error" not in x[0]]
        if ok:
            row, tail = min(ok, key=lambda x: x[0].get("rtf", float("inf")))
            if a.repeat > 1:
                row["repeats"] = len(ok)
                row["rtf_all"] = [x[0].get("rtf") for x in ok]
        else:
            row, tail = tries[-1]
        rows.append(row)
        if not printed_header:
            print(header())
            printed_header = True
        print(line(row), flush=True)
        if tail:
            print("    last lines of the log:\n    " + tail.replace("\n", "\n    "), flush=True)
        if a.json:   # keep the file current, so a crash later loses nothing
            with open(a.json, "w") as f:
                json.dump(rows, f, indent=1)

    print()
    print(f"== COBA, timed {a.duration_ms:g} ms after {a.warmup_ms:g} ms warm-up "
          f"(rtf = wall s per simulated s; expected rates ~9 Hz E, ~15 Hz I)")
    print(header())
    for r in rows:
        print(line(r))
    for s in skipped:
        print(s)
    for extra in (ratios(rows), profile(rows), rate_check(rows)):
        if extra:
            print(extra)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)
        print(f"rows written to {a.json}")
    return 0 if all("error" not in r for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
