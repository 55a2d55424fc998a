"""Region tables of the Allen mouse brain: connectomes (Knox 2019, Choi 2019) and
cell densities (Keller/Murakami review table, layer composition)."""
from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .allen_nrrd import _existing, _suggest
from .allen_ontology import Ontology

__all__ = ["Connectome", "read_knox", "read_choi", "DensityTable", "read_densities",
           "read_layer_composition"]

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


def _knox_region(path: Path, ontology: Ontology, text: str, where: str) -> str:
    try:
        return ontology.acronym[int(text)]
    except ValueError:
        raise ValueError(f"{path}: {where} {text!r}: not an integer (expected Allen "
                         f"structure ids)") from None
    except KeyError:
        raise ValueError(f"{path}: {where} {text}: not a structure id of {ontology.source} "
                         f"(expected the ids of that ontology)") from None


def _knox_values(path: Path, rows: list, n_targets: int) -> np.ndarray:
    """float64[n_sources, n_targets] of the data lines; errors name line and column."""
    values = np.empty((len(rows) - 2, n_targets))
    for k, row in enumerate(rows[2:]):
        line = f"line {k + 3} (source id {row[0] if row else ''!r})"
        if len(row) - 1 != n_targets:
            raise ValueError(f"{path}: {line}: {len(row) - 1} values: wrong shape (expected "
                             f"{n_targets}, one per target id of line 2)")
        try:
            values[k] = np.array(row[1:], dtype=np.float64)
        except ValueError:
            c = next(c for c, x in enumerate(row[1:]) if not _is_float(x))
            raise ValueError(f"{path}: {line}, column {c + 2}: {row[c + 1]!r}: not a number "
                             f"(expected connection strengths, finite and >= 0)") from None
        bad = np.flatnonzero(~(np.isfinite(values[k]) & (values[k] >= 0)))
        if bad.size:
            c = int(bad[0])
            raise ValueError(f"{path}: {line}, column {c + 2}: {row[c + 1]}: not a strength "
                             f"({bad.size} bad value(s) in this line; expected finite numbers "
                             f">= 0)")
    return values


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_knox(path, ontology: Ontology) -> Connectome:
    """Read the Knox 2019 regional model CSV: header row 1 = "ipsi"/"contra", header row 2 =
    target structure ids, then one row per source (first column = source id).  Ids are
    mapped to acronyms with ``ontology``."""
    path = _existing(path, "a Knox 2019 connectome CSV")
    try:
        with open(path, newline="") as f:
            rows = list(csv.reader(f))
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}: not a text file: {err} (expected the Knox 2019 "
                         f"connectome CSV)") from None
    if len(rows) < 3 or not {"ipsi", "contra"} & set(rows[0][1:]):
        raise ValueError(f"{path}: expected a first header row of 'ipsi'/'contra', a second of "
                         f"target structure ids, then one row per source")
    hemis, tids = rows[0][1:], rows[1][1:]
    if len(hemis) != len(tids):
        raise ValueError(f"{path}: line 1: {len(hemis)} 'ipsi'/'contra' labels: wrong shape "
                         f"(expected {len(tids)}, one per target id of line 2)")
    for c, h in enumerate(hemis):
        if h not in ("ipsi", "contra"):
            raise ValueError(f"{path}: line 1, column {c + 2}: {h!r}: not a side "
                             f"(expected 'ipsi' or 'contra')")
    targets = [_knox_region(path, ontology, t, f"line 2, column {c + 2}: target id")
               for c, t in enumerate(tids)]
    sources = [_knox_region(path, ontology, r[0] if r else "",
                            f"line {k + 3}, column 1: source id") for k, r in enumerate(rows[2:])]
    values = _knox_values(path, rows, len(tids))
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


def _density(path: Path, where: str, value) -> float:
    """A density value of the file as float, or an error naming ``where`` and the value."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        v = None
    if isinstance(value, bool) or v is None or not (0 <= v < float("inf")):
        what = "not a number" if v is None or isinstance(value, bool) else "not a density"
        raise ValueError(f"{path}: {where}: {value!r}: {what} (expected neurons per mm^3, "
                         f"finite and >= 0)")
    return v


def _json_density_records(path: Path, cell_class: str):
    try:
        doc = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: not valid JSON: {err} (expected the Keller 2018 table "
                         f"{{cell class: {{region: [[values], [references]]}}}})") from None
    if not isinstance(doc, dict) or cell_class not in doc:
        has = sorted(doc) if isinstance(doc, dict) else type(doc).__name__
        raise ValueError(f"{path}: no cell class {cell_class!r} (has {has})")
    for region, entry in doc[cell_class].items():
        where = f"{cell_class}.{region!r}"
        if not (isinstance(entry, list) and len(entry) == 2 and isinstance(entry[0], list)):
            raise ValueError(f"{path}: {where}: {str(entry)[:40]}: not [[values], "
                             f"[references]] (the Keller 2018 table layout)")
        refs = entry[1] if isinstance(entry[1], list) else [entry[1]]
        for k, v in enumerate(entry[0]):
            yield (region, _density(path, f"{where}[0][{k}]", v),
                   str(refs[k] if k < len(refs) else ""))


def _density_records(path: Path, cell_class: str):
    """(region name, value, reference) of ``cell_class`` from the Keller JSON or long CSV."""
    if path.suffix.lower() == ".json":
        yield from _json_density_records(path, cell_class)
        return
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        need = {"cell_class", "brain_region", "density_per_mm3"}
        if not need <= set(reader.fieldnames or ()):
            raise ValueError(f"{path}: density CSV needs columns {sorted(need)}, "
                             f"got {reader.fieldnames}")
        for row in reader:
            if row["cell_class"] == cell_class:
                where = f"line {reader.line_num} ({row['brain_region']}), density_per_mm3"
                yield (row["brain_region"], _density(path, where, row["density_per_mm3"]),
                       row.get("source", ""))


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

