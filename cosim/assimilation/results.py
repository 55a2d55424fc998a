"""The output file of ``cosim assimilate`` and reading it back.

Layout (HDF5)::

    /parameters/names          [p] str
    /parameters/time_ms        [w + 1] float64: 0 (the prior), then the end of each window
    /parameters/members        [w + 1, m, p] float64, natural units (row 0: the prior draw,
                               row i: the analysis after window i - 1)
    /parameters/mean, sd       [w + 1, p] float64 over the members
    /observations/names        [k] str (observed groups), bin_ms attribute
    /observations/predicted    [w, m, n_bins * k] float64 (Hz), bin-major per window
    /observations/observed     [w, n_bins * k], noise_var [w, n_bins * k]
    /innovation/mean           [w, n_bins * k]: observed - ensemble mean
    /innovation/var            [w, n_bins * k]: ensemble variance + noise variance
    /innovation/nis            [w]: mean innovation^2 / var (about 1 when consistent)
    /timing/window_s, advance_s, update_s   [w] wall seconds
    attrs: kind = "assimilation", scene_path, overrides, seed, members, window_ms,
           n_ranks, mode, transforms, cosim_version; /scene: the scene text
"""
from __future__ import annotations

import json

import h5py
import numpy as np

__all__ = ["write_results", "read_results", "is_assimilation_file"]


def write_results(path, plan, res: dict, n_ranks: int, mode: str) -> str:
    from ..output import package_version
    prm, obs = plan.params, plan.obs
    members = res["members"]
    with h5py.File(path, "w") as f:
        f.attrs.update(kind="assimilation", scene_path=plan.scene.path,
                       overrides=json.dumps(list(plan.scene.overrides)), seed=prm.seed,
                       members=plan.n_members, window_ms=plan.window_ms, n_ranks=n_ranks,
                       mode=mode, inflation=prm.inflation, localise=prm.localise,
                       transforms=json.dumps([p.transform for p in prm.parameters]),
                       keys=json.dumps([p.key for p in prm.parameters]),
                       observations=obs.source, cosim_version=package_version())
        f.create_dataset("scene", data=plan.scene.text)
        g = f.create_group("parameters")
        g.create_dataset("names", data=np.array(prm.names, dtype="S"))
        g.create_dataset("time_ms", data=plan.window_ms * np.arange(len(members)))
        g.create_dataset("members", data=members)
        g.create_dataset("mean", data=members.mean(axis=1))
        g.create_dataset("sd", data=members.std(axis=1, ddof=1))
        o = f.create_group("observations")
        o.attrs["bin_ms"] = obs.bin_ms
        o.create_dataset("names", data=np.array(obs.names, dtype="S"))
        for k in ("predicted", "observed", "noise_var"):
            o.create_dataset(k, data=res[k])
        i = f.create_group("innovation")
        i.create_dataset("mean", data=res["innovation"])
        i.create_dataset("var", data=res["innovation_var"])
        i.create_dataset("nis", data=res["nis"])
        t = f.create_group("timing")
        for k in ("window_s", "advance_s", "update_s"):
            t.create_dataset(k, data=res[k])
        if prm.update_state:       # mean |analysis - forecast| potential per window, mV
            f.create_dataset("state/v_shift_mV", data=res["v_shift_mV"])
    return str(path)


def is_assimilation_file(path) -> bool:
    try:
        with h5py.File(path, "r") as f:
            return f.attrs.get("kind") == "assimilation"
    except OSError:
        return False


def read_results(path) -> dict:
    """Every dataset (by its path, e.g. "parameters/mean") and the attributes ("attrs")."""
    out = {}
    with h5py.File(path, "r") as f:
        out["attrs"] = {k: (v.item() if isinstance(v, np.generic) else v)
                        for k, v in f.attrs.items()}

        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                v = obj[()]
                if obj.dtype.kind == "S":
                    v = [x.decode() for x in v]
                elif isinstance(v, bytes):
                    v = v.decode()
                out[name] = v
        f.visititems(visit)
        out["observations/bin_ms"] = float(f["observations"].attrs["bin_ms"])
    return out
