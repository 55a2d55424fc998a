"""Readers for user-given Allen mouse brain files: CCF annotation NRRD, structure
ontology, region connectomes (Knox 2019 CSV, Choi 2019 MAT/CSV) and cell densities.

Pure functions of the files: nothing is downloaded, cached or shipped.  Every error
names the file and what was expected.  CCF volumes keep Allen's axis order
(axis 0 anterior -> posterior, axis 1 dorsal -> ventral, axis 2 left -> right);
the NRRD ``space`` string of Allen's files is wrong and is ignored.
"""
from __future__ import annotations

import csv
import difflib
import gzip
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["read_nrrd", "write_nrrd", "Ontology", "ontology_from_rows", "read_ontology",
           "write_ontology_json",
           "Connectome", "read_knox", "read_choi", "DensityTable", "read_densities",
           "read_layer_composition", "annotation_volumes_mm3"]

# NRRD type names (all spellings of the format spec) -> numpy dtype, without byte order.
_NRRD_TYPES = {}
for _names, _dt in [(("signed char", "int8", "int8_t"), "i1"),
                    (("uchar", "unsigned char", "uint8", "uint8_t"), "u1"),
                    (("short", "short int", "signed short", "signed short int", "int16",
                      "int16_t"), "i2"),
                    (("ushort", "unsigned short", "unsigned short int", "uint16", "uint16_t"),
                     "u2"),
                    (("int", "signed int", "int32", "int32_t"), "i4"),
                    (("uint", "unsigned int", "uint32", "uint32_t"), "u4"),
                    (("longlong", "long long", "long long int", "signed long long",
                      "signed long long int", "int64", "int64_t"), "i8"),
                    (("ulonglong", "unsigned long long", "unsigned long long int", "uint64",
                      "uint64_t"), "u8"),
                    (("float",), "f4"), (("double",), "f8")]:
    for _n in _names:
        _NRRD_TYPES[_n] = _dt
_NRRD_WRITE_TYPES = {"i1": "int8", "u1": "uint8", "i2": "int16", "u2": "uint16", "i4": "int32",
                     "u4": "uint32", "i8": "int64", "u8": "uint64", "f4": "float", "f8": "double"}


def _suggest(name: str, candidates) -> str:
    """'; did you mean X, Y?' by case-insensitive then fuzzy match, or ''."""
    lower = {}
    for c in candidates:
        lower.setdefault(c.lower(), c)
    near = [lower[c] for c in difflib.get_close_matches(name.lower(), lower, n=3)]
    return f"; did you mean {', '.join(near)}?" if near else ""


def _existing(path, what: str) -> Path:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file (expected {what})")
    return path


# ---------------------------------------------------------------------------- NRRD

def _nrrd_header(path: Path, raw: bytes) -> tuple[dict, int]:
    """Parse the header; returns (fields, offset of the data)."""
    if not raw.startswith(b"NRRD000"):
        raise ValueError(f"{path}: not a NRRD file (expected magic 'NRRD000x', "
                         f"got {raw[:8]!r})")
    end = raw.find(b"\n\n")
    if end < 0:
        raise ValueError(f"{path}: NRRD header has no blank line before the data")
    fields = {}
    for line in raw[:end].decode("ascii", "replace").splitlines()[1:]:
        if line.startswith("#") or ":=" in line or not line.strip():
            continue
        key, sep, value = line.partition(":")
        if not sep:
            raise ValueError(f"{path}: malformed NRRD header line {line!r}")
        fields[key.strip().lower()] = value.strip()
    return fields, end + 2


def _nrrd_spacing(path: Path, fields: dict) -> np.ndarray:
    if "space directions" in fields:
        vectors = re.findall(r"\(([^)]*)\)|none", fields["space directions"])
        norms = [float(np.linalg.norm([float(x) for x in v.split(",")])) for v in vectors if v]
        return np.array(norms, dtype=np.float64)
    if "spacings" in fields:
        vals = [float(x) for x in fields["spacings"].split() if x.lower() != "nan"]
        return np.array(vals, dtype=np.float64)
    raise ValueError(f"{path}: NRRD header has neither 'space directions' nor 'spacings' "
                     f"(needed for the voxel size in um)")


