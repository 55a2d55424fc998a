"""The built model: the arrays the engine consumes, and nothing else crosses.

``build_model`` turns a ``BrainParams`` into atlas -> cells -> per-type tables.
Synapses are not part of the model: each rank draws its own (``brain.connectivity``).
On a voxel atlas the model's ``params`` are the scene's with every projection's
connectome strengths resolved (``ProjectionRule.resolved``), so wiring needs no files.
"""
from __future__ import annotations

import dataclasses
import tempfile
from dataclasses import dataclass

import numpy as np

from .atlas import Atlas, load_voxel_atlas, synthetic_atlas_files, synthetic_patch
from .layout import CellLayout, cell_layout
from .params import AtlasSpec, BrainParams
from .placement import Cells, place_cells, voxel_density_scale
from .propagators import propagator

__all__ = ["Model", "TypeTables", "build_model", "build_layout_model", "build_population_model",
           "atlas_files",
           "resolve_projections", "assemble_model"]


@dataclass(frozen=True)
class TypeTables:
    """Per cell type parameter rows (index = type id), float64 unless noted.

    E_rev_mV, p11, p21, p22, gain : [n_types, n_receptors], the receptor propagators
    seen by a *postsynaptic* cell of each type.
    receptor_of_type : int64[n_types], receptor each type releases.
    ref_steps : int64[n_types], refractory period in steps.
    adaptation_nS : [n_types], conductance a cell adds to its own adaptation_receptor
    (int64[n_types], -1: none) per spike.
    """

    C_m_pF: np.ndarray
    g_L_nS: np.ndarray
    E_L_mV: np.ndarray
    V_th_mV: np.ndarray
    V_reset_mV: np.ndarray
    ref_steps: np.ndarray
    E_rev_mV: np.ndarray
    p11: np.ndarray
    p21: np.ndarray
    p22: np.ndarray
    gain: np.ndarray
    receptor_of_type: np.ndarray
    adaptation_nS: np.ndarray
    adaptation_receptor: np.ndarray


@dataclass(frozen=True)
class Model:
    """A built brain model: description, atlas, cells and per-type tables."""

    params: BrainParams
    atlas: Atlas
    cells: Cells
    tables: TypeTables
    dt_ms: float
    seed: int
    #: distributed builds (``brain.distributed``): the placement's entries, from which any
    #: cell can be placed; ``cells`` is then a partial table (``cells.gid`` set)
    layout: CellLayout | None = None

    @property
    def n_cells(self) -> int:
        return self.cells.n if self.layout is None else self.layout.n

    @property
    def min_delay_steps(self) -> int:
        """Lower bound on every synaptic delay (steps): sets the spike-exchange period."""
        return max(1, int(round(self.params.delays.min_ms / self.dt_ms)))

    def area_of(self, gids: np.ndarray) -> np.ndarray:
        """int64 area key (region * 2 + hemisphere, as ``brain.connectivity`` keys cells)
        of each of ``gids``, whether or not its row is in ``cells`` (voxel atlases)."""
        gids = np.asarray(gids, dtype=np.int64)
        if self.layout is not None:
            voxel = self.layout.entry_voxel[self.layout.entries_of(gids)]
            return self.atlas.region_id[voxel].astype(np.int64) * 2 + self.atlas.hemisphere[voxel]
        rows = self.cells.rows(gids)
        return self.cells.region[rows].astype(np.int64) * 2 + self.cells.hemisphere[rows]

    def cells_of_type(self, name: str) -> np.ndarray:
        """Sorted gids (int64) of the cells of type ``name``."""
        if self.layout is not None:
            return self.layout.gids_of_type([self.params.type_index(name)])
        return np.flatnonzero(self.cells.type_id == self.params.type_index(name)).astype(np.int64)

    def type_of(self, gids: np.ndarray) -> np.ndarray:
        """Cell type id (int16) of each of ``gids``, whether or not its row is in ``cells``."""
        if self.layout is not None:
            return self.layout.type_of(gids)
        return self.cells.type_id[np.asarray(gids, dtype=np.int64)]

    def all_type_ids(self) -> np.ndarray:
        """int16[n_cells], the type of every cell of the model (O(n_cells) even when
        ``cells`` is a partial table)."""
        if self.layout is not None:
            return np.repeat(self.layout.entry_type.astype(np.int16), self.layout.entry_count)
        return self.cells.type_id

    def positions(self, gids: np.ndarray) -> np.ndarray:
        """float64[k, 3] pos_um of ``gids``, whether or not their rows are in ``cells``."""
        if self.layout is not None:
            return self.layout.positions(gids)
        return self.cells.pos_um[np.asarray(gids, dtype=np.int64)]


