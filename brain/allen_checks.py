"""Checks of user-given Allen files, run once when a scene is loaded (before any cell is
placed or wired): the annotation volume, its labels against the ontology, the connectome
and the density table.

Every message reads ``<file>: <field or place in the file>: <value>: what is wrong
(what would be valid)``; ``AtlasFileError.field`` names the ``AtlasSpec`` field of the
file (annotation, ontology, connectome, densities), so the scene reader can point at the
scene key as well.
"""
from __future__ import annotations

import difflib
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from .allen_nrrd import read_nrrd
from .allen_ontology import Ontology, read_ontology
from .allen_tables import Connectome, DensityTable, read_densities, read_knox

__all__ = ["AtlasFileError", "AllenFiles", "read_checked_ontology", "check_allen_files",
           "check_annotation", "check_labels", "check_density_regions"]

_SHOWN = 5          # ids / names listed in a message before "and N more"


class AtlasFileError(ValueError):
    """A bad atlas file. ``field``: the AtlasSpec field that names it."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(message)


@dataclass(frozen=True)
class AllenFiles:
    """What the checks read, for the scene's own cross-checks (connectome regions)."""

    ontology: Ontology
    connectome: Connectome
    densities: DensityTable
    labels: np.ndarray          # int64[n]: the annotation's distinct labels, 0 included


@contextmanager
def _blame(field: str):
    """Reader errors (ValueError, OSError) -> AtlasFileError of ``field``, one line."""
    try:
        yield
    except AtlasFileError:
        raise
    except (ValueError, OSError) as exc:
        raise AtlasFileError(field, " ".join(str(exc).split())) from exc


def read_checked_ontology(path) -> Ontology:
    """``read_ontology`` with its errors as AtlasFileError('ontology', ...)."""
    with _blame("ontology"):
        return read_ontology(path)


def check_allen_files(spec, ontology: Ontology | None = None,
                      density_regions=()) -> AllenFiles:
    """Read and check the files of an ``AtlasSpec`` of kind "allen".

    ontology: already read from ``spec.ontology`` (else read here).
    density_regions: acronyms whose cells are placed from the density table (types with
    a ``fraction``); each must get a density from the table.
    Raises AtlasFileError.
    """
    onto = ontology if ontology is not None else read_checked_ontology(spec.ontology)
    with _blame("annotation"):
        labels = check_annotation(spec.annotation, *read_nrrd(spec.annotation))
    with _blame("ontology"):
        check_labels(onto, labels, spec.annotation)
    with _blame("connectome"):
        conn = read_knox(spec.connectome, onto)
    with _blame("densities"):
        dens = read_densities(spec.densities, onto)
        check_density_regions(dens, density_regions)
    return AllenFiles(ontology=onto, connectome=conn, densities=dens, labels=labels)


def check_annotation(path, grid: np.ndarray, spacing_um: np.ndarray, header: dict) -> np.ndarray:
    """A 3-D volume of isotropic voxels whose labels are integer ids >= 0.

    Returns int64[n], the distinct labels."""
    if grid.ndim != 3:
        raise ValueError(f"{path}: NRRD field 'sizes' = {header['sizes']!r}: {grid.ndim}-D "
                         f"(expected a 3-D annotation volume, sizes AP DV LR)")
    if len(spacing_um) != 3 or not (np.all(spacing_um > 0)
                                    and np.allclose(spacing_um, spacing_um[0])):
        field = "space directions" if "space directions" in header else "spacings"
        raise ValueError(f"{path}: NRRD field '{field}' = {header.get(field)!r}: voxel edges "
                         f"{spacing_um.tolist()} um (expected one voxel size > 0 on all 3 "
                         f"axes, e.g. 100 um)")
    uniq = np.unique(grid)
    if grid.dtype.kind == "f":
        bad = uniq[~np.isfinite(uniq) | (uniq != np.floor(uniq)) | (uniq < 0)]
    elif grid.dtype.kind == "i":
        bad = uniq[uniq < 0]
    else:
        bad = uniq[:0]
    if bad.size:
        mask = np.isin(grid, bad) | (np.isnan(grid) if grid.dtype.kind == "f" else False)
        first = tuple(int(i) for i in np.argwhere(mask)[0])
        raise ValueError(f"{path}: voxel {first}: {grid[first].item()!r}: not a structure id "
                         f"({int(mask.sum())} such voxel(s); expected integer Allen ids >= 0, "
                         f"0 outside the brain)")
    return uniq.astype(np.int64)


def _listed(items) -> str:
    items = list(items)
    more = f" and {len(items) - _SHOWN} more" if len(items) > _SHOWN else ""
    return ", ".join(str(x) for x in items[:_SHOWN]) + more


def check_labels(onto: Ontology, labels: np.ndarray, annotation) -> None:
    """Every nonzero annotation label must be a structure id of the ontology."""
    missing = [lab for lab in labels.tolist() if lab != 0 and lab not in onto.acronym]
    if missing:
        raise ValueError(f"{onto.source}: structure ids {_listed(missing)}: missing "
                         f"({len(missing)} of the {int(np.count_nonzero(labels))} labels of "
                         f"{annotation}; expected every nonzero label of the annotation to be "
                         f"a structure id of the ontology: files of two atlas versions?)")


def check_density_regions(dens: DensityTable, regions) -> None:
    """Each of ``regions`` gets a density: its own, an ancestor's or one of its parts'."""
    onto = dens.ontology
    for r in regions:
        try:
            dens.neurons_per_mm3(r)
            continue
        except ValueError:
            pass
        if any(i in dens.per_mm3 for i in onto.descendants(r)):
            continue
        name = onto.name[onto.id_of(r)]
        lower = {u.lower(): u for u in dens.unmatched}
        near = [lower[m] for m in difflib.get_close_matches(name.lower(), lower, n=1,
                                                            cutoff=0.5)]
        hint = ""
        if dens.unmatched:
            names = _listed(map(repr, dens.unmatched))
            hint = f"; regions of the file not in the ontology: {names}"
            if near:
                hint += f" ({near[0]!r} a misspelling of {name!r}?)"
        raise ValueError(f"{dens.source}: region {r!r} ({name}): no density for it, its "
                         f"ancestors or its parts{hint} (expected a row named {name!r} or "
                         f"{r!r}, or one for an ancestor)")
