"""The one reader of scene files: TOML -> a validated, frozen ``Scene``.

``load(path)`` runs once, before any long work; after it nothing reads TOML or raw
dicts.  Every error is a ``SceneError`` naming the file, the key and the rule:
``scenes/demo.toml: brain.cell_types.L5B_E.C_m_pF = -3.0: must be > 0``.
"""
from __future__ import annotations

import dataclasses
import difflib
import math
import os
import re
import tomllib
import types
import typing
from dataclasses import dataclass
from pathlib import Path

from body.params import AfferentParams, BodyParams
from brain.params import (ATLAS_LAYERS, AfferentInput, AtlasSpec, BrainParams, CellType,
                          ConnectionRule, DCStimulus, DelayParams, Layer, PatchAtlasSpec,
                          PoissonInput, ProjectionRule, Receptor)
from bridge.transfer import BridgeParams, MuscleTransfer

__all__ = ["SceneError", "RunParams", "Scene", "load", "loads", "SCENES_DIR"]

SCENES_DIR = Path(__file__).resolve().parent.parent / "scenes"


class SceneError(ValueError):
    """A scene file that cannot be used. ``path`` and ``key`` say where."""

    def __init__(self, path, key: str, message: str):
        self.path, self.key = str(path), key
        where = f"{key}: " if key else ""
        super().__init__(f"{path}: {where}{message}")


@dataclass(frozen=True, kw_only=True)
class RunParams:
    """seed; duration_ms simulated; dt_ms brain step; flush_every_ms output chunking."""

    seed: int = 1
    duration_ms: float = 1000.0
    dt_ms: float = 0.1
    flush_every_ms: float = 100.0

    def __post_init__(self):
        for name in ("duration_ms", "dt_ms", "flush_every_ms"):
            if not (getattr(self, name) > 0) or math.isinf(getattr(self, name)):
                raise ValueError(f"{name} = {getattr(self, name)!r}: must be finite and > 0")
        if self.seed < 0:
            raise ValueError(f"seed = {self.seed}: must be >= 0")


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
        _check_cross(scene)
        return scene


# ---------------------------------------------------------------------------- generic part

def _suggest(key: str, allowed) -> str:
    close = difflib.get_close_matches(key, list(allowed), n=1)
    return f"; did you mean {close[0]!r}?" if close else \
        f"; allowed keys: {', '.join(sorted(allowed))}"


def _check_type(ctx, key, value, hint):
    """Coerce a TOML value to the field's annotated type or raise SceneError."""
    origin = typing.get_origin(hint)
    if origin in (types.UnionType, typing.Union):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        return _check_type(ctx, key, value, args[0])
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SceneError(ctx, key, f"{value!r} is not a number")
        return float(value)
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise SceneError(ctx, key, f"{value!r} is not an integer")
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise SceneError(ctx, key, f"{value!r} is not true/false")
        return value
    if hint is str:
        if not isinstance(value, str):
            raise SceneError(ctx, key, f"{value!r} is not a string")
        return value
    if hint is tuple or origin is tuple:
        if isinstance(value, str) or not isinstance(value, list):
            raise SceneError(ctx, key, f"{value!r} is not a list")
        return tuple(tuple(v) if isinstance(v, list) else v for v in value)
    if hint is dict or origin is dict:
        if not isinstance(value, dict):
            raise SceneError(ctx, key, f"{value!r} is not a table")
        return value
    return value


_FIELD_IN_MESSAGE = re.compile(r"^(?:[A-Za-z]+\.)?([A-Za-z_][\w.]*) = ")