def _type_tables(params: BrainParams, dt_ms: float) -> TypeTables:
    n_t, n_r = len(params.cell_types), len(params.receptors)
    coeff = {k: np.zeros((n_t, n_r)) for k in ("E_rev_mV", "p11", "p21", "p22", "gain")}
    for t, ct in enumerate(params.cell_types):
        for r, rec in enumerate(params.receptors):
            tau = ct.tau_syn_ms.get(rec.name, rec.tau_ms)
            prop = propagator(rec.kind, rec.tau_rise_ms if rec.kind == "dual_exp" else tau,
                              tau, dt_ms)
            coeff["E_rev_mV"][t, r] = rec.E_rev_mV
            coeff["p11"][t, r], coeff["p21"][t, r] = prop.p11, prop.p21
            coeff["p22"][t, r], coeff["gain"][t, r] = prop.p22, prop.gain

    def col(name):
        return np.array([getattr(ct, name) for ct in params.cell_types], dtype=np.float64)

    return TypeTables(
        C_m_pF=col("C_m_pF"), g_L_nS=col("g_L_nS"), E_L_mV=col("E_L_mV"),
        V_th_mV=col("V_th_mV"), V_reset_mV=col("V_reset_mV"),
        ref_steps=np.rint(col("t_ref_ms") / dt_ms).astype(np.int64),
        receptor_of_type=np.array([params.receptor_index(ct.receptor)
                                   for ct in params.cell_types], dtype=np.int64),
        adaptation_nS=col("adaptation_nS"),
        adaptation_receptor=np.array([params.receptor_index(ct.adaptation_receptor)
                                      if ct.adaptation_nS > 0 else -1
                                      for ct in params.cell_types], dtype=np.int64),
        **coeff)


def atlas_files(spec: AtlasSpec, cache_dir=None) -> dict:
    """The files of a voxel atlas: the scene's paths, or the synthetic brain's written once
    under ``cache_dir`` (a temporary folder if None)."""
    if spec.kind == "allen":
        return {k: getattr(spec, k) for k in ("annotation", "ontology", "connectome",
                                              "densities")}
    if cache_dir is None:
        cache_dir = tempfile.mkdtemp(prefix="cosim-atlas-")
    return synthetic_atlas_files(cache_dir, spec.voxel_um, spec.synthetic_seed)


def is_cut(cut: tuple, src: str, dst: str) -> bool:
    """True if the pathway src -> dst matches one of ``cut``'s "SRC->DST" patterns."""
    from fnmatch import fnmatchcase
    return any(fnmatchcase(src, a) and fnmatchcase(dst, b)
               for a, b in (c.split("->") for c in cut))


def resolve_projections(params: BrainParams, connectome) -> BrainParams:
    """``params`` with (source, target, side, strength) rows filled in every projection.

    Strengths come from ``connectome.strength(A, B, side)`` unless the rule states one;
    the ipsilateral A == B pair is skipped (within-area wiring is Gaussian)."""
    rules = []
    for rule in params.projections:
        rows = []
        for a in rule.pre_regions:
            for b in rule.post_regions:
                for side in rule.sides:
                    if a == b and side == "ipsi":
                        continue
                    if rule.strength is not None:
                        w = rule.strength
                    else:
                        w = connectome.strength(a, b, side)
                        if rule.fold_contra:
                            w += connectome.strength(a, b, "contra")
                    if w > 0 and not is_cut(params.cut, a, b):
                        rows.append((a, b, side, float(w)))
        rules.append(dataclasses.replace(rule, resolved=tuple(rows)))
    return dataclasses.replace(params, projections=tuple(rules))


