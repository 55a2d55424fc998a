"""Each figure function writes a real PNG."""
from __future__ import annotations

import numpy as np

from cosim.analysis import figures

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _check(path):
    with open(path, "rb") as fh:
        data = fh.read()
    assert data[:8] == PNG_MAGIC
    assert len(data) > 1024


def test_phase_histograms(tmp_path):
    rng = np.random.default_rng(0)
    layers, types = ["L2/3", "L5A", "L5B", "L6"], ["E", "FS", "LTS"]
    phases = {(lay, typ): np.angle(np.exp(1j * rng.vonmises(0.3 * i + j, 2.0, 200)))
              for i, lay in enumerate(layers) for j, typ in enumerate(types)}
    phases[("L6", "LTS")] = np.zeros(0)  # an empty group is skipped, not an error
    _check(figures.phase_histograms(phases, layers, types, tmp_path / "ph.png"))
    _check(figures.phase_histograms(phases, layers, types, tmp_path / "ph2.png", two_cycles=True))


def test_spectra_and_coherence_figures(tmp_path):
    f = np.linspace(0, 500, 129)
    psd = 1.0 / (1.0 + f) + np.exp(-((f - 40) / 5) ** 2)
    _check(figures.spectra_figure({"E": (f, psd), "FS": (f, 2 * psd)}, tmp_path / "s.png"))
    _check(figures.coherence_figure({"E-FS": (f, np.exp(-((f - 40) / 10) ** 2))},
                                    tmp_path / "c.png"))


def test_rate_map_and_profile_figures(tmp_path):
    m = np.arange(12, dtype=float).reshape(3, 4)
    m[0, 0] = np.nan
    path = figures.rate_map_figure({"E": m, "FS": 2 * m}, tmp_path / "sub" / "m.png",
                                   shared_scale=True)
    _check(path)
    assert path.endswith("m.png")
    x = np.arange(5.0)
    _check(figures.profile_figure({"E": (x, x**2), "FS": (x, np.r_[1, np.nan, 2, 3, 4])},
                                  tmp_path / "p.png", xlabel="AP slice"))
