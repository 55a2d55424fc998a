"""Per-phase profile of a co-simulation scene (embedded mode), and the brain alone.

    python bench/scene_profile.py scenes/demo.toml [--duration-ms 500] [--threads 1]

Runs the scene's loop as ``cosim run`` does (``cosim.runner.embedded_parts``, output to
a temporary file) and splits its wall time into: neuron update, spike exchange and
delivery (``Engine.timing``), Python in ``Engine.run`` between the kernels, the rest of
the brain side (afferents in, motor counts, spike buffer: "bridge (brain)"), MuJoCo
(``Body.step``), output (HDF5 chunks), and the rest of the body side ("bridge (body)":
transfer, proprioception). It then runs the same engine alone (no body, bridge or
output) for the same simulated time: co-simulation overhead = loop / brain alone - 1.
The first interval is a warm-up (JIT cache loading) and not timed. With ``bridge.lag``
the loop runs a second time overlapped (``cosim.runner.run_intervals``: the body steps in a
thread while the brain computes the next interval), timed whole: "loop (overlapped)",
and its overhead over the brain alone. Prints one line per phase and a JSON dict with
--json.
"""
import argparse
import json
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))


def _timed(obj, name, acc, key):
    """Wrap obj.name so that its wall time adds up in acc[key]."""
    f = getattr(obj, name)

    def wrapper(*a, **kw):
        t0 = time.perf_counter()
        try:
            return f(*a, **kw)
        finally:
            acc[key] += time.perf_counter() - t0
    setattr(obj, name, wrapper)


def profile(scene_path, duration_ms=None, threads=1, overrides=(), overlap=True):
    import numba
    from brain.engine import Engine
    from cosim import scene as scene_mod
    from cosim.build import build_brain_model, build_engine
    from brain.exchange import LocalExchange
    from cosim.runner import embedded_parts

    numba.set_num_threads(threads)
    scene = scene_mod.load(scene_path, duration_ms=duration_ms, overrides=overrides)
    acc = dict.fromkeys(("brain_s", "body_side_s", "body_step_s", "output_s"), 0.0)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        brain, body = embedded_parts(scene, os.path.join(tmp, "run.h5"))
        build_s = time.perf_counter() - t0
        _timed(body.body, "step", acc, "body_step_s")
        _timed(body.writer, "write_chunk", acc, "output_s")
        brain.interval(0)
        body.interval(0)
        eng = brain.engine
        for k in eng.timing:
            eng.timing[k] = 0
        for k in acc:      # in place: the wrappers hold this dict
            acc[k] = 0.0
        t1 = time.perf_counter()
        for k in range(1, scene.n_intervals):
            ta = time.perf_counter()
            brain.interval(k)
            tb = time.perf_counter()
            body.interval(k)
            acc["brain_s"] += tb - ta
            acc["body_side_s"] += time.perf_counter() - tb
        loop_s = time.perf_counter() - t1
        brain.finish()
        body.finish()
        overlapped_s = _overlapped_loop(scene, os.path.join(tmp, "overlapped.h5")) \
            if scene.bridge.lag and overlap else None
    tm = dict(eng.timing)
    sim_s = (scene.n_intervals - 1) * scene.bridge.interval_ms * 1e-3
    engine_s = tm["update_s"] + tm["exchange_s"] + tm["deliver_s"] + tm["python_s"]
    # the brain alone: a fresh engine of the same model, no body, bridge or output
    model = build_brain_model(scene)
    alone = build_engine(scene, model, 1, 0, LocalExchange())
    alone.run(scene.interval_steps)
    n = (scene.n_intervals - 1) * scene.interval_steps
    t2 = time.perf_counter()
    alone.run(n)
    alone_s = time.perf_counter() - t2
    row = {"scene": scene_path, "threads": threads, "n_cells": model.n_cells,
           "n_synapses": int(eng.n_synapses), "simulated_s": sim_s, "build_s": build_s,
           "exchange_period_steps": eng.period_steps, "interval_steps": scene.interval_steps,
           "loop_rtf": loop_s / sim_s, "brain_alone_rtf": alone_s / sim_s,
           "cosim_overhead": loop_s / alone_s - 1.0,
           "phases_rtf": {"update": tm["update_s"] / sim_s, "exchange": tm["exchange_s"] / sim_s,
                          "delivery": tm["deliver_s"] / sim_s,
                          "engine python": tm["python_s"] / sim_s,
                          "bridge (brain)": (acc["brain_s"] - engine_s) / sim_s,
                          "body (MuJoCo)": acc["body_step_s"] / sim_s,
                          "output": acc["output_s"] / sim_s,
                          "bridge (body)": (acc["body_side_s"] - acc["body_step_s"]
                                            - acc["output_s"]) / sim_s},
           "overlapped_loop_rtf": None if overlapped_s is None else overlapped_s / sim_s,
           "overlapped_overhead": None if overlapped_s is None else overlapped_s / alone_s - 1,
           "periods": int(round(sim_s * 1e3 / (eng.period_steps * model.dt_ms)))}
    row["python_us_per_period"] = (tm["python_s"] + acc["brain_s"] - engine_s) \
        / row["periods"] * 1e6
    return row


def _overlapped_loop(scene, path) -> float:
    """Wall seconds of intervals 1 .. K-1 of the embedded loop with the body overlapped."""
    from cosim.runner import embedded_parts, run_intervals
    brain, body = embedded_parts(scene, path)
    brain.interval(0)
    body.interval(0)
    t0 = time.perf_counter()
    run_intervals(brain, body, scene, 1, overlap=True)
    wall_s = time.perf_counter() - t0
    brain.finish()
    body.finish()
    return wall_s


def print_profile(row, out=sys.stdout):
    print(f"{row['scene']}: {row['n_cells']} cells, {row['n_synapses']} synapses, "
          f"{row['threads']} thread(s), {row['simulated_s']:.3g} s simulated, exchange every "
          f"{row['exchange_period_steps']} steps, bridge every {row['interval_steps']}", file=out)
    for k, v in row["phases_rtf"].items():
        print(f"  {k:16s} {v:8.3f} s/s  {100 * v / row['loop_rtf']:5.1f} %", file=out)
    print(f"  {'loop':16s} {row['loop_rtf']:8.3f} s/s; brain alone {row['brain_alone_rtf']:.3f}"
          f" s/s; co-simulation overhead {100 * row['cosim_overhead']:+.1f} %; Python per "
          f"exchange period {row['python_us_per_period']:.0f} us", file=out)
    if row["overlapped_loop_rtf"] is not None:
        print(f"  {'loop (overlapped)':16s} {row['overlapped_loop_rtf']:8.3f} s/s; co-simulation "
              f"overhead {100 * row['overlapped_overhead']:+.1f} %", file=out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("scene")
    ap.add_argument("--duration-ms", type=float)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json")
    ap.add_argument("--set", action="append", default=[], dest="overrides", metavar="KEY=VALUE",
                    help="scene override, e.g. brain.density_scale=0.2 (repeatable)")
    ap.add_argument("--no-overlap", action="store_true",
                    help="skip the overlapped loop (one model build fewer)")
    a = ap.parse_args()
    row = profile(a.scene, a.duration_ms, a.threads, a.overrides, not a.no_overlap)
    row["overrides"] = a.overrides
    print_profile(row)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(row, f, indent=1)


if __name__ == "__main__":
    main()
