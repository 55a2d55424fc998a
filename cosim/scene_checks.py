"""Scene rules that tie several keys together; each message states the rule."""
from __future__ import annotations

from brain.params import ATLAS_LAYERS, AtlasSpec

from .schema import SceneError, suggest

__all__ = ["check_cross", "check_body"]


def _check_names(ctx, key, names, defined, what):
    """Every name in ``names`` (a list key, or one string) must be in ``defined``."""
    listed = not isinstance(names, str)
    for i, n in enumerate(names if listed else [names]):
        if n not in defined:
            raise SceneError(ctx, f"{key}[{i}]" if listed else key,
                             f"unknown {what} {n!r}{suggest(n, defined)}")


def _check_adaptation(ctx, b, recs) -> None:
    """An adaptation receptor holds only the cells' own spike-triggered conductance: no
    cell type releases it and no Poisson input drives it (else the AHP would mix with
    synaptic input)."""
    released = {t.receptor for t in b.cell_types} | {p.receptor for p in b.poisson} | (
        {b.afferents.receptor} if b.afferents is not None else set())
    for t in b.cell_types:
        if not t.adaptation_receptor:
            continue
        key = f"brain.cell_types.{t.name}.adaptation_receptor"
        _check_names(ctx, key, t.adaptation_receptor, recs, "receptor")
        if t.adaptation_receptor in released:
            raise SceneError(ctx, key, f"{t.adaptation_receptor!r} is also released by a "
                             "cell type or driven by a Poisson input; give adaptation its "
                             "own receptor")


def _check_partition(scene) -> None:
    """run.partition = "area" and run.long_period_ms need areas (a voxel atlas); the long
    period must be a whole number of exchange periods and fit the 8-bit step offset of
    a spike on the wire (256 steps)."""
    ctx, run = scene.path, scene.run
    voxel = isinstance(scene.brain.atlas, AtlasSpec)
    if run.partition == "area" and not voxel:
        raise SceneError(ctx, "run.partition", "'area' needs a voxel atlas (brain.atlas.kind "
                         "= 'synthetic' or 'allen'): the patch atlas has one area")
    if run.long_period_ms == 0:
        return
    if not voxel:
        raise SceneError(ctx, "run.long_period_ms", "two-level intervals need a voxel atlas "
                         "(inter-area synapses); the patch atlas has one area")
    from brain.engine import exchange_period
    steps = run.long_period_ms / run.dt_ms
    min_delay = max(1, int(round(scene.brain.delays.min_ms / run.dt_ms)))
    period = exchange_period(min_delay, int(round(scene.bridge.interval_ms / run.dt_ms)))
    if abs(steps - round(steps)) > 1e-9 or round(steps) % period:
        raise SceneError(ctx, "run.long_period_ms",
                         f"{run.long_period_ms} must be a whole multiple of the exchange "
                         f"period, {period * run.dt_ms:g} ms (min(brain.delays.min_ms, "
                         "bridge.interval_ms), a divisor of the interval)")
    if round(steps) > 256:
        raise SceneError(ctx, "run.long_period_ms",
                         f"{run.long_period_ms} ms is {round(steps)} steps: at most 256 "
                         f"({256 * run.dt_ms:g} ms) fit a spike's step offset on the wire")


def check_cross(scene) -> None:
    """Rules that tie several keys together; each message states the rule."""
    ctx, b, run = scene.path, scene.brain, scene.run
    _check_names(ctx, "run.record", run.record, [t.name for t in b.cell_types], "cell type")
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
    _check_adaptation(ctx, b, recs)
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
    for kind, rules in (("connections", b.connections), ("projections", b.projections)):
        for i, rule in enumerate(rules):
            if rule.delay_ms is not None and rule.delay_ms < run.dt_ms:
                raise SceneError(ctx, f"brain.{kind}[{i}].delay_ms",
                                 f"{rule.delay_ms} must be >= run.dt_ms = {run.dt_ms}")
    _check_body_timestep(scene)
    _check_partition(scene)
    if isinstance(b.atlas, AtlasSpec):
        _check_voxel_atlas(scene)
        return
    layer_names = {layer.name for layer in b.atlas.layers}
    patch_regions = [b.atlas.region] + ([b.atlas.thalamus] if b.atlas.thalamus_voxels else [])
    for t in b.cell_types:
        _check_names(ctx, f"{_type_key(t)}.region", t.region, patch_regions,
                     "region of the patch (brain.atlas.region or brain.atlas.thalamus)")
        if t.region == b.atlas.region and t.layer and t.layer not in layer_names:
            raise SceneError(ctx, f"brain.cell_types.{t.name}.layer",
                             f"layer {t.layer!r} is not in brain.atlas.layers "
                             f"({', '.join(sorted(layer_names))})")
        if t.fraction > 0:
            raise SceneError(ctx, f"brain.cell_types.{t.name}.fraction", "needs a voxel atlas "
                             "with densities (brain.atlas.kind 'synthetic' or 'allen'); "
                             "use density_per_mm3")
    for key in ("projections", "focus", "cut", "region_density_scale"):
        if getattr(b, key):
            raise SceneError(ctx, f"brain.{key}", "needs a voxel atlas "
                             "(brain.atlas.kind 'synthetic' or 'allen')")
    for i, stim in enumerate(b.dc):
        if stim.voxels:
            raise SceneError(ctx, f"brain.dc[{i}].voxels", "needs a voxel atlas (on the "
                             "patch, select columns)")


