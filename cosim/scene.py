"""The one reader of scene files: TOML -> a validated, frozen ``Scene``.

``load(path)`` runs once, before any long work; after it nothing reads TOML or raw
dicts.  Every error is a ``SceneError`` naming the file, the key and the rule:
``scenes/demo.toml: brain.cell_types.L5B_E.C_m_pF = -3.0: must be > 0``.
"""
from __future__ import annotations

import dataclasses
import math
import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from body.params import AfferentParams, BodyParams
from brain.exchange import EXCHANGES
from brain.partition import PARTITIONS
from brain.params import (AfferentInput, AtlasSpec, BrainParams, CellType,
                          ConnectionRule, DCStimulus, DelayParams, Focus, Layer, PatchAtlasSpec,
                          PoissonInput, ProjectionRule, Receptor)
from bridge.transfer import BridgeParams, MuscleTransfer

from .scene_checks import check_body, check_cross
from .schema import SceneError, array_of, check_type, make, one, suggest, table_of

__all__ = ["SceneError", "RunParams", "Scene", "load", "loads", "scene_digest", "apply_overrides",
           "parse_override", "SCENES_DIR"]

SCENES_DIR = Path(__file__).resolve().parent.parent / "scenes"
BUILDS = ("replicated", "distributed")
SPIKE_OUTPUTS = ("gathered", "per_rank")


@dataclass(frozen=True, kw_only=True)
class RunParams:
    """seed; duration_ms simulated; dt_ms brain step; flush_every_ms output chunking;
    record: cell types whose spikes go to the output file (empty: all cells);
    exchange: how brain ranks share spikes under MPI, "sparse" (only to the ranks with
    a target of the source) or "allgather" (to every rank); the spikes are the same;
    build: "replicated" (every rank places every cell) or "distributed" (each brain rank
    places its own cells and the sources its rules reach, ``brain.distributed``; voxel
    atlases only); spikes: "gathered" (the body rank writes every spike into the run
    file) or "per_rank" (each brain rank writes OUT.rankNNN.h5 and the run file presents
    them as one population through HDF5 virtual datasets, ``cosim.rank_output``);
    partition: how brain ranks split the cells, "bisection" (voxel tiles balanced by
    cost) or "area" (whole (region, hemisphere) areas per rank, voxel atlases only);
    long_period_ms: 0 (default) or the long exchange period of two-level intervals:
    inter-area synapses with a delay >= it are delivered, and their spikes exchanged,
    once per long period (``brain.engine``); a multiple of the exchange period."""

    seed: int = 1
    duration_ms: float = 1000.0
    dt_ms: float = 0.1
    flush_every_ms: float = 100.0
    record: tuple = ()
    exchange: str = "sparse"
    build: str = "replicated"
    spikes: str = "gathered"
    partition: str = "bisection"
    long_period_ms: float = 0.0

    def __post_init__(self):
        for name in ("duration_ms", "dt_ms", "flush_every_ms"):
            if not (getattr(self, name) > 0) or math.isinf(getattr(self, name)):
                raise ValueError(f"{name} = {getattr(self, name)!r}: must be finite and > 0")
        if self.seed < 0:
            raise ValueError(f"seed = {self.seed}: must be >= 0")
        if not (self.long_period_ms >= 0) or math.isinf(self.long_period_ms):
            raise ValueError(f"long_period_ms = {self.long_period_ms!r}: must be finite and "
                             ">= 0 (0: off)")
        for name, allowed in (("exchange", EXCHANGES), ("build", BUILDS),
                              ("spikes", SPIKE_OUTPUTS), ("partition", PARTITIONS)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} = {getattr(self, name)!r}: must be one of "
                                 f"{', '.join(map(repr, allowed))}")


@dataclass(frozen=True)
class Scene:
    """A validated scene: what to build and run. ``text`` is the file as read."""

    path: str
    text: str
    run: RunParams
    brain: BrainParams
    body: BodyParams
    afferents: AfferentParams
    bridge: BridgeParams
    overrides: tuple = ()          # ("key=value", ...) applied on top of the file

    @property
    def interval_steps(self) -> int:
        return int(round(self.bridge.interval_ms / self.run.dt_ms))

    @property
    def n_intervals(self) -> int:
        return int(round(self.run.duration_ms / self.bridge.interval_ms))

    def with_run(self, **changes) -> "Scene":
        """A copy with run parameters changed (e.g. seed, duration_ms), re-validated."""
        try:
            run = dataclasses.replace(self.run, **changes)
        except ValueError as exc:
            raise SceneError(self.path, "run", str(exc)) from None
        scene = dataclasses.replace(self, run=run)
        check_cross(scene)
        return scene


