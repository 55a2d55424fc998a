"""brain.allen readers, checked against the real Allen files in ../shared/data."""
from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from brain.allen import (annotation_volumes_mm3, read_choi, read_densities, read_knox,
                         read_layer_composition, read_nrrd, read_ontology, write_nrrd)

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
needs_data = pytest.mark.skipif(not DATA.is_dir(), reason=f"shared data folder {DATA} absent")
ANNOT_50 = DATA / "ccfv3_annotation" / "annotation_50.nrrd"
ANNOT_100 = DATA / "ccfv3_annotation" / "annotation_100_derived_from_50.nrrd"
ONTO_JSON = DATA / "allen_ontology" / "structure_graph_1.json"
ONTO_CSV = DATA / "allen_ontology" / "allen_structure_tree.csv"
KNOX = DATA / "connectome" / "knox2019_homogeneous_standard_model.csv"


@pytest.fixture(scope="module")
def onto():
    return read_ontology(ONTO_JSON)


@pytest.fixture(scope="module")
def onto_csv():
    return read_ontology(ONTO_CSV)


@pytest.fixture(scope="module")
def annot50():
    return read_nrrd(ANNOT_50)


# ------------------------------------------------------------- no data needed

@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.uint32, np.float32, np.float64])
def test_nrrd_round_trip(tmp_path, dtype):
    data = (np.arange(4 * 3 * 5).reshape(4, 3, 5) * 7 % 11).astype(dtype)
    path = write_nrrd(tmp_path / "v.nrrd", data, (25.0, 50.0, 100.0))
    back, spacing, header = read_nrrd(path)
    assert back.dtype == dtype and back.shape == (4, 3, 5)
    np.testing.assert_array_equal(back, data)
    np.testing.assert_array_equal(spacing, [25.0, 50.0, 100.0])
    assert header["encoding"] == "gzip"


def _raw_nrrd(path, data_bytes, encoding="raw", extra=""):
    head = ("NRRD0004\ntype: short\ndimension: 3\nsizes: 2 3 4\n"
            f"spacings: 10 20 30\nendian: big\nencoding: {encoding}\n{extra}\n")
    path.write_bytes(head.encode() + data_bytes)
    return path


def test_nrrd_raw_big_endian_fortran_order(tmp_path):
    data = np.arange(24, dtype=np.int16).reshape(2, 3, 4)
    path = _raw_nrrd(tmp_path / "raw.nrrd", data.astype(">i2").ravel(order="F").tobytes())
    back, spacing, _ = read_nrrd(path)
    np.testing.assert_array_equal(back, data)
    np.testing.assert_array_equal(spacing, [10.0, 20.0, 30.0])


@pytest.mark.parametrize("encoding, extra, expected", [
    ("bzip2", "", "'encoding' = 'bzip2'"),
    ("raw", "data file: other.raw\n", "'data file'"),
])
def test_nrrd_unsupported(tmp_path, encoding, extra, expected):
    path = _raw_nrrd(tmp_path / "bad.nrrd", gzip.compress(b"\0" * 48), encoding, extra)
    with pytest.raises(ValueError) as err:
        read_nrrd(path)
    assert str(path) in str(err.value) and expected in str(err.value)


def test_nrrd_short_data_and_not_nrrd(tmp_path):
    path = _raw_nrrd(tmp_path / "short.nrrd", b"\0" * 10)
    with pytest.raises(ValueError, match="sizes"):
        read_nrrd(path)
    junk = tmp_path / "junk.nrrd"
    junk.write_bytes(b"P6\n1 1\n255\n\0\0\0")
    with pytest.raises(ValueError, match="not a NRRD file"):
        read_nrrd(junk)


@pytest.mark.parametrize("reader", [read_nrrd, read_ontology, read_choi, read_layer_composition])
def test_missing_file_is_named(tmp_path, reader):
    path = tmp_path / "nothere.xyz"
    with pytest.raises(FileNotFoundError) as err:
        reader(path)
    assert str(path) in str(err.value) and "expected" in str(err.value)


def test_ontology_bad_suffix_and_json(tmp_path):
    with pytest.raises(ValueError, match=r"\.json or \.csv"):
        read_ontology(_touch(tmp_path / "o.txt", "x"))
    with pytest.raises(ValueError, match="structure graph"):
        read_ontology(_touch(tmp_path / "o.json", '{"msg": [{"id": 1}]}'))


def _touch(path, text):
    path.write_text(text)
    return path


# ---------------------------------------------------------------- real files

@needs_data
def test_all_annotation_labels_in_both_ontologies(onto, onto_csv, annot50):
    labels_100 = set(np.unique(read_nrrd(ANNOT_100)[0]).tolist()) - {0}
    labels_50 = set(np.unique(annot50[0]).tolist()) - {0}
    assert len(labels_50) == 670 and labels_100 <= labels_50
    for o in (onto, onto_csv):
        assert labels_50 <= set(o.acronym)


@needs_data
def test_json_and_csv_ontologies_agree(onto, onto_csv):
    assert set(onto.acronym) == set(onto_csv.acronym) and len(onto.acronym) == 1327
    assert onto.parent == onto_csv.parent and onto.path == onto_csv.path
    # The IBL CSV drops commas and changes case in 9 acronyms ("CUL4, 5" -> "CUL4 5",
    # "MMd" -> "Mmd"); all others are equal.
    differ = {i for i in onto.acronym if onto.acronym[i] != onto_csv.acronym[i]}
    assert differ == {1091, 10720, 10721, 10722, 606826659, 606826655, 606826651, 606826647,
                      732}
    assert onto.depth[985] == 7 and onto.path[985][0] == 997   # CSV column depth for MOp