def read_nrrd(path) -> tuple[np.ndarray, np.ndarray, dict]:
    """Read an attached-data NRRD file (raw or gzip encoding).

    Returns
    -------
    data : ndarray with the shape of the header's ``sizes`` (NRRD's first axis first;
        for the CCF: AP, DV, LR), C-contiguous, native byte order.
    spacing_um : float64[n_domain_axes], voxel edge per axis from the norms of
        ``space directions`` (or ``spacings``), in the file's units (um for Allen files).
    header : dict of the header fields (lower-case keys, string values).
    """
    path = _existing(path, "a NRRD volume")
    raw = path.read_bytes()
    fields, offset = _nrrd_header(path, raw)
    for key in ("type", "dimension", "sizes", "encoding"):
        if key not in fields:
            raise ValueError(f"{path}: NRRD header lacks the required field '{key}'")
    if "data file" in fields or "datafile" in fields:
        raise ValueError(f"{path}: NRRD field 'data file': detached data is not supported "
                         f"(expected the data attached after the header)")
    if int(fields.get("line skip", 0)) or int(fields.get("byte skip", 0)):
        raise ValueError(f"{path}: NRRD fields 'line skip'/'byte skip' are not supported")
    kind = _NRRD_TYPES.get(fields["type"].lower())
    if kind is None:
        raise ValueError(f"{path}: NRRD field 'type' = {fields['type']!r} is not supported "
                         f"(expected one of {sorted(set(_NRRD_WRITE_TYPES.values()))})")
    endian = fields.get("endian", "little").lower()
    if endian not in ("little", "big"):
        raise ValueError(f"{path}: NRRD field 'endian' = {endian!r}: expected little or big")
    dtype = np.dtype(("<" if endian == "little" else ">") + kind)
    encoding = fields["encoding"].lower()
    if encoding == "raw":
        payload = raw[offset:]
    elif encoding in ("gzip", "gz"):
        payload = gzip.decompress(raw[offset:])
    else:
        raise ValueError(f"{path}: NRRD field 'encoding' = {encoding!r} is not supported "
                         f"(expected 'raw' or 'gzip')")
    sizes = tuple(int(s) for s in fields["sizes"].split())
    if len(sizes) != int(fields["dimension"]):
        raise ValueError(f"{path}: NRRD fields 'sizes' ({len(sizes)} values) and 'dimension' "
                         f"({fields['dimension']}) disagree")
    n_bytes = int(np.prod(sizes)) * dtype.itemsize
    if len(payload) < n_bytes:
        raise ValueError(f"{path}: NRRD data has {len(payload)} bytes, 'sizes' {sizes} of "
                         f"'type' {fields['type']} need {n_bytes}")
    flat = np.frombuffer(payload[len(payload) - n_bytes:], dtype=dtype)
    # NRRD's first axis varies fastest (Fortran order).
    data = np.ascontiguousarray(flat.reshape(sizes, order="F"), dtype=dtype.newbyteorder("="))
    return data, _nrrd_spacing(path, fields), fields