# ---------------------------------------------------------------------------- scene part

def _resolve_mjcf(value, key, ctx, base: Path) -> str:
    if not isinstance(value, str):
        raise SceneError(ctx, key, f"{value!r} is not a path")
    value = os.path.expandvars(value)
    for candidate in (base / value, SCENES_DIR / value):
        if candidate.is_file():
            return str(candidate.resolve())
    raise SceneError(ctx, key, f"file {value!r} not found (looked in {base} and {SCENES_DIR})")


_VAR = re.compile(r"\$\{(\w+)\}|\$(\w+)")


def _resolve_data(value, key, ctx, base: Path) -> str:
    """A data file path: ``${VAR}`` expanded (unset -> error), relative to the scene."""
    if not isinstance(value, str):
        raise SceneError(ctx, key, f"{value!r} is not a path")
    for m in _VAR.finditer(value):
        name = m.group(1) or m.group(2)
        if name not in os.environ:
            raise SceneError(ctx, key, f"environment variable {name} is not set (set it to "
                             f"the folder that holds the data, e.g. {name}=../shared/data)")
    path = Path(os.path.expandvars(value))
    path = path if path.is_absolute() else base / path
    if not path.is_file():
        raise SceneError(ctx, key, f"file {str(path)!r} not found")
    return str(path.resolve())


def _atlas_converter(ctx, base: Path):
    def convert(value, key):
        if not isinstance(value, dict):
            raise SceneError(ctx, key, f"expected a table, got {value!r}")
        kind = value.get("kind", "patch")
        if kind == "patch":
            return make(PatchAtlasSpec, value, ctx, key, {"layers": array_of(Layer, ctx)})
        if kind not in ("synthetic", "allen"):
            raise SceneError(ctx, f"{key}.kind", f"{kind!r}: must be 'patch', 'synthetic' "
                             "or 'allen'")
        files = {k: lambda v, k2: _resolve_data(v, k2, ctx, base)
                 for k in ("annotation", "ontology", "connectome", "densities")}
        return make(AtlasSpec, value, ctx, key, files)
    return convert


_TYPE_KEYS = {f.name for f in dataclasses.fields(CellType)} - {"name"}


def _apply_classes(brain: dict, ctx) -> dict:
    """Merge ``[brain.cell_classes.X]`` templates into the cell types that say class = "X"."""
    brain = dict(brain)
    classes = brain.pop("cell_classes", {})
    if not isinstance(classes, dict):
        raise SceneError(ctx, "brain.cell_classes", "expected a table of named templates")
    for cname, table in classes.items():
        if not isinstance(table, dict):
            raise SceneError(ctx, f"brain.cell_classes.{cname}", "expected a table")
        for k in table:
            if k not in _TYPE_KEYS:
                raise SceneError(ctx, f"brain.cell_classes.{cname}.{k}",
                                 f"unknown key{suggest(k, _TYPE_KEYS)}")
    types = brain.get("cell_types")
    if not isinstance(types, dict):
        return brain
    merged = {}
    for tname, table in types.items():
        if isinstance(table, dict) and "class" in table:
            table = dict(table)
            cname = table.pop("class")
            if cname not in classes:
                raise SceneError(ctx, f"brain.cell_types.{tname}.class",
                                 f"unknown cell class {cname!r}{suggest(str(cname), classes)}")
            table = {**classes[cname], **table}
        merged[tname] = table
    brain["cell_types"] = merged
    return brain


