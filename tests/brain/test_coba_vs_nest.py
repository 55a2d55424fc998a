"""The COBA benchmark network at N = 4,000: our mean rates within 15% of NEST's.

NEST runs in the peers' own venv (``bash bench/setup_peers.sh``, done by ``make test``),
so it never pins this project's numpy; the test skips with that command only if the
peers venv is missing.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench"
PEERS_PY = Path(os.environ.get("PEERS_VENV", BENCH / ".venv-peers")) / "bin" / "python"

pytestmark = pytest.mark.slow

N, WARMUP_MS, DURATION_MS = 4000, 100.0, 1000.0


def _nest_row(tmp_path):
    out = tmp_path / "nest.json"
    cmd = [str(PEERS_PY), str(BENCH / "coba.py"), "--worker", "nest", "--N", str(N),
           "--threads", "2", "--ranks", "1", "--warmup-ms", str(WARMUP_MS),
           "--duration-ms", str(DURATION_MS), "--seed", "7", "--row-out", str(out)]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    return json.loads(out.read_text())


def test_coba_rates_match_nest(tmp_path):
    if not PEERS_PY.exists():
        pytest.skip(f"NEST peers venv missing: run `bash bench/setup_peers.sh` ({PEERS_PY})")
    sys.path.insert(0, str(BENCH))
    try:
        import ours_coba
        ours = ours_coba.run(N, 1, 1, WARMUP_MS, DURATION_MS, 7)
    finally:
        sys.path.remove(str(BENCH))
    nest = _nest_row(tmp_path)
    for key in ("rate_E", "rate_I"):
        assert nest[key] > 1.0, nest                 # the network is really active
        assert ours[key] == pytest.approx(nest[key], rel=0.15), (key, ours[key], nest[key])