def write_nrrd(path, data: np.ndarray, spacing_um) -> Path:
    """Write ``data`` (any numeric dtype, 1-4 axes) as a gzip NRRD with diagonal
    ``space directions`` of ``spacing_um`` (one value per axis).  Returns the path."""
    data = np.asarray(data)
    spacing = np.broadcast_to(np.asarray(spacing_um, dtype=np.float64), (data.ndim,))
    kind = data.dtype.kind + str(data.dtype.itemsize)
    if kind not in _NRRD_WRITE_TYPES:
        raise TypeError(f"write_nrrd({path}): dtype {data.dtype} not supported "
                        f"(expected an int/uint/float of 1-8 bytes)")
    vectors = []
    for i, s in enumerate(spacing):
        v = ["0"] * data.ndim
        v[i] = repr(float(s))
        vectors.append("(" + ",".join(v) + ")")
    header = ("NRRD0004\n# written by brain.allen.write_nrrd\n"
              f"type: {_NRRD_WRITE_TYPES[kind]}\ndimension: {data.ndim}\n"
              f"sizes: {' '.join(str(n) for n in data.shape)}\n"
              f"space directions: {' '.join(vectors)}\n"
              f"kinds: {' '.join(['domain'] * data.ndim)}\nendian: little\nencoding: gzip\n\n")
    body = np.asarray(data, dtype=data.dtype.newbyteorder("<")).ravel(order="F").tobytes()
    path = Path(path)
    path.write_bytes(header.encode("ascii") + gzip.compress(body, compresslevel=6))
    return path


# ------------------------------------------------------------------------ ontology

# Isocortex layer suffixes of Allen acronyms (MOp2/3, SSp-ul4, ACAv6a) -> model layer.
_LAYER_OF_SUFFIX = {"1": "L1", "2/3": "L2/3", "2": "L2/3", "3": "L2/3", "4": "L4", "5": "L5",
                    "6a": "L6", "6b": "L6", "6": "L6"}
_ISOCORTEX_ID = 315


@dataclass(frozen=True)
class Ontology:
    """Allen structure ontology: dicts keyed by structure id.

    ``path[id]`` is the structure_id_path from the root to ``id`` (inclusive);
    ``depth[id]`` is the number of ancestors (root: 0).
    """

    source: str
    acronym: dict
    name: dict
    parent: dict
    depth: dict
    path: dict
    _by_acronym: dict = field(init=False, repr=False, compare=False)
    _children: dict = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        by_acronym, children = {}, {i: [] for i in self.acronym}
        for i, acr in self.acronym.items():
            by_acronym[acr] = i
            if self.parent[i] is not None:
                children.setdefault(self.parent[i], []).append(i)
        object.__setattr__(self, "_by_acronym", by_acronym)
        object.__setattr__(self, "_children", children)

    @property
    def ids(self) -> list:
        return list(self.acronym)

    def id_of(self, acronym: str) -> int:
        try:
            return self._by_acronym[acronym]
        except KeyError:
            raise ValueError(f"{self.source}: unknown structure acronym {acronym!r}"
                             f"{_suggest(acronym, self._by_acronym)}") from None

    def acronym_of(self, structure_id: int) -> str:
        try:
            return self.acronym[int(structure_id)]
        except KeyError:
            raise ValueError(f"{self.source}: unknown structure id {structure_id}") from None

    def descendants(self, acronym: str) -> set:
        """Ids of ``acronym`` and all structures below it."""
        out, todo = set(), [self.id_of(acronym)]
        while todo:
            i = todo.pop()
            out.add(i)
            todo.extend(self._children.get(i, ()))
        return out

    def ancestor_in(self, structure_id: int, acronyms) -> str | None:
        """The nearest of ``acronyms`` containing ``structure_id`` (itself included)."""
        wanted = {self.id_of(a): a for a in acronyms}
        self.acronym_of(structure_id)
        for i in reversed(self.path[int(structure_id)]):
            if i in wanted:
                return wanted[i]
        return None

    def cortical_layer(self, structure_id: int) -> str | None:
        """"L1", "L2/3", "L4", "L5" or "L6" (6a and 6b) for an isocortex layer structure,
        None for anything else (areas, non-isocortex)."""
        i = int(structure_id)
        self.acronym_of(i)
        if _ISOCORTEX_ID not in self.path[i][:-1] or self.parent[i] is None:
            return None
        acr, parent_acr = self.acronym[i], self.acronym[self.parent[i]]
        if acr.startswith(parent_acr) and acr[len(parent_acr):] in _LAYER_OF_SUFFIX:
            return _LAYER_OF_SUFFIX[acr[len(parent_acr):]]
        m = re.search(r"[Ll]ayer\s+(\S+)$", self.name[i])
        return _LAYER_OF_SUFFIX.get(m.group(1)) if m else None

    def layer_structures(self, acronym: str, layer: str) -> list:
        """Ids of the descendants of ``acronym`` whose cortical_layer is ``layer``, in id order
        of the ontology (for L6: 6a before 6b)."""
        return [i for i in sorted(self.descendants(acronym), key=lambda j: self.acronym[j])
                if self.cortical_layer(i) == layer]