def _expand_families(brain: BrainParams, bridge, ctx):
    """Cell types with ``regions = [...]`` become one type per region, named
    "<region>.<name>"; every list of type names naming the family names all of them."""
    family, concrete = {}, []
    for t in brain.cell_types:
        if not t.regions:
            concrete.append(t)
            continue
        names = []
        for r in t.regions:
            names.append(f"{r}.{t.name}")
            concrete.append(dataclasses.replace(t, name=names[-1], region=r, regions=()))
        family[t.name] = names
    if not family:
        return brain, bridge

    def expand(names):
        out = []
        for n in ((names,) if isinstance(names, str) else names):
            out.extend(family.get(n, [n]))
        return tuple(dict.fromkeys(out))

    def one(name, key):
        if name in family and len(family[name]) != 1:
            raise SceneError(ctx, key, f"{name!r} names {len(family[name])} cell types "
                             f"({', '.join(family[name])}); name one of them")
        return family.get(name, [name])[0]

    rep = dataclasses.replace
    brain = rep(brain, cell_types=tuple(concrete),
                connections=tuple(rep(r, pre=expand(r.pre), post=expand(r.post))
                                  for r in brain.connections),
                projections=tuple(rep(r, pre=expand(r.pre), post=expand(r.post))
                                  for r in brain.projections),
                dc=tuple(rep(d, cell_types=expand(d.cell_types)) for d in brain.dc),
                poisson=tuple(rep(p, cell_types=expand(p.cell_types)) for p in brain.poisson),
                afferents=None if brain.afferents is None else rep(
                    brain.afferents, cell_type=one(brain.afferents.cell_type,
                                                   "brain.afferents.cell_type")))
    bridge = rep(bridge, pool_cell_type=one(bridge.pool_cell_type, "bridge.pool_cell_type"))
    return brain, bridge


def _parse(data: dict, ctx, base: Path, text: str) -> Scene:
    # [assimilation] is read and checked by cosim.assimilation.config (`cosim assimilate`);
    # a scene that has one still runs as a plain scene
    top = {"run", "brain", "body", "bridge", "assimilation"}
    for k in data:
        if k not in top:
            raise SceneError(ctx, k, f"unknown section{suggest(k, top)}")
    for k in ("brain", "body"):
        if k not in data:
            raise SceneError(ctx, k, "required section missing")
    run = make(RunParams, data.get("run", {}), ctx, "run")
    brain = make(BrainParams, _apply_classes(data["brain"], ctx), ctx, "brain", {
        "atlas": _atlas_converter(ctx, base),
        "projections": array_of(ProjectionRule, ctx),
        "receptors": table_of(Receptor, ctx),
        "cell_types": table_of(CellType, ctx),
        "connections": array_of(ConnectionRule, ctx),
        "delays": one(DelayParams, ctx),
        "dc": array_of(DCStimulus, ctx),
        "poisson": array_of(PoissonInput, ctx),
        "afferents": one(AfferentInput, ctx),
        "focus": array_of(Focus, ctx),
    })
    body_table = dict(data["body"])
    afferent_table = body_table.pop("afferents", {})
    body = make(BodyParams, body_table, ctx, "body",
                 {"mjcf_path": lambda v, k: _resolve_mjcf(v, k, ctx, base)})
    afferents = make(AfferentParams, afferent_table, ctx, "body.afferents")
    bridge = make(BridgeParams, data.get("bridge", {}), ctx, "bridge", {
        "transfer": one(MuscleTransfer, ctx),
        "muscles": lambda v, k: {name: make(MuscleTransfer, t, ctx, f"{k}.{name}")
                                 for name, t in check_type(ctx, k, v, dict).items()},
    })
    brain, bridge = _expand_families(brain, bridge, ctx)
    scene = Scene(path=str(ctx), text=text, run=run, brain=brain, body=body,
                  afferents=afferents, bridge=bridge)
    check_cross(scene)
    if run.build == "distributed" and not isinstance(brain.atlas, AtlasSpec):
        raise SceneError(ctx, "run.build", "'distributed' needs a voxel atlas (brain.atlas.kind "
                         "= 'synthetic' or 'allen'); the patch atlas is always replicated")
    check_body(scene, end_effector_given="end_effector" in body_table)
    return scene


