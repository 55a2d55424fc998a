"""Embedded and MPI orchestration of an assimilation run.

Member m lives on rank m % R (with N brain ranks per member: on the m % (R / N)-th group
of N consecutive ranks, its cells spread over them as in ``cosim launch``, spikes
exchanged within the group).  Each window every rank advances its members in order,
the observables are gathered to rank 0 in member order, rank 0 does the EnKF update
(its random numbers keyed by the assimilation seed and the window index only) and sends
the new parameters to every rank.  A member's simulation depends only on its parameter
values, its state and its noise seed, so the parameter trajectory is the same for any R,
and embedded (one process, R = 1, no MPI) gives the same numbers.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from .config import AssimilationParams
from .enkf import enkf_update, update_rng
from .members import advance_member, observable_columns
from .observe import Observations

__all__ = ["Plan", "plan", "LocalComm", "MpiComm", "assimilate", "prior_ensemble"]

TAG_Y, TAG_Z = 31, 32


@dataclass(frozen=True)
class Plan:
    """What is assimilated: n_windows windows of window_ms (ms) from t = 0, as many as
    fit in both the observations and the scene's run.duration_ms."""

    scene: object
    params: AssimilationParams
    obs: Observations
    n_members: int
    window_ms: float
    ranks_per_member: int = 1
    # (group_of_cell, n_cells, columns) of the observables in the scene's model
    columns: tuple = ()

    @property
    def n_windows(self) -> int:
        span = min(self.obs.duration_ms, self.scene.run.duration_ms)
        return int(np.floor(span / self.window_ms + 1e-9))

    def window(self, w: int) -> tuple[float, float]:
        return w * self.window_ms, (w + 1) * self.window_ms


def plan(scene, params: AssimilationParams, obs: Observations, n_members: int,
         window_ms: float, brain_ranks_per_member: int = 1) -> Plan:
    """Check everything before any member runs; ValueError says what is wrong."""
    from ..build import build_brain_model
    if brain_ranks_per_member < 1:
        raise ValueError(f"--brain-ranks-per-member {brain_ranks_per_member}: must be >= 1")
    if n_members < 2:
        raise ValueError(f"--members {n_members}: an ensemble needs >= 2 members")
    if obs.operator != params.operator:
        raise ValueError(f"the observation file was made with operator {obs.operator!r}, "
                         f"the scene's [assimilation] asks for {params.operator!r}")
    for what, unit in (("bridge.interval_ms", scene.bridge.interval_ms),
                       ("the observation bin", obs.bin_ms)):
        n = window_ms / unit
        if not (window_ms > 0) or abs(n - round(n)) > 1e-9 or round(n) < 1:
            raise ValueError(f"--window {window_ms}: must be a whole multiple of {what} "
                             f"({unit} ms)")
    p = Plan(scene, params, obs, n_members, window_ms, brain_ranks_per_member,
             observable_columns(build_brain_model(scene), obs.names))
    if p.n_windows < 1:
        raise ValueError(f"--window {window_ms}: longer than the observations "
                         f"({obs.duration_ms} ms) or run.duration_ms")
    return p


def prior_ensemble(params: AssimilationParams, n_members: int) -> np.ndarray:
    """Transformed parameters z[m, p] drawn from the prior (same on every rank)."""
    rng = np.random.default_rng(np.random.SeedSequence([params.seed, 2]))
    mean = np.array([float(p.to_z(p.prior_mean)) for p in params.parameters])
    sd = np.array([p.prior_sd for p in params.parameters])
    z = mean + sd * rng.standard_normal((n_members, len(mean)))
    return _clipped(params, z)


def natural(params: AssimilationParams, z) -> np.ndarray:
    """z[m, p] -> natural values[m, p], within the bounds."""
    return np.stack([p.from_z(z[:, i]) for i, p in enumerate(params.parameters)], axis=1)


def _clipped(params, z):
    v = natural(params, z)
    return np.stack([p.to_z(v[:, i]) for i, p in enumerate(params.parameters)], axis=1)


def localisation(params: AssimilationParams, names, n_bins: int):
    """float64[p, n_bins * k]: 1 where parameter p may see observable k
    (``Parameter.sees``: its regions and observable patterns), else 0; None without
    localisation."""
    if not params.localise:
        return None
    rows = [[1.0 if p.sees(n) else 0.0 for n in names] for p in params.parameters]
    return np.tile(np.array(rows), (1, n_bins))


class LocalComm:
    """One process holds every member (embedded mode)."""

    rank, size = 0, 1

    def gather(self, obj):
        return [obj]

    def bcast(self, obj):
        return obj


class MpiComm:
    """gather/bcast of small Python objects with Iprobe + sleep, so waiting ranks yield
    their core (more ranks than cores)."""

    def __init__(self, comm):
        self.comm, self.rank, self.size = comm, comm.Get_rank(), comm.Get_size()

    def _recv(self, source, tag):
        while not self.comm.Iprobe(source=source, tag=tag):
            time.sleep(1e-3)
        return self.comm.recv(source=source, tag=tag)

    def _send(self, obj, dest, tag):
        req = self.comm.isend(obj, dest=dest, tag=tag)
        while not req.Test():
            time.sleep(1e-4)

    def gather(self, obj):
        if self.rank != 0:
            self._send(obj, 0, TAG_Y)
            return None
        return [obj] + [self._recv(r, TAG_Y) for r in range(1, self.size)]

    def bcast(self, obj):
        if self.rank == 0:
            for r in range(1, self.size):
                self._send(obj, r, TAG_Z)
            return obj
        return self._recv(0, TAG_Z)


