"""Running an experiment's scenes and reading back what they wrote."""
from __future__ import annotations

import json
import operator
import time
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

__all__ = ["Experiment", "RunData", "SCENES"]

# atlas -> shipped scene of the experiments (the stimulated site is brain.dc[0])
SCENES = {"synthetic": "m1_m2_th_pg_cb", "allen": "ccf_motor_left"}
# The protocol: the scene's stimulus from its start_ms to the end of a 2 s run, so that
# spectra and coherences average over enough segments (the scenes' own 1 s runs leave
# 0.5 s of stimulus: 3 Welch segments, coherence biased to ~0.3 by chance alone).
DEFAULT_DURATION_MS = 2000.0


@dataclass
class RunData:
    """What an analysis needs from one run file: spikes (ms, gid) and the cell table."""

    path: str
    t_ms: np.ndarray
    gid: np.ndarray
    type_name: np.ndarray          # str per cell, e.g. "MOp.L23_E"
    region: np.ndarray             # str per cell
    layer: np.ndarray              # str per cell
    dc_site: np.ndarray            # int per cell, -1: not positionally stimulated
    body: dict
    joint_names: list
    stim_window_ms: tuple          # (start, stop) of brain.dc[0]
    duration_ms: float
    afferent_type: str             # the cell type that hears the body ("" if none)
    sheet_um: np.ndarray | None = None   # (n, 3) surface points of atlas scenes, else None

    @classmethod
    def read(cls, path) -> "RunData":
        with h5py.File(path, "r") as f:
            c = f["cells"]
            names = c["type_names"][()].astype(str)
            dec = lambda k: c[k][()].astype(str)                       # noqa: E731
            scene = json.loads(f.attrs["scene_resolved"])
            dc, aff = scene["brain"]["dc"], scene["brain"]["afferents"]
            win = (float(dc[0]["start_ms"]), float(dc[0]["stop_ms"])) if dc else (0.0, 0.0)
            from ..output import read_spikes
            t_ms, gid = read_spikes(f)
            return cls(path=str(path), t_ms=t_ms, gid=gid,
                       type_name=names[c["type_id"][()]], region=dec("region"),
                       layer=dec("layer"), dc_site=c["dc_site"][()],
                       body={k: f["body"][k][()] for k in f["body"]},
                       joint_names=list(f["body"].attrs["joint_names"]),
                       stim_window_ms=win, duration_ms=float(f.attrs["duration_ms"]),
                       afferent_type=aff["cell_type"] if aff else "",
                       sheet_um=c["sheet_um"][()] if "sheet_um" in c else None)

    @property
    def n(self) -> int:
        return len(self.type_name)

    def cells(self, region=None, layer=None, kind=None, stimulated=None) -> np.ndarray:
        """Sorted gids of the cells in ``region`` (str or list), ``layer``, whose type name
        ends with ``_<kind>`` (E, FS, LTS) or equals ``kind`` after the region (GR, PC, ...)."""
        m = np.ones(self.n, dtype=bool)
        if region is not None:
            m &= np.isin(self.region, [region] if isinstance(region, str) else list(region))
        if layer is not None:
            m &= self.layer == layer
        if kind is not None:
            base = np.char.rpartition(self.type_name.astype(str), ".")[:, 2]
            m &= (np.char.endswith(base, f"_{kind}") | (base == kind))
        if stimulated is not None:
            m &= (self.dc_site >= 0) == stimulated
        return np.flatnonzero(m)

    def spikes_of(self, gids: np.ndarray, t0: float, t1: float) -> tuple:
        """(times ms, gids) of the spikes of ``gids`` in [t0, t1)."""
        sel = np.isin(self.gid, gids) & (self.t_ms >= t0) & (self.t_ms < t1)
        return self.t_ms[sel], self.gid[sel]

    def population_rate(self, gids: np.ndarray, t0: float, t1: float) -> tuple:
        """(bin centres ms, rate Hz) of the population ``gids``, 1 ms bins over [t0, t1)."""
        from ..analysis import population_rate
        return population_rate(self.spikes_of(gids, t0, t1)[0], len(gids), t0, t1)

    def mean_rate(self, gids: np.ndarray, t0: float, t1: float) -> float:
        """Mean rate (Hz) per cell of ``gids`` over [t0, t1)."""
        return len(self.spikes_of(gids, t0, t1)[0]) / max(len(gids), 1) / ((t1 - t0) / 1e3)