@needs_data
def test_mop_volume_50um(onto, annot50):
    data, spacing, _ = annot50
    assert data.shape == (264, 160, 228) and list(spacing) == [50.0, 50.0, 50.0]
    both = annotation_volumes_mm3(data, spacing, onto, ["MOp", "GPe"])
    assert both["MOp"] == pytest.approx(11.35, rel=0.01)
    assert both["GPe"] == pytest.approx(1.57, rel=0.01)
    left = annotation_volumes_mm3(data, spacing, onto, ["MOp"], hemisphere="left")["MOp"]
    right = annotation_volumes_mm3(data, spacing, onto, ["MOp"], hemisphere="right")["MOp"]
    assert left + right == pytest.approx(both["MOp"])
    assert left == pytest.approx(right, rel=0.02)


@needs_data
def test_cortical_layers(onto):
    def layers(acronym):
        return {onto.cortical_layer(i) for i in onto.descendants(acronym)} - {None}

    assert layers("MOp") == {"L1", "L2/3", "L5", "L6"}
    assert layers("MOs") == {"L1", "L2/3", "L5", "L6"}
    assert "L4" in layers("SSp") and "L4" in layers("SSs")
    named = {"MOp2/3": "L2/3", "SSp-ul4": "L4", "MOs6a": "L6", "MOp6b": "L6", "MOp1": "L1",
             "ACAv6b": "L6", "PL2": "L2/3", "MOp": None, "CA1": None, "SIMgr": None}
    for acronym, layer in named.items():
        assert onto.cortical_layer(onto.id_of(acronym)) == layer, acronym
    assert onto.ancestor_in(onto.id_of("MOp5"), ["SSp", "MOp", "Isocortex"]) == "MOp"
    assert onto.ancestor_in(onto.id_of("CP"), ["SSp", "MOp"]) is None


@needs_data
def test_unknown_acronym_names_file_and_suggests(onto):
    with pytest.raises(ValueError) as err:
        onto.id_of("MOP")
    msg = str(err.value)
    assert str(ONTO_JSON) in msg and "'MOP'" in msg and "did you mean" in msg and "MOp" in msg


@needs_data
def test_knox_mop_targets(onto):
    knox = read_knox(KNOX, onto)
    assert len(knox.sources) == 291 and len(knox.targets) == 291
    ranked = knox.targets_of("MOp")
    # CP is MOp's strongest ipsilateral target of ALL targets, MOp itself (6.83) included.
    assert ranked[0][0] == "CP" and ranked[0][1] == pytest.approx(7.7533, rel=1e-4)
    assert [t for t, _ in ranked[1:5]] == ["MOp", "MOs", "SSs", "SSp-m"]
    assert knox.targets_of("MOp", "contra")[0][0] == "CP"
    assert knox.strength("PG", "SIM", "contra") > 5 and knox.strength("PG", "SIM") == 0
    with pytest.raises(ValueError, match="not a source region"):
        knox.strength("XYZ", "CP")


@needs_data
def test_choi_mat_and_csv_agree():
    mat = read_choi(DATA / "connectome" / "choi2019_adjmat_ipsi.mat")
    csv_ = read_choi(DATA / "connectome" / "choi2019_ipsi_w_data.csv")
    assert len(mat.sources) == 244 and mat.sources == csv_.sources and "MOp" in mat.sources
    np.testing.assert_allclose(mat.ipsi, csv_.ipsi, rtol=1e-5, atol=1e-9)
    assert mat.targets_of("MOp")[0][0] == "PCN" and mat.ipsi.max() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="no contralateral"):
        mat.strength("MOp", "CP", "contra")


@needs_data
def test_densities(onto):
    table = read_densities(DATA / "cell_densities" / "keller_review_2018.json", onto)
    # keller_review_2018.json, Neurons -> "Primary motor area" (Murakami 2018).
    assert table.neurons_per_mm3("MOp") == pytest.approx(117137.70789546685, rel=1e-12)
    # "Primary motor area, Layer 2/3" and "..., Layer 5" (L5B asks for L5).
    assert table.neurons_per_mm3("MOp", "L2/3") == pytest.approx(118582.24780369585)
    assert table.neurons_per_mm3("MOp", "L5B") == pytest.approx(114192.65029391611)
    # SIMpu has no value of its own: falls back to "Simple lobule" (308,630).
    assert onto.id_of("SIMpu") not in table.per_mm3
    assert table.neurons_per_mm3("SIMpu") == pytest.approx(308629.795, rel=1e-6)
    with pytest.raises(ValueError, match="no L4"):
        table.neurons_per_mm3("MOp", "L4")
    long = read_densities(DATA / "cell_densities" / "keller_review_2018_long.csv", onto)
    assert long.neurons_per_mm3("MOp") == pytest.approx(117138, rel=1e-5)
    assert set(long.per_mm3) == set(table.per_mm3)


@needs_data
def test_layer_composition():
    comp = read_layer_composition(DATA / "cortical_layers"
                                  / "m1_layers_cell_densities_durabernal2023.csv")
    assert set(comp) == {"L2/3", "L4", "L5A", "L5B", "L6"}
    for layer, f in comp.items():
        assert f["E"] + f["FS"] + f["LTS"] == pytest.approx(1.0), layer
    assert comp["L5B"]["FS"] == pytest.approx(16233 / (91143.1 + 16233 + 7995), rel=1e-4)
