#!/usr/bin/env bash
# Create the peer-simulator venv for bench/coba.py (NEST + Brian2).
# Kept separate from the project's .venv so peers never pin the project's numpy.
#   bash bench/setup_peers.sh            # create/update bench/.venv-peers
#   PEERS_VENV=/some/dir bash bench/setup_peers.sh
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="${PEERS_VENV:-$HERE/.venv-peers}"
PY="${PYTHON:-python3}"
t0=$(date +%s)

echo "== compiler check (Brian2 cython / cpp_standalone need a C++ compiler with OpenMP)"
if ! command -v g++ >/dev/null 2>&1; then
  echo "ERROR: g++ not found. Install it (Debian: apt-get install -y g++) and re-run." >&2
  exit 1
fi
tmpd="$(mktemp -d)"; trap 'rm -rf "$tmpd"' EXIT
printf '#include <omp.h>\nint main(){return omp_get_max_threads()>0?0:1;}\n' > "$tmpd/t.cpp"
if g++ -fopenmp "$tmpd/t.cpp" -o "$tmpd/t" && "$tmpd/t"; then
  echo "   g++ with OpenMP: ok ($(g++ -dumpfullversion))"
else
  echo "ERROR: g++ cannot build an OpenMP program (need libgomp)." >&2
  exit 1
fi
"$PY" -c 'import sysconfig,os,sys; p=os.path.join(sysconfig.get_paths()["include"],"Python.h"); sys.exit(0 if os.path.exists(p) else 1)' \
  || { echo "ERROR: Python headers missing (Debian: apt-get install -y python3-dev)." >&2; exit 1; }

echo "== venv: $VENV"
if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --upgrade pip
# Brian2 (2.9.x on Python 3.11) requires numpy<2.4; NEST's wheel works with it too.
"$VENV/bin/python" -m pip install -q "numpy<2.4" cython setuptools brian2 nest-simulator

echo "== import check"
"$VENV/bin/python" - <<'PY'
import numpy, brian2, Cython
print("   numpy", numpy.__version__, "| brian2", brian2.__version__, "| cython", Cython.__version__)
import nest  # prints a banner
print("   nest", nest.__version__ if hasattr(nest, "__version__") else nest.GetKernelStatus("build_info")["version"])
PY
echo "== done in $(( $(date +%s) - t0 )) s. Peers python: $VENV/bin/python"
