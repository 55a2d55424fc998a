"""BrainForelimbReach-v0: the reach task, with the agent stimulating the brain model."""

from __future__ import annotations

import dataclasses
import warnings

import numba
import numpy as np
from gymnasium import spaces

from body import afferent_rates_Hz
from brain.engine import Engine
from brain.exchange import LocalExchange
from bridge import afferent_drive_Hz
from cosim.build import (afferent_map, build_body, build_brain_model, build_engine,
                         build_pools, make_transfer)
from cosim.scene import Scene, load

from .groups import cell_groups
from .params import BrainReachParams, ReachParams, arguments_table, make_params
from .reach import ForelimbReachEnv, _check_multiple

__all__ = ["BrainForelimbReachEnv", "DEFAULT_SCENE"]

DEFAULT_SCENE = "brain_reach.toml"

# brain description -> (model, gids, synapses, exchange period): the wiring depends only on
# the scene, so every env (and every reset) of the process shares one draw
_NETWORKS: dict[str, tuple] = {}


def _use_fork_safe_threads() -> None:
    """Let the brain's parallel kernels run on a fork-safe numba threading layer.

    gymnasium's AsyncVectorEnv forks by default, and a process that has run a GNU OpenMP
    parallel region aborts its forked children. Numba picks its layer at the first parallel
    launch, so this only works before that; otherwise it says what to do instead.
    """
    try:
        layer = numba.threading_layer()  # raises ValueError until a parallel launch
    except ValueError:
        if numba.config.THREADING_LAYER == "default":
            numba.config.THREADING_LAYER = "forksafe"
        return
    if layer == "omp":
        warnings.warn("numba already runs the brain on the OpenMP threading layer, so a "
                      "forked AsyncVectorEnv of this env will abort; create it with "
                      'vector_kwargs={"context": "forkserver"} (or "spawn"), or set '
                      "NUMBA_THREADING_LAYER=forksafe", RuntimeWarning, stacklevel=3)


def _network(scene: Scene) -> tuple:
    key = repr((scene.brain, scene.run.seed, scene.run.dt_ms, scene.bridge.interval_ms))
    if key not in _NETWORKS:
        model = build_brain_model(scene)
        if scene.run.long_period_ms:    # the envs rebuild an Engine from the synapses
            raise ValueError(f"{scene.path}: run.long_period_ms is not supported by the "
                             "gymnasium envs; set it to 0")
        engine = build_engine(scene, model, 1, 0, LocalExchange())
        _NETWORKS[key] = (model, engine.gid, engine.syn, engine.period_steps)
        engine.close()
    return _NETWORKS[key]


