"""Parameters of the brain model: frozen dataclasses, units in field names.

These are the typed objects a scene is validated into (``cosim.scene``); the builder
and engine read nothing else.  Brain units: ms, mV, nS, pF, pA, um, Hz.
"""
from __future__ import annotations

from dataclasses import dataclass, field
import math

__all__ = ["Receptor", "CellType", "ConnectionRule", "DelayParams", "DCStimulus",
           "PoissonInput", "AfferentInput", "PatchAtlasSpec", "Layer", "BrainParams"]


def _positive(name: str, value: float) -> None:
    # `not (v > 0)` also rejects NaN.
    if not (value > 0):
        raise ValueError(f"{name} = {value!r}: must be > 0")


def _non_negative(name: str, value: float) -> None:
    if not (value >= 0):
        raise ValueError(f"{name} = {value!r}: must be >= 0")


def _finite(name: str, value: float) -> None:
    if not math.isfinite(value):
        raise ValueError(f"{name} = {value!r}: must be finite")


@dataclass(frozen=True, kw_only=True)
class Receptor:
    """A synaptic receptor type (e.g. AMPA, GABA_A).

    kind: "alpha" (tau_ms), "dual_exp" (tau_rise_ms < tau_ms) or "exp" (tau_ms).
    """

    name: str
    E_rev_mV: float
    tau_ms: float
    kind: str = "alpha"
    tau_rise_ms: float = 0.0

    def __post_init__(self):
        _finite("E_rev_mV", self.E_rev_mV)
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
    V_init_mV: float | None = None     # None: uniform in [V_reset, V_th)
    tau_syn_ms: dict = field(default_factory=dict)

    def __post_init__(self):
        _positive("C_m_pF", self.C_m_pF)
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
    """

    pre: tuple
    post: tuple
    weight_nS: float
    p_max: float = 0.0
    sigma_um: float = 0.0
    cutoff_sigmas: float = 3.0
    indegree: int = 0
    delay_ms: float | None = None

    def __post_init__(self):
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
    """Constant current into the cells of ``cell_types`` in the given voxel columns.

    columns: ((ix, iy), ...) of the patch; empty means every column.
    """

    cell_types: tuple
    amplitude_pA: float
    start_ms: float = 0.0
    stop_ms: float = math.inf
    columns: tuple = ()

    def __post_init__(self):
        _finite("amplitude_pA", self.amplitude_pA)
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
    columns: tuple = (3, 3)
    voxel_um: float = 100.0
    layers: tuple = ()
    thalamus: str = "VAL"
    thalamus_voxels: int = 1

    def __post_init__(self):
        _positive("voxel_um", self.voxel_um)
        if len(self.columns) != 2 or min(self.columns) < 1:
            raise ValueError(f"columns = {self.columns!r}: must be two integers >= 1")
        if self.thalamus_voxels < 0:
            raise ValueError(f"thalamus_voxels = {self.thalamus_voxels}: must be >= 0")


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
    atlas: PatchAtlasSpec = PatchAtlasSpec()

    def __post_init__(self):
        _positive("density_scale", self.density_scale)

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
