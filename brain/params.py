"""Parameters of the brain model: frozen dataclasses, units in field names.

These are the typed objects a scene is validated into (``cosim.scene``); the builder
and engine read nothing else.  Brain units: ms, mV, nS, pF, pA, um, Hz.
"""
from __future__ import annotations

from dataclasses import dataclass, field
import math

__all__ = ["Receptor", "CellType", "ConnectionRule", "ProjectionRule", "DelayParams",
           "DCStimulus", "PoissonInput", "AfferentInput", "PatchAtlasSpec", "AtlasSpec",
           "Layer", "Focus", "BrainParams", "ATLAS_LAYERS", "ParamError"]

# Layer names of the voxel atlases (kind "synthetic"/"allen"): neocortex L1..L6 (Allen's L5
# split into L5A/L5B by depth), cerebellar cortex ML (molecular), PCL (Purkinje), GL
# (granular); "" for unlayered regions.
ATLAS_LAYERS = ("", "L1", "L2/3", "L4", "L5A", "L5B", "L6", "ML", "PCL", "GL")


class ParamError(ValueError):
    """A parameter that only the built model can check (e.g. a voxel the atlas lacks);
    ``key`` is its scene key, e.g. "brain.focus[0].voxel"."""

    def __init__(self, key: str, message: str):
        super().__init__(message)
        self.key = key


def _positive(name: str, value: float) -> None:
    # `not (v > 0)` also rejects NaN.
    if not (value > 0) or math.isinf(value):
        raise ValueError(f"{name} = {value!r}: must be > 0 and finite")


def _fraction_of_real(name: str, value: float) -> None:
    # A density scale is the fraction of the real neuron density placed: above 1 the
    # model would hold more cells than the tissue (and the build can run for hours
    # counting synapses before it runs out of memory), so refuse it before any work.
    if not (0 < value <= 1):
        raise ValueError(f"{name} = {value!r}: must be a fraction of the real density, "
                         f"0 < value <= 1 (e.g. 0.01 for 1 %)")


def _non_negative(name: str, value: float) -> None:
    if not (value >= 0) or math.isinf(value):
        raise ValueError(f"{name} = {value!r}: must be >= 0 and finite")


def _finite(name: str, value: float) -> None:
    if not math.isfinite(value):
        raise ValueError(f"{name} = {value!r}: must be finite")


@dataclass(frozen=True, kw_only=True)
class Receptor:
    """A synaptic receptor type (e.g. AMPA, GABA_A, NMDA).

    kind: "alpha" (tau_ms), "dual_exp" (tau_rise_ms < tau_ms) or "exp" (tau_ms).
    mg_mM > 0 adds the voltage-dependent magnesium block of NMDA receptors
    (Jahr & Stevens 1990): g_eff = g / (1 + mg_mM / 3.57 * exp(-0.062 V)).
    """

    name: str
    E_rev_mV: float
    tau_ms: float
    kind: str = "alpha"
    tau_rise_ms: float = 0.0
    mg_mM: float = 0.0

    def __post_init__(self):
        _finite("E_rev_mV", self.E_rev_mV)
        _non_negative("mg_mM", self.mg_mM)
        _positive("tau_ms", self.tau_ms)
        if self.kind not in ("alpha", "dual_exp", "exp"):
            raise ValueError(f"kind = {self.kind!r}: must be 'alpha', 'dual_exp' or 'exp'")
        if self.kind == "dual_exp" and not (0 < self.tau_rise_ms < self.tau_ms):
            raise ValueError(f"tau_rise_ms = {self.tau_rise_ms!r}: dual_exp needs "
                             f"0 < tau_rise_ms < tau_ms = {self.tau_ms}")