class BrainForelimbReachEnv(ForelimbReachEnv):
    """Reach a target with the forelimb by stimulating a spiking brain model.

    ## Description
    The task of ``cosim/ForelimbReach-v0`` (same target, reward and episode end), but the
    agent cannot touch the muscles: it injects current into groups of brain cells, and the
    brain's L5B output cells move the limb through the bridge (spike counts per motor pool
    -> excitation), while the limb's proprioception drives the brain's afferent input cells.
    Brain, bridge and body are built from a scene file (default ``scenes/brain_reach.toml``:
    a 5 x 2 voxel-column patch of M1 plus motor thalamus at density_scale 0.1, ~1,100 cells),
    so the brain's size, the stimulation targets and the observed groups can be changed. Each
    env step runs ``control_interval_ms / bridge.interval_ms`` bridge intervals in lockstep:
    afferent drive -> brain -> pool counts -> excitation -> body -> proprioception. The
    scene's ``run.duration_ms`` and ``bridge.lag`` are not used (``episode_ms`` and lockstep
    are); its DC stimuli, if any, are timed from the start of each episode. Making the env
    selects numba's fork-safe threading layer (if no parallel kernel has run yet), so that
    gymnasium's default, forking AsyncVectorEnv works.

    ## Action Space
    ``Box(0, max_current_pA, (n_groups,), float32)``: the current (pA) injected into every
    cell of each stimulation group (``env.unwrapped.stim_group_names``), held for one env
    step on top of the scene's inputs. By default the groups are the L2/3 pyramidal cells of
    each voxel column of the patch (``stim_groups=("L23_E/column",)``, 10 groups);
    ``stim_groups=("TC",)`` stimulates the motor thalamus instead.

    ## Observation Space
    The 54 (for the forelimb) body values of ``cosim/ForelimbReach-v0``, then three blocks of
    population rates (Hz) over the last env step: ``pool_rate_Hz`` (one per motor pool =
    muscle), ``stim_rate_Hz`` (one per stimulation group) and ``observed_rate_Hz`` (one per
    ``observed_groups`` group; empty by default). ``observation_layout`` gives the slices.

    ## Rewards
    As ``cosim/ForelimbReach-v0``: the distance term plus the effort term, computed from the
    excitation the bridge applied.

    ## Starting State
    The body as in ``cosim/ForelimbReach-v0``; a freshly prepared brain. The network (cells
    and synapses) is fixed by the scene's seed; the episode's seed changes the target, the
    joint noise, and the seed of the brain's random streams (initial membrane potentials,
    Poisson background, afferent spikes), so ``reset(seed=...)`` fully determines the episode.

    ## Episode End
    As ``cosim/ForelimbReach-v0``.

    ## Info
    As ``cosim/ForelimbReach-v0``, plus ``stim_current_pA`` (per group, as applied),
    ``pool_counts`` (L5B spikes per pool over the step), ``pool_rate_Hz``, ``stim_rate_Hz``,
    ``observed_rate_Hz`` and ``n_spikes`` (all cells, over the step).

    ## Arguments
    ``gymnasium.make("cosim/BrainForelimbReach-v0", scene="brain_reach.toml",
    render_mode=None, **options)``: ``scene`` is a scene file (a bare name is looked up in
    the shipped scenes) or a loaded `cosim.scene.Scene`; the body (MJCF, end effector) comes
    from it. ``init_qpos_noise`` replaces the scene's ``body.init_qpos_noise``. The options
    and their defaults:

    """

    def __init__(self, scene: str | Scene = DEFAULT_SCENE, render_mode: str | None = None,
                 **options) -> None:
        _use_fork_safe_threads()
        brain_keys = {f.name for f in dataclasses.fields(BrainReachParams)}
        self.brain_params = make_params(
            BrainReachParams, {k: v for k, v in options.items() if k in brain_keys})
        params = make_params(ReachParams, {k: v for k, v in options.items()
                                           if k not in brain_keys})
        self.scene = scene if isinstance(scene, Scene) else load(scene)
        sc = dataclasses.replace(self.scene, body=dataclasses.replace(
            self.scene.body, init_qpos_noise=params.init_qpos_noise))
        bridge_ms = sc.bridge.interval_ms
        _check_multiple("control_interval_ms", params.control_interval_ms,
                        "bridge.interval_ms", bridge_ms)
        body = build_body(sc)
        _check_multiple("bridge.interval_ms", bridge_ms, "the body timestep",
                        body.timestep_s * 1e3)
        self._intervals = int(round(params.control_interval_ms / bridge_ms))
        self._bridge_s = bridge_ms * 1e-3
        self._setup_brain(sc, body.n_muscles)
        self._setup(body, params, render_mode)
        self.action_space = spaces.Box(0.0, self.brain_params.max_current_pA,
                                       (self.stim.n,), np.float32)

    def _setup_brain(self, sc: Scene, n_muscles: int) -> None:
        self._model, self._gids, self._synapses, self._period = _network(sc)
        model, n = self._model, len(self._gids)
        self.pools = build_pools(sc, model, n_muscles)
        aff_gids, self._aff_channel = afferent_map(model, n_muscles)
        self._aff_idx = np.searchsorted(self._gids, aff_gids)
        self._fibres = sc.brain.afferents.fibres_per_cell if sc.brain.afferents else 0.0
        self._drive_Hz = np.zeros(n)
        self.stim = cell_groups(model, self.brain_params.stim_groups)
        self.observed = cell_groups(model, self.brain_params.observed_groups)
        self.stim_group_names, self.observed_group_names = self.stim.names, self.observed.names
        self._stim_idx = np.searchsorted(self._gids, np.concatenate(self.stim.gids))
        self._stim_of = np.repeat(np.arange(self.stim.n), self.stim.size)
        # rows: stimulated groups, then observed groups; columns: local cells
        self._member = np.concatenate([self.stim.member_matrix(model.n_cells),
                                       self.observed.member_matrix(model.n_cells)])[:, self._gids]
        self._group_size = np.maximum(np.concatenate([self.stim.size, self.observed.size]), 1)
        self.n_cells, self.n_synapses = model.n_cells, self._synapses.n
        self._bridge_scene = sc
        self._clear_step()
        self.engine = None

    def _clear_step(self) -> None:
        self._stim_pA = np.zeros(self.stim.n)
        self._pool_counts = np.zeros(self.pools.n_pools, dtype=np.int64)
        self._group_counts = np.zeros(len(self._group_size), dtype=np.int64)
        self._n_spikes = 0

    def _blocks(self) -> list[tuple[str, int]]:
        return super()._blocks() + [("pool_rate_Hz", self.pools.n_pools),
                                    ("stim_rate_Hz", self.stim.n),
                                    ("observed_rate_Hz", self.observed.n)]

    def _bounds(self) -> dict[str, tuple[float, float]]:
        rates = dict.fromkeys(("pool_rate_Hz", "stim_rate_Hz", "observed_rate_Hz"), (0.0, np.inf))
        return {**super()._bounds(), **rates}

    def _advance(self, action) -> None:
        current = np.asarray(action, dtype=np.float64)
        if current.shape != (self.stim.n,) or not np.all(np.isfinite(current)):
            raise ValueError(f"action: expected {self.stim.n} finite currents (pA), one per "
                             f"stimulation group, got shape {current.shape}: {current}")
        current = np.clip(current, 0.0, self.brain_params.max_current_pA)
        self.engine.set_stimulus_current(np.bincount(
            self._stim_idx, weights=current[self._stim_of], minlength=len(self._gids)))
        sc, body = self._bridge_scene, self.body
        self._clear_step()
        self._stim_pA = current
        spikes = []
        for _ in range(self._intervals):
            rates = afferent_rates_Hz(body.proprioception(), sc.afferents)
            self._drive_Hz[self._aff_idx] = afferent_drive_Hz(rates, self._aff_channel,
                                                              self._fibres)
            self.engine.set_afferent_rates(self._drive_Hz)
            _, gids = self.engine.run(sc.interval_steps)
            counts = self.pools.count(gids)
            self._pool_counts += counts
            drive = counts if sc.bridge.motor_output else np.zeros_like(counts)
            body.step(self.transfer(drive), self._bridge_s)
            spikes.append(gids)
        gids = np.concatenate(spikes)
        self._n_spikes = len(gids)
        local = np.searchsorted(self._gids, gids)
        self._group_counts = np.count_nonzero(self._member[:, local], axis=1)

    def _rates_Hz(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(pool, stimulated group, observed group) rates over the last step (Hz)."""
        pool = self._pool_counts / (np.maximum(self.pools.size, 1) * self.interval_s)
        group = self._group_counts / (self._group_size * self.interval_s)
        return pool, group[:self.stim.n], group[self.stim.n:]

    def _observation(self, paw_m: np.ndarray) -> np.ndarray:
        obs = super()._observation(paw_m)
        lay = self.observation_layout
        pool, stim, observed = self._rates_Hz()
        obs[lay["pool_rate_Hz"]] = pool
        obs[lay["stim_rate_Hz"]] = stim
        obs[lay["observed_rate_Hz"]] = observed
        return obs

    def _info(self, paw_m: np.ndarray, distance_m: float, terms: dict[str, float]) -> dict:
        info = super()._info(paw_m, distance_m, terms)
        pool, stim, observed = self._rates_Hz()
        info.update(stim_current_pA=self._stim_pA.copy(), pool_counts=self._pool_counts.copy(),
                    pool_rate_Hz=pool, stim_rate_Hz=stim, observed_rate_Hz=observed,
                    n_spikes=self._n_spikes)
        return info

    def _reset_world(self) -> None:
        super()._reset_world()
        if self.engine is not None:
            self.engine.close()
        model = dataclasses.replace(self._model, seed=int(self.np_random.integers(2**31 - 1)))
        self.engine = Engine(model, self._gids, self._synapses, LocalExchange(), self._period)
        self.engine.prepare()
        self.transfer = make_transfer(self._bridge_scene.bridge, self.muscle_names, self.pools)
        self._drive_Hz[:] = 0.0
        self._clear_step()

    def close(self) -> None:
        if self.engine is not None:
            self.engine.close()
            self.engine = None
        super().close()


BrainForelimbReachEnv.__doc__ += arguments_table(ReachParams, BrainReachParams)
