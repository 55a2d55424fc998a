"""Counter-based random numbers: a draw is a pure function of (seed, stream, a, b).

Every random quantity in the model is keyed by stable ids (global cell ids, voxel ids,
step numbers) rather than drawn from a sequential generator, so that a rank owning any
subset of cells draws exactly the numbers a single process would (SPEC: same spikes for
any rank count).  The mixer is SplitMix64's finaliser (Steele et al. 2014).
"""
import numpy as np
from numba import njit

__all__ = ["uniform", "uniform_k", "uniform_ck", "cell_key", "stream_key", "poisson", "poisson_k", "uniforms",
           "poisson_cdf_table", "STREAM_PLACE", "STREAM_CONNECT", "STREAM_POISSON",
           "STREAM_AFFERENT", "STREAM_INIT", "STREAM_WEIGHT", "STREAM_INDEGREE"]

# Stream ids: one per kind of randomness, so that draws never collide.
STREAM_PLACE = 1
STREAM_CONNECT = 2
STREAM_POISSON = 3
STREAM_AFFERENT = 4
STREAM_INIT = 5
STREAM_WEIGHT = 6
STREAM_INDEGREE = 7

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_INV53 = 1.0 / 9007199254740992.0  # 2**-53


@njit(cache=True, inline="always")
def _mix(z):
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@njit(cache=True)
def stream_key(seed, stream):
    """The (seed, stream) part of a key, hashed once; see ``uniform_k``."""
    return _mix(np.uint64(seed) + _GOLDEN * np.uint64(stream + 1))


@njit(cache=True, inline="always")
def cell_key(key, a):
    """The (seed, stream, a) part of a key, hashed once: ``uniform_k(key, a, b) ==
    uniform_ck(cell_key(key, a), b)``, so a loop over steps hashes once per draw."""
    return _mix(key ^ (np.uint64(a) * _GOLDEN))


@njit(cache=True, inline="always")
def uniform_ck(ck, b):
    """``uniform_k(key, a, b)`` given ``ck = cell_key(key, a)``."""
    h = _mix(ck ^ (np.uint64(b) + _GOLDEN))
    # h >> 11 < 2**53 converts exactly through int64: signed conversion vectorises
    return float(np.int64(h >> _S11)) * _INV53


@njit(cache=True, inline="always")
def uniform_k(key, a, b):
    """``uniform(seed, stream, a, b)`` given ``key = stream_key(seed, stream)``."""
    return uniform_ck(cell_key(key, a), b)


@njit(cache=True)
def uniform(seed, stream, a, b):
    """Uniform float64 in [0, 1) keyed by four non-negative integers."""
    return uniform_k(stream_key(seed, stream), a, b)


@njit(cache=True)
def uniforms(seed, stream, a, b, out):
    """out[i] = uniform(seed, stream, a[i], b) for an int64 array ``a``."""
    key = stream_key(seed, stream)
    for i in range(a.shape[0]):
        out[i] = uniform_k(key, a[i], b)


_INV_K = np.array([0.0] + [1.0 / k for k in range(1, 256)])


@njit(cache=True, inline="always")
def poisson_k(key, a, b, lam, p0):
    """Poisson count with mean ``lam`` (p0 = exp(-lam)) from ``uniform_k(key, a, b)``.

    Multiplies by tabulated 1/k instead of dividing (the hot loop of Poisson input).
    """
    u = uniform_k(key, a, b)
    p = p0
    cdf = p
    k = 0
    while u > cdf and k < 255:
        k += 1
        p *= lam * _INV_K[k]
        cdf += p
    return k


def poisson_cdf_table(lam: float, length: int):
    """(cdf[length], last pmf) of Poisson(lam), by the exact recurrence of ``poisson_k``."""
    p = float(np.exp(-lam))
    cdf = np.empty(length)
    cdf[0] = p
    for k in range(1, length):
        p *= lam * _INV_K[k]
        cdf[k] = cdf[k - 1] + p
    return cdf, p


@njit(cache=True)
def poisson(seed, stream, a, b, lam):
    """Poisson count with mean ``lam`` by inversion of one keyed uniform.

    Inversion (not rejection) keeps it to exactly one draw per key; fine for the
    small per-step means (< ~30) met here.
    """
    if lam <= 0.0:
        return 0
    return poisson_k(stream_key(seed, stream), a, b, lam, np.exp(-lam))
