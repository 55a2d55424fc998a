"""Issue 9: bad Allen atlas files are refused when the scene is loaded, before any cell is
placed, with one message naming the scene key, the file, the place in the file, the bad
value and what would be valid.

Each row writes a corrupted copy of one real data file (../shared/data; see each folder's
SOURCE.md) into tmp_path and points scenes/ccf_motor_left.toml at it; the real files are
never copied into the repository.  A few rows run the command line (exit status 2, one
line, ``--debug`` shows the traceback).
"""
from __future__ import annotations

import functools
import gzip
import json
import re
import subprocess
import sys
import time

import numpy as np
import pytest

from brain.allen import read_nrrd, write_nrrd
from cosim.scene import SceneError, load
from tests.conftest import SCENES, SHARED_DATA

pytestmark = pytest.mark.skipif(not (SHARED_DATA / "ccfv3_annotation").is_dir(),
                                reason="needs the shared Allen data folder")

FILES = {"annotation": "ccfv3_annotation/annotation_100_derived_from_50.nrrd",
         "ontology": "allen_ontology/structure_graph_1.json",
         "connectome": "connectome/knox2019_homogeneous_standard_model.csv",
         "densities": "cell_densities/keller_review_2018.json"}


def _real(field: str) -> bytes:
    return (SHARED_DATA / FILES[field]).read_bytes()


@functools.lru_cache(maxsize=1)
def _annotation():
    return read_nrrd(SHARED_DATA / FILES["annotation"])


def _header_and_data(raw: bytes) -> tuple[str, bytes]:
    end = raw.index(b"\n\n") + 2
    return raw[:end].decode("ascii"), raw[end:]


def _nrrd_edit(old: str, new: str):
    """The real annotation with one header line changed (data kept as it is)."""
    def make(tmp_path):
        head, data = _header_and_data(_real("annotation"))
        assert old in head, old
        return head.replace(old, new).encode() + data
    return make


def _nrrd_raw(cut: int):
    """The annotation re-encoded raw, its data ``cut`` bytes short."""
    def make(tmp_path):
        head, data = _header_and_data(_real("annotation"))
        body = gzip.decompress(data)
        return head.replace("encoding: gzip", "encoding: raw").encode() + body[:len(body) - cut]
    return make


def _nrrd_volume(change):
    """The annotation rewritten by write_nrrd after ``change(grid) -> (grid, spacing)``."""
    def make(tmp_path):
        grid, spacing, _ = _annotation()
        grid, spacing = change(grid.copy(), spacing)
        return write_nrrd(tmp_path / "tmp.nrrd", grid, spacing).read_bytes()
    return make


def _with_nan(grid, spacing):
    grid = grid.astype(np.float32)
    grid[60, 40, 30] = np.nan
    return grid, spacing


def _with_negative(grid, spacing):
    grid = grid.astype(np.int32)
    grid[60, 40, 30] = -5
    return grid, spacing


# ------------------------------------------------------------------------- ontology

def _leaf_labels(n=3):
    """``n`` structure ids that label voxels and have no children (safe to delete)."""
    labels = set(np.unique(_annotation()[0]).tolist())
    doc = json.loads(_real("ontology"))
    todo, leaves = list(doc["msg"]), []
    while todo:
        node = todo.pop()
        if not node["children"] and node["id"] in labels:
            leaves.append(node["id"])
        todo.extend(node["children"])
    return sorted(leaves)[:n]


def _ontology_edit(edit):
    def make(tmp_path):
        doc = json.loads(_real("ontology"))
        edit(doc)
        return json.dumps(doc).encode()
    return make


def _drop_ids(doc):
    gone = set(_leaf_labels())
    todo = list(doc["msg"])
    while todo:
        node = todo.pop()
        node["children"] = [c for c in node["children"] if c["id"] not in gone]
        todo.extend(node["children"])


def _second_child(doc):
    return doc["msg"][0]["children"][1]          # msg[0].children[1]: a top-level group