def _make(cls, table, ctx, key, special=None, **given):
    """Build dataclass ``cls`` from a TOML table, checking keys and types.

    special: field name -> function(value, key) for nested tables.
    given: fields supplied by the caller (e.g. ``name`` from the table's key).
    """
    if not isinstance(table, dict):
        raise SceneError(ctx, key, f"expected a table, got {table!r}")
    special = special or {}
    hints = typing.get_type_hints(cls)
    allowed = [f.name for f in dataclasses.fields(cls) if f.name not in given]
    kwargs = dict(given)
    for k, v in table.items():
        sub = f"{key}.{k}" if key else k
        if k not in allowed:
            raise SceneError(ctx, sub, f"unknown key{_suggest(k, allowed)}")
        kwargs[k] = special[k](v, sub) if k in special else _check_type(ctx, sub, v, hints[k])
    missing = [f.name for f in dataclasses.fields(cls)
               if f.name not in kwargs and f.default is dataclasses.MISSING
               and f.default_factory is dataclasses.MISSING]
    if missing:
        raise SceneError(ctx, f"{key}.{missing[0]}" if key else missing[0], "required key missing")
    try:
        return cls(**kwargs)
    except ValueError as exc:
        m = _FIELD_IN_MESSAGE.match(str(exc))
        sub = f"{key}.{m.group(1)}" if (m and key) else (m.group(1) if m else key)
        raise SceneError(ctx, sub, str(exc)) from None


def _table_of(cls, ctx, **special):
    """Converter for a table of named tables ({name: {...}}) -> tuple of cls."""
    def convert(value, key):
        if not isinstance(value, dict):
            raise SceneError(ctx, key, "expected a table of named entries")
        return tuple(_make(cls, v, ctx, f"{key}.{name}", special, name=name)
                     for name, v in value.items())
    return convert


def _array_of(cls, ctx, **special):
    """Converter for an array of tables ([[...]]) -> tuple of cls."""
    def convert(value, key):
        if not isinstance(value, list):
            raise SceneError(ctx, key, "expected an array of tables ([[...]])")
        return tuple(_make(cls, v, ctx, f"{key}[{i}]", special) for i, v in enumerate(value))
    return convert


def _one(cls, ctx, **special):
    return lambda value, key: _make(cls, value, ctx, key, special)


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
            return _make(PatchAtlasSpec, value, ctx, key, {"layers": _array_of(Layer, ctx)})
        if kind not in ("synthetic", "allen"):
            raise SceneError(ctx, f"{key}.kind", f"{kind!r}: must be 'patch', 'synthetic' "
                             "or 'allen'")
        files = {k: lambda v, k2: _resolve_data(v, k2, ctx, base)
                 for k in ("annotation", "ontology", "connectome", "densities")}
        return _make(AtlasSpec, value, ctx, key, files)
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
                                 f"unknown key{_suggest(k, _TYPE_KEYS)}")
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
                                 f"unknown cell class {cname!r}{_suggest(str(cname), classes)}")
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
    top = {"run", "brain", "body", "bridge"}
    for k in data:
        if k not in top:
            raise SceneError(ctx, k, f"unknown section{_suggest(k, top)}")
    for k in ("brain", "body"):
        if k not in data:
            raise SceneError(ctx, k, "required section missing")
    run = _make(RunParams, data.get("run", {}), ctx, "run")
    brain = _make(BrainParams, _apply_classes(data["brain"], ctx), ctx, "brain", {
        "atlas": _atlas_converter(ctx, base),
        "projections": _array_of(ProjectionRule, ctx),
        "receptors": _table_of(Receptor, ctx),
        "cell_types": _table_of(CellType, ctx),
        "connections": _array_of(ConnectionRule, ctx),
        "delays": _one(DelayParams, ctx),
        "dc": _array_of(DCStimulus, ctx),
        "poisson": _array_of(PoissonInput, ctx),
        "afferents": _one(AfferentInput, ctx),
    })
    body_table = dict(data["body"])
    afferent_table = body_table.pop("afferents", {})
    body = _make(BodyParams, body_table, ctx, "body",
                 {"mjcf_path": lambda v, k: _resolve_mjcf(v, k, ctx, base)})
    afferents = _make(AfferentParams, afferent_table, ctx, "body.afferents")
    bridge = _make(BridgeParams, data.get("bridge", {}), ctx, "bridge", {
        "transfer": _one(MuscleTransfer, ctx),
        "muscles": lambda v, k: {name: _make(MuscleTransfer, t, ctx, f"{k}.{name}")
                                 for name, t in _check_type(ctx, k, v, dict).items()},
    })
    brain, bridge = _expand_families(brain, bridge, ctx)
    scene = Scene(path=str(ctx), text=text, run=run, brain=brain, body=body,
                  afferents=afferents, bridge=bridge)
    _check_cross(scene)
    return scene