def loads(text: str, path="<string>", base: Path | None = None, overrides=()) -> Scene:
    """Parse scene TOML ``text``; ``path`` names it in errors, ``base`` resolves files.

    ``overrides``: ``"key=value"`` strings (see ``apply_overrides``) applied to the parsed
    TOML before validation, so an override is checked exactly like the file's own value.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SceneError(path, "", f"not valid TOML: {exc}") from None
    overrides = tuple(overrides)
    data = apply_overrides(data, [parse_override(o, path) for o in overrides], path)
    scene = _parse(data, path, Path(base) if base else Path.cwd(), text)
    return dataclasses.replace(scene, overrides=overrides) if overrides else scene


def scene_digest(scene: Scene) -> str:
    """A fingerprint of everything the scene sets: file text, overrides and every
    resolved value (seed, duration, paths), plus the content of the body's MJCF."""
    import hashlib
    import json
    h = hashlib.sha256(scene.text.encode())
    h.update(json.dumps(list(scene.overrides)).encode())
    h.update(json.dumps({k: dataclasses.asdict(getattr(scene, k)) for k in
                         ("run", "brain", "body", "afferents", "bridge")},
                        default=str, sort_keys=True).encode())
    mjcf = Path(scene.body.mjcf_path)
    if mjcf.is_file():
        h.update(mjcf.read_bytes())
    return h.hexdigest()


def load(path, seed: int | None = None, duration_ms: float | None = None,
         overrides=()) -> Scene:
    """Read and validate a scene file. A bare name is looked up in the shipped scenes.

    ``seed`` and ``duration_ms``, when given, override ``run.seed`` / ``run.duration_ms``
    (the command-line overrides) and are validated like the file's own values;
    ``overrides`` are ``--set KEY=VALUE`` strings (``apply_overrides``).
    """
    p = Path(path)
    if not p.is_file() and (SCENES_DIR / p).is_file():
        p = SCENES_DIR / p
    if not p.is_file() and (SCENES_DIR / f"{p}.toml").is_file():
        p = SCENES_DIR / f"{p}.toml"
    if not p.is_file():
        raise SceneError(path, "", "no such scene file")
    scene = loads(p.read_text(), path=str(path), base=p.parent, overrides=overrides)
    changes = {k: v for k, v in (("seed", seed), ("duration_ms", duration_ms)) if v is not None}
    return scene.with_run(**changes) if changes else scene


# ------------------------------------------------------------------------- overrides

_KEY_PART = re.compile(r"^([A-Za-z_][\w\-/]*?)(?:\[(\d+)\])?$")


def parse_override(text: str, ctx="<override>"):
    """``"brain.dc[0].amplitude_pA=350"`` -> (["brain", "dc", 0, "amplitude_pA"], 350).

    The value is read as a TOML value (numbers, booleans, strings, arrays, inline
    tables); anything that is not valid TOML is taken as a bare string.  Dots separate
    keys; a key holding a dot (cell type "MOp.L23_E") is quoted: ``brain.cell_types."MOp.L23_E".g_L_nS=5``.
    """
    if not isinstance(text, str) or "=" not in text:
        raise SceneError(ctx, str(text), "an override must look like KEY=VALUE, e.g. "
                         "brain.density_scale=0.01")
    key, raw = text.split("=", 1)
    key, raw = key.strip(), raw.strip()
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    parts = []
    for piece in re.findall(r'"[^"]*"(?:\[\d+\])?|[^."]+', key):
        if piece.startswith('"'):
            name, _, idx = piece[1:].partition('"')
            parts.append(name)
            if idx:
                parts.append(int(idx.strip("[]")))
            continue
        m = _KEY_PART.match(piece)
        if not m:
            raise SceneError(ctx, key, f"cannot read key part {piece!r}")
        parts.append(m.group(1))
        if m.group(2) is not None:
            parts.append(int(m.group(2)))
    if not parts:
        raise SceneError(ctx, text, "empty key")
    return parts, value


def apply_overrides(data: dict, overrides, ctx="<override>") -> dict:
    """A copy of the TOML ``data`` with each (key parts, value) set.

    Tables on the way are created when missing (a new key is then validated like any
    other: unknown keys are errors); a list index must exist.
    """
    import copy
    data = copy.deepcopy(data)
    for parts, value in overrides:
        node, path = data, ""
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            where = f"{path}[{part}]" if isinstance(part, int) else \
                (f"{path}.{part}" if path else part)
            if isinstance(part, int):
                if not isinstance(node, list) or not (-len(node) <= part < len(node)):
                    n = len(node) if isinstance(node, list) else 0
                    raise SceneError(ctx, where, f"override index out of range ({n} entries)")
            elif not isinstance(node, dict):
                raise SceneError(ctx, path, f"override {where!r}: {path} is not a table")
            if last:
                node[part] = value
            else:
                if isinstance(part, str) and part not in node:
                    node[part] = [] if isinstance(parts[i + 1], int) else {}
                node = node[part]
            path = where
    return data
