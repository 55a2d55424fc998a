"""Voxel atlas: which region and layer each voxel belongs to, and where its surface is.

Two kinds of atlas:

- the flat **patch** (``synthetic_patch``): one cortical area as voxel columns side by
  side plus a thalamic block; the walking skeleton and the demo scene;
- a **voxel atlas** (``load_voxel_atlas``) read from Allen-format files: the CCF
  annotation NRRD, ontology, connectome and densities the user points to, or the same
  files written by ``brain.synthetic_brain`` (the default synthetic mouse brain; see
  ``synthetic_atlas_files``).  Both go through the ``brain.allen`` readers.

Layers (``brain.params.ATLAS_LAYERS``): neocortical layers come from the annotation's
layer labels (Allen L5 is split into L5A, upper quarter, and L5B by relative depth:
distance to L2/3-L4 over distance to L2/3-L4 plus distance to L6).  Cerebellar layers
come from SIMmo/SIMpu/SIMgr-style labels where the atlas has them (synthetic); in the real
CCF only whole lobules are labelled, so the layer is derived from the relative depth
r = d_surface / (d_surface + d_white_matter): ML r < 0.35, PCL r < 0.5, GL below.

Surface points (``sheet_um``), used for distances "along the surface":
- synthetic atlas: the files' 2-D sheet coordinates, stored as (u, 0, v) (u along AP or
  around the folium, v along LR = the parallel-fibre axis);
- real CCF: the centre of the nearest layer-1 voxel (neocortex; a projection onto the
  pial surface, good to a voxel) or of the nearest voxel outside the brain (cerebellar
  cortex); component 2 is LR, the parallel-fibre axis;
- other regions: the voxel centre (so "surface" distance is the 3-D distance).
Distances between two surface points are straight-line (chord) distances, which equal
the geodesic to within a few percent over the ~0.5 mm ranges of local wiring.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .params import ATLAS_LAYERS, AtlasSpec, PatchAtlasSpec

__all__ = ["Atlas", "ALLEN_IDS", "synthetic_patch", "load_voxel_atlas",
           "synthetic_atlas_files"]

# Allen CCF structure ids of the regions the synthetic atlases use.
ALLEN_IDS = {"MOp": 985, "MOs": 993, "SSp": 322, "SSs": 378, "VAL": 629, "VM": 685,
             "VPL": 718, "PG": 931, "CP": 672, "GPe": 1022}

_CBX_ID, _ISOCORTEX_ID = 528, 315
_CB_LAYER_SUFFIX = {"mo": "ML", "pu": "PCL", "gr": "GL"}
_L5A_FRACTION = 0.25     # Dura-Bernal 2023: L5A is 0.10 of the 0.43 normalised-depth L5


@dataclass(frozen=True)
class Atlas:
    """A set of labelled voxels (only the modelled ones).

    Attributes
    ----------
    voxel_um : edge length of a voxel (um).
    region : str[n_voxels], acronym of each voxel's modelled region.
    layer : str[n_voxels], layer name or "" for unlayered regions.
    center_um : float64[n_voxels, 3], voxel centres (patch: x, y along the surface, z
        depth; voxel atlases: AP, DV, LR from the grid corner).
    column : int64[n_voxels, 2], patch: (ix, iy) surface column (-1 if none); voxel
        atlases: the (AP, LR) grid index, a vertical column through the dorsal cortex.
    kind : "patch", "synthetic" or "allen".
    region_names : the modelled regions; ``region_id`` int16[n] indexes it.
    hemisphere : int8[n], 0 left, 1 right.
    label : uint32[n] Allen id; ijk : int32[n, 3] grid index; grid_shape : (AP, DV, LR).
    depth_um : float32[n], depth below the surface, NaN where undefined.
    sheet_um : float64[n, 3], surface point (see the module docstring).
    chart : bool[n], True where sheet_um is a 2-D chart (u, 0, v): a cell's offset in the
        voxel moves its surface point along AP and LR only.
    neurons_per_mm3 : float64[n], neuron density of the voxel's structure (NaN if none).
    """

    voxel_um: float
    region: np.ndarray
    layer: np.ndarray
    center_um: np.ndarray
    column: np.ndarray
    kind: str = "patch"
    region_names: tuple = ()
    region_id: np.ndarray | None = None
    hemisphere: np.ndarray | None = None
    label: np.ndarray | None = None
    ijk: np.ndarray | None = None
    grid_shape: tuple = ()
    depth_um: np.ndarray | None = None
    sheet_um: np.ndarray | None = None
    chart: np.ndarray | None = None
    neurons_per_mm3: np.ndarray | None = None

    @property
    def n_voxels(self) -> int:
        return len(self.region)

    @property
    def is_voxel_atlas(self) -> bool:
        return self.kind != "patch"

    def arrays(self) -> dict:
        """The voxel-atlas arrays by name (what the model cache stores)."""
        return {k: getattr(self, k) for k in ("center_um", "column", "region_id", "hemisphere",
                                              "label", "ijk", "depth_um", "sheet_um", "chart",
                                              "neurons_per_mm3")}


def synthetic_patch(spec: PatchAtlasSpec) -> Atlas:
    """Build the flat cortical patch described by ``spec``.

    Layers fill voxels by the depth of the voxel centre, so a layer thinner than a
    voxel may get no voxel; the scene validator warns about that case.
    """
    nx, ny = spec.columns
    vox = spec.voxel_um
    bounds = np.cumsum([0.0] + [layer.thickness_um for layer in spec.layers])
    nz = int(np.ceil(bounds[-1] / vox)) if len(spec.layers) else 0
    regions, layers, centers, columns = [], [], [], []
    for ix in range(nx):
        for iy in range(ny):
            for iz in range(nz):
                depth = (iz + 0.5) * vox
                k = int(np.searchsorted(bounds, depth, side="right")) - 1
                if k >= len(spec.layers):
                    continue
                regions.append(spec.region)
                layers.append(spec.layers[k].name)
                centers.append(((ix + 0.5) * vox, (iy + 0.5) * vox, depth))
                columns.append((ix, iy))
    # Thalamic block: a row of voxels centred under the patch, 1 mm below the cortex.
    for k in range(spec.thalamus_voxels):
        x = (nx * vox) / 2 + (k - (spec.thalamus_voxels - 1) / 2) * vox
        regions.append(spec.thalamus)
        layers.append("")
        centers.append((x, (ny * vox) / 2, nz * vox + 1000.0))
        columns.append((-1, -1))
    return Atlas(voxel_um=vox,
                 region=np.array(regions, dtype=object),
                 layer=np.array(layers, dtype=object),
                 center_um=np.array(centers, dtype=np.float64).reshape(-1, 3),
                 column=np.array(columns, dtype=np.int64).reshape(-1, 2))


# ------------------------------------------------------------------ synthetic files

def synthetic_atlas_files(cache_dir, voxel_um: float = 100.0, seed: int = 0) -> dict:
    """Paths of the synthetic brain's files, written once under ``cache_dir``/atlas/<hash>.

    The hash covers the generator's source, ``voxel_um`` and ``seed``, so a changed
    generator never serves stale files.  Writing goes to a temporary folder renamed into
    place, so concurrent ranks cannot see half-written files.
    """
    from . import synthetic_brain
    src = Path(synthetic_brain.__file__).read_bytes()
    key = hashlib.sha256(src + f"|{float(voxel_um)!r}|{int(seed)}".encode()).hexdigest()[:16]
    folder = Path(cache_dir) / "atlas" / key
    names = {"annotation": "annotation.nrrd", "ontology": "ontology.json",
             "connectome": "connectome.csv", "densities": "densities.csv",
             "depth": "depth_um.nrrd", "surface_u": "surface_u_um.nrrd",
             "surface_v": "surface_v_um.nrrd"}
    paths = {k: folder / v for k, v in names.items()}
    if all(p.is_file() for p in paths.values()):
        return paths
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=folder.parent))
    written = synthetic_brain.make_synthetic_atlas(tmp, voxel_um=voxel_um, seed=seed)
    assert {k: p.name for k, p in written.items()} == names
    try:
        os.replace(tmp, folder)
    except OSError:                 # another process won the race: use its copy
        shutil.rmtree(tmp, ignore_errors=True)
    return paths


# --------------------------------------------------------------------- voxel atlas

def _edt(background: np.ndarray, spacing_um: float, indices: bool = False):
    """Distance (um) of every voxel to the nearest True voxel of ``background``."""
    try:
        from scipy.ndimage import distance_transform_edt
    except ImportError:
        raise ImportError("a real (kind 'allen') atlas needs scipy for depth and surface "
                          "maps: pip install scipy") from None
    if not background.any():
        shape = background.shape
        return (np.full(shape, np.nan), None) if indices else np.full(shape, np.nan)
    return distance_transform_edt(~background, sampling=spacing_um, return_indices=indices)


def _label_tables(onto, labels: np.ndarray, regions: tuple, source: str) -> dict:
    """Per unique label: region index (-1 if none), cortical layer, cerebellar suffix."""
    table = {}
    for lab in labels.tolist():
        if lab == 0:
            continue
        if lab not in onto.acronym:
            raise ValueError(f"{source}: annotation label {lab} is not in the ontology "
                             f"{onto.source}")
        reg = onto.ancestor_in(lab, regions)
        path = onto.path[lab]
        cb = ""
        if _CBX_ID in path:                 # "mo"/"pu"/"gr" layer label, or "?" (lobule)
            suffix = onto.acronym[lab][-2:]
            cb = suffix if suffix in _CB_LAYER_SUFFIX else "?"
        table[lab] = (regions.index(reg) if reg is not None else -1,
                      onto.cortical_layer(lab) or "", cb, _ISOCORTEX_ID in path)
    return table


def _per_voxel(table: dict, label: np.ndarray, item: int, default):
    lut = {k: v[item] for k, v in table.items()}
    return np.array([lut.get(x, default) for x in label.tolist()], dtype=object)


def _split_l5(layer, ijk, grid_layers, depth, region_id, vox, real: bool):
    """Relabel "L5" voxels as L5A (upper quarter) or L5B."""
    l5 = layer == "L5"
    if not l5.any():
        return
    if real:
        code = {name: i for i, name in enumerate(ATLAS_LAYERS)}
        above = _edt((grid_layers == code["L2/3"]) | (grid_layers == code["L4"]),
                     vox)[tuple(ijk[l5].T)]
        below = _edt(grid_layers == code["L6"], vox)[tuple(ijk[l5].T)]
        rel = above / np.maximum(above + below, 1e-9)
    else:   # synthetic: depth of the voxel relative to the L5 band of its region
        rel = np.zeros(l5.sum())
        d, r = depth[l5], region_id[l5]
        for reg in np.unique(r):
            m = r == reg
            lo, hi = d[m].min() - vox / 2, d[m].max() + vox / 2
            rel[m] = (d[m] - lo) / max(hi - lo, 1e-9)
    layer[np.flatnonzero(l5)] = np.where(rel < _L5A_FRACTION, "L5A", "L5B")


def _cerebellar_layers(layer, ijk, cb, grid, cbx_grid, vox):
    """Real CCF lobules: layer from the relative depth between surface and white matter."""
    need = cb == "?"
    if not need.any():
        return None, None
    d_top, idx = _edt(grid == 0, vox, indices=True)
    d_bot = _edt((grid != 0) & ~cbx_grid, vox)
    at = tuple(ijk[need].T)
    rel = d_top[at] / np.maximum(d_top[at] + d_bot[at], 1e-9)
    layer[np.flatnonzero(need)] = np.where(rel < 0.35, "ML", np.where(rel < 0.5, "PCL", "GL"))
    return d_top, idx


def load_voxel_atlas(spec: AtlasSpec, files: dict):
    """Read the atlas files and keep the voxels of ``spec.regions`` and ``spec.hemispheres``.

    files : {"annotation", "ontology", "densities"[, "depth", "surface_u", "surface_v"]}
        paths; the optional maps come with the synthetic atlas.
    Returns (Atlas, Ontology).
    """
    from .allen import read_densities, read_nrrd, read_ontology
    grid, spacing, _ = read_nrrd(files["annotation"])
    if grid.ndim != 3 or not np.allclose(spacing, spacing[0]):
        raise ValueError(f"{files['annotation']}: expected a 3-D annotation with isotropic "
                         f"voxels, got shape {grid.shape}, spacing {list(spacing)}")
    vox = float(spacing[0])
    onto = read_ontology(files["ontology"])
    regions = tuple(spec.regions)
    for r in regions:
        onto.id_of(r)
    # Allen ids reach 6e8: map labels through their sorted unique values, not a table
    uniq, inverse = np.unique(grid, return_inverse=True)
    inverse = inverse.reshape(grid.shape)
    table = _label_tables(onto, uniq, regions, str(files["annotation"]))
    region_grid = np.array([table.get(x, (-1,))[0] for x in uniq.tolist()],
                           dtype=np.int64)[inverse]
    lr_centre = (np.arange(grid.shape[2]) + 0.5) * vox
    hemi_of_k = (lr_centre >= grid.shape[2] * vox / 2).astype(np.int8)
    keep = region_grid >= 0
    allowed = [0 if h == "left" else 1 for h in spec.hemispheres]
    keep &= np.isin(hemi_of_k, allowed)[None, None, :]
    ijk = np.argwhere(keep).astype(np.int32)          # C order: AP, then DV, then LR
    label = grid[keep].astype(np.uint32)
    region_id = region_grid[keep].astype(np.int16)
    center = (ijk + 0.5) * vox
    layer = _per_voxel(table, label, 1, "")
    cb = _per_voxel(table, label, 2, "")
    is_cb = cb != ""
    for c, name in _CB_LAYER_SUFFIX.items():
        layer[cb == c] = name
    real = "depth" not in files
    sheet = center.copy()
    chart = np.zeros(len(label), dtype=bool)
    depth = np.full(len(label), np.nan, dtype=np.float32)
    if not real:
        at = tuple(ijk.T)
        d, u, v = (read_nrrd(files[k])[0][at] for k in ("depth", "surface_u", "surface_v"))
        chart = np.isfinite(u) & np.isfinite(v)
        sheet[chart] = np.stack([u[chart], np.zeros(chart.sum()), v[chart]], axis=1)
        depth = d.astype(np.float32)
    else:
        # isocortex layer of every grid voxel, as an index into ATLAS_LAYERS ("" = 0)
        lut = np.zeros(len(uniq), dtype=np.int8)
        for i, lab in enumerate(uniq.tolist()):
            row = table.get(lab)
            if row is not None and row[3] and row[1]:
                lut[i] = ATLAS_LAYERS.index(row[1] if row[1] != "L5" else "L5A")
        grid_layers = lut[inverse]
        ctx = np.array([table.get(int(x), (0, "", "", False))[3] for x in label.tolist()],
                       dtype=bool)
        if ctx.any():
            d_l1, idx = _edt(grid_layers == ATLAS_LAYERS.index("L1"), vox, indices=True)
            at = tuple(ijk[ctx].T)
            depth[ctx] = d_l1[at] + vox / 2
            sheet[ctx] = (np.stack([i[at] for i in idx], axis=1) + 0.5) * vox
        cbx_grid = np.isin(grid, list(onto.descendants("CBX")))
        d_top, idx = _cerebellar_layers(layer, ijk, cb, grid, cbx_grid, vox)
        if d_top is not None:
            at = tuple(ijk[is_cb].T)
            depth[is_cb] = d_top[at] - vox / 2
            sheet[is_cb] = (np.stack([i[at] for i in idx], axis=1) + 0.5) * vox
        _split_l5(layer, ijk, grid_layers, depth, region_id, vox, real=True)
    if not real:
        _split_l5(layer, ijk, None, depth, region_id, vox, real=False)
    assert set(layer.tolist()) <= set(ATLAS_LAYERS), set(layer.tolist())
    dens = read_densities(files["densities"], onto)
    per_label = {}
    for lab in np.unique(label).tolist():
        try:
            per_label[lab] = dens.neurons_per_mm3(onto.acronym[lab])
        except ValueError:
            per_label[lab] = np.nan
    atlas = Atlas(voxel_um=vox, region=np.array(regions, dtype=object)[region_id],
                  layer=layer, center_um=center,
                  column=np.ascontiguousarray(ijk[:, [0, 2]].astype(np.int64)),
                  kind="allen" if real else "synthetic", region_names=regions,
                  region_id=region_id, hemisphere=hemi_of_k[ijk[:, 2]], label=label, ijk=ijk,
                  grid_shape=tuple(grid.shape), depth_um=depth, sheet_um=sheet, chart=chart,
                  neurons_per_mm3=np.array([per_label[x] for x in label.tolist()]))
    return atlas, onto