def _drop_acronym(doc):
    del _second_child(doc)["acronym"]


def _text_id(doc):
    _second_child(doc)["id"] = "eight"


# ------------------------------------------------------------------------ connectome

def _knox_edit(line: int, column: int, value: str | None):
    """The Knox CSV with one cell (1-based line and column) set, or removed if None."""
    def make(tmp_path):
        lines = _real("connectome").decode().split("\n")
        cells = lines[line - 1].split(",")
        if value is None:
            del cells[column - 1]
        else:
            cells[column - 1] = value
        lines[line - 1] = ",".join(cells)
        return "\n".join(lines).encode()
    return make


def _knox_without_source(source_id: str):
    def make(tmp_path):
        lines = _real("connectome").decode().split("\n")
        return "\n".join(x for x in lines if not x.startswith(source_id + ",")).encode()
    return make


# ------------------------------------------------------------------------- densities

MOP = "Primary motor area"


def _density_json(value):
    def make(tmp_path):
        doc = json.loads(_real("densities"))
        doc["Neurons"][MOP][0][0] = value
        return json.dumps(doc).encode()           # json writes nan as NaN, as Python reads it
    return make


VAL_MISSPELT = "Ventral anterolateral complex of thalamus"


def _density_csv(values: dict):
    """A long-format density CSV with one Neurons row per region name."""
    def make(tmp_path):
        rows = ["cell_class,brain_region,density_per_mm3,source"]
        rows += [f'Neurons,"{name}",{v},test' for name, v in values.items()]
        return ("\n".join(rows) + "\n").encode()
    return make


SCENE_REGIONS = {"Caudoputamen": 1e5, "Dentate nucleus": 1e5, "Fastigial nucleus": 1e5,
                 "Interposed nucleus": 1e5, MOP: 1e5, "Secondary motor area": 1e5,
                 "Pontine gray": 1e5, "Simple lobule": 1e5, VAL_MISSPELT: 1e5}


