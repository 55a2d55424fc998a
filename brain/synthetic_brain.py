"""The default synthetic mouse-like brain, written as the same files a real atlas uses.

``make_synthetic_atlas`` builds a small procedural brain on a CCF-like grid (axis 0
anterior -> posterior, axis 1 dorsal -> ventral, axis 2 left -> right, both
hemispheres) and writes it with ``brain.allen`` writers, so the real-atlas readers load
it unchanged.  Labels are real Allen structure ids (table below); nothing here reads the
Allen files at run time.

Geometry (um, voxel centres; the default 100 um grid is 80 x 50 x 60 = 240,000 voxels):
- neocortex: a spherical shell (pia radius 4200 um, 1400 um thick) over the dorsal
  brain; areas are patches of the sheet: MOs medial, MOp lateral to it, SSp lateral
  and posterior, SSs most lateral; a 150 um midline gap splits the hemispheres.
  MOp/MOs have no L4 (agranular), as in CCFv3.
- cerebellum: a half-cylinder shell with its axis along LR (the folium; parallel fibres
  run along LR), molecular / Purkinje / granular layers of SIM from the surface down,
  deep nuclei FN, IP, DN inside it.
- ellipsoids for CP, GPe, VAL, VM, VPL (one per hemisphere) and PG (across the midline).
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from .allen import Ontology, ontology_from_rows, write_nrrd, write_ontology_json

__all__ = ["STRUCTURES", "REGIONS", "synthetic_ontology", "make_synthetic_atlas"]

# (Allen id, acronym, name, parent id) of every structure used, with all ancestors, as in
# structure_graph_1.json (tests cross-check against the real ontology when present).
STRUCTURES = (
    (997, "root", "root", None), (8, "grey", "Basic cell groups and regions", 997),
    (343, "BS", "Brain stem", 8), (512, "CB", "Cerebellum", 8), (567, "CH", "Cerebrum", 8),
    (1065, "HB", "Hindbrain", 343), (1129, "IB", "Interbrain", 343),
    (519, "CBN", "Cerebellar nuclei", 512), (528, "CBX", "Cerebellar cortex", 512),
    (623, "CNU", "Cerebral nuclei", 567), (688, "CTX", "Cerebral cortex", 567),
    (771, "P", "Pons", 1065), (549, "TH", "Thalamus", 1129),
    (91, "IP", "Interposed nucleus", 519), (846, "DN", "Dentate nucleus", 519),
    (989, "FN", "Fastigial nucleus", 519), (1073, "HEM", "Hemispheric regions", 528),
    (477, "STR", "Striatum", 623), (803, "PAL", "Pallidum", 623),
    (695, "CTXpl", "Cortical plate", 688), (987, "P-mot", "Pons, motor related", 771),
    (864, "DORsm", "Thalamus, sensory-motor cortex related", 549),
    (1007, "SIM", "Simple lobule", 1073), (485, "STRd", "Striatum dorsal region", 477),
    (818, "PALd", "Pallidum, dorsal region", 803), (315, "Isocortex", "Isocortex", 695),
    (931, "PG", "Pontine gray", 987),
    (637, "VENT", "Ventral group of the dorsal thalamus", 864),
    (10672, "SIMgr", "Simple lobule, granular layer", 1007),
    (10673, "SIMpu", "Simple lobule, Purkinje layer", 1007),
    (10674, "SIMmo", "Simple lobule, molecular layer", 1007),
    (672, "CP", "Caudoputamen", 485), (1022, "GPe", "Globus pallidus, external segment", 818),
    (453, "SS", "Somatosensory areas", 315), (500, "MO", "Somatomotor areas", 315),
    (629, "VAL", "Ventral anterior-lateral complex of the thalamus", 637),
    (685, "VM", "Ventral medial nucleus of the thalamus", 637),
    (709, "VP", "Ventral posterior complex of the thalamus", 637),
    (322, "SSp", "Primary somatosensory area", 453),
    (378, "SSs", "Supplemental somatosensory area", 453),
    (985, "MOp", "Primary motor area", 500), (993, "MOs", "Secondary motor area", 500),
    (718, "VPL", "Ventral posterolateral nucleus of the thalamus", 709),
    (793, "SSp1", "Primary somatosensory area, layer 1", 322),
    (346, "SSp2/3", "Primary somatosensory area, layer 2/3", 322),
    (865, "SSp4", "Primary somatosensory area, layer 4", 322),
    (921, "SSp5", "Primary somatosensory area, layer 5", 322),
    (686, "SSp6a", "Primary somatosensory area, layer 6a", 322),
    (719, "SSp6b", "Primary somatosensory area, layer 6b", 322),
    (873, "SSs1", "Supplemental somatosensory area, layer 1", 378),
    (806, "SSs2/3", "Supplemental somatosensory area, layer 2/3", 378),
    (1035, "SSs4", "Supplemental somatosensory area, layer 4", 378),
    (1090, "SSs5", "Supplemental somatosensory area, layer 5", 378),
    (862, "SSs6a", "Supplemental somatosensory area, layer 6a", 378),
    (893, "SSs6b", "Supplemental somatosensory area, layer 6b", 378),
    (320, "MOp1", "Primary motor area, Layer 1", 985),
    (943, "MOp2/3", "Primary motor area, Layer 2/3", 985),
    (648, "MOp5", "Primary motor area, Layer 5", 985),
    (844, "MOp6a", "Primary motor area, Layer 6a", 985),
    (882, "MOp6b", "Primary motor area, Layer 6b", 985),
    (656, "MOs1", "Secondary motor area, layer 1", 993),
    (962, "MOs2/3", "Secondary motor area, layer 2/3", 993),
    (767, "MOs5", "Secondary motor area, layer 5", 993),
    (1021, "MOs6a", "Secondary motor area, layer 6a", 993),
    (1085, "MOs6b", "Secondary motor area, layer 6b", 993),
)

# The regions the model wires (connectome rows/columns); voxels carry their layer ids.
REGIONS = ("MOp", "MOs", "SSp", "SSs", "VAL", "VM", "VPL", "PG", "SIM", "DN", "IP", "FN",
           "CP", "GPe")

_EXTENT_UM = (8000.0, 5000.0, 6000.0)          # AP, DV, LR
_MIDLINE_UM = 3000.0
# Layer bottoms below the pia (um) in a 1400 um sheet: CCFv3 volume fractions
# (../shared/data/cortical_layers/ccfv3_layer_volume_fractions.csv: MOp L1 .117, L2/3 .325,
# L5 .288; SSp L1 .130, L2/3 .249, L4 .161, L5 .204), L6b widened to 100 um so that it
# gets voxels on a 100 um grid.
_MO_LAYERS = (("1", 165.0), ("2/3", 620.0), ("5", 1030.0), ("6a", 1300.0), ("6b", 1400.0))
_SS_LAYERS = (("1", 180.0), ("2/3", 530.0), ("4", 760.0), ("5", 1040.0), ("6a", 1300.0),
              ("6b", 1400.0))
_CTX_CENTER_UM, _CTX_R_UM, _CTX_T_UM = (3600.0, 4600.0, 3000.0), 4200.0, 1400.0
# Cerebellar cortex: molecular, Purkinje (one voxel), granular layer bottoms (um).
_CB_LAYERS = (("SIMmo", 200.0), ("SIMpu", 300.0), ("SIMgr", 650.0))
_CB_AXIS_UM, _CB_R_UM, _CB_HALF_LR_UM = (6500.0, 2700.0), 1300.0, 1900.0
# Ellipsoids: acronym, centre (AP, DV, |LR - midline|), radii (AP, DV, LR), all um.
_BLOBS = (("CP", (2700, 3000, 1300), (800, 550, 500)),
          ("GPe", (3500, 3200, 1750), (400, 400, 200)),
          ("VAL", (4200, 3100, 700), (450, 400, 350)),
          ("VM", (4300, 3750, 400), (300, 200, 250)),
          ("VPL", (4700, 3300, 1250), (400, 350, 300)),
          ("PG", (5200, 4550, 0), (600, 300, 700)),
          ("FN", (6500, 2800, 300), (350, 250, 200)),
          ("IP", (6500, 2800, 750), (350, 250, 200)),
          ("DN", (6500, 2800, 1250), (350, 250, 250)))

# Relative strengths (source, target, ipsi, contra), rounded from the Knox 2019
# homogeneous model (connectome/knox2019_homogeneous_standard_model.csv; SSp from SSp-ul,
# entries < 0.1 dropped).  Within-area wiring is the Gaussian rule, so the ipsilateral
# diagonal is 0; the contralateral diagonal is the homotopic (callosal / commissural)
# projection, the strongest contralateral entry of each cortical area.
# SIM -> DN/IP (Purkinje -> deep nuclei) is assumed: the homogeneous model shows almost none.
_CONNECTOME = (
    ("MOp", "MOp", 0.0, 3.33), ("MOs", "MOs", 0.0, 3.25), ("SSp", "SSp", 0.0, 0.676),
    ("SSs", "SSs", 0.0, 1.67), ("FN", "FN", 0.0, 0.174),
    ("MOp", "MOs", 3.45, 0.96), ("MOp", "SSp", 1.68, 0.388), ("MOp", "SSs", 1.77, 0.699),
    ("MOp", "VAL", 0.41, 0.04), ("MOp", "VM", 0.148, 0.0), ("MOp", "VPL", 0.221, 0.0),
    ("MOp", "PG", 0.304, 0.027), ("MOp", "CP", 7.75, 3.93), ("MOp", "GPe", 0.246, 0.0),
    ("MOs", "MOp", 2.79, 1.61), ("MOs", "SSp", 0.268, 0.0), ("MOs", "SSs", 0.731, 0.316),
    ("MOs", "VAL", 0.319, 0.0), ("MOs", "VM", 0.326, 0.0), ("MOs", "PG", 0.23, 0.062),
    ("MOs", "CP", 7.47, 4.66), ("MOs", "GPe", 0.217, 0.0),
    ("SSp", "MOp", 3.71, 0.213), ("SSp", "MOs", 0.637, 0.0), ("SSp", "SSs", 2.21, 0.331),
    ("SSp", "VPL", 0.239, 0.0), ("SSp", "PG", 0.226, 0.0), ("SSp", "CP", 5.05, 0.289),
    ("SSp", "GPe", 0.124, 0.0),
    ("SSs", "MOp", 2.18, 0.147), ("SSs", "MOs", 1.21, 0.0), ("SSs", "SSp", 0.846, 0.105),
    ("SSs", "VPL", 0.228, 0.0), ("SSs", "PG", 0.143, 0.0), ("SSs", "CP", 3.93, 0.304),
    ("SSs", "GPe", 0.159, 0.0),
    ("VAL", "MOp", 12.5, 0.0), ("VAL", "MOs", 7.25, 0.0), ("VAL", "VM", 0.264, 0.0),
    ("VAL", "CP", 2.1, 0.0),
    ("VM", "MOp", 1.68, 0.0), ("VM", "MOs", 2.63, 0.0), ("VM", "SSp", 0.149, 0.0),
    ("VM", "SSs", 0.269, 0.0), ("VM", "VAL", 0.226, 0.0), ("VM", "CP", 2.44, 0.0),
    ("VM", "GPe", 0.157, 0.0),
    ("VPL", "MOp", 0.363, 0.0), ("VPL", "SSp", 15.1, 0.0), ("VPL", "SSs", 3.65, 0.0),
    ("VPL", "CP", 7.96, 0.0),
    ("PG", "SIM", 0.0, 5.91),
    ("SIM", "DN", 1.0, 0.0), ("SIM", "IP", 1.0, 0.0),
    ("DN", "VAL", 0.046, 2.26), ("DN", "VM", 0.018, 1.41), ("DN", "IP", 1.15, 0.0),
    ("IP", "VAL", 0.0, 0.195), ("IP", "VM", 0.0, 0.273), ("IP", "VPL", 0.0, 0.24),
    ("FN", "VAL", 0.053, 0.233), ("FN", "VM", 0.026, 0.132), ("FN", "IP", 0.028, 0.125),
    ("CP", "GPe", 0.866, 0.0),
    ("GPe", "MOs", 0.534, 0.0), ("GPe", "SSs", 0.202, 0.0), ("GPe", "VAL", 0.326, 0.0),
    ("GPe", "VM", 0.329, 0.0), ("GPe", "VPL", 0.151, 0.0), ("GPe", "CP", 10.2, 0.0),
)

# Neurons/mm^3.  Unless marked, Murakami et al. 2018 (CUBIC-X) values as compiled in
# keller_review_2018.json (cell_densities/ of the shared data); SSp layers use its upper
# limb ("SSp-ul") values.  SIMgr: assumed 1.5e6 (Keller 2018 lists 0.5e6 and 6.6e6 for
# the cerebellar granular layer, Murakami 569,428); SIMpu: assumed 30,000, i.e. ~3,000
# Purkinje cells per mm^2 of sheet spread over one 100 um voxel layer.
_DENSITIES = {
    "MOp": 117138, "MOp1": 93029, "MOp2/3": 118582, "MOp5": 114193, "MOp6a": 135318,
    "MOp6b": 155472, "MOs": 118951, "MOs1": 99726, "MOs2/3": 136385, "MOs5": 107865,
    "MOs6a": 130282, "MOs6b": 160837, "SSp": 127757, "SSp1": 111002, "SSp2/3": 127466,
    "SSp4": 192514, "SSp5": 122751, "SSp6a": 148279, "SSp6b": 167794, "SSs": 82433,
    "SSs1": 108083, "SSs2/3": 115302, "SSs4": 123786, "SSs5": 109515, "SSs6a": 140234,
    "SSs6b": 146883, "VAL": 105432, "VM": 94835, "VPL": 106461, "PG": 179020,
    "CP": 138768, "GPe": 89652, "SIM": 308630, "SIMmo": 121019, "SIMpu": 30000,
    "SIMgr": 1500000, "DN": 132139, "IP": 114965, "FN": 112913,
}
_ASSUMED = {"SIMgr", "SIMpu"}


def synthetic_ontology(source: str = "brain.synthetic_brain.STRUCTURES") -> Ontology:
    """The ontology of ``STRUCTURES`` (a consistent sub-tree of the Allen ontology)."""
    return ontology_from_rows(STRUCTURES, source)


def _centres_um(voxel_um: float) -> tuple:
    shape = tuple(int(round(e / voxel_um)) for e in _EXTENT_UM)
    axes = [(np.arange(n) + 0.5) * voxel_um for n in shape]
    return shape, np.meshgrid(*axes, indexing="ij")


def _wobble_um(x, rng, amplitude_um: float = 100.0):
    """A smooth random offset of an area border along the sheet coordinate x (um)."""
    phase = rng.uniform(0, 2 * np.pi, 2)
    return amplitude_um * (0.6 * np.sin(x / 700.0 + phase[0]) + 0.4 * np.sin(x / 330.0 + phase[1]))


def _paint_neocortex(label, depth, u, v, ap, dv, lr, onto, rng):
    c = _CTX_CENTER_UM
    d = np.stack([ap - c[0], dv - c[1], lr - c[2]])
    r = np.sqrt((d ** 2).sum(0))
    up = -d[1] / r
    su = _CTX_R_UM * np.arctan2(d[0] / r, up)              # along AP, + posterior
    sv = _CTX_R_UM * np.arcsin(np.clip(d[2] / r, -1, 1))     # from the midline, + right
    dep = _CTX_R_UM - r
    av = np.abs(sv)
    b1, b2, b3 = (1000 + _wobble_um(su, rng), 1800 + _wobble_um(su, rng),
                  2700 + _wobble_um(su, rng))
    front = (su >= -2400) & (su < 800)
    back = (su >= -1600) & (su < 1600)
    areas = {"MOs": front & (av >= 150) & (av < b1), "MOp": front & (av >= b1) & (av < b2),
             "SSp": (back & (av >= b2) & (av < b3)) | ((su >= 800) & (su < 1600)
                                                        & (av >= b1) & (av < b2)),
             "SSs": back & (av >= b3) & (av < 3300)}
    sheet = (dep >= 0) & (dep < _CTX_T_UM) & (up > 0)
    for area, where in areas.items():
        top = 0.0
        for suffix, bottom in (_MO_LAYERS if area.startswith("MO") else _SS_LAYERS):
            m = sheet & where & (dep >= top) & (dep < bottom)
            label[m], depth[m], u[m], v[m] = onto.id_of(area + suffix), dep[m], su[m], sv[m]
            top = bottom


def _paint_cerebellum(label, depth, u, v, ap, dv, lr, onto):
    dap, ddv = ap - _CB_AXIS_UM[0], dv - _CB_AXIS_UM[1]
    r = np.hypot(dap, ddv)
    theta = np.arctan2(dap, -ddv)                     # 0 = dorsal, + towards posterior
    dep = _CB_R_UM - r
    sheet = ((theta > -np.pi / 4) & (theta < 5 * np.pi / 6) & (dep >= 0)
             & (np.abs(lr - _MIDLINE_UM) < _CB_HALF_LR_UM))
    top = 0.0
    for acronym, bottom in _CB_LAYERS:
        m = sheet & (dep >= top) & (dep < bottom)
        label[m], depth[m] = onto.id_of(acronym), dep[m]
        u[m], v[m] = _CB_R_UM * theta[m], lr[m] - _MIDLINE_UM
        top = bottom


def _paint_blobs(label, ap, dv, lr, onto):
    for acronym, (c_ap, c_dv, c_lr), (r_ap, r_dv, r_lr) in _BLOBS:
        for side in ((-1, 1) if c_lr else (1,)):
            q = (((ap - c_ap) / r_ap) ** 2 + ((dv - c_dv) / r_dv) ** 2
                 + ((lr - (_MIDLINE_UM + side * c_lr)) / r_lr) ** 2)
            label[q <= 1.0] = onto.id_of(acronym)


def _write_connectome(path: Path, onto: Ontology) -> None:
    idx = {a: k for k, a in enumerate(REGIONS)}
    ipsi, contra = np.zeros((2, len(REGIONS), len(REGIONS)))
    for src, dst, w_ipsi, w_contra in _CONNECTOME:
        ipsi[idx[src], idx[dst]], contra[idx[src], idx[dst]] = w_ipsi, w_contra
    ids = [str(onto.id_of(a)) for a in REGIONS]
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow([""] + ["ipsi"] * len(ids) + ["contra"] * len(ids))
        w.writerow([""] + ids + ids)
        for k, src in enumerate(ids):
            w.writerow([src] + [repr(float(x)) for x in np.concatenate([ipsi[k], contra[k]])])


def _write_densities(path: Path, onto: Ontology) -> None:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["cell_class", "brain_region", "density_per_mm3", "source"])
        for acronym, value in _DENSITIES.items():
            ref = ("assumed, see brain/synthetic_brain.py" if acronym in _ASSUMED
                   else "Murakami et al. 2018 via Keller et al. 2018 compilation")
            w.writerow(["Neurons", onto.name[onto.id_of(acronym)], value, ref])


def make_synthetic_atlas(out_dir, voxel_um: float = 100.0, seed: int = 0) -> dict:
    """Write the synthetic brain into ``out_dir`` and return {kind: Path}.

    Files (all volumes: shape (AP, DV, LR) = (8000, 5000, 6000) um / voxel_um, gzip NRRD
    with spacing ``voxel_um``; LR index < half is the left hemisphere):
    - "annotation": ``annotation.nrrd``, uint32 Allen ids, 0 outside structures.
    - "ontology": ``ontology.json``, structure graph of ``STRUCTURES`` (read_ontology).
    - "connectome": ``connectome.csv``, Knox layout over ``REGIONS`` (read_knox).
    - "densities": ``densities.csv``, neurons/mm^3, Keller long layout (read_densities).
    - "depth": ``depth_um.nrrd``, float32 depth of the voxel centre below the surface
      (pia for neocortex, cerebellar surface for SIM layers), NaN elsewhere.
    - "surface_u", "surface_v": ``surface_u_um.nrrd``, ``surface_v_um.nrrd``, float32 2-D
      sheet coordinates (um), NaN outside sheets.  Neocortex: u = arc along AP
      (+ posterior) on the pial sphere, v = arc from the midline (+ right).  Cerebellum:
      u = arc around the folium axis (+ posterior), v = LR offset from the midline, the
      parallel-fibre direction.  The two sheets share no origin; tell them apart by label.

    ``seed`` sets the random wobble (<= 100 um) of the neocortical area borders.
    """
    if not (voxel_um > 0):
        raise ValueError(f"voxel_um = {voxel_um!r}: must be > 0")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    onto = synthetic_ontology()
    shape, (ap, dv, lr) = _centres_um(voxel_um)
    label = np.zeros(shape, dtype=np.uint32)
    depth, u, v = (np.full(shape, np.nan, dtype=np.float32) for _ in range(3))
    _paint_blobs(label, ap, dv, lr, onto)
    _paint_cerebellum(label, depth, u, v, ap, dv, lr, onto)
    _paint_neocortex(label, depth, u, v, ap, dv, lr, onto, np.random.default_rng(seed))
    paths = {"annotation": out / "annotation.nrrd", "ontology": out / "ontology.json",
             "connectome": out / "connectome.csv", "densities": out / "densities.csv",
             "depth": out / "depth_um.nrrd", "surface_u": out / "surface_u_um.nrrd",
             "surface_v": out / "surface_v_um.nrrd"}
    spacing = (voxel_um,) * 3
    write_nrrd(paths["annotation"], label, spacing)
    write_nrrd(paths["depth"], depth, spacing)
    write_nrrd(paths["surface_u"], u, spacing)
    write_nrrd(paths["surface_v"], v, spacing)
    write_ontology_json(paths["ontology"], onto)
    _write_connectome(paths["connectome"], onto)
    _write_densities(paths["densities"], onto)
    return paths
