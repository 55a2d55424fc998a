"""Scene loading: the shipped scenes load; bad input names file, key and rule."""
import dataclasses

import pytest

from brain.params import CellType
from bridge import BridgeParams
from cosim.scene import RunParams, SceneError, load, loads
from tests.conftest import SCENES, scene_text


def test_demo_scene_loads_and_resolves_mjcf():
    scene = load(SCENES / "demo.toml")
    assert scene.body.mjcf_path.endswith("forelimb.xml")
    assert scene.interval_steps == 10 and scene.n_intervals == 1000
    assert {t.name for t in scene.brain.cell_types} >= {"L23_E", "L5B_E", "L6_LTS", "TC"}
    assert load("demo").text == scene.text      # shipped scenes by name


BAD = [
    ({"C_m_pF = 250.0": "C_m_pF = -3.0"}, "brain.cell_types.L23_E.C_m_pF", "must be > 0"),
    ({"C_m_pF = 250.0": "C_m_pF = nan"}, "brain.cell_types.L23_E.C_m_pF", "must be > 0"),
    ({"C_m_pF = 250.0": 'C_m_pF = "big"'}, "brain.cell_types.L23_E.C_m_pF", "not a number"),
    ({"g_L_nS = 12.5": "gL_nS = 12.5"}, "brain.cell_types.L23_E.gL_nS", "did you mean 'g_L_nS'"),
    ({"dt_ms = 0.1": "dt_ms = 0.3"}, "bridge.interval_ms", "multiple of run.dt_ms"),
    ({"duration_ms = 1000.0": "duration_ms = 1000.5"}, "run.duration_ms", "multiple of"),
    ({'receptor = "AMPA"': 'receptor = "AMPAR"'}, "brain.cell_types.L23_E.receptor",
     "unknown receptor 'AMPAR'"),
    ({'pool_cell_type = "L5B_E"': 'pool_cell_type = "L5_E"'}, "bridge.pool_cell_type",
     "unknown cell type"),
    ({'mjcf_path = "forelimb.xml"': 'mjcf_path = "nope.xml"'}, "body.mjcf_path", "not found"),
    ({"[bridge]": "[bridge]\nlagg = true"}, "bridge.lagg", "did you mean 'lag'"),
    ({"[run]": "[runn]"}, "runn", "unknown section"),
    ({"p_max = 0.10": "p_max = 1.5"}, "brain.connections[0].p_max", "must be in [0, 1]"),
    ({'layer = "L6"': 'layer = "L7"'}, "brain.cell_types.L6_E.layer", "not in brain.atlas.layers"),
    ({"min_ms = 1.0": "min_ms = 0.05"}, "brain.delays.min_ms", ">= run.dt_ms"),
    ({"stop_ms = 800.0": "stop_ms = 100.0"}, "brain.dc[0].stop_ms", "must be > start_ms"),
    ({"gain_per_Hz = 0.02": "gain_per_Hz = -1.0"}, "bridge.transfer.gain_per_Hz", ">= 0"),
    ({"settle_s = 0.5": "settle_s = -1.0"}, "body.settle_s", ">= 0"),
    ({"seed = 20241": "seed = 1.5"}, "run.seed", "not an integer"),
    ({"seed = 20241": 'seed = 20241\nexchange = "alltoall"'}, "run.exchange",
     "must be one of 'sparse', 'allgather'"),
    ({"seed = 20241": 'seed = 20241\npartition = "tiles"'}, "run.partition",
     "must be one of 'bisection', 'area'"),
    ({"seed = 20241": 'seed = 20241\npartition = "area"'}, "run.partition",
     "needs a voxel atlas"),
    ({"seed = 20241": "seed = 20241\nlong_period_ms = -2.0"}, "run.long_period_ms",
     "must be finite and >= 0"),
    ({"seed = 20241": "seed = 20241\nlong_period_ms = 2.0"}, "run.long_period_ms",
     "need a voxel atlas"),
]

# run.long_period_ms on a voxel atlas (the bilateral cortex: 1 ms exchange period)
BAD_LONG = [
    ("run.long_period_ms=1.5", "whole multiple of the exchange period, 1 ms"),
    ("run.long_period_ms=0.25", "whole multiple of the exchange period"),
    ("run.long_period_ms=30.0", "at most 256 (25.6 ms) fit"),
    ("run.long_period_ms=inf", "must be finite and >= 0"),
    ('run.long_period_ms="2"', "not a number"),
]


@pytest.mark.parametrize("override,message", BAD_LONG, ids=[b[0] for b in BAD_LONG])
def test_bad_long_period_names_file_key_and_rule(override, message):
    with pytest.raises(SceneError) as info:
        load(SCENES / "bilateral_cortex.toml", overrides=[override])
    assert info.value.key == "run.long_period_ms"
    assert "bilateral_cortex.toml" in str(info.value) and message in str(info.value)


def test_partition_and_long_period_defaults_keep_one_level():
    scene = load(SCENES / "bilateral_cortex.toml")
    assert scene.run.partition == "bisection" and scene.run.long_period_ms == 0.0
    two = load(SCENES / "bilateral_cortex.toml",
               overrides=['run.partition="area"', "run.long_period_ms=4.0"])
    assert two.run.partition == "area" and two.run.long_period_ms == 4.0


@pytest.mark.parametrize("replace,key,message", BAD, ids=[b[1] for b in BAD])
def test_bad_scene_names_file_key_and_rule(tmp_path, replace, key, message):
    path = tmp_path / "bad.toml"
    path.write_text(scene_text(**replace))
    with pytest.raises(SceneError) as info:
        load(path)
    assert info.value.key == key
    assert str(path) in str(info.value) and message in str(info.value)


def test_invalid_toml():
    with pytest.raises(SceneError, match="not valid TOML"):
        loads("[run\n", path="x.toml")


def test_missing_file():
    with pytest.raises(SceneError, match="no such scene file"):
        load("does/not/exist.toml")


def test_with_run_revalidates():
    scene = load(SCENES / "demo.toml")
    assert scene.with_run(seed=3).run.seed == 3
    with pytest.raises(SceneError, match="duration_ms"):
        scene.with_run(duration_ms=0.5)


def test_defaults_live_in_dataclass_fields():
    # the scene states only what differs; defaults come from the fields, once
    text = scene_text(**{"flush_every_ms = 100.0\n": ""})
    scene = loads(text, base=SCENES)
    assert scene.run.flush_every_ms == RunParams().flush_every_ms
    fields = {f.name: f.default for f in dataclasses.fields(BridgeParams)}
    assert fields["interval_ms"] == 1.0
    assert any(f.name == "V_init_mV" and f.default is None for f in dataclasses.fields(CellType))