def state_localisation(group_of_cell, cols, n_bins: int):
    """float64[n_cells, n_bins * k]: 1 where a cell's potential may see observable k (the
    rate of its own region and type)."""
    rows = (np.asarray(group_of_cell)[:, None] == np.asarray(cols)[None, :]).astype(float)
    return np.tile(rows, (1, n_bins))


def _full_potentials(state, comm):
    """A member's potentials of all its cells in gid order (None on the group's other
    ranks); ``comm``: the member's group communicator or None (one rank)."""
    if comm is None:
        v = np.empty(len(state["gid"]))
        v[state["gid"]] = state["v_mV"]
        return v
    parts = comm.gather((state["gid"], state["v_mV"]), root=0)
    if comm.Get_rank() != 0:
        return None
    gid = np.concatenate([g for g, _ in parts])
    v = np.empty(len(gid))
    v[gid] = np.concatenate([x for _, x in parts])
    return v


def assimilate(p: Plan, comm=None, progress=None) -> dict | None:
    """Run the filter. Returns the results on rank 0 (None elsewhere): arrays for
    ``results.write_results``."""
    comm = comm or LocalComm()
    prm, obs, M = p.params, p.obs, p.n_members
    n = p.ranks_per_member
    if comm.size % n:
        raise ValueError(f"--brain-ranks-per-member {n}: the job's {comm.size} rank(s) are "
                         f"not a multiple of {n}")
    group, n_groups = comm.rank // n, comm.size // n
    # a member of N ranks: its engine exchanges over the group's own communicator
    sub = comm.comm.Split(group, comm.rank) if n > 1 else None
    mine = [m for m in range(M) if m % n_groups == group]
    z = prior_ensemble(prm, M)
    states = {m: None for m in mine}
    W = p.n_windows
    n_bins = int(round(p.window_ms / obs.bin_ms))
    loc = localisation(prm, obs.names, n_bins)
    if prm.update_state:
        group_of_cell, _, cols = p.columns
        if loc is not None:
            loc = np.vstack([loc, state_localisation(group_of_cell, cols, n_bins)])
    out = {"members": [natural(prm, z)], "predicted": [], "observed": [], "noise_var": [],
           "innovation": [], "innovation_var": [], "nis": [], "window_s": [], "update_s": [],
           "advance_s": [], "v_shift_mV": []}
    for w in range(W):
        t0 = time.perf_counter()
        t_start, t_stop = p.window(w)
        values = natural(prm, z)
        y_mine = {}
        for m in mine:
            y, states[m] = advance_member(p.scene, prm, m, values[m], states[m], t_start,
                                          t_stop, obs.names, obs.bin_ms, sub)
            v = _full_potentials(states[m], sub) if prm.update_state else None
            if y is not None:                  # the group's first rank holds the rates
                y_mine[m] = (y, v)
        t1 = time.perf_counter()
        parts = comm.gather((y_mine, t1 - t0))
        if comm.rank == 0:
            t2 = time.perf_counter()
            y_all = {}
            for part, _ in parts:
                y_all.update(part)
            y = np.stack([y_all[m][0] for m in range(M)])
            d, r = obs.window(t_start, t_stop)
            n_p = z.shape[1]
            if prm.update_state:
                v_f = np.stack([y_all[m][1] for m in range(M)])
                z = np.hstack([z, v_f])
            upd = enkf_update(z, y, d, r, update_rng(prm.seed, w), prm.inflation, loc)
            if prm.update_state:
                # potentials stay within the range the forecast ensemble visited, so an
                # update never puts a cell past threshold or below any reversal potential
                v_a = np.clip(upd.z_analysis[:, n_p:], v_f.min(axis=0), v_f.max(axis=0))
                out["v_shift_mV"].append(float(np.abs(v_a - v_f).mean()))
            z = _clipped(prm, upd.z_analysis[:, :n_p])
            out["members"].append(natural(prm, z))
            for key, v in (("predicted", y), ("observed", d), ("noise_var", r),
                           ("innovation", upd.innovation), ("innovation_var", upd.innovation_var),
                           ("nis", upd.normalised_innovation_sq),
                           ("advance_s", max(s for _, s in parts))):
                out[key].append(v)
            out["update_s"].append(time.perf_counter() - t2)
        if prm.update_state:
            z, v_new = comm.bcast((z, v_a if comm.rank == 0 else None))
            for m in mine:
                states[m]["v_mV"] = v_new[m][states[m]["gid"]]
        else:
            z = comm.bcast(z)
        if comm.rank == 0:
            out["window_s"].append(time.perf_counter() - t0)
            if progress:
                progress(w, W, out)
    if comm.rank != 0:
        return None
    return {k: np.asarray(v) for k, v in out.items()}
