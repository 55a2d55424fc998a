"""The Allen structure ontology (nested JSON graph or flat CSV) and region volumes."""
from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .allen_nrrd import _existing, _suggest

__all__ = ["Ontology", "ontology_from_rows", "read_ontology", "write_ontology_json",
           "annotation_volumes_mm3"]

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
        if i in acronym:
            raise ValueError(f"{source}: structure id {i}: appears twice ({acronym[i]!r} and "
                             f"{acr!r}; expected each id once)")
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


_GRAPH = ("each structure node needs id, acronym, name, parent_structure_id and children: "
          "the Allen structure graph")


def _int_field(path: Path, at: str, node: dict, key: str):
    value = node.get(key)
    if value is None and key == "parent_structure_id":
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        value_ok = False
    else:
        value_ok = str(value).strip().lstrip("-").isdigit()
    if not value_ok:
        raise ValueError(f"{path}: {at}.{key} = {value!r}: not an integer structure id "
                         f"({_GRAPH})")
    return int(value)


def _json_rows(path: Path, doc):
    """(id, acronym, name, parent id) of every node; errors name the node's JSON path."""
    where = ""
    if isinstance(doc, dict) and "msg" in doc:
        doc, where = doc["msg"], "msg"
    todo = ([(f"{where}[{k}]", n) for k, n in enumerate(doc)] if isinstance(doc, list)
            else [(where or "top level", doc)])
    while todo:
        at, node = todo.pop()
        if not isinstance(node, dict):
            raise ValueError(f"{path}: {at} = {str(node)[:40]!r}: not a structure node "
                             f"({_GRAPH})")
        for key in ("id", "acronym", "name"):
            if key not in node:
                ident = f" (node id {node['id']!r})" if "id" in node else ""
                raise ValueError(f"{path}: {at}: field '{key}' is missing{ident} ({_GRAPH})")
        i, par = _int_field(path, at, node, "id"), _int_field(path, at, node,
                                                              "parent_structure_id")
        children = node.get("children", [])
        if not isinstance(children, list):
            raise ValueError(f"{path}: {at}.children = {str(children)[:40]!r}: not a list "
                             f"({_GRAPH})")
        yield i, str(node["acronym"]), str(node["name"]), par
        todo.extend((f"{at}.children[{k}]", c) for k, c in enumerate(children))


def _csv_rows(path: Path, reader):
    need = {"id", "acronym", "name", "parent_structure_id"}
    if not need <= set(reader.fieldnames or ()):
        raise ValueError(f"{path}: ontology CSV needs columns {sorted(need)}, "
                         f"got {reader.fieldnames}")
    for row in reader:
        if row["id"] == "0":       # IBL's "void" row: label 0 is outside the brain
            continue
        par = (row["parent_structure_id"] or "").strip()
        try:
            yield int(row["id"]), row["acronym"], row["name"], int(float(par)) if par else None
        except (TypeError, ValueError):
            raise ValueError(f"{path}: line {reader.line_num}: id = {row['id']!r}, "
                             f"parent_structure_id = {par!r}: not integer structure ids "
                             f"(expected e.g. 985, 500)") from None


def read_ontology(path) -> Ontology:
    """Read the Allen structure graph JSON (nested ``msg``/``children``) or the flat CSV
    (columns id, acronym, name, parent_structure_id, ...), chosen by the file suffix."""
    path = _existing(path, "an Allen ontology .json or .csv")
    if path.suffix.lower() == ".json":
        try:
            doc = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}: not valid JSON: {err} (expected the Allen structure "
                             f"graph, e.g. structure_graph_1.json)") from None
        except UnicodeDecodeError as err:
            raise ValueError(f"{path}: not a text file: {err} (expected the Allen structure "
                             f"graph JSON)") from None
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