def _mjcf(scene):
    """The body's MJCF, compiled once per file version; its errors under body.mjcf_path."""
    from body.model import mjcf_info
    try:
        return mjcf_info(scene.body.mjcf_path)
    except (OSError, ValueError) as exc:
        raise SceneError(scene.path, "body.mjcf_path", str(exc)) from None


def _check_body_timestep(scene) -> None:
    """The body steps one bridge interval at a time: interval and duration must be whole
    multiples of its MuJoCo timestep (checked here, not after the build)."""
    info = _mjcf(scene)
    ts_s = scene.body.timestep_s or info.timestep_s
    where = (f"body.timestep_s = {ts_s}" if scene.body.timestep_s else
             f"<option timestep> of {info.path}")
    ts_ms = round(ts_s * 1e3, 12)
    for key, value_ms in (("bridge.interval_ms", scene.bridge.interval_ms),
                          ("run.duration_ms", scene.run.duration_ms)):
        n = round(value_ms * 1e-3 / ts_s)     # as Body.step counts its steps
        if n < 1 or abs(n * ts_s - value_ms * 1e-3) > 1e-9 * value_ms * 1e-3:
            example = round(max(n, 1) * ts_ms, 9)
            raise SceneError(scene.path, key, f"{value_ms} must be a whole multiple of the "
                             f"body timestep {ts_ms} ms ({where}); set {key} to a multiple "
                             f"of {ts_ms} ms, e.g. {example}")


def check_body(scene, end_effector_given: bool) -> None:
    """Names the scene gives that the MJCF must have: muscles of bridge.muscles and
    body.end_effector (when the scene sets it; only the reaching tasks use it)."""
    info = _mjcf(scene)
    for name in scene.bridge.muscles:
        if name not in info.muscles:
            raise SceneError(scene.path, f"bridge.muscles.{name}",
                             f"no muscle {name!r} in {info.path}{suggest(name, info.muscles)}"
                             f" (its muscles: {', '.join(info.muscles)})")
    ee = scene.body.end_effector
    if end_effector_given and ee not in info.sites and ee not in info.bodies:
        raise SceneError(scene.path, "body.end_effector",
                         f"{ee!r}: no site or body of that name in {info.path}"
                         f"{suggest(ee, info.sites + info.bodies)}")


def _type_key(t) -> str:
    # a family member "MOp.L23_E" was declared as brain.cell_types.L23_E
    return f"brain.cell_types.{t.name.split('.', 1)[-1]}"


def _check_voxel_atlas(scene) -> None:
    """Voxel-atlas rules: regions known to the ontology and listed in the atlas, layers
    from ATLAS_LAYERS, one density per type, projection names defined."""
    ctx, b = scene.path, scene.brain
    spec = b.atlas
    if spec.kind == "synthetic":
        from brain.synthetic_brain import synthetic_ontology
        onto = synthetic_ontology()
    else:
        from brain.allen_checks import AtlasFileError, read_checked_ontology
        try:
            onto = read_checked_ontology(spec.ontology)
        except AtlasFileError as exc:
            raise SceneError(ctx, f"brain.atlas.{exc.field}", str(exc)) from exc
    for i, r in enumerate(spec.regions):
        if r not in onto._by_acronym:
            raise SceneError(ctx, f"brain.atlas.regions[{i}]", f"unknown Allen acronym "
                             f"{r!r} in {onto.source}{suggest(r, onto._by_acronym)}")
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
    if spec.kind == "allen":
        _check_allen_files(scene, onto)
    for i, f in enumerate(b.focus):
        _check_names(ctx, f"brain.focus[{i}].regions", f.regions, regions,
                     "region of brain.atlas.regions")
    for r in b.region_density_scale:
        _check_names(ctx, f"brain.region_density_scale.{r}", r, regions,
                     "region of brain.atlas.regions")
    for i, c in enumerate(b.cut):
        for part in c.split("->"):
            if "*" not in part and "?" not in part and part not in regions:
                raise SceneError(ctx, f"brain.cut[{i}]", f"{c!r}: {part!r} is not a region "
                                 f"of brain.atlas.regions{suggest(part, regions)} (or use *)")


def _check_allen_files(scene, onto) -> None:
    """The user's Allen files (annotation, connectome, densities) and the projections'
    regions against the connectome: at load, so a bad file stops before the build."""
    from brain.allen_checks import AtlasFileError, check_allen_files
    ctx, b = scene.path, scene.brain
    placed = sorted({t.region for t in b.cell_types if t.fraction > 0})
    try:
        files = check_allen_files(b.atlas, onto, density_regions=placed)
    except AtlasFileError as exc:
        raise SceneError(ctx, f"brain.atlas.{exc.field}", str(exc)) from exc
    conn = files.connectome
    for i, rule in enumerate(b.projections):
        if rule.strength is not None:
            continue
        for key, names, known, role in (("pre_regions", rule.pre_regions, conn.sources,
                                         "source"),
                                        ("post_regions", rule.post_regions, conn.targets,
                                         "target")):
            for k, r in enumerate(names):
                if r not in known:
                    raise SceneError(ctx, f"brain.projections[{i}].{key}[{k}]",
                                     f"{r!r}: not a {role} region of the connectome "
                                     f"{conn.source} (give the rule a "
                                     f"strength, or pick a region the connectome has)")

