"""The synthetic brain: its files load with the real-atlas readers and look like a brain."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from brain.allen import (annotation_volumes_mm3, read_densities, read_knox, read_nrrd,
                         read_ontology)
from brain.synthetic_brain import REGIONS, STRUCTURES, make_synthetic_atlas

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
REAL_ONTOLOGY = DATA / "allen_ontology" / "structure_graph_1.json"


@pytest.fixture(scope="module")
def atlas(tmp_path_factory):
    paths = make_synthetic_atlas(tmp_path_factory.mktemp("synthetic"))
    onto = read_ontology(paths["ontology"])
    label, spacing, _ = read_nrrd(paths["annotation"])
    depth = read_nrrd(paths["depth"])[0]
    return {"paths": paths, "onto": onto, "label": label, "spacing": spacing, "depth": depth,
            "u": read_nrrd(paths["surface_u"])[0], "v": read_nrrd(paths["surface_v"])[0]}


def _mask(atlas, acronym):
    return np.isin(atlas["label"], list(atlas["onto"].descendants(acronym)))


def test_files_round_trip(atlas):
    assert set(atlas["paths"]) == {"annotation", "ontology", "connectome", "densities",
                                   "depth", "surface_u", "surface_v"}
    label = atlas["label"]
    assert label.dtype == np.uint32 and label.shape == (80, 50, 60)
    assert label.size <= 300_000
    np.testing.assert_array_equal(atlas["spacing"], [100.0, 100.0, 100.0])
    for key in ("depth", "u", "v"):
        assert atlas[key].dtype == np.float32 and atlas[key].shape == label.shape
    assert len(atlas["onto"].acronym) == len(STRUCTURES)
    table = read_densities(atlas["paths"]["densities"], atlas["onto"])
    assert table.unmatched == ()
    assert table.neurons_per_mm3("MOp", "L2/3") == 118582
    assert 1e6 <= table.neurons_per_mm3("SIMgr") <= 2e6
    for acronym in REGIONS:
        assert 5e4 <= table.neurons_per_mm3(acronym) <= 4e5, acronym


def test_every_label_in_ontology(atlas):
    labels = set(np.unique(atlas["label"]).tolist()) - {0}
    assert labels <= set(atlas["onto"].acronym)
    # Voxels carry leaves: the layer structures, not MOp or SIM themselves.
    assert atlas["onto"].id_of("MOp") not in labels and atlas["onto"].id_of("SIM") not in labels


@pytest.mark.skipif(not REAL_ONTOLOGY.is_file(), reason=f"{REAL_ONTOLOGY} absent")
def test_structures_match_real_ontology():
    real = read_ontology(REAL_ONTOLOGY)
    for sid, acronym, name, parent in STRUCTURES:
        assert real.acronym[sid] == acronym and real.name[sid] == name, sid
        assert real.parent[sid] == parent, acronym


def test_regions_in_both_hemispheres(atlas):
    onto, label, spacing = atlas["onto"], atlas["label"], atlas["spacing"]
    left = annotation_volumes_mm3(label, spacing, onto, REGIONS, hemisphere="left")
    right = annotation_volumes_mm3(label, spacing, onto, REGIONS, hemisphere="right")
    for acronym in REGIONS:
        assert 0.03 <= left[acronym] <= 10.0, (acronym, left[acronym])
        assert right[acronym] == pytest.approx(left[acronym], rel=0.05), acronym
    # Cortical areas are the big ones, as in the mouse.
    assert min(left[a] for a in ("MOp", "MOs", "SSp")) > max(left[a] for a in ("VAL", "GPe"))


def test_motor_cortex_is_agranular(atlas):
    onto, label = atlas["onto"], atlas["label"]
    layer_of = {i: onto.cortical_layer(i) for i in np.unique(label).tolist() if i}
    for area in ("MOp", "MOs", "SSp", "SSs"):
        present = {layer_of[i] for i in np.unique(label[_mask(atlas, area)]).tolist()}
        expected = {"L1", "L2/3", "L5", "L6"} | ({"L4"} if area.startswith("SS") else set())
        assert present == expected, area
    for leaf in ("MOp6b", "MOs6b"):
        assert (label == onto.id_of(leaf)).sum() > 0, leaf


def test_layers_ordered_by_depth(atlas):
    onto, label, depth = atlas["onto"], atlas["label"], atlas["depth"]
    for leaves in (["SIMmo", "SIMpu", "SIMgr"],
                   ["MOp1", "MOp2/3", "MOp5", "MOp6a", "MOp6b"],
                   ["SSp1", "SSp2/3", "SSp4", "SSp5", "SSp6a", "SSp6b"]):
        ranges = [depth[label == onto.id_of(x)] for x in leaves]
        for upper, lower, name in zip(ranges, ranges[1:], leaves):
            assert upper.max() <= lower.min(), name
    sheet = _mask(atlas, "Isocortex") | _mask(atlas, "CBX")
    assert not np.isnan(depth[sheet]).any() and np.isnan(depth[~sheet]).all()
    assert np.isnan(atlas["u"][~sheet]).all() and not np.isnan(atlas["v"][sheet]).any()
    assert depth[_mask(atlas, "Isocortex")].max() < 1400.0


def test_surface_v_is_signed_by_hemisphere(atlas):
    label, v = atlas["label"], atlas["v"]
    mop = _mask(atlas, "MOp")
    half = label.shape[2] // 2
    assert (v[:, :, :half][mop[:, :, :half]] < 0).all()
    assert (v[:, :, half:][mop[:, :, half:]] > 0).all()


def test_connectome(atlas):
    onto = atlas["onto"]
    knox = read_knox(atlas["paths"]["connectome"], onto)
    assert knox.sources == REGIONS
    assert knox.targets_of("MOp")[0][0] == "CP"
    assert knox.strength("MOp", "PG") > 0 and knox.strength("VAL", "MOp") > 0
    assert knox.strength("CP", "GPe") > 0 and knox.strength("MOp", "SSp") > 0
    assert knox.strength("SSp", "MOp") > 0 and knox.strength("MOp", "MOs") > 0
    # Pontine mossy fibres cross: PG reaches the cerebellar cortex contralaterally.
    cb_targets = [t for t, _ in knox.targets_of("PG", "contra")
                  if onto.ancestor_in(onto.id_of(t), ["CB"]) == "CB"]
    assert cb_targets == ["SIM"]
    assert knox.strength("DN", "VAL", "contra") > 0
    assert all(knox.strength(a, a) == 0 for a in REGIONS)


def test_seed_and_voxel_size(tmp_path, atlas):
    same = read_nrrd(make_synthetic_atlas(tmp_path / "s0", seed=0)["annotation"])[0]
    other = read_nrrd(make_synthetic_atlas(tmp_path / "s1", seed=1)["annotation"])[0]
    np.testing.assert_array_equal(same, atlas["label"])
    assert (other != same).any()
    coarse = read_nrrd(make_synthetic_atlas(tmp_path / "c", voxel_um=200.0)["annotation"])
    assert coarse[0].shape == (40, 25, 30) and list(coarse[1]) == [200.0] * 3
    with pytest.raises(ValueError, match="voxel_um"):
        make_synthetic_atlas(tmp_path / "bad", voxel_um=float("nan"))
