"""cosim build / show, the model cache, voxel-atlas scene validation, an embedded run."""
from __future__ import annotations

import json
import time

import numpy as np
import pytest

from cosim import cache
from cosim.build import build_brain_model, build_summary
from cosim.cli import main
from cosim.scene import SCENES_DIR, SceneError, load, loads
from tests.conftest import SHARED_DATA

needs_data = pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="../shared/data absent")
SYN = SCENES_DIR / "m1_m2_th_pg_cb.toml"
CCF = SCENES_DIR / "ccf_motor_left.toml"


@pytest.fixture(autouse=True)
def _env(tmp_path, monkeypatch):
    monkeypatch.setenv("COSIM_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("COSIM_DATA", str(SHARED_DATA))
    cache.set_enabled(True)


@needs_data
def test_cosim_build_ccf_json(tmp_path, capsys):
    out = tmp_path / "ccf.json"
    assert main(["build", str(CCF), "--json", str(out)]) == 0
    s = json.loads(out.read_text())
    text = capsys.readouterr().out
    assert "MOp->CP" in text and "cells" in text
    assert set(s["cells_per_region"]) == {"MOp", "MOs", "VAL", "PG", "SIM", "DN", "IP", "FN",
                                          "CP"}
    assert min(s["cells_per_region"].values()) > 10
    assert not any(t.startswith("MOp.L4") for t in s["cells_per_type"])
    assert s["density_per_mm3_unscaled"]["MOp"] == pytest.approx(117138, rel=0.05)
    per = s["synapses_per_target_cell"]
    others = [v for k, v in per.items() if k.startswith("MOp->") and k.split("->")[1]
              not in ("MOp", "MOs", "CP")]
    assert per["MOp->CP"] > max(others)


@needs_data
def test_all_ccf_labels_in_ontology_and_mop_volume():
    from brain.allen import annotation_volumes_mm3, read_nrrd, read_ontology
    onto = read_ontology(SHARED_DATA / "allen_ontology" / "structure_graph_1.json")
    a100 = read_nrrd(SHARED_DATA / "ccfv3_annotation" / "annotation_100_derived_from_50.nrrd")[0]
    assert set(np.unique(a100).tolist()) - {0} <= set(onto.acronym)
    data, spacing, _ = read_nrrd(SHARED_DATA / "ccfv3_annotation" / "annotation_50.nrrd")
    mop = annotation_volumes_mm3(data, spacing, onto, ["MOp"])["MOp"]
    assert mop == pytest.approx(11.35, rel=0.01)


def test_cache_loads_5x_faster_and_survives_corruption(tmp_path):
    scene = load(SYN)
    s1 = build_summary(scene)
    assert not s1["from_cache"]
    t0 = time.perf_counter()
    s2 = build_summary(scene)
    load_s = time.perf_counter() - t0
    assert s2["from_cache"] and s2["n_synapses"] == s1["n_synapses"]
    assert s2["synapses_per_pathway"] == s1["synapses_per_pathway"]
    assert s1["build_s"] > 5 * load_s, (s1["build_s"], load_s)
    for f in (tmp_path / "cache" / "models").glob("*.h5"):
        f.write_bytes(b"not hdf5")
    with pytest.warns(UserWarning, match="unreadable"):
        s3 = build_summary(scene)
    assert not s3["from_cache"] and s3["n_synapses"] == s1["n_synapses"]
    cache.set_enabled(False)
    assert not build_summary(scene)["from_cache"]


def test_build_ranks_and_show(tmp_path, capsys):
    assert main(["build", str(SYN), "--ranks", "3", "--no-cache"]) == 0
    assert "on 3 rank(s)" in capsys.readouterr().out
    png = tmp_path / "atlas.png"
    assert main(["show", str(SYN), "-o", str(png)]) == 0
    assert png.stat().st_size > 10_000


def test_synthetic_scene_runs_embedded(tmp_path):
    import h5py

    from cosim.runner import run_embedded
    scene = load(SYN).with_run(duration_ms=50.0)
    r = run_embedded(scene, tmp_path / "out.h5", progress=False)
    assert r.n_spikes > 0 and r.n_cells > 10_000
    with h5py.File(tmp_path / "out.h5") as f:
        assert "MOp" in {x.decode() if isinstance(x, bytes) else x for x in f["cells/region"][()]}


def _variant(**replace):
    text = SYN.read_text()
    for old, new in replace.items():
        assert old in text, old
        text = text.replace(old, new, 1)
    return text


@pytest.mark.parametrize("replace, key, message", [
    ({'kind = "synthetic"': 'kind = "synthetc"'}, "brain.atlas.kind", "must be"),
    ({'"PG", "SIM"': '"PGx", "SIM"'}, "brain.atlas.regions[4]", "unknown Allen acronym"),
    ({'layer = "L2/3"\nfraction = 0.849': 'layer = "L2/3"\nfraction = 0.849\n'
      'density_per_mm3 = 5.0'}, "brain.cell_types.L23_E.fraction", "exactly one"),
    ({'layer = "L5B"\nfraction = 0.790': 'layer = "L5"\nfraction = 0.790'},
     "brain.cell_types.L5B_E.layer", "must be one of"),
    ({'class = "GR"': 'class = "GRX"'}, "brain.cell_types.GR.class", "unknown cell class"),
    ({'pool_cell_type = "MOp.L5B_E"': 'pool_cell_type = "L5B_E"'}, "bridge.pool_cell_type",
     "names 2 cell types"),
    ({'post_regions = ["PG"]': 'post_regions = ["SSp"]'}, "brain.projections[2].post_regions[0]",
     "unknown region"),
    ({'regions = ["DN", "IP", "FN"]': 'regions = ["DN", "IP", "SSp"]'},
     "brain.cell_types.DCN.region", "unknown region"),
    ({'hemisphere = "ipsi"\nfold_contra': 'hemisphere = "both"\nfold_contra'},
     "brain.projections[7].fold_contra", "needs hemisphere"),
])
def test_voxel_scene_errors(replace, key, message):
    with pytest.raises(SceneError) as err:
        loads(_variant(**replace), path="v.toml", base=SCENES_DIR)
    assert err.value.key == key and message in str(err.value), str(err.value)


def test_data_paths_need_the_variable_and_the_file(monkeypatch):
    monkeypatch.delenv("COSIM_DATA")
    with pytest.raises(SceneError) as err:
        load(CCF)
    assert err.value.key == "brain.atlas.annotation" and "COSIM_DATA" in str(err.value)
    monkeypatch.setenv("COSIM_DATA", "/nonexistent")
    with pytest.raises(SceneError) as err:
        load(CCF)
    assert err.value.key == "brain.atlas.annotation" and "not found" in str(err.value)


def test_patch_scene_rejects_voxel_atlas_features():
    from tests.conftest import scene_text
    text = scene_text(**{'density_per_mm3 = 80000.0': 'fraction = 0.8'})
    with pytest.raises(SceneError, match="needs a voxel atlas"):
        loads(text.replace('mjcf_path = "forelimb.xml"',
                           f'mjcf_path = "{SCENES_DIR / "forelimb.xml"}"'))
    assert build_brain_model(load("demo")).atlas.kind == "patch"


def test_cache_command_lists_and_clears(tmp_path):
    import os
    import subprocess
    import sys
    env = dict(os.environ, COSIM_CACHE=str(tmp_path))
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "abc.model.h5").write_bytes(b"x" * 2000)
    run = lambda *a: subprocess.run([sys.executable, "-m", "cosim", "cache", *a], env=env,
                                    capture_output=True, text=True, timeout=120)
    res = run()
    assert res.returncode == 0 and "abc.model.h5" in res.stdout and "1 files" in res.stdout
    res = run("--clear")
    assert res.returncode == 0 and not (tmp_path / "models" / "abc.model.h5").exists()