def ontology_from_rows(rows, source: str) -> Ontology:
    """An Ontology from (id, acronym, name, parent id or None) rows; ``source`` names the
    origin in error messages."""
    acronym, name, parent = {}, {}, {}
    for i, acr, nm, par in rows:
        acronym[i], name[i], parent[i] = acr, nm, par
    path = {}
    for i in acronym:
        chain, j = [], i
        while j is not None:
            if j not in acronym:
                raise ValueError(f"{source}: structure {i} has unknown ancestor {j}")
            chain.append(j)
            if len(chain) > len(acronym):
                raise ValueError(f"{source}: parent cycle at structure {i}")
            j = parent[j]
        path[i] = tuple(reversed(chain))
    depth = {i: len(p) - 1 for i, p in path.items()}
    return Ontology(source=source, acronym=acronym, name=name, parent=parent, depth=depth,
                    path=path)


def _json_rows(path: Path, doc):
    if isinstance(doc, dict) and "msg" in doc:
        doc = doc["msg"]
    todo = list(doc) if isinstance(doc, list) else [doc]
    while todo:
        node = todo.pop()
        try:
            par = node.get("parent_structure_id")
            yield int(node["id"]), node["acronym"], node["name"], None if par is None else int(par)
        except (KeyError, TypeError, AttributeError):
            raise ValueError(f"{path}: expected structure nodes with id, acronym, name, "
                             f"parent_structure_id, children (Allen structure graph)") from None
        todo.extend(node.get("children", []))


def _csv_rows(path: Path, reader):
    need = {"id", "acronym", "name", "parent_structure_id"}
    if not need <= set(reader.fieldnames or ()):
        raise ValueError(f"{path}: ontology CSV needs columns {sorted(need)}, "
                         f"got {reader.fieldnames}")
    for row in reader:
        if row["id"] == "0":       # IBL's "void" row: label 0 is outside the brain
            continue
        par = row["parent_structure_id"].strip()
        yield int(row["id"]), row["acronym"], row["name"], int(float(par)) if par else None


def read_ontology(path) -> Ontology:
    """Read the Allen structure graph JSON (nested ``msg``/``children``) or the flat CSV
    (columns id, acronym, name, parent_structure_id, ...), chosen by the file suffix."""
    path = _existing(path, "an Allen ontology .json or .csv")
    if path.suffix.lower() == ".json":
        try:
            doc = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}: not valid JSON ({err})") from None
        rows = list(_json_rows(path, doc))
    elif path.suffix.lower() == ".csv":
        with open(path, newline="") as f:
            rows = list(_csv_rows(path, csv.DictReader(f)))
    else:
        raise ValueError(f"{path}: expected an ontology file ending in .json or .csv")
    if not rows:
        raise ValueError(f"{path}: no structures found")
    return ontology_from_rows(rows, str(path))


def write_ontology_json(path, ontology: Ontology) -> Path:
    """Write ``ontology`` as a nested structure graph (``{"msg": [root], ...}``)."""
    nodes = {i: {"id": i, "acronym": ontology.acronym[i], "name": ontology.name[i],
                 "parent_structure_id": ontology.parent[i], "st_level": ontology.depth[i],
                 "children": []} for i in ontology.acronym}
    roots = []
    for i in sorted(nodes, key=lambda j: (ontology.depth[j], j)):
        par = ontology.parent[i]
        (nodes[par]["children"] if par is not None else roots).append(nodes[i])
    path = Path(path)
    path.write_text(json.dumps({"success": True, "msg": roots}, indent=1))
    return path