def _check_names(ctx, key, names, defined, what):
    """Every name in ``names`` (a list key, or one string) must be in ``defined``."""
    listed = not isinstance(names, str)
    for i, n in enumerate(names if listed else [names]):
        if n not in defined:
            raise SceneError(ctx, f"{key}[{i}]" if listed else key,
                             f"unknown {what} {n!r}{_suggest(n, defined)}")


def _check_cross(scene: Scene) -> None:
    """Rules that tie several keys together; each message states the rule."""
    ctx, b, run = scene.path, scene.brain, scene.run
    types_ = [t.name for t in b.cell_types]
    recs = [r.name for r in b.receptors]
    if not types_:
        raise SceneError(ctx, "brain.cell_types", "at least one cell type is required")
    if not recs:
        raise SceneError(ctx, "brain.receptors", "at least one receptor is required")
    for t in b.cell_types:
        _check_names(ctx, f"brain.cell_types.{t.name}.receptor", t.receptor, recs, "receptor")
        for r in t.tau_syn_ms:
            _check_names(ctx, f"brain.cell_types.{t.name}.tau_syn_ms.{r}", r, recs, "receptor")
    for i, rule in enumerate(b.connections):
        _check_names(ctx, f"brain.connections[{i}].pre", rule.pre, types_, "cell type")
        _check_names(ctx, f"brain.connections[{i}].post", rule.post, types_, "cell type")
    for i, stim in enumerate(b.dc):
        _check_names(ctx, f"brain.dc[{i}].cell_types", stim.cell_types, types_, "cell type")
    weights = {}
    for i, inp in enumerate(b.poisson):
        _check_names(ctx, f"brain.poisson[{i}].cell_types", inp.cell_types, types_, "cell type")
        _check_names(ctx, f"brain.poisson[{i}].receptor", inp.receptor, recs, "receptor")
        for t in inp.cell_types:
            w = weights.setdefault((t, inp.receptor), inp.weight_nS)
            if w != inp.weight_nS:
                raise SceneError(ctx, f"brain.poisson[{i}].weight_nS",
                                 f"Poisson inputs onto {t}/{inp.receptor} must share one "
                                 f"weight ({w} vs {inp.weight_nS})")
    if b.afferents is not None:
        _check_names(ctx, "brain.afferents.cell_type", b.afferents.cell_type, types_,
                     "cell type")
        _check_names(ctx, "brain.afferents.receptor", b.afferents.receptor, recs, "receptor")
    _check_names(ctx, "bridge.pool_cell_type", scene.bridge.pool_cell_type, types_,
                 "cell type")
    steps = scene.bridge.interval_ms / run.dt_ms
    if abs(steps - round(steps)) > 1e-9 or round(steps) < 1:
        raise SceneError(ctx, "bridge.interval_ms",
                         f"{scene.bridge.interval_ms} must be a whole multiple of "
                         f"run.dt_ms = {run.dt_ms}")
    n = run.duration_ms / scene.bridge.interval_ms
    if abs(n - round(n)) > 1e-9:
        raise SceneError(ctx, "run.duration_ms",
                         f"{run.duration_ms} must be a whole multiple of "
                         f"bridge.interval_ms = {scene.bridge.interval_ms}")
    if b.delays.min_ms < run.dt_ms:
        raise SceneError(ctx, "brain.delays.min_ms",
                         f"{b.delays.min_ms} must be >= run.dt_ms = {run.dt_ms}")
    if isinstance(b.atlas, AtlasSpec):
        _check_voxel_atlas(scene)
        return
    layer_names = {layer.name for layer in b.atlas.layers}
    for t in b.cell_types:
        if t.region == b.atlas.region and t.layer and t.layer not in layer_names:
            raise SceneError(ctx, f"brain.cell_types.{t.name}.layer",
                             f"layer {t.layer!r} is not in brain.atlas.layers "
                             f"({', '.join(sorted(layer_names))})")
        if t.fraction > 0:
            raise SceneError(ctx, f"brain.cell_types.{t.name}.fraction", "needs a voxel atlas "
                             "with densities (brain.atlas.kind 'synthetic' or 'allen'); "
                             "use density_per_mm3")
    if b.projections:
        raise SceneError(ctx, "brain.projections", "needs a voxel atlas "
                         "(brain.atlas.kind 'synthetic' or 'allen')")


