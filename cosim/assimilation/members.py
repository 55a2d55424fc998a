"""Advance one ensemble member over one assimilation window (brain only, no body).

A member is its parameter values, its noise seed and its engine state.  Each window
its model is rebuilt from the scene with the values applied as ``--set`` overrides:
placement and connection draws are keyed by the *network* seed (``run.seed``, the same
for every member) and by (target, source, rule), so every member has the synapses of
the recorded network and only weights, rates or thresholds change.  The engine is then
given the member's state (``Engine.set_state``: potentials, conductances, refractory
counters and the delay ring), so it continues exactly where the last window ended; a
rebuild of the small twin scene takes 0.05-0.15 s (scene validation ~15 ms, cells
~40 ms, synapses ~90 ms on this shared machine).  The member's own noise seed replaces
``model.seed``, which keys the Poisson input and the initial potentials only.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from brain.exchange import LocalExchange

from ..build import build_brain_model, build_engine
from ..interrupts import SimulationFault
from ..scene import SceneError, load
from .config import AssimilationParams, parameter_overrides
from .observe import binned_rates, rate_groups

__all__ = ["member_seed", "member_scene", "advance_member", "observable_columns"]


def member_seed(seed: int, member: int) -> int:
    """Noise seed of a member: a function of the assimilation seed and its index only."""
    return int(np.random.SeedSequence([int(seed), 0, int(member)]).generate_state(1)[0])


def member_scene(scene, params: AssimilationParams, values, member: int):
    """The scene with a member's parameter values set (validated like the file)."""
    try:
        return load(scene.path, overrides=[*scene.overrides,
                                           *parameter_overrides(params, values)])
    except SceneError as exc:
        shown = ", ".join(f"{n}={float(v):.6g}" for n, v in zip(params.names, values))
        where = f"{exc.path}: " + (f"{exc.key}: " if exc.key else "")
        raise SceneError(exc.path, exc.key, f"member {member} ({shown}): "
                         f"{str(exc).removeprefix(where)}") from None


def observable_columns(model, names) -> tuple:
    """(group_of_cell, n_cells, columns) of the ``rates`` operator: the column of each
    observed name among the model's groups; an unknown name is a ValueError."""
    c = model.cells
    groups, group_of_cell, n_cells = rate_groups(
        [t.name for t in model.params.cell_types], c.type_id, model.atlas.region[c.voxel])
    missing = [n for n in names if n not in groups]
    if missing:
        raise ValueError(f"observable {missing[0]!r} of the observation file is not a "
                         f"(region, cell type) group of the scene; its groups are "
                         f"{', '.join(groups)}")
    return group_of_cell, n_cells, np.array([groups.index(n) for n in names], dtype=np.int64)


def advance_member(scene, params: AssimilationParams, member: int, values, state,
                   t_start_ms: float, t_stop_ms: float, names, bin_ms: float, comm=None):
    """Run member ``member`` with parameter ``values`` (natural units) from ``state``
    (None: the start, t = 0) over [t_start_ms, t_stop_ms).

    ``comm``: an MPI communicator of the member's brain ranks (None: this process alone);
    each rank builds and advances its share of the cells, ``state`` is that share's, and
    the observables are computed on the communicator's rank 0 from every rank's spikes
    (integer counts: the same numbers for any rank count); the other ranks get None.

    Returns (observables float64[n_bins * k], bin-major: the rate (Hz) of each observed
    group in each bin; the engine state at t_stop_ms). A non-finite potential is a
    SimulationFault naming the member and its parameter values.
    """
    s = member_scene(scene, params, values, member)
    model = dataclasses.replace(build_brain_model(s), seed=member_seed(params.seed, member))
    if comm is None:
        engine = build_engine(s, model, 1, 0, LocalExchange())
    else:
        from brain.exchange import mpi_exchange
        engine = build_engine(s, model, comm.Get_size(), comm.Get_rank(),
                              mpi_exchange(s.run.exchange, comm))
    if state is not None:
        engine.set_state(state)
    dt = model.dt_ms
    if abs(engine.step * dt - t_start_ms) > 1e-6:
        raise RuntimeError(f"member {member}: state is at {engine.step * dt} ms, the window "
                           f"starts at {t_start_ms} ms")
    try:
        steps, gids = engine.run(int(round((t_stop_ms - t_start_ms) / dt)))
    except FloatingPointError as exc:
        shown = ", ".join(f"{n}={float(v):.6g}" for n, v in zip(params.names, values))
        raise SimulationFault(f"member {member} ({shown}): {exc}") from None
    if comm is not None:
        parts = comm.gather((steps, gids), root=0)
        if comm.Get_rank() != 0:
            state = engine.get_state()
            engine.close()              # frees the exchange's communicator
            return None, state
        steps = np.concatenate([p[0] for p in parts])
        gids = np.concatenate([p[1] for p in parts])
    group_of_cell, n_cells, cols = observable_columns(model, names)
    rates = binned_rates(steps * dt, gids, group_of_cell, n_cells, t_start_ms,
                         t_stop_ms, bin_ms)[:, cols]
    if not np.all(np.isfinite(rates)):
        raise SimulationFault(f"member {member}: non-finite observables in "
                              f"[{t_start_ms:g}, {t_stop_ms:g}) ms")
    state = engine.get_state()
    engine.close()
    return rates.ravel(), state
