"""Options of the reach environments: frozen, keyword-only dataclasses.

Every default lives in its field here and nowhere else; the environments' docstrings list
them with `arguments_table`, and a test checks the two agree.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from dataclasses import dataclass

__all__ = ["ReachParams", "BrainReachParams", "make_params", "arguments_table"]


def _require(cls_name: str, name: str, value: float, rule: str, ok: bool) -> None:
    # `not (x > 0)` style checks also reject NaN
    if not ok or (isinstance(value, float) and math.isnan(value)):
        raise ValueError(f"{cls_name}.{name} = {value!r}: must be {rule}")


@dataclass(frozen=True, kw_only=True)
class ReachParams:
    """The reach task: timing, target, reward weights, start noise and rendering.

    Attributes
    ----------
    control_interval_ms : float
        Simulated time of one env step (ms); a whole multiple of the body timestep (and,
        for the brain env, of the bridge interval). The action is held for the whole step.
    episode_ms : float
        Episode length (ms); the episode is truncated after ``episode_ms /
        control_interval_ms`` steps.
    target_tolerance_m : float
        The paw counts as on target within this distance (m).
    hold_ms : float
        The episode terminates (success) once the paw has stayed on target this long (ms),
        checked at the end of each env step.
    distance_weight_per_m : float
        Reward per metre of paw-target distance (the distance term is minus this times the
        distance).
    effort_weight : float
        Weight of the effort term, minus this times the mean squared muscle excitation.
    init_qpos_noise : float
        Standard deviation of the Gaussian noise added to each hinge/slide joint position at
        reset (rad or m); replaces the body's own setting.
    workspace_samples : int
        Number of reachable end-effector positions sampled once per model (targets are drawn
        from them).
    workspace_hold_ms : float
        How long each random excitation pattern is held when sampling the workspace (ms).
    workspace_seed : int
        Seed of the random excitation patterns of the workspace sampling (fixed, so every
        copy of an environment sees the same workspace).
    render_width, render_height : int
        Frame size of ``render()`` in pixels.
    camera : str
        Camera used by ``render()``; "" = the model's first camera, or MuJoCo's free camera
        if it has none.
    """

    control_interval_ms: float = 10.0
    episode_ms: float = 1000.0
    target_tolerance_m: float = 0.002
    hold_ms: float = 50.0
    distance_weight_per_m: float = 100.0
    effort_weight: float = 0.01
    init_qpos_noise: float = 0.02
    workspace_samples: int = 200
    workspace_hold_ms: float = 250.0
    workspace_seed: int = 0
    render_width: int = 480
    render_height: int = 360
    camera: str = ""

    def __post_init__(self) -> None:
        name = type(self).__name__
        for key in ("control_interval_ms", "episode_ms", "target_tolerance_m",
                    "workspace_hold_ms"):
            v = getattr(self, key)
            _require(name, key, v, "finite and > 0", v > 0 and math.isfinite(v))
        for key in ("hold_ms", "distance_weight_per_m", "effort_weight", "init_qpos_noise"):
            v = getattr(self, key)
            _require(name, key, v, "finite and >= 0", v >= 0 and math.isfinite(v))
        for key in ("workspace_samples", "render_width", "render_height"):
            v = getattr(self, key)
            _require(name, key, v, "an integer >= 1", isinstance(v, int) and v >= 1)
        n = self.episode_ms / self.control_interval_ms
        _require(name, "episode_ms", self.episode_ms,
                 f"a whole multiple of control_interval_ms = {self.control_interval_ms}",
                 abs(n - round(n)) < 1e-9 and round(n) >= 1)

    @property
    def max_steps(self) -> int:
        """Env steps per episode."""
        return int(round(self.episode_ms / self.control_interval_ms))

    @property
    def hold_steps(self) -> int:
        """Consecutive on-target env steps that end the episode (at least 1)."""
        return max(1, int(math.ceil(self.hold_ms / self.control_interval_ms - 1e-9)))


@dataclass(frozen=True, kw_only=True)
class BrainReachParams:
    """How the agent reaches the brain, and what it sees of it.

    Attributes
    ----------
    stim_groups : tuple of str
        Groups of cells the action stimulates, one current per group. A group spec is
        ``"TYPES"`` (every cell of those types, e.g. ``"TC"``) or ``"TYPES/column"`` (one
        group per voxel column of the cortical patch, e.g. ``"L23_E/column"``); TYPES is a
        cell type name or several joined by ``+`` (``"L23_E+L23_FS/column"``).
    observed_groups : tuple of str
        Extra groups (same specs) whose population rate (Hz) over the last env step is
        observed, besides the motor pools and the stimulated groups.
    max_current_pA : float
        Upper bound of the action: the largest current into one cell of a group (pA).
    """

    stim_groups: tuple = ("L23_E/column",)
    observed_groups: tuple = ()
    max_current_pA: float = 500.0

    def __post_init__(self) -> None:
        name = type(self).__name__
        v = self.max_current_pA
        _require(name, "max_current_pA", v, "finite and > 0", v > 0 and math.isfinite(v))
        for key in ("stim_groups", "observed_groups"):
            specs = getattr(self, key)
            ok = isinstance(specs, (tuple, list)) and all(isinstance(s, str) for s in specs)
            _require(name, key, specs, "a sequence of group spec strings", ok)
        _require(name, "stim_groups", self.stim_groups, "non-empty", len(self.stim_groups) > 0)


def make_params(cls, options: dict):
    """``cls(**options)``, naming the closest option when one is unknown (a TypeError)."""
    allowed = [f.name for f in dataclasses.fields(cls)]
    for key in options:
        if key not in allowed:
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else \
                f"; options are {', '.join(allowed)}"
            raise TypeError(f"unknown option {key!r}{hint}")
    values = dict(options)
    for key in ("stim_groups", "observed_groups"):
        if key in values and isinstance(values[key], list):
            values[key] = tuple(values[key])
    return cls(**values)


def arguments_table(*classes) -> str:
    """The options of ``classes`` as an RST table (name, default), for env docstrings."""
    rows = [(f.name, repr(f.default)) for cls in classes for f in dataclasses.fields(cls)]
    w0 = max(len("Parameter"), *(len(r[0]) + 4 for r in rows))
    w1 = max(len("Default"), *(len(r[1]) + 4 for r in rows))
    line = f"    {'=' * w0} {'=' * w1}"
    out = [line, f"    {'Parameter':<{w0}} {'Default':<{w1}}", line]
    out += [f"    {'``' + a + '``':<{w0}} {'``' + b + '``':<{w1}}" for a, b in rows]
    out.append(line)
    return "\n".join(out) + "\n"