def _atlas(params: BrainParams, cache_dir):
    if isinstance(params.atlas, AtlasSpec):
        from .allen import read_knox
        files = atlas_files(params.atlas, cache_dir)
        atlas, onto = load_voxel_atlas(params.atlas, files)
        if params.projections:
            params = resolve_projections(params, read_knox(files["connectome"], onto))
        return params, atlas
    return params, synthetic_patch(params.atlas)


def build_layout_model(params: BrainParams, dt_ms: float, seed: int, cache_dir=None) -> Model:
    """Atlas -> cell layout -> tables, placing no cell: a Model with an empty partial
    table and ``layout`` set (voxel atlases only; ``brain.distributed`` fills it)."""
    if not (dt_ms > 0):
        raise ValueError(f"dt_ms = {dt_ms!r}: must be > 0")
    params, atlas = _atlas(params, cache_dir)
    if not atlas.is_voxel_atlas:
        raise ValueError("a distributed build needs a voxel atlas (brain.atlas.kind "
                         "'synthetic' or 'allen')")
    placed, factor = voxel_density_scale(atlas, params)
    layout = cell_layout(atlas, params.cell_types, placed, seed, factor)
    return Model(params=params, atlas=atlas, cells=layout.take(np.zeros(0, np.int64)),
                 tables=_type_tables(params, dt_ms), dt_ms=dt_ms, seed=seed, layout=layout)


def build_model(params: BrainParams, dt_ms: float, seed: int, cache_dir=None) -> Model:
    """Atlas -> cell placement -> tables. Cheap (O(cells)); every rank builds it.

    ``cache_dir``: where the synthetic atlas's files are written once (voxel atlases)."""
    if not (dt_ms > 0):
        raise ValueError(f"dt_ms = {dt_ms!r}: must be > 0")
    params, atlas = _atlas(params, cache_dir)
    if atlas.is_voxel_atlas:
        placed, factor = voxel_density_scale(atlas, params)
        cells = place_cells(atlas, params.cell_types, placed, seed, factor)
    else:
        cells = place_cells(atlas, params.cell_types,
                            params.density_scale * params.placement_scale, seed)
    return Model(params=params, atlas=atlas, cells=cells, tables=_type_tables(params, dt_ms),
                 dt_ms=dt_ms, seed=seed)


def assemble_model(params: BrainParams, atlas: Atlas, cells: Cells, dt_ms: float,
                   seed: int) -> Model:
    """A Model from parts built earlier (e.g. loaded from a cache): adds the type tables."""
    return Model(params=params, atlas=atlas, cells=cells, tables=_type_tables(params, dt_ms),
                 dt_ms=dt_ms, seed=seed)


def build_population_model(params: BrainParams, counts: dict, dt_ms: float, seed: int) -> Model:
    """A model without space (NEST's ``Create``): ``counts[name]`` cells of each type.

    Cells are numbered type by type in the order of ``params.cell_types``; they have
    no voxel (-1) and sit at the origin, so only rules without distance dependence
    (sigma_um = 0 or indegree > 0) make sense.
    """
    if not (dt_ms > 0):
        raise ValueError(f"dt_ms = {dt_ms!r}: must be > 0")
    unknown = set(counts) - {t.name for t in params.cell_types}
    if unknown:
        raise ValueError(f"counts: unknown cell type {sorted(unknown)[0]!r}")
    type_id = np.concatenate([np.full(int(counts.get(t.name, 0)), i, dtype=np.int16)
                              for i, t in enumerate(params.cell_types)])
    n = len(type_id)
    atlas = Atlas(voxel_um=params.atlas.voxel_um, region=np.array(["none"], dtype=object),
                  layer=np.array([""], dtype=object), center_um=np.zeros((1, 3)),
                  column=np.full((1, 2), -1, dtype=np.int64))
    cells = Cells(type_id=type_id, voxel=np.full(n, -1, dtype=np.int32), pos_um=np.zeros((n, 3)))
    return Model(params=params, atlas=atlas, cells=cells, tables=_type_tables(params, dt_ms),
                 dt_ms=dt_ms, seed=seed)
