"""Allen CCF volumes: a small NRRD reader/writer of our own (raw and gzip encodings).

CCF volumes keep Allen's axis order (axis 0 anterior -> posterior, axis 1 dorsal ->
ventral, axis 2 left -> right); the NRRD ``space`` string of Allen's files is wrong
and is ignored. Every error names the file and the header field.
"""
from __future__ import annotations

import difflib
import gzip
import re
from pathlib import Path

import numpy as np

__all__ = ["read_nrrd", "write_nrrd"]

# NRRD type names (all spellings of the format spec) -> numpy dtype, without byte order.
_NRRD_TYPES = {}
for _names, _dt in [(("signed char", "int8", "int8_t"), "i1"),
                    (("uchar", "unsigned char", "uint8", "uint8_t"), "u1"),
                    (("short", "short int", "signed short", "signed short int", "int16",
                      "int16_t"), "i2"),
                    (("ushort", "unsigned short", "unsigned short int", "uint16", "uint16_t"),
                     "u2"),
                    (("int", "signed int", "int32", "int32_t"), "i4"),
                    (("uint", "unsigned int", "uint32", "uint32_t"), "u4"),
                    (("longlong", "long long", "long long int", "signed long long",
                      "signed long long int", "int64", "int64_t"), "i8"),
                    (("ulonglong", "unsigned long long", "unsigned long long int", "uint64",
                      "uint64_t"), "u8"),
                    (("float",), "f4"), (("double",), "f8")]:
    for _n in _names:
        _NRRD_TYPES[_n] = _dt
_NRRD_WRITE_TYPES = {"i1": "int8", "u1": "uint8", "i2": "int16", "u2": "uint16", "i4": "int32",
                     "u4": "uint32", "i8": "int64", "u8": "uint64", "f4": "float", "f8": "double"}


def _suggest(name: str, candidates) -> str:
    """'; did you mean X, Y?' by case-insensitive then fuzzy match, or ''."""
    lower = {}
    for c in candidates:
        lower.setdefault(c.lower(), c)
    near = [lower[c] for c in difflib.get_close_matches(name.lower(), lower, n=3)]
    return f"; did you mean {', '.join(near)}?" if near else ""


def _existing(path, what: str) -> Path:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file (expected {what})")
    return path


# ---------------------------------------------------------------------------- NRRD

def _nrrd_header(path: Path, raw: bytes) -> tuple[dict, int]:
    """Parse the header; returns (fields, offset of the data)."""
    if not raw.startswith(b"NRRD000"):
        raise ValueError(f"{path}: not a NRRD file: starts with {raw[:8]!r} (expected the "
                         f"magic 'NRRD000x' on the first line)")
    end = raw.find(b"\n\n")
    if end < 0:
        raise ValueError(f"{path}: NRRD header has no blank line before the data (expected "
                         f"'field: value' lines, then an empty line, then the data)")
    fields = {}
    for line in raw[:end].decode("ascii", "replace").splitlines()[1:]:
        if line.startswith("#") or ":=" in line or not line.strip():
            continue
        key, sep, value = line.partition(":")
        if not sep:
            raise ValueError(f"{path}: NRRD header line {line!r}: malformed (expected "
                             f"'field: value')")
        fields[key.strip().lower()] = value.strip()
    return fields, end + 2


def _numbers(path: Path, fields: dict, key: str, kind, example: str) -> list:
    try:
        return [kind(x) for x in fields[key].split()]
    except ValueError:
        raise ValueError(f"{path}: NRRD field '{key}' = {fields[key]!r}: not "
                         f"{'integers' if kind is int else 'numbers'} (expected e.g. "
                         f"'{example}')") from None


def _nrrd_spacing(path: Path, fields: dict) -> np.ndarray:
    if "space directions" in fields:
        vectors = re.findall(r"\(([^)]*)\)|none", fields["space directions"])
        try:
            norms = [float(np.linalg.norm([float(x) for x in v.split(",")]))
                     for v in vectors if v]
        except ValueError:
            norms = []
        if not norms:
            raise ValueError(f"{path}: NRRD field 'space directions' = "
                             f"{fields['space directions']!r}: not vectors of numbers "
                             f"(expected e.g. '(100,0,0) (0,100,0) (0,0,100)')")
        return np.array(norms, dtype=np.float64)
    if "spacings" in fields:
        vals = _numbers(path, fields, "spacings", float, "100 100 100")
        return np.array([v for v in vals if not np.isnan(v)], dtype=np.float64)
    raise ValueError(f"{path}: NRRD header has neither 'space directions' nor 'spacings' "
                     f"(needed for the voxel size in um)")


def _nrrd_payload(path: Path, raw: bytes, offset: int, encoding: str) -> bytes:
    if encoding == "raw":
        return raw[offset:]
    if encoding in ("gzip", "gz"):
        try:
            return gzip.decompress(raw[offset:])
        except (EOFError, OSError, gzip.BadGzipFile) as err:
            raise ValueError(f"{path}: NRRD data ({len(raw) - offset} bytes of gzip after the "
                             f"header): truncated or corrupt: {err} (expected one complete "
                             f"gzip stream; is the file cut short?)") from None
    raise ValueError(f"{path}: NRRD field 'encoding' = {encoding!r}: not supported "
                     f"(expected 'raw' or 'gzip')")