# (id, file, suffix, bytes maker, scene key of the error, words the message must contain)
ANN, ONTO, CONN, DENS = (f"brain.atlas.{k}" for k in FILES)
CASES = [
    ("nrrd-truncated-gzip", "annotation", ".nrrd", lambda t: _real("annotation")[:100_000],
     ANN, ["gzip", "truncated or corrupt", "expected one complete gzip stream"]),
    ("nrrd-truncated-raw", "annotation", ".nrrd", _nrrd_raw(1000), ANN,
     ["NRRD data has 4814360 bytes: truncated", "'sizes' '132 80 114'", "need 4815360"]),
    ("nrrd-sizes-disagree-with-data", "annotation", ".nrrd",
     _nrrd_edit("sizes: 132 80 114", "sizes: 132 80 100"), ANN,
     ["NRRD field 'sizes' = '132 80 100'", "needs 4224000 bytes of uint32, the data has "
      "4815360", "expected 'sizes' to match the data"]),
    ("nrrd-not-nrrd", "annotation", ".nrrd", lambda t: b"P6\n132 80\n255\n" + bytes(64), ANN,
     ["not a NRRD file", "b'P6\\n132 8'", "expected the magic 'NRRD000x'"]),
    ("nrrd-unknown-encoding", "annotation", ".nrrd",
     _nrrd_edit("encoding: gzip", "encoding: bzip2"), ANN,
     ["NRRD field 'encoding' = 'bzip2'", "not supported", "expected 'raw' or 'gzip'"]),
    ("nrrd-missing-sizes", "annotation", ".nrrd", _nrrd_edit("sizes: 132 80 114\n", ""), ANN,
     ["NRRD field 'sizes' is missing", "needs type, dimension, sizes and encoding"]),
    ("nrrd-sizes-not-integers", "annotation", ".nrrd",
     _nrrd_edit("sizes: 132 80 114", "sizes: 132 80 x"), ANN,
     ["NRRD field 'sizes' = '132 80 x'", "not integers", "e.g. '132 80 114'"]),
    ("nrrd-unknown-type", "annotation", ".nrrd", _nrrd_edit("type: uint32", "type: block"),
     ANN, ["NRRD field 'type' = 'block'", "not supported", "'uint32'"]),
    ("annotation-not-3d", "annotation", ".nrrd",
     _nrrd_volume(lambda g, s: (np.ascontiguousarray(g[:, :, 30]), s[:2])), ANN,
     ["NRRD field 'sizes' = '132 80'", "2-D", "expected a 3-D annotation volume"]),
    ("annotation-anisotropic", "annotation", ".nrrd",
     _nrrd_volume(lambda g, s: (g, [100.0, 100.0, 50.0])), ANN,
     ["NRRD field 'space directions'", "voxel edges [100.0, 100.0, 50.0] um",
      "expected one voxel size"]),
    ("annotation-nan-label", "annotation", ".nrrd", _nrrd_volume(_with_nan), ANN,
     ["voxel (60, 40, 30): nan: not a structure id", "1 such voxel(s)",
      "expected integer Allen ids >= 0"]),
    ("annotation-negative-label", "annotation", ".nrrd", _nrrd_volume(_with_negative), ANN,
     ["voxel (60, 40, 30): -5: not a structure id", "expected integer Allen ids >= 0"]),
    ("ontology-not-json", "ontology", ".json", lambda t: b"<html>moved</html>", ONTO,
     ["not valid JSON", "Expecting value", "expected the Allen structure graph"]),
    ("ontology-lacks-annotation-labels", "ontology", ".json", _ontology_edit(_drop_ids), ONTO,
     ["structure ids {}, {}, {}: missing", "of the 669 labels of", "annotation_100",
      "expected every nonzero label of the annotation to be a structure id"]),
    ("ontology-node-lacks-acronym", "ontology", ".json", _ontology_edit(_drop_acronym), ONTO,
     ["msg[0].children[1]: field 'acronym' is missing (node id 1009)",
      "each structure node needs id, acronym, name"]),
    ("ontology-id-not-integer", "ontology", ".json", _ontology_edit(_text_id), ONTO,
     ["msg[0].children[1].id = 'eight': not an integer structure id"]),
    ("knox-wrong-shape", "connectome", ".csv", _knox_edit(10, 5, None), CONN,
     ["line 10 (source id '", "576 values: wrong shape", "expected 577, one per target id"]),
    ("knox-unknown-target-id", "connectome", ".csv", _knox_edit(2, 7, "999999999"), CONN,
     ["line 2, column 7: target id 999999999: not a structure id of",
      "structure_graph_1.json"]),
    ("knox-non-numeric", "connectome", ".csv", _knox_edit(10, 5, "n/a"), CONN,
     ["line 10 (source id '", "column 5: 'n/a': not a number", "finite and >= 0"]),
    ("knox-negative", "connectome", ".csv", _knox_edit(10, 5, "-0.25"), CONN,
     ["column 5: -0.25: not a strength", "expected finite numbers >= 0"]),
    ("knox-nan", "connectome", ".csv", _knox_edit(12, 9, "nan"), CONN,
     ["line 12 (source id '", "column 9: nan: not a strength"]),
    ("knox-lacks-projection-source", "connectome", ".csv", _knox_without_source("629"),
     "brain.projections[4].pre_regions[0]",
     ["'VAL': not a source region of the connectome", "give the rule a strength"]),
    ("density-non-numeric", "densities", ".json", _density_json("many"), DENS,
     [f"Neurons.'{MOP}'[0][0]: 'many': not a number", "expected neurons per mm^3"]),
    ("density-negative", "densities", ".json", _density_json(-120000.0), DENS,
     [f"Neurons.'{MOP}'[0][0]: -120000.0: not a density", "finite and >= 0"]),
    ("density-nan", "densities", ".json", _density_json(float("nan")), DENS,
     [f"Neurons.'{MOP}'[0][0]: nan: not a density"]),
    ("density-csv-non-numeric", "densities", ".csv", _density_csv({**SCENE_REGIONS, MOP: "?"}),
     DENS, [f"line 6 ({MOP}), density_per_mm3: '?': not a number"]),
    ("density-unknown-region", "densities", ".csv", _density_csv(SCENE_REGIONS), DENS,
     ["region 'VAL' (Ventral anterior-lateral complex of the thalamus): no density",
      f"regions of the file not in the ontology: '{VAL_MISSPELT}'",
      "expected a row named 'Ventral anterior-lateral complex of the thalamus' or 'VAL'"]),
]