@dataclass(frozen=True, kw_only=True)
class CellType:
    """A neuron type: LIF membrane parameters, where it lives and what it releases.

    ``tau_syn_ms`` optionally overrides receptor decay time constants for this
    (postsynaptic) type, e.g. ``{"AMPA": 1.0}``.

    Spike-frequency adaptation: each spike of the cell adds ``adaptation_nS`` to its own
    conductance on ``adaptation_receptor`` (a scene receptor, typically ``kind = "exp"``
    with a K+ reversal and a decay of tens to hundreds of ms), arriving one minimum
    delay after the spike. This is the spike-triggered AHP conductance of conductance-
    based adapting LIF models (e.g. NEST's ``iaf_chxk_2008``, Casti et al. 2008;
    ``gif_cond_exp``, Mensi et al. 2012). 0 nS (the default): no adaptation.
    """

    name: str
    C_m_pF: float
    g_L_nS: float
    E_L_mV: float
    V_th_mV: float
    V_reset_mV: float
    t_ref_ms: float
    receptor: str                      # what this type releases onto its targets
    region: str = "MOp"                # Allen acronym of the region it is placed in
    layer: str = ""                    # layer name ("L2/3", "L5B", ...) or "" if unlayered
    density_per_mm3: float = 0.0       # placement density before the scene's scale
    fraction: float = 0.0              # or: this fraction of the voxel's neuron density
    regions: tuple = ()                # scene-level family: expanded to one type per region
    V_init_mV: float | None = None     # None: uniform in [V_reset, V_th)
    tau_syn_ms: dict = field(default_factory=dict)
    adaptation_nS: float = 0.0         # conductance added per own spike (nS)
    adaptation_receptor: str = ""      # the receptor that conductance lives on

    def __post_init__(self):
        _positive("C_m_pF", self.C_m_pF)
        _non_negative("adaptation_nS", self.adaptation_nS)
        if self.adaptation_nS > 0 and not self.adaptation_receptor:
            raise ValueError(f"adaptation_nS = {self.adaptation_nS}: name the receptor it "
                             "acts on in adaptation_receptor")
        if not (0 <= self.fraction <= 1):
            raise ValueError(f"fraction = {self.fraction!r}: must be in [0, 1]")
        _positive("g_L_nS", self.g_L_nS)
        for key in ("E_L_mV", "V_th_mV", "V_reset_mV"):
            _finite(key, getattr(self, key))
        _non_negative("t_ref_ms", self.t_ref_ms)
        _non_negative("density_per_mm3", self.density_per_mm3)
        if not (self.V_reset_mV < self.V_th_mV):
            raise ValueError(f"V_reset_mV = {self.V_reset_mV}: must be < V_th_mV = {self.V_th_mV}")
        for name, tau in self.tau_syn_ms.items():
            _positive(f"tau_syn_ms.{name}", tau)


@dataclass(frozen=True, kw_only=True)
class ConnectionRule:
    """Wiring from every ``pre`` type to every ``post`` type.

    Distance-dependent (default): p(d) = p_max * exp(-d^2 / (2 sigma_um^2)), d the
    distance projected onto the cortical surface (um); sigma_um = 0 means p = p_max.
    Candidates farther than ``cutoff_sigmas * sigma_um`` are not considered.
    Fixed in-degree (``indegree`` > 0): each post cell gets exactly ``indegree``
    distinct pre cells drawn uniformly (no autapses, no multapses); p_max is unused.
    ``delay_ms`` fixes the delay of the rule's synapses (default: from distance).

    On a voxel atlas (kind "synthetic"/"allen") a rule wires cells of the same region and
    hemisphere only, and d is the distance between the cells' surface points (see
    ``brain.atlas``).  ``kind = "parallel_fibre"``: a pre cell (granule) contacts a post
    cell with probability p_max when they lie within ``fibre_width_um`` across the folium
    and ``fibre_length_um`` along it (the parallel-fibre axis), at any depth.
    """

    pre: tuple
    post: tuple
    weight_nS: float
    p_max: float = 0.0
    sigma_um: float = 0.0
    cutoff_sigmas: float = 3.0
    indegree: int = 0
    delay_ms: float | None = None
    kind: str = "gaussian"
    fibre_length_um: float = 3000.0
    fibre_width_um: float = 100.0

    def __post_init__(self):
        if self.kind not in ("gaussian", "parallel_fibre"):
            raise ValueError(f"kind = {self.kind!r}: must be 'gaussian' or 'parallel_fibre'")
        _positive("fibre_length_um", self.fibre_length_um)
        _positive("fibre_width_um", self.fibre_width_um)
        if self.indegree < 0:
            raise ValueError(f"indegree = {self.indegree}: must be >= 0")
        if self.delay_ms is not None and not (self.delay_ms > 0):
            raise ValueError(f"delay_ms = {self.delay_ms!r}: must be > 0")
        if not (0 <= self.p_max <= 1):
            raise ValueError(f"p_max = {self.p_max!r}: must be in [0, 1]")
        _non_negative("weight_nS", self.weight_nS)
        _non_negative("sigma_um", self.sigma_um)
        _positive("cutoff_sigmas", self.cutoff_sigmas)
        if not self.pre or not self.post:
            raise ValueError("pre and post must each name at least one cell type")


