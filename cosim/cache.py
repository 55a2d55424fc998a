"""Build once, load later: the built brain model (atlas, cells, single-rank synapses) in HDF5.

Files live in ``$COSIM_CACHE`` (default ``~/.cache/brain-body-cosim``): ``atlas/<hash>/``
holds the synthetic brain's files, ``models/<key>.h5`` the models.  The key is a sha256
of the resolved scene's brain section, seed and dt, the bytes of the atlas input files,
the package version and the source of the modules that build the model, so any change
of input or code misses the cache.  A file that cannot be read (corrupt, other layout)
is rebuilt with a warning.  Files are written to a temporary name and renamed, so
concurrent ranks never read half a file.  Only voxel-atlas scenes are cached (the patch
builds in well under a second).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import warnings
from pathlib import Path

import numpy as np

__all__ = ["entries", "clear", "cache_root", "model_key", "load_model", "save_model", "load_synapses",
           "save_synapses", "ENABLED", "set_enabled"]

ENABLED = os.environ.get("COSIM_NO_CACHE", "") in ("", "0")
_LAYOUT = 3     # 2: synapse weights stored as codes into a weight table; 3: cells.wiring_factor
_CODE = ("brain/atlas.py", "brain/allen.py", "brain/allen_nrrd.py", "brain/allen_ontology.py",
         "brain/allen_tables.py", "brain/synthetic_brain.py", "brain/placement.py",
         "brain/connectivity.py", "brain/model.py", "brain/params.py",
         "brain/kernels/connect.py", "brain/kernels/projections.py", "brain/kernels/rng.py")


def set_enabled(flag: bool) -> None:
    """Turn the model cache on or off for this process (``cosim ... --no-cache``)."""
    global ENABLED
    ENABLED = bool(flag)


def cache_root() -> Path:
    return Path(os.environ.get("COSIM_CACHE") or Path.home() / ".cache" / "brain-body-cosim")


def entries() -> list:
    """(path, bytes) of every file in the model cache."""
    root = cache_root() / "models"
    return [(p, p.stat().st_size) for p in sorted(root.glob("*.h5"))] if root.is_dir() else []


def clear() -> int:
    """Delete every cached model; returns the bytes freed."""
    freed = 0
    for path, size in entries():
        path.unlink(missing_ok=True)
        freed += size
    return freed


def _file_digest(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def model_key(scene) -> str:
    """sha256 over everything the built model depends on."""
    from importlib.metadata import PackageNotFoundError, version
    root = Path(__file__).resolve().parent.parent
    h = hashlib.sha256()
    h.update(repr(scene.brain).encode())
    h.update(f"|seed={scene.run.seed}|dt={scene.run.dt_ms!r}|layout={_LAYOUT}".encode())
    try:
        h.update(version("brain-body-cosim").encode())
    except PackageNotFoundError:
        pass
    for rel in _CODE:
        h.update((root / rel).read_bytes())
    spec = scene.brain.atlas
    for k in ("annotation", "ontology", "connectome", "densities"):
        if getattr(spec, k, ""):
            h.update(_file_digest(getattr(spec, k)).encode())
    return h.hexdigest()[:32]


def _path(key: str, what: str) -> Path:
    return cache_root() / "models" / f"{key}.{what}.h5"


def _atomic_write(path: Path, fill) -> None:
    import h5py
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with h5py.File(tmp, "w") as f:
        f.attrs["layout"] = _LAYOUT
        fill(f)
    os.replace(tmp, path)


def _rows_json(params) -> str:
    return json.dumps([list(map(list, r.resolved)) for r in params.projections])


def save_model(key: str, model) -> Path:
    """Write the atlas, the cells and the resolved projection strengths of ``model``."""
    from brain.params import ATLAS_LAYERS
    atlas, cells = model.atlas, model.cells
    layer_index = {name: i for i, name in enumerate(ATLAS_LAYERS)}

    def fill(f):
        g = f.create_group("atlas")
        for name, arr in atlas.arrays().items():
            g.create_dataset(name, data=arr)
        g.create_dataset("layer", data=np.array([layer_index[x] for x in atlas.layer.tolist()],
                                                dtype=np.int8))
        g.attrs.update(voxel_um=atlas.voxel_um, kind=atlas.kind,
                       region_names=json.dumps(list(atlas.region_names)),
                       grid_shape=list(atlas.grid_shape))
        c = f.create_group("cells")
        for name in ("type_id", "voxel", "pos_um", "region", "hemisphere", "layer", "depth_um",
                     "sheet_um", "wiring_factor"):
            if getattr(cells, name) is not None:
                c.create_dataset(name, data=getattr(cells, name))
        f.attrs["projections"] = _rows_json(model.params)

    path = _path(key, "model")
    _atomic_write(path, fill)
    return path


def load_model(key: str, params, dt_ms: float, seed: int):
    """The cached model for ``key`` or None (absent; unreadable -> warning)."""
    path = _path(key, "model")
    if not path.is_file():
        return None
    try:
        return _read_model(path, params, dt_ms, seed)
    except Exception as exc:   # corrupt or foreign file: rebuild
        warnings.warn(f"model cache {path} unreadable ({exc}); rebuilding", stacklevel=2)
        return None


def _read_model(path: Path, params, dt_ms: float, seed: int):
    import h5py

    from brain.atlas import Atlas
    from brain.model import assemble_model
    from brain.params import ATLAS_LAYERS
    from brain.placement import Cells
    with h5py.File(path, "r") as f:
        if f.attrs.get("layout") != _LAYOUT:
            raise ValueError(f"layout {f.attrs.get('layout')} != {_LAYOUT}")
        g = f["atlas"]
        arr = {k: g[k][()] for k in g}
        names = tuple(json.loads(g.attrs["region_names"]))
        layers = np.array(ATLAS_LAYERS, dtype=object)
        atlas = Atlas(voxel_um=float(g.attrs["voxel_um"]),
                      region=np.array(names, dtype=object)[arr["region_id"]],
                      layer=layers[arr.pop("layer")], kind=str(g.attrs["kind"]),
                      region_names=names, grid_shape=tuple(int(x) for x in g.attrs["grid_shape"]),
                      **arr)
        c = {k: f["cells"][k][()] for k in f["cells"]}
        cells = Cells(region_names=names, **c)
        rows = json.loads(f.attrs["projections"])
    if len(rows) != len(params.projections):
        raise ValueError("projection count differs from the scene")
    params = dataclasses.replace(params, projections=tuple(
        dataclasses.replace(r, resolved=tuple((a, b, s, float(w)) for a, b, s, w in rr))
        for r, rr in zip(params.projections, rows)))
    return assemble_model(params, atlas, cells, dt_ms, seed)


_SYNAPSE_ARRAYS = ("indptr", "target", "weight_code", "weight_table_nS", "delay_steps")


def save_synapses(key: str, synapses) -> Path:
    """Write the single-rank synapse CSR."""
    def fill(f):
        for name in _SYNAPSE_ARRAYS:
            f.create_dataset(name, data=getattr(synapses, name))
    path = _path(key, "synapses1")
    _atomic_write(path, fill)
    return path


def load_synapses(key: str, n_cells: int):
    """The cached single-rank synapses for ``key`` or None."""
    import h5py

    from brain.connectivity import Synapses
    path = _path(key, "synapses1")
    if not path.is_file():
        return None
    try:
        with h5py.File(path, "r") as f:
            syn = Synapses(**{k: f[k][()] for k in _SYNAPSE_ARRAYS})
        if len(syn.indptr) != n_cells + 1:
            raise ValueError(f"indptr has {len(syn.indptr)} entries, model {n_cells} cells")
        return syn
    except Exception as exc:
        warnings.warn(f"synapse cache {path} unreadable ({exc}); rebuilding", stacklevel=2)
        return None