def read_nrrd(path) -> tuple[np.ndarray, np.ndarray, dict]:
    """Read an attached-data NRRD file (raw or gzip encoding).

    Returns
    -------
    data : ndarray with the shape of the header's ``sizes`` (NRRD's first axis first;
        for the CCF: AP, DV, LR), C-contiguous, native byte order.
    spacing_um : float64[n_domain_axes], voxel edge per axis from the norms of
        ``space directions`` (or ``spacings``), in the file's units (um for Allen files).
    header : dict of the header fields (lower-case keys, string values).

    Raises ValueError naming the file, the header field and its value when the header is
    not NRRD, is incomplete or disagrees with the data (truncated, or longer than
    ``sizes`` needs).
    """
    path = _existing(path, "a NRRD volume")
    raw = path.read_bytes()
    fields, offset = _nrrd_header(path, raw)
    for key in ("type", "dimension", "sizes", "encoding"):
        if key not in fields:
            raise ValueError(f"{path}: NRRD field '{key}' is missing (a NRRD header needs "
                             f"type, dimension, sizes and encoding)")
    if "data file" in fields or "datafile" in fields:
        raise ValueError(f"{path}: NRRD field 'data file': detached data is not supported "
                         f"(expected the data attached after the header)")
    if fields.get("line skip", "0") != "0" or fields.get("byte skip", "0") != "0":
        raise ValueError(f"{path}: NRRD fields 'line skip'/'byte skip' are not supported "
                         f"(expected the data right after the header)")
    kind = _NRRD_TYPES.get(fields["type"].lower())
    if kind is None:
        raise ValueError(f"{path}: NRRD field 'type' = {fields['type']!r}: not supported "
                         f"(expected one of {sorted(set(_NRRD_WRITE_TYPES.values()))})")
    endian = fields.get("endian", "little").lower()
    if endian not in ("little", "big"):
        raise ValueError(f"{path}: NRRD field 'endian' = {endian!r}: expected little or big")
    dtype = np.dtype(("<" if endian == "little" else ">") + kind)
    encoding = fields["encoding"].lower()
    if encoding not in ("raw", "gzip", "gz"):
        _nrrd_payload(path, raw, offset, encoding)
    sizes = tuple(_numbers(path, fields, "sizes", int, "132 80 114"))
    dims = _numbers(path, fields, "dimension", int, "3")
    dim = dims[0] if len(dims) == 1 else None
    if len(sizes) != dim or min(sizes, default=0) < 1:
        raise ValueError(f"{path}: NRRD field 'sizes' = {fields['sizes']!r}: expected "
                         f"'dimension' = {fields['dimension']} positive integers")
    payload = _nrrd_payload(path, raw, offset, encoding)
    n_bytes = int(np.prod(sizes)) * dtype.itemsize
    if len(payload) < n_bytes:
        raise ValueError(f"{path}: NRRD data has {len(payload)} bytes: truncated ('sizes' "
                         f"{fields['sizes']!r} of 'type' {fields['type']} need {n_bytes})")
    if len(payload) > n_bytes:
        raise ValueError(f"{path}: NRRD field 'sizes' = {fields['sizes']!r}: needs {n_bytes} "
                         f"bytes of {fields['type']}, the data has {len(payload)} (expected "
                         f"'sizes' to match the data: the header belongs to another grid?)")
    flat = np.frombuffer(payload, dtype=dtype)
    # NRRD's first axis varies fastest (Fortran order).
    data = np.ascontiguousarray(flat.reshape(sizes, order="F"), dtype=dtype.newbyteorder("="))
    return data, _nrrd_spacing(path, fields), fields


def write_nrrd(path, data: np.ndarray, spacing_um) -> Path:
    """Write ``data`` (any numeric dtype, 1-4 axes) as a gzip NRRD with diagonal
    ``space directions`` of ``spacing_um`` (one value per axis).  Returns the path."""
    data = np.asarray(data)
    spacing = np.broadcast_to(np.asarray(spacing_um, dtype=np.float64), (data.ndim,))
    kind = data.dtype.kind + str(data.dtype.itemsize)
    if kind not in _NRRD_WRITE_TYPES:
        raise TypeError(f"write_nrrd({path}): dtype {data.dtype} not supported "
                        f"(expected an int/uint/float of 1-8 bytes)")
    vectors = []
    for i, s in enumerate(spacing):
        v = ["0"] * data.ndim
        v[i] = repr(float(s))
        vectors.append("(" + ",".join(v) + ")")
    header = ("NRRD0004\n# written by brain.allen.write_nrrd\n"
              f"type: {_NRRD_WRITE_TYPES[kind]}\ndimension: {data.ndim}\n"
              f"sizes: {' '.join(str(n) for n in data.shape)}\n"
              f"space directions: {' '.join(vectors)}\n"
              f"kinds: {' '.join(['domain'] * data.ndim)}\nendian: little\nencoding: gzip\n\n")
    body = np.asarray(data, dtype=data.dtype.newbyteorder("<")).ravel(order="F").tobytes()
    path = Path(path)
    path.write_bytes(header.encode("ascii") + gzip.compress(body, compresslevel=6))
    return path


# ------------------------------------------------------------------------ ontology

# Isocortex layer suffixes of Allen acronyms (MOp2/3, SSp-ul4, ACAv6a) -> model layer.
