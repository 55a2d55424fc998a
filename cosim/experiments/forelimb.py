"""forelimb: M1 stimulation -> L5B bursts -> muscles -> the limb moves.

Runs: the stimulus run of ``gamma``; motor output off (``bridge.motor_output =
false``); proprioceptive feedback off (``bridge.feedback = false``: the brain hears the
afferent rates of the limb at rest).
"""
from __future__ import annotations

import numpy as np

from ..analysis import figures

__all__ = ["run"]

MOTOR_OFF = ("bridge.motor_output=false",)
FEEDBACK_OFF = ("bridge.feedback=false",)
MOVE_MS = 500.0


def _excursion_deg(run) -> float:
    """Largest joint-angle change (deg) within MOVE_MS of the stimulus onset."""
    t_ms = run.body["time_s"] * 1000.0
    q = run.body["qpos"][:, :len(run.joint_names)]
    start, _ = run.stim_window_ms
    base = q[np.searchsorted(t_ms, start)] if len(q) else q
    sel = (t_ms >= start) & (t_ms <= start + MOVE_MS)
    if not sel.any():
        return 0.0
    return float(np.degrees(np.abs(q[sel] - base).max()))


def run(exp) -> None:
    for seed in exp.seeds:
        on = exp.run("stim", seed)
        off = exp.run("motor_off", seed, MOTOR_OFF)
        nofb = exp.run("feedback_off", seed, FEEDBACK_OFF)
        start, stop = on.stim_window_ms
        k = f"seed{seed}."
        l5b = on.cells(region="MOp", layer="L5B", kind="E")
        # baseline from 50 ms (after the start-up transient) to the onset
        base = on.mean_rate(l5b, 50.0, start)
        burst = on.mean_rate(l5b, start, min(stop, start + MOVE_MS))
        exp.check(k + "L5B_rate_ratio_stim_vs_before", burst / base if base > 0 else
                  float("inf"), ">=", 2.0, note=f"{base:.2f} -> {burst:.2f} Hz")
        exp.check(k + "max_joint_change_deg", _excursion_deg(on), ">", 10.0)
        exp.check(k + "max_joint_change_deg_motor_off", _excursion_deg(off), "<", 1.0)
        aff = np.flatnonzero(on.type_name == on.afferent_type)
        r_on, r_off = on.mean_rate(aff, start, stop), nofb.mean_rate(aff, start, stop)
        exp.check(k + "feedback_rate_change", abs(r_on - r_off) / max(r_off, 1e-9), ">=", 0.1,
                  note=f"{on.afferent_type}: {r_on:.2f} Hz with feedback, {r_off:.2f} without")
        t = on.body["time_s"]
        curves = {f"{j} (motor on)": (t, np.degrees(on.body["qpos"][:, i]))
                  for i, j in enumerate(on.joint_names)}
        curves.update({f"{j} (motor off)": (off.body["time_s"],
                                            np.degrees(off.body["qpos"][:, i]))
                       for i, j in enumerate(off.joint_names)})
        exp.figure(figures.profile_figure(curves, exp.out_dir / f"forelimb_seed{seed}.png",
                                          xlabel="time (s)", ylabel="joint angle (deg)"))
