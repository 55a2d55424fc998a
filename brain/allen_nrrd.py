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
        raise ValueError(f"{path}: not a NRRD file (expected magic 'NRRD000x', "
                         f"got {raw[:8]!r})")
    end = raw.find(b"\n\n")
    if end < 0:
        raise ValueError(f"{path}: NRRD header has no blank line before the data")
    fields = {}
    for line in raw[:end].decode("ascii", "replace").splitlines()[1:]:
        if line.startswith("#") or ":=" in line or not line.strip():
            continue
        key, sep, value = line.partition(":")
        if not sep:
            raise ValueError(f"{path}: malformed NRRD header line {line!r}")
        fields[key.strip().lower()] = value.strip()
    return fields, end + 2


def _nrrd_spacing(path: Path, fields: dict) -> np.ndarray:
    if "space directions" in fields:
        vectors = re.findall(r"\(([^)]*)\)|none", fields["space directions"])
        norms = [float(np.linalg.norm([float(x) for x in v.split(",")])) for v in vectors if v]
        return np.array(norms, dtype=np.float64)
    if "spacings" in fields:
        vals = [float(x) for x in fields["spacings"].split() if x.lower() != "nan"]
        return np.array(vals, dtype=np.float64)
    raise ValueError(f"{path}: NRRD header has neither 'space directions' nor 'spacings' "
                     f"(needed for the voxel size in um)")


def read_nrrd(path) -> tuple[np.ndarray, np.ndarray, dict]:
    """Read an attached-data NRRD file (raw or gzip encoding).

    Returns
    -------
    data : ndarray with the shape of the header's ``sizes`` (NRRD's first axis first;
        for the CCF: AP, DV, LR), C-contiguous, native byte order.
    spacing_um : float64[n_domain_axes], voxel edge per axis from the norms of
        ``space directions`` (or ``spacings``), in the file's units (um for Allen files).
    header : dict of the header fields (lower-case keys, string values).
    """
    path = _existing(path, "a NRRD volume")
    raw = path.read_bytes()
    fields, offset = _nrrd_header(path, raw)
    for key in ("type", "dimension", "sizes", "encoding"):
        if key not in fields:
            raise ValueError(f"{path}: NRRD header lacks the required field '{key}'")
    if "data file" in fields or "datafile" in fields:
        raise ValueError(f"{path}: NRRD field 'data file': detached data is not supported "
                         f"(expected the data attached after the header)")
    if int(fields.get("line skip", 0)) or int(fields.get("byte skip", 0)):
        raise ValueError(f"{path}: NRRD fields 'line skip'/'byte skip' are not supported")
    kind = _NRRD_TYPES.get(fields["type"].lower())
    if kind is None:
        raise ValueError(f"{path}: NRRD field 'type' = {fields['type']!r} is not supported "
                         f"(expected one of {sorted(set(_NRRD_WRITE_TYPES.values()))})")
    endian = fields.get("endian", "little").lower()
    if endian not in ("little", "big"):
        raise ValueError(f"{path}: NRRD field 'endian' = {endian!r}: expected little or big")
    dtype = np.dtype(("<" if endian == "little" else ">") + kind)
    encoding = fields["encoding"].lower()
    if encoding == "raw":
        payload = raw[offset:]
    elif encoding in ("gzip", "gz"):
        payload = gzip.decompress(raw[offset:])
    else:
        raise ValueError(f"{path}: NRRD field 'encoding' = {encoding!r} is not supported "
                         f"(expected 'raw' or 'gzip')")
    sizes = tuple(int(s) for s in fields["sizes"].split())
    if len(sizes) != int(fields["dimension"]):
        raise ValueError(f"{path}: NRRD fields 'sizes' ({len(sizes)} values) and 'dimension' "
                         f"({fields['dimension']}) disagree")
    n_bytes = int(np.prod(sizes)) * dtype.itemsize
    if len(payload) < n_bytes:
        raise ValueError(f"{path}: NRRD data has {len(payload)} bytes, 'sizes' {sizes} of "
                         f"'type' {fields['type']} need {n_bytes}")
    flat = np.frombuffer(payload[len(payload) - n_bytes:], dtype=dtype)
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
