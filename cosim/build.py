"""Scene -> the parts: brain model and a rank's engine, body, motor pools, cell table."""
from __future__ import annotations

import numpy as np

from body import Body
from body.model import load_model, muscle_names
from brain.connectivity import connect
from brain.engine import Engine, exchange_period
from brain.inputs import afferent_cells
from brain.model import Model, build_model
from brain.partition import local_cells, partition
from bridge import BridgeParams, ExcitationTransfer, afferent_channels, motor_pools

from .scene import Scene, SceneError

__all__ = ["build_brain_model", "build_engine", "build_body", "build_pools", "cell_table",
           "afferent_map"]


def build_brain_model(scene: Scene) -> Model:
    """Atlas, cells and per-type tables (cheap; every rank builds the same)."""
    return build_model(scene.brain, scene.run.dt_ms, scene.run.seed)


def build_engine(scene: Scene, model: Model, n_ranks: int, rank: int, exchange) -> Engine:
    """The engine of one brain rank: its cells and their incoming synapses, prepared."""
    gids = local_cells(partition(model.n_cells, model.cells.voxel, n_ranks), rank)
    synapses = connect(scene.brain, model.cells, gids, scene.run.dt_ms, scene.run.seed,
                       grid_um=scene.brain.atlas.voxel_um)
    period = exchange_period(model.min_delay_steps, scene.interval_steps)
    engine = Engine(model, gids, synapses, exchange, period)
    engine.prepare()
    return engine


def build_body(scene: Scene):
    """Body settled at the bridge's rest excitation, and the excitation transfer (needs pools)."""
    names = muscle_names(load_model(scene.body.mjcf_path))
    try:
        gain, baseline, saturation = scene.bridge.transfer_arrays(names)
    except ValueError as exc:
        raise SceneError(scene.path, "bridge." + str(exc).split(":")[0], str(exc)) from None
    rest = np.clip(baseline, 0.0, saturation)
    return Body(scene.body, rest_excitation=rest)


def build_pools(scene: Scene, model: Model, n_muscles: int):
    """One motor pool per muscle from the output cell type (same on every rank)."""
    gids = model.cells_of_type(scene.bridge.pool_cell_type)
    try:
        return motor_pools(gids, model.cells.pos_um[gids], n_muscles)
    except ValueError as exc:
        raise SceneError(scene.path, "bridge.pool_cell_type", str(exc)) from None


def make_transfer(params: BridgeParams, muscle_names_, pools) -> ExcitationTransfer:
    return ExcitationTransfer(params, muscle_names_, pools.size)


def afferent_map(model: Model, n_muscles: int):
    """(gids, channel) of the afferent input cells: int64[k] each."""
    gids = afferent_cells(model)
    return gids, afferent_channels(len(gids), n_muscles)


def cell_table(model: Model, pools) -> dict:
    """Columns of the /cells table of the output file."""
    c = model.cells
    pool = np.full(c.n, -1, dtype=np.int64)
    pool[pools.gids] = pools.pool
    return {"type_id": c.type_id, "voxel": c.voxel, "pos_um": c.pos_um,
            "type_names": np.array([t.name for t in model.params.cell_types], dtype=object),
            "region": model.atlas.region[c.voxel], "layer": model.atlas.layer[c.voxel],
            "pool": pool}
