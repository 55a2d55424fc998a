"""Observation operators (spikes -> observables) and the observation file.

The ``rates`` operator: the population rate (Hz per cell) of every (region, cell type)
group in consecutive bins.  The same function serves a recorded run (``cosim observe``)
and an ensemble member, so a member with the recording's parameters and noise seed
predicts the observed values exactly.

Observation file (HDF5)::

    /observations/names       [k] str, observable group names, e.g. "MOp.L23_FS"
    /observations/t_start_ms  [b] float64, bin starts (ms); bins are bin_ms wide
    /observations/values      [b, k] float64, observed rates (Hz)
    /observations/noise_var   [b, k] float64, noise variance of each value (Hz^2)
    attrs: kind = "observations", operator, bin_ms, source (the run file), cosim_version
"""
from __future__ import annotations

import json
from dataclasses import dataclass

import h5py
import numpy as np

from ..analysis.rates import population_rate

__all__ = ["Observations", "rate_groups", "binned_rates", "noise_variance", "observe_run",
           "write_observations", "read_observations"]


@dataclass(frozen=True)
class Observations:
    """names[k]; t_start_ms[b]; values[b, k] (Hz); noise_var[b, k] (Hz^2); bin_ms."""

    names: list
    t_start_ms: np.ndarray
    values: np.ndarray
    noise_var: np.ndarray
    bin_ms: float
    operator: str = "rates"
    source: str = ""

    @property
    def duration_ms(self) -> float:
        return float(self.t_start_ms[-1] + self.bin_ms) if len(self.t_start_ms) else 0.0

    def window(self, t_start_ms: float, t_stop_ms: float):
        """(values, noise_var) of the bins in [t_start, t_stop), each raveled bin-major:
        float64[n_bins * k]."""
        sel = (self.t_start_ms >= t_start_ms - 1e-9) & \
            (self.t_start_ms + self.bin_ms <= t_stop_ms + 1e-9)
        return self.values[sel].ravel(), self.noise_var[sel].ravel()


def rate_groups(type_names, type_id, region):
    """Group cells by (region, cell type).

    Returns (names list[g], group_of_cell int64[n], n_cells int64[g]). A name is
    "<region>.<type>", or the type name alone when it already starts with its region
    (cell-type families such as "MOp.L23_E").
    """
    type_names = [str(t) for t in type_names]
    type_id = np.asarray(type_id, dtype=np.int64)
    region = np.asarray([str(r) for r in region])
    names, index = [], {}
    group = np.empty(len(type_id), dtype=np.int64)
    for t in range(len(type_names)):
        on = type_id == t
        for reg in sorted(set(region[on])):
            base = type_names[t]
            name = base if base.startswith(f"{reg}.") else f"{reg}.{base}"
            index[name] = len(names)
            names.append(name)
            group[on & (region == reg)] = index[name]
    return names, group, np.bincount(group, minlength=len(names)).astype(np.int64)


def binned_rates(t_ms, gid, group_of_cell, n_cells, t_start_ms: float, t_stop_ms: float,
                 bin_ms: float) -> np.ndarray:
    """Population rate (Hz per cell) of each group in the bins of [t_start, t_stop).

    t_ms, gid : spike times (ms; the start of the step the spike was found in) and cell
    indices, [s]. Returns float64[n_bins, n_groups].
    """
    t_ms, gid = np.asarray(t_ms, dtype=np.float64), np.asarray(gid, dtype=np.int64)
    g_of_spike = group_of_cell[gid]
    cols = [population_rate(t_ms[g_of_spike == g], int(n_cells[g]), t_start_ms, t_stop_ms,
                            bin_ms)[1] for g in range(len(n_cells))]
    return np.stack(cols, axis=1)


def noise_variance(values_Hz, n_cells, bin_ms: float, floor_Hz: float) -> np.ndarray:
    """Variance (Hz^2) of a population rate measured from a count of Poisson spikes:
    rate / (cells x bin in s), with the rate taken as at least ``floor_Hz`` so that a
    silent group still has a finite weight."""
    n = np.maximum(np.asarray(n_cells, dtype=np.float64), 1.0)
    return np.maximum(values_Hz, max(floor_Hz, 1e-3)) / (n * bin_ms * 1e-3)