def _type_key(t) -> str:
    # a family member "MOp.L23_E" was declared as brain.cell_types.L23_E
    return f"brain.cell_types.{t.name.split('.', 1)[-1]}"


def _check_voxel_atlas(scene: Scene) -> None:
    """Voxel-atlas rules: regions known to the ontology and listed in the atlas, layers
    from ATLAS_LAYERS, one density per type, projection names defined."""
    ctx, b = scene.path, scene.brain
    spec = b.atlas
    if spec.kind == "synthetic":
        from brain.synthetic_brain import synthetic_ontology
        onto = synthetic_ontology()
    else:
        from brain.allen import read_ontology
        try:
            onto = read_ontology(spec.ontology)
        except ValueError as exc:
            raise SceneError(ctx, "brain.atlas.ontology", str(exc)) from None
    for i, r in enumerate(spec.regions):
        if r not in onto._by_acronym:
            raise SceneError(ctx, f"brain.atlas.regions[{i}]", f"unknown Allen acronym "
                             f"{r!r} in {onto.source}{_suggest(r, onto._by_acronym)}")
    regions = list(spec.regions)
    for t in b.cell_types:
        key = _type_key(t)
        _check_names(ctx, f"{key}.region", t.region, regions, "region of brain.atlas.regions")
        if t.layer not in ATLAS_LAYERS:
            raise SceneError(ctx, f"{key}.layer", f"{t.layer!r}: must be one of "
                             f"{', '.join(repr(x) for x in ATLAS_LAYERS)}")
        if (t.fraction > 0) == (t.density_per_mm3 > 0):
            raise SceneError(ctx, f"{key}.fraction", "give exactly one of fraction (of the "
                             "voxel's neuron density) and density_per_mm3")
    types_ = [t.name for t in b.cell_types]
    for i, rule in enumerate(b.projections):
        k = f"brain.projections[{i}]"
        _check_names(ctx, f"{k}.pre", rule.pre, types_, "cell type")
        _check_names(ctx, f"{k}.post", rule.post, types_, "cell type")
        _check_names(ctx, f"{k}.pre_regions", rule.pre_regions, regions,
                     "region of brain.atlas.regions")
        _check_names(ctx, f"{k}.post_regions", rule.post_regions, regions,
                     "region of brain.atlas.regions")


def loads(text: str, path="<string>", base: Path | None = None) -> Scene:
    """Parse scene TOML ``text``; ``path`` names it in errors, ``base`` resolves files."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SceneError(path, "", f"not valid TOML: {exc}") from None
    return _parse(data, path, Path(base) if base else Path.cwd(), text)


def load(path, seed: int | None = None, duration_ms: float | None = None) -> Scene:
    """Read and validate a scene file. A bare name is looked up in the shipped scenes.

    ``seed`` and ``duration_ms``, when given, override ``run.seed`` / ``run.duration_ms``
    (the command-line overrides) and are validated like the file's own values.
    """
    p = Path(path)
    if not p.is_file() and (SCENES_DIR / p).is_file():
        p = SCENES_DIR / p
    if not p.is_file() and (SCENES_DIR / f"{p}.toml").is_file():
        p = SCENES_DIR / f"{p}.toml"
    if not p.is_file():
        raise SceneError(path, "", "no such scene file")
    scene = loads(p.read_text(), path=str(path), base=p.parent)
    changes = {k: v for k, v in (("seed", seed), ("duration_ms", duration_ms)) if v is not None}
    return scene.with_run(**changes) if changes else scene
