"""TOML tables -> typed, frozen dataclasses, with errors that name the file and the key.

The generic half of scene loading (``cosim.scene`` is the specific half): keys are checked
against the dataclass fields (unknown keys get a suggestion), values against the field
annotations, and the dataclass's own ``__post_init__`` checks become ``SceneError`` s
that point at the offending key.
"""
from __future__ import annotations

import dataclasses
import difflib
import re
import types
import typing

__all__ = ["SceneError", "make", "table_of", "array_of", "one", "suggest", "check_type"]


class SceneError(ValueError):
    """A scene file that cannot be used. ``path`` and ``key`` say where."""

    def __init__(self, path, key: str, message: str):
        self.path, self.key = str(path), key
        where = f"{key}: " if key else ""
        super().__init__(f"{path}: {where}{message}")


def suggest(key: str, allowed) -> str:
    close = difflib.get_close_matches(key, list(allowed), n=1)
    return f"; did you mean {close[0]!r}?" if close else \
        f"; allowed keys: {', '.join(sorted(allowed))}"


def check_type(ctx, key, value, hint):
    """Coerce a TOML value to the field's annotated type or raise SceneError."""
    origin = typing.get_origin(hint)
    if origin in (types.UnionType, typing.Union):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        return check_type(ctx, key, value, args[0])
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SceneError(ctx, key, f"{value!r} is not a number")
        return float(value)
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise SceneError(ctx, key, f"{value!r} is not an integer")
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise SceneError(ctx, key, f"{value!r} is not true/false")
        return value
    if hint is str:
        if not isinstance(value, str):
            raise SceneError(ctx, key, f"{value!r} is not a string")
        return value
    if hint is tuple or origin is tuple:
        if isinstance(value, str) or not isinstance(value, list):
            raise SceneError(ctx, key, f"{value!r} is not a list")
        return tuple(tuple(v) if isinstance(v, list) else v for v in value)
    if hint is dict or origin is dict:
        if not isinstance(value, dict):
            raise SceneError(ctx, key, f"{value!r} is not a table")
        return value
    return value


_FIELD_IN_MESSAGE = re.compile(r"^(?:[A-Za-z]+\.)?([A-Za-z_][\w.]*) = ")


def make(cls, table, ctx, key, special=None, **given):
    """Build dataclass ``cls`` from a TOML table, checking keys and types.

    special: field name -> function(value, key) for nested tables.
    given: fields supplied by the caller (e.g. ``name`` from the table's key).
    """
    if not isinstance(table, dict):
        raise SceneError(ctx, key, f"expected a table, got {table!r}")
    special = special or {}
    hints = typing.get_type_hints(cls)
    allowed = [f.name for f in dataclasses.fields(cls) if f.name not in given]
    kwargs = dict(given)
    for k, v in table.items():
        sub = f"{key}.{k}" if key else k
        if k not in allowed:
            raise SceneError(ctx, sub, f"unknown key{suggest(k, allowed)}")
        kwargs[k] = special[k](v, sub) if k in special else check_type(ctx, sub, v, hints[k])
    missing = [f.name for f in dataclasses.fields(cls)
               if f.name not in kwargs and f.default is dataclasses.MISSING
               and f.default_factory is dataclasses.MISSING]
    if missing:
        raise SceneError(ctx, f"{key}.{missing[0]}" if key else missing[0], "required key missing")
    try:
        return cls(**kwargs)
    except ValueError as exc:
        m = _FIELD_IN_MESSAGE.match(str(exc))
        sub = f"{key}.{m.group(1)}" if (m and key) else (m.group(1) if m else key)
        raise SceneError(ctx, sub, str(exc)) from None


def table_of(cls, ctx, **special):
    """Converter for a table of named tables ({name: {...}}) -> tuple of cls."""
    def convert(value, key):
        if not isinstance(value, dict):
            raise SceneError(ctx, key, "expected a table of named entries")
        return tuple(make(cls, v, ctx, f"{key}.{name}", special, name=name)
                     for name, v in value.items())
    return convert


def array_of(cls, ctx, **special):
    """Converter for an array of tables ([[...]]) -> tuple of cls."""
    def convert(value, key):
        if not isinstance(value, list):
            raise SceneError(ctx, key, "expected an array of tables ([[...]])")
        return tuple(make(cls, v, ctx, f"{key}[{i}]", special) for i, v in enumerate(value))
    return convert


def one(cls, ctx, **special):
    return lambda value, key: make(cls, value, ctx, key, special)