def observe_run(run_path, bin_ms: float, floor_Hz: float = 1.0,
                operator: str = "rates") -> Observations:
    """The observables of a recorded run file (``cosim run`` output) over its duration."""
    if operator != "rates":
        raise ValueError(f"--operator {operator!r}: only 'rates' is implemented")
    with h5py.File(run_path, "r") as f:
        if "spikes/brain" not in f or "cells" not in f:
            raise ValueError(f"{run_path}: not a run file (no /spikes/brain or /cells)")
        c = f["cells"]
        type_names = [v.decode() if isinstance(v, bytes) else str(v) for v in c["type_names"][()]]
        type_id = c["type_id"][()]
        region = [v.decode() if isinstance(v, bytes) else str(v) for v in c["region"][()]]
        from ..output import read_spikes
        t_ms, gid = read_spikes(f)
        duration = float(f.attrs["duration_ms"])
        # a spike found in step s is stamped (s + 1) dt; it is counted in the bin of the
        # step's start s dt, as a member counts it, so that a spike of a window's last
        # step stays in that window
        t_ms = t_ms - float(f.attrs["dt_ms"])
        if not bool(f.attrs.get("complete", True)):
            raise ValueError(f"{run_path}: the run did not complete")
        record = json.loads(f.attrs.get("scene_resolved", "{}")).get("run", {}).get("record")
    if record:
        raise ValueError(f"{run_path}: only the cell types {list(record)} were recorded "
                         "(run.record); record all cells for observations")
    names, group, n_cells = rate_groups(type_names, type_id, region)
    n_bins = int(np.floor(duration / bin_ms + 1e-9))
    if n_bins < 1:
        raise ValueError(f"--bin {bin_ms} ms: longer than the run ({duration} ms)")
    values = binned_rates(t_ms, gid, group, n_cells, 0.0, n_bins * bin_ms, bin_ms)
    return Observations(names=names, t_start_ms=bin_ms * np.arange(n_bins), values=values,
                        noise_var=noise_variance(values, n_cells, bin_ms, floor_Hz),
                        bin_ms=bin_ms, operator=operator, source=str(run_path))


def write_observations(path, obs: Observations) -> str:
    from ..output import package_version
    with h5py.File(path, "w") as f:
        g = f.create_group("observations")
        g.create_dataset("names", data=np.array(obs.names, dtype="S"))
        g.create_dataset("t_start_ms", data=obs.t_start_ms)
        g.create_dataset("values", data=obs.values)
        g.create_dataset("noise_var", data=obs.noise_var)
        f.attrs.update(kind="observations", operator=obs.operator, bin_ms=obs.bin_ms,
                       source=obs.source, cosim_version=package_version())
    return str(path)


def read_observations(path) -> Observations:
    """Read and check an observation file."""
    try:
        with h5py.File(path, "r") as f:
            g = f["observations"]
            obs = Observations(names=[n.decode() for n in g["names"][()]],
                               t_start_ms=g["t_start_ms"][()], values=g["values"][()],
                               noise_var=g["noise_var"][()], bin_ms=float(f.attrs["bin_ms"]),
                               operator=str(f.attrs.get("operator", "rates")),
                               source=str(f.attrs.get("source", "")))
    except (KeyError, OSError) as exc:
        raise ValueError(f"--observations {path}: not an observation file ({exc}); write "
                         "one with cosim observe RUN.h5") from None
    b, k = len(obs.t_start_ms), len(obs.names)
    if obs.values.shape != (b, k) or obs.noise_var.shape != (b, k):
        raise ValueError(f"--observations {path}: values/noise_var must have shape ({b}, {k})")
    if not (np.all(np.isfinite(obs.values)) and np.all(obs.noise_var > 0)):
        raise ValueError(f"--observations {path}: values must be finite and noise_var > 0")
    return obs