@dataclass(frozen=True, kw_only=True)
class ProjectionRule:
    """Inter-area wiring from a connectome: ``pre`` cells of ``pre_regions`` onto ``post``
    cells of ``post_regions``.

    For every (source region A, target region B, side) with side "ipsi" (same
    hemisphere) and/or "contra", the connectome strength W = strength(A, B, side) (or
    ``strength`` if given) sets the mean in-degree of each post cell,
    ``indegree_per_strength * W``, drawn from the ``pre`` cells of A on that side
    (probability k / N_pre: the synapse count scales with the post cell count, the
    in-degree does not depend on the density scale).  A == B on the ipsi side is skipped
    (within-area wiring is the job of ``connections``).
    ``topographic``: sources are drawn with weight exp(-d^2 / 2 map_sigma^2), d the
    distance between the post voxel's and the pre voxel's *corresponding* positions
    (surface points standardised per area and hemisphere: centred on the area's
    centroid, divided by its RMS radius, left-right mirrored for contra), so
    body-part maps connect to the same body part.  Delays: base_ms + 3-D distance /
    ``velocity_um_per_ms`` (default: the scene's), or ``delay_ms``.
    ``fold_contra`` (with hemisphere "ipsi"): W = ipsi + contra strength, for
    one-hemisphere models whose crossed pathways (pons -> cerebellum, deep nuclei ->
    thalamus) are folded onto the modelled side.
    ``resolved``: (A, B, side, W) rows, filled by the model builder from the connectome.
    """

    pre_regions: tuple
    post_regions: tuple
    pre: tuple
    post: tuple
    weight_nS: float
    indegree_per_strength: float
    hemisphere: str = "both"
    strength: float | None = None
    fold_contra: bool = False
    topographic: bool = False
    map_sigma: float = 0.3
    delay_ms: float | None = None
    velocity_um_per_ms: float | None = None
    resolved: tuple = ()

    def __post_init__(self):
        _non_negative("weight_nS", self.weight_nS)
        _non_negative("indegree_per_strength", self.indegree_per_strength)
        _positive("map_sigma", self.map_sigma)
        if self.hemisphere not in ("ipsi", "contra", "both"):
            raise ValueError(f"hemisphere = {self.hemisphere!r}: must be 'ipsi', 'contra' "
                             "or 'both'")
        if self.strength is not None:
            _non_negative("strength", self.strength)
        if self.fold_contra and self.hemisphere != "ipsi":
            raise ValueError(f"fold_contra = true: needs hemisphere = 'ipsi', got "
                             f"{self.hemisphere!r}")
        if self.delay_ms is not None:
            _positive("delay_ms", self.delay_ms)
        if self.velocity_um_per_ms is not None:
            _positive("velocity_um_per_ms", self.velocity_um_per_ms)
        for key in ("pre_regions", "post_regions", "pre", "post"):
            if not getattr(self, key):
                raise ValueError(f"{key} = []: must name at least one entry")

    @property
    def sides(self) -> tuple:
        return ("ipsi", "contra") if self.hemisphere == "both" else (self.hemisphere,)


@dataclass(frozen=True, kw_only=True)
class DelayParams:
    """delay = base_ms + distance_um / velocity_um_per_ms, rounded to steps, >= min_ms."""

    base_ms: float = 1.0
    velocity_um_per_ms: float = 300.0
    min_ms: float = 1.0

    def __post_init__(self):
        _non_negative("base_ms", self.base_ms)
        _positive("velocity_um_per_ms", self.velocity_um_per_ms)
        _positive("min_ms", self.min_ms)