# ------------------------------------------------------------------------- volumes

def _label_counts(data: np.ndarray, hemisphere: str | None) -> dict:
    if hemisphere is None:
        labels, counts = np.unique(data, return_counts=True)
        return dict(zip(labels.tolist(), counts.astype(float).tolist()))
    if hemisphere not in ("left", "right"):
        raise ValueError(f"hemisphere = {hemisphere!r}: expected 'left', 'right' or None")
    n = data.shape[2]
    half = data[:, :, : n // 2] if hemisphere == "left" else data[:, :, (n + 1) // 2:]
    out = _label_counts(half, None)
    if n % 2:                      # an odd LR axis: the midline slice counts half to each side
        for k, c in _label_counts(data[:, :, n // 2], None).items():
            out[k] = out.get(k, 0.0) + 0.5 * c
    return out


def annotation_volumes_mm3(data: np.ndarray, spacing_um, ontology: Ontology, acronyms,
                           hemisphere: str | None = None) -> dict:
    """Volume (mm^3) of each region in ``acronyms``, descendants included.

    data: uint[AP, DV, LR] annotation labels (Allen ids; 0 = outside).  hemisphere:
    None (both), "left" or "right".  In the CCF, axis 2 runs from the animal's left to
    its right (Allen's PIR frame, +Z = Right: AllenInstitute/atlas_helper_tools and the
    data folder's ccfv3_annotation/SOURCE.md), so "left" is the lower half of axis 2.
    """
    data = np.asarray(data)
    if data.ndim != 3:
        raise ValueError(f"annotation must have 3 axes (AP, DV, LR), got shape {data.shape}")
    voxel_mm3 = float(np.prod(np.asarray(spacing_um, dtype=np.float64)[:3])) * 1e-9
    counts = _label_counts(data, hemisphere)
    return {a: voxel_mm3 * sum(counts.get(i, 0.0) for i in ontology.descendants(a))
            for a in acronyms}


# ----------------------------------------------------------------------- connectome

@dataclass(frozen=True)
class Connectome:
    """Region x region connection strengths (relative units of the source file).

    ipsi, contra : float64[n_sources, n_targets], row = source, column = target;
        ``contra`` is None when the file has only ipsilateral data (Choi 2019).
        Knox gives no contralateral column for 5 midline targets: those are 0 there.
    """

    source: str
    sources: tuple
    targets: tuple
    ipsi: np.ndarray
    contra: np.ndarray | None = None

    def _matrix(self, hemisphere: str) -> np.ndarray:
        if hemisphere == "ipsi":
            return self.ipsi
        if hemisphere == "contra":
            if self.contra is None:
                raise ValueError(f"{self.source}: has no contralateral matrix "
                                 f"(expected hemisphere='ipsi')")
            return self.contra
        raise ValueError(f"hemisphere = {hemisphere!r}: expected 'ipsi' or 'contra'")

    def _index(self, names: tuple, acronym: str, role: str) -> int:
        try:
            return names.index(acronym)
        except ValueError:
            raise ValueError(f"{self.source}: {acronym!r} is not a {role} region of this "
                             f"connectome{_suggest(acronym, names)}") from None

    def strength(self, src: str, dst: str, hemisphere: str = "ipsi") -> float:
        m = self._matrix(hemisphere)
        return float(m[self._index(self.sources, src, "source"),
                       self._index(self.targets, dst, "target")])

    def targets_of(self, src: str, hemisphere: str = "ipsi") -> list:
        """[(target acronym, strength), ...] with strength > 0, strongest first."""
        row = self._matrix(hemisphere)[self._index(self.sources, src, "source")]
        order = np.argsort(-row, kind="stable")
        return [(self.targets[k], float(row[k])) for k in order if row[k] > 0]


def read_knox(path, ontology: Ontology) -> Connectome:
    """Read the Knox 2019 regional model CSV: header row 1 = "ipsi"/"contra", header row 2 =
    target structure ids, then one row per source (first column = source id).  Ids are
    mapped to acronyms with ``ontology``."""
    path = _existing(path, "a Knox 2019 connectome CSV")
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if len(rows) < 3 or not {"ipsi", "contra"} & set(rows[0][1:]):
        raise ValueError(f"{path}: expected a first header row of 'ipsi'/'contra', a second of "
                         f"target structure ids, then one row per source")
    hemis, tids = rows[0][1:], rows[1][1:]
    try:
        targets = [ontology.acronym_of(int(t)) for t in tids]
        sources = [ontology.acronym_of(int(r[0])) for r in rows[2:]]
        values = np.array([[float(x) for x in r[1:]] for r in rows[2:]], dtype=np.float64)
    except ValueError as err:
        raise ValueError(f"{path}: Knox layout expects integer Allen ids and float "
                         f"strengths ({err})") from None
    names = list(dict.fromkeys(t for t, h in zip(targets, hemis) if h == "ipsi"))
    names += [t for t in dict.fromkeys(targets) if t not in names]
    col = {t: k for k, t in enumerate(names)}
    ipsi = np.zeros((len(sources), len(names)))
    contra = np.zeros_like(ipsi)
    for k, (t, h) in enumerate(zip(targets, hemis)):
        (ipsi if h == "ipsi" else contra)[:, col[t]] = values[:, k]
    return Connectome(source=str(path), sources=tuple(sources), targets=tuple(names),
                      ipsi=ipsi, contra=contra)


def read_choi(path) -> Connectome:
    """Read the Choi & Mihalas 2019 ipsilateral connectivity: the ``.mat`` (variables
    ``w_data`` [source, target] and ``region_name``) or its ``*_w_data.csv`` export
    (index and columns = region names).  The ``_L`` suffix is stripped."""
    path = _existing(path, "a Choi 2019 adjmat .mat or w_data .csv")
    if path.suffix.lower() == ".mat":
        from scipy.io import loadmat    # only this reader needs scipy
        try:
            mat = loadmat(path)
        except (ValueError, NotImplementedError) as err:
            raise ValueError(f"{path}: cannot read as a MATLAB v5 file ({err})") from None
        if "w_data" not in mat or "region_name" not in mat:
            raise ValueError(f"{path}: expected variables 'w_data' and 'region_name'")
        names = [str(np.asarray(n).ravel()[0]) for n in mat["region_name"].ravel()]
        w = np.asarray(mat["w_data"], dtype=np.float64)
    else:
        with open(path, newline="") as f:
            rows = list(csv.reader(f))
        names = rows[0][1:]
        w = np.array([[float(x) for x in r[1:]] for r in rows[1:]], dtype=np.float64)
    if w.shape != (len(names), len(names)):
        raise ValueError(f"{path}: expected a square matrix matching {len(names)} region "
                         f"names, got shape {w.shape}")
    names = tuple(n[:-2] if n.endswith("_L") else n for n in names)
    return Connectome(source=str(path), sources=names, targets=names, ipsi=w)


# ------------------------------------------------------------------------ densities

_MODEL_LAYERS = {"L5A": "L5", "L5B": "L5", "L6A": "L6", "L6B": "L6"}


def _norm_name(name: str) -> str:
    return " ".join(name.lower().replace(",", " ").split())


@dataclass(frozen=True)
class DensityTable:
    """Neuron densities (neurons/mm^3) keyed by Allen structure id.

    ``unmatched`` lists the file's region names that are not in the ontology.
    """

    source: str
    ontology: Ontology
    per_mm3: dict
    unmatched: tuple = ()

    def neurons_per_mm3(self, acronym: str, layer: str | None = None) -> float:
        """Density of ``acronym`` (or of its ``layer`` structure, e.g. "L2/3"; "L5A"/"L5B"
        mean L5), else of the nearest ancestor with a value.  For L6 the 6a structure is
        tried before 6b."""
        onto = self.ontology
        start = onto.id_of(acronym)
        if layer is not None:
            layer = _MODEL_LAYERS.get(layer.upper(), layer)
            ids = onto.layer_structures(acronym, layer)
            if not ids:
                raise ValueError(f"{onto.source}: {acronym} has no {layer} structure")
            for i in ids:
                if i in self.per_mm3:
                    return self.per_mm3[i]
            start = ids[0]
        for i in reversed(onto.path[start]):
            if i in self.per_mm3:
                return self.per_mm3[i]
        raise ValueError(f"{self.source}: no density for {acronym} or any of its ancestors")


def _density_records(path: Path, cell_class: str):
    """(region name, value, reference) of ``cell_class`` from the Keller JSON or long CSV."""
    if path.suffix.lower() == ".json":
        doc = json.loads(path.read_text())
        if cell_class not in doc:
            raise ValueError(f"{path}: no cell class {cell_class!r} (has {sorted(doc)})")
        for region, (values, refs) in doc[cell_class].items():
            for v, r in zip(values, refs):
                yield region, float(v), str(r)
        return
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        need = {"cell_class", "brain_region", "density_per_mm3"}
        if not need <= set(reader.fieldnames or ()):
            raise ValueError(f"{path}: density CSV needs columns {sorted(need)}, "
                             f"got {reader.fieldnames}")
        for row in reader:
            if row["cell_class"] == cell_class:
                yield row["brain_region"], float(row["density_per_mm3"]), row.get("source", "")


def read_densities(path, ontology: Ontology, cell_class: str = "Neurons") -> DensityTable:
    """Read per-region densities from the Keller 2018 / Murakami 2018 compilation
    (``keller_review_2018.json`` or the long CSV: cell_class, brain_region,
    density_per_mm3, source).  Regions are Allen full names (matched ignoring case and
    commas) or acronyms.  Where a region has several values the Murakami 2018 one is
    used (one whole-brain method), else the median."""
    path = _existing(path, "a Keller/Murakami density .json or .csv")
    by_name = {_norm_name(n): i for i, n in ontology.name.items()}
    found, unmatched = {}, []
    for region, value, ref in _density_records(path, cell_class):
        i = by_name.get(_norm_name(region), ontology._by_acronym.get(region))
        if i is None:
            unmatched.append(region)
            continue
        found.setdefault(i, []).append((value, "murakami" in ref.lower()))
    if not found:
        raise ValueError(f"{path}: no {cell_class} densities matched {ontology.source}")
    per = {}
    for i, vals in found.items():
        murakami = [v for v, m in vals if m]
        per[i] = murakami[0] if murakami else float(np.median([v for v, _ in vals]))
    return DensityTable(source=str(path), ontology=ontology, per_mm3=per,
                        unmatched=tuple(sorted(set(unmatched))))


def read_layer_composition(path) -> dict:
    """E / FS (PV) / LTS (SOM) fractions of neurons per layer from the Dura-Bernal 2023 M1
    table (``m1_layers_cell_densities_durabernal2023.csv``).

    Returns {layer: {"E": f, "FS": f, "LTS": f, "total_per_mm3": n}} for the layers with
    values (L2/3, L4, L5A, L5B, L6; L1 has none in the source).  FS and LTS are the
    inhibitory density split by PV:SOM; the three fractions sum to 1.
    """
    path = _existing(path, "the Dura-Bernal 2023 layer density CSV")
    out = {}
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        need = {"layer", "E_density_per_mm3", "PV_density_per_mm3", "SOM_density_per_mm3"}
        if not need <= set(reader.fieldnames or ()):
            raise ValueError(f"{path}: needs columns {sorted(need)}, got {reader.fieldnames}")
        for row in reader:
            if not row["E_density_per_mm3"]:
                continue
            e, pv, som = (float(row[k]) for k in ("E_density_per_mm3", "PV_density_per_mm3",
                                                  "SOM_density_per_mm3"))
            total = e + pv + som
            out[row["layer"]] = {"E": e / total, "FS": pv / total, "LTS": som / total,
                                 "total_per_mm3": total}
    return out