def _scene(tmp_path, field=None, data=b"", suffix=""):
    """ccf_motor_left.toml with the shared data, ``field``'s file replaced by ``data``."""
    text = (SCENES / "ccf_motor_left.toml").read_text().replace("${COSIM_DATA}",
                                                               str(SHARED_DATA))
    bad = None
    if field is not None:
        bad = tmp_path / f"bad_{field}{suffix}"
        bad.write_bytes(data)
        text = text.replace(str(SHARED_DATA / FILES[field]), str(bad))
    path = tmp_path / "ccf_bad.toml"
    path.write_text(text)
    return path, bad


def _expected(case_id, words):
    if case_id == "ontology-lacks-annotation-labels":
        return [words[0].format(*_leaf_labels()), *words[1:]]
    return words


@pytest.mark.parametrize("field,suffix,make,key,words", [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_bad_atlas_file_is_refused_at_load(tmp_path, request, field, suffix, make, key, words):
    path, bad = _scene(tmp_path, field, make(tmp_path), suffix)
    t0 = time.perf_counter()
    with pytest.raises(SceneError) as info:
        load(path)
    assert time.perf_counter() - t0 < 5          # at load: no cell was placed
    msg = str(info.value)
    assert info.value.key == key, msg
    head = f"{path}: {key}: {bad}: " if key.startswith("brain.atlas.") else f"{path}: {key}: "
    assert msg.startswith(head) and str(bad) in msg and "\n" not in msg, msg
    for w in _expected(request.node.callspec.id, words):
        assert w in msg, (w, msg)


def test_real_files_pass_the_checks(tmp_path):
    scene = load(_scene(tmp_path)[0])
    assert scene.brain.atlas.kind == "allen"


def test_case_ids_are_distinct():
    assert len({c[0] for c in CASES}) == len(CASES) >= 12


# --------------------------------------------------------------------- command line

def _cosim(*args, cwd):
    return subprocess.run([sys.executable, "-m", "cosim", *map(str, args)], capture_output=True,
                          text=True, timeout=120, cwd=cwd)


@pytest.mark.parametrize("command,case_id", [("run", "nrrd-truncated-gzip"),
                                             ("build", "knox-non-numeric"),
                                             ("show", "ontology-lacks-annotation-labels")])
def test_command_line_says_one_line_and_exits_2(tmp_path, command, case_id):
    _, field, suffix, make, key, _ = next(c for c in CASES if c[0] == case_id)
    path, bad = _scene(tmp_path, field, make(tmp_path), suffix)
    extra = ["-o", tmp_path / "out.h5"] if command == "run" else []
    res = _cosim(command, path, *extra, cwd=tmp_path)
    err = res.stderr.strip()
    assert res.returncode == 2, res
    assert err.count("\n") == 0 and "Traceback" not in err, err
    assert key in err and str(bad) in err, err
    assert not (tmp_path / "out.h5").exists()
    res = _cosim("--debug", command, path, *extra, cwd=tmp_path)
    assert res.returncode != 0 and "Traceback" in res.stderr and "SceneError" in res.stderr
    assert re.search(r"AtlasFileError|ValueError", res.stderr), res.stderr