@dataclass(frozen=True, kw_only=True)
class DCStimulus:
    """Constant current into the cells of ``cell_types`` in the given voxels:
    ``amplitude_pA + amplitude_pA_per_pF * C_m_pF`` of each cell (pA).

    columns: ((ix, iy), ...) surface columns (patch: column index; voxel atlases: the
    (AP, LR) grid index, a vertical line of voxels); voxels: ((i, j, k), ...) single
    voxels by grid index (voxel atlases; (AP, DV, LR)).  Both empty: every cell of the
    types; both given: cells in either.
    """

    cell_types: tuple
    amplitude_pA: float = 0.0
    # Added per pF of the cell's capacitance: a current that scales with membrane area
    # (e.g. a photocurrent in a uniformly expressing population), so a 100 pF FS cell gets
    # less than a 250 pF pyramidal cell instead of being driven to hundreds of Hz.
    amplitude_pA_per_pF: float = 0.0
    start_ms: float = 0.0
    stop_ms: float = math.inf
    columns: tuple = ()
    voxels: tuple = ()

    def __post_init__(self):
        for v in self.voxels:
            if len(v) != 3:
                raise ValueError(f"voxels: {list(v)!r} must be a grid index [i, j, k]")
        _finite("amplitude_pA", self.amplitude_pA)
        _finite("amplitude_pA_per_pF", self.amplitude_pA_per_pF)
        _non_negative("start_ms", self.start_ms)
        if not (self.stop_ms > self.start_ms):
            raise ValueError(f"stop_ms = {self.stop_ms}: must be > start_ms = {self.start_ms}")


@dataclass(frozen=True, kw_only=True)
class PoissonInput:
    """Independent Poisson spike trains onto the ``receptor`` of every cell of ``cell_types``."""

    cell_types: tuple
    rate_Hz: float
    weight_nS: float
    receptor: str = "AMPA"

    def __post_init__(self):
        _non_negative("rate_Hz", self.rate_Hz)
        _non_negative("weight_nS", self.weight_nS)


@dataclass(frozen=True, kw_only=True)
class AfferentInput:
    """Cells that receive the body's proprioceptive drive as Poisson input.

    Each cell of ``cell_type`` listens to one afferent channel (muscle x Ia/II/Ib);
    its input rate is ``fibres_per_cell * afferent_rate`` on ``receptor`` with ``weight_nS``.
    """

    cell_type: str
    weight_nS: float = 1.0
    fibres_per_cell: float = 10.0
    receptor: str = "AMPA"

    def __post_init__(self):
        _non_negative("weight_nS", self.weight_nS)
        _non_negative("fibres_per_cell", self.fibres_per_cell)


@dataclass(frozen=True, kw_only=True)
class Layer:
    """A cortical layer of the synthetic patch, by depth below the pia (um)."""

    name: str
    thickness_um: float

    def __post_init__(self):
        _positive("thickness_um", self.thickness_um)


@dataclass(frozen=True, kw_only=True)
class PatchAtlasSpec:
    """Synthetic atlas: a flat patch of one cortical area plus a thalamic block.

    The cortex is ``columns`` = (nx, ny) voxel columns of ``voxel_um``; layers are
    stacked from the pia down.  ``thalamus_voxels`` voxels of ``thalamus`` sit below.
    """

    region: str = "MOp"
    kind: str = "patch"
    columns: tuple = (3, 3)
    voxel_um: float = 100.0
    layers: tuple = ()
    thalamus: str = "VAL"
    thalamus_voxels: int = 1

    def __post_init__(self):
        if self.kind != "patch":
            raise ValueError(f"kind = {self.kind!r}: must be 'patch', 'synthetic' or 'allen'")
        _positive("voxel_um", self.voxel_um)
        if len(self.columns) != 2 or min(self.columns) < 1:
            raise ValueError(f"columns = {self.columns!r}: must be two integers >= 1")
        if self.thalamus_voxels < 0:
            raise ValueError(f"thalamus_voxels = {self.thalamus_voxels}: must be >= 0")