@dataclass
class Experiment:
    """One experiment's settings, its runs and its metrics."""

    name: str
    out_dir: Path
    scale: float = 1.0
    atlas: str = "synthetic"
    seeds: tuple = (1,)
    duration_ms: float | None = None
    progress: bool = True
    metrics: dict = field(default_factory=dict)
    runs: dict = field(default_factory=dict)
    figures: list = field(default_factory=list)

    def __post_init__(self):
        self.out_dir = Path(self.out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        if self.atlas not in SCENES:
            raise ValueError(f"--atlas {self.atlas!r}: choose one of {', '.join(SCENES)}")
        if not (self.scale > 0):
            raise ValueError(f"--scale {self.scale!r}: must be > 0")
        self.t0 = time.perf_counter()

    @property
    def scene_name(self) -> str:
        return SCENES[self.atlas]

    def run(self, label: str, seed: int, overrides=(), scene_name: str | None = None) -> RunData:
        """Run the experiment's scene (or the shipped ``scene_name``) with ``overrides``
        (``--set`` strings) and this seed into OUT/<label>_seed<seed>.h5 (reused if it is
        complete and has the same scene)."""
        from ..runner import run_embedded
        from ..scene import load
        duration = self.duration_ms or DEFAULT_DURATION_MS
        ov = [f"run.duration_ms={duration!r}", f"brain.dc[0].stop_ms={duration!r}",
              *overrides]
        if self.scale != 1.0:
            ov.append(f"brain.placement_scale={self.scale!r}")
        scene = load(scene_name or self.scene_name, seed=seed, overrides=ov)
        path = self.out_dir / f"{label}_seed{seed}.h5"
        if not _reusable(path, scene):
            run_embedded(scene, path, progress=self.progress)
        self.runs[f"{label}_seed{seed}"] = {"file": path.name, "overrides": ov, "seed": seed}
        return RunData.read(path)

    def check(self, key: str, value, op: str, threshold, note: str = "") -> bool:
        """Record ``value`` against the criterion ``value op threshold``."""
        ok = _compare(value, op, threshold)
        self.metrics[key] = {"value": _plain(value), "criterion": f"{op} {threshold}",
                             "pass": bool(ok), **({"note": note} if note else {})}
        return ok

    def record(self, key: str, value) -> None:
        """A measured value without a criterion (context for the reader)."""
        self.metrics[key] = {"value": _plain(value)}

    def figure(self, path) -> None:
        self.figures.append(Path(path).name)

    def write(self) -> dict:
        checks = [m for m in self.metrics.values() if "pass" in m]
        out = {"experiment": self.name, "scene": self.scene_name, "atlas": self.atlas,
               "scale": self.scale, "seeds": list(self.seeds),
               "wall_s": round(time.perf_counter() - self.t0, 1),
               "all_pass": all(m["pass"] for m in checks), "n_checks": len(checks),
               "n_pass": sum(m["pass"] for m in checks), "metrics": self.metrics,
               "runs": self.runs, "figures": self.figures}
        (self.out_dir / "metrics.json").write_text(json.dumps(out, indent=1))
        return out


def _reusable(path: Path, scene) -> bool:
    if not path.is_file():
        return False
    try:
        with h5py.File(path, "r") as f:
            return (bool(f.attrs.get("complete")) and f["scene"][()].decode() == scene.text
                    and json.loads(f.attrs.get("overrides", "[]")) == list(scene.overrides)
                    and int(f.attrs["seed"]) == scene.run.seed
                    and float(f.attrs["duration_ms"]) == scene.run.duration_ms)
    except Exception:
        return False


_OPS = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt,
        "==": operator.eq, "in": lambda v, t: t[0] <= v <= t[1]}


def _compare(v, op, t) -> bool:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return False                     # NaN (no spikes, no phase) never passes
    return bool(_OPS[op](v, t))


def _plain(v):
    if isinstance(v, (np.floating, float)):
        return round(float(v), 4)
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return v
