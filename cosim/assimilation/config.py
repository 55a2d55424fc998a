"""The ``[assimilation]`` section of a scene -> frozen dataclasses, checked before any work.

```toml
[assimilation]
seed = 7
inflation = 1.0            # multiplicative, on the forecast anomalies (>= 1)
operator = "rates"         # must match the observation file's operator
localise = true            # a parameter sees only the observables of its regions

[[assimilation.parameters]]
name = "w_L23E_FS"
key = "brain.connections[1].weight_nS"     # a dotted scene key, as `--set` takes it
prior_mean = 0.57          # in the key's unit
prior_sd = 0.3             # transform "log": sd of ln(value); "none": in the key's unit
lower = 0.05
upper = 5.0
transform = "log"          # or "none"
regions = ["MOp"]          # for localisation (default: all)
observables = ["*.L23_*"]  # and/or name patterns of the observables it may see (default all)
```

Each parameter's key must exist in the scene file, and the scene must load with the
prior mean (and with each bound) set there, so a bad key or range is a ``SceneError``
naming the file and the key at load, never in the middle of a run.
"""
from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from pathlib import Path

from ..scene import SCENES_DIR, Scene, SceneError, load, parse_override
from ..schema import array_of, make

__all__ = ["Parameter", "AssimilationParams", "load_assimilation", "parameter_overrides"]

OPERATORS = ("rates",)


@dataclass(frozen=True, kw_only=True)
class Parameter:
    """One estimated scene value. prior_mean, lower, upper in the key's unit; prior_sd in
    the transformed space (for "log": the sd of ln(value), i.e. a relative spread)."""

    name: str
    key: str
    prior_mean: float
    prior_sd: float
    lower: float = -math.inf
    upper: float = math.inf
    transform: str = "none"
    regions: tuple = ()
    observables: tuple = ()

    def sees(self, observable: str) -> bool:
        """Whether localisation lets this parameter see ``observable`` ("MOp.L23_FS"):
        its region is listed (or none are) and it matches a pattern (or none are given)."""
        from fnmatch import fnmatchcase
        region = observable.split(".", 1)[0]
        return ((not self.regions or region in self.regions) and
                (not self.observables or any(fnmatchcase(observable, p)
                                             for p in self.observables)))

    def __post_init__(self):
        if self.transform not in ("log", "none"):
            raise ValueError(f"transform = {self.transform!r}: must be 'log' or 'none'")
        if not (self.prior_sd > 0) or math.isinf(self.prior_sd):
            raise ValueError(f"prior_sd = {self.prior_sd!r}: must be finite and > 0")
        if not math.isfinite(self.prior_mean):
            raise ValueError(f"prior_mean = {self.prior_mean!r}: must be finite")
        if not (self.lower < self.prior_mean < self.upper):
            raise ValueError(f"prior_mean = {self.prior_mean!r}: must lie strictly between "
                             f"lower = {self.lower} and upper = {self.upper}")
        if self.transform == "log" and not (self.lower > 0):
            raise ValueError(f"lower = {self.lower!r}: transform 'log' needs lower > 0")

    def to_z(self, value):
        """Natural value(s) -> transformed space (where the EnKF works)."""
        import numpy as np
        return np.log(value) if self.transform == "log" else np.asarray(value, dtype=float)

    def from_z(self, z):
        """Transformed value(s) -> natural, clipped to [lower, upper]."""
        import numpy as np
        v = np.exp(z) if self.transform == "log" else np.asarray(z, dtype=float)
        return np.clip(v, self.lower, self.upper)


@dataclass(frozen=True, kw_only=True)
class AssimilationParams:
    """seed: of the prior draw, the perturbed observations and the members' noise;
    inflation >= 1 (1: none); operator: the observation operator the observation file
    must have been made with (its bins come from the file); localise: parameters see
    only the observables of their regions; update_state: the membrane potential of every
    cell joins the estimated quantities (each cell sees the observables of its own
    region and type when localised)."""

    parameters: tuple
    seed: int = 1
    inflation: float = 1.0
    operator: str = "rates"
    localise: bool = True
    update_state: bool = False

    def __post_init__(self):
        if not self.parameters:
            raise ValueError("parameters = []: declare at least one [[assimilation.parameters]]")
        if self.seed < 0:
            raise ValueError(f"seed = {self.seed}: must be >= 0")
        if not (1.0 <= self.inflation < 10.0):
            raise ValueError(f"inflation = {self.inflation!r}: must be in [1, 10)")
        if self.operator not in OPERATORS:
            raise ValueError(f"operator = {self.operator!r}: must be one of {', '.join(OPERATORS)}")
        names = [p.name for p in self.parameters]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"parameters: name {dup[0]!r} is declared twice")

    @property
    def names(self) -> list:
        return [p.name for p in self.parameters]


def _scene_file(path) -> Path:
    p = Path(path)
    for c in (p, SCENES_DIR / p, SCENES_DIR / f"{p}.toml"):
        if c.is_file():
            return c
    raise SceneError(path, "", "no such scene file")


def _key_exists(data: dict, parts) -> bool:
    node = data
    for part in parts:
        if isinstance(part, int):
            if not isinstance(node, list) or not -len(node) <= part < len(node):
                return False
        elif not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return not isinstance(node, (dict, list))


def parameter_overrides(params: AssimilationParams, values) -> list:
    """``--set``-style overrides that put ``values`` (natural units, one per parameter)
    into the scene."""
    return [f"{p.key}={float(v)!r}" for p, v in zip(params.parameters, values)]


def load_assimilation(path, overrides=()) -> tuple[Scene, AssimilationParams]:
    """(scene, assimilation settings) of a scene file with an ``[assimilation]`` section.

    Raises SceneError naming the file and the key for an unknown or missing key, a
    parameter key that is not in the scene, or a prior/bound the scene refuses.
    """
    from ..scene import apply_overrides
    scene = load(path, overrides=overrides)
    file = _scene_file(path)
    data = apply_overrides(tomllib.loads(file.read_text()),
                           [parse_override(o, path) for o in overrides], path)
    table = data.get("assimilation")
    if table is None:
        raise SceneError(path, "assimilation", "section missing: `cosim assimilate` needs "
                         "[assimilation] with at least one [[assimilation.parameters]]")
    params = make(AssimilationParams, table, path, "assimilation",
                  {"parameters": array_of(Parameter, path)})
    for i, p in enumerate(params.parameters):
        where = f"assimilation.parameters[{i}].key"
        parts, _ = parse_override(f"{p.key}=0", path)
        if not _key_exists(data, parts):
            raise SceneError(path, where, f"{p.key!r} ({p.name}): no such key in the scene "
                             "file; give a dotted key as --set takes it, e.g. "
                             "brain.connections[1].weight_nS")
        for what, value in (("prior_mean", p.prior_mean), ("lower", p.lower),
                            ("upper", p.upper)):
            if not math.isfinite(value):
                continue
            try:
                load(path, overrides=[*overrides, f"{p.key}={value!r}"])
            except SceneError as exc:
                raise SceneError(path, f"assimilation.parameters[{i}].{what}",
                                 f"{value!r} set at {p.key} ({p.name}) is refused by the "
                                 f"scene: {exc}") from None
    return scene, params