@dataclass(frozen=True, kw_only=True)
class AtlasSpec:
    """A voxel atlas: the default synthetic mouse brain or user-given Allen CCF files.

    kind "synthetic": ``brain.synthetic_brain`` files (written once to a cache folder).
    kind "allen": ``annotation`` (CCF NRRD), ``ontology`` (JSON/CSV), ``connectome``
    (Knox CSV), ``densities`` (Keller/Murakami JSON or CSV); paths already resolved.
    ``regions``: Allen acronyms to model (a voxel belongs to the nearest listed ancestor
    of its label); ``hemispheres``: "left" and/or "right".
    """

    kind: str
    regions: tuple
    hemispheres: tuple = ("left",)
    voxel_um: float = 100.0
    synthetic_seed: int = 0
    annotation: str = ""
    ontology: str = ""
    connectome: str = ""
    densities: str = ""

    def __post_init__(self):
        if self.kind not in ("synthetic", "allen"):
            raise ValueError(f"kind = {self.kind!r}: must be 'patch', 'synthetic' or 'allen'")
        _positive("voxel_um", self.voxel_um)
        if not self.regions:
            raise ValueError("regions = []: name at least one Allen acronym")
        if not self.hemispheres or not set(self.hemispheres) <= {"left", "right"}:
            raise ValueError(f"hemispheres = {list(self.hemispheres)!r}: must be a non-empty "
                             "list of 'left', 'right'")
        if self.kind == "allen":
            for key in ("annotation", "ontology", "connectome", "densities"):
                if not getattr(self, key):
                    raise ValueError(f"{key} = '': required for kind 'allen'")


@dataclass(frozen=True, kw_only=True)
class Focus:
    """A denser sampled disc of cortex around one voxel (voxel atlases).

    After the analysed core of Billeh et al. 2020's V1 model: cells of ``regions`` whose
    surface point
    lies within ``radius_um`` of the surface point of voxel ``voxel`` (grid index
    (AP, DV, LR)), same hemisphere, are placed at ``density_scale`` instead of their
    region's.  Wiring keeps every cell's in-degree what it is at the region's density (a
    focus cell counts region scale / focus scale as a source), so a focus samples the
    same network more finely; it does not make it stronger.
    """

    regions: tuple
    voxel: tuple
    radius_um: float
    density_scale: float

    def __post_init__(self):
        if len(self.voxel) != 3:
            raise ValueError(f"voxel = {list(self.voxel)!r}: must be a grid index [i, j, k]")
        _positive("radius_um", self.radius_um)
        _fraction_of_real("density_scale", self.density_scale)
        if not self.regions:
            raise ValueError("regions = []: name at least one region")


@dataclass(frozen=True, kw_only=True)
class BrainParams:
    """Everything needed to build and run the brain model."""

    receptors: tuple              # of Receptor
    cell_types: tuple             # of CellType
    connections: tuple = ()       # of ConnectionRule
    delays: DelayParams = DelayParams()
    dc: tuple = ()                # of DCStimulus
    poisson: tuple = ()           # of PoissonInput
    afferents: AfferentInput | None = None
    density_scale: float = 1.0
    atlas: PatchAtlasSpec | AtlasSpec = PatchAtlasSpec()
    projections: tuple = ()       # of ProjectionRule (voxel atlases only)
    focus: tuple = ()             # of Focus (voxel atlases only)
    # Density scale per region (acronym -> scale) instead of density_scale there.
    region_density_scale: dict = field(default_factory=dict)
    # Placement only: cells are placed at placement_scale x the density scales, while the
    # connection rules keep the in-degrees they have at placement_scale = 1 (a source cell
    # placed at a finer sampling counts proportionally less in every rule; fixed
    # in-degree scaling, van Albada et al. 2015).  `cosim experiment --scale` sets it.
    placement_scale: float = 1.0
    # Inter-area pathways removed: "SRC->DST" with * wildcards ("MOp->*", "*->MOp").
    cut: tuple = ()

    def __post_init__(self):
        _fraction_of_real("density_scale", self.density_scale)
        _positive("placement_scale", self.placement_scale)
        for r, v in self.region_density_scale.items():
            _fraction_of_real(f"region_density_scale.{r}", v)
        for c in self.cut:
            if not isinstance(c, str) or c.count("->") != 1 or "" in c.split("->"):
                raise ValueError(f"cut: {c!r} must look like 'SRC->DST' (regions or *)")

    def receptor_index(self, name: str) -> int:
        names = [r.name for r in self.receptors]
        if name not in names:
            raise ValueError(f"unknown receptor {name!r}; defined: {', '.join(names)}")
        return names.index(name)

    def type_index(self, name: str) -> int:
        names = [t.name for t in self.cell_types]
        if name not in names:
            raise ValueError(f"unknown cell type {name!r}; defined: {', '.join(names)}")
        return names.index(name)
