"""Frozen dataclasses as the typed models of every document aitrace writes.

One set of type hints drives three things, so they cannot drift apart:

* ``to_json``: a model to plain JSON values (``None`` fields are omitted);
* ``from_json``: untrusted JSON to a model, checking every field and naming the first bad one
  by its JSON path (*parse, don't re-check*: inside the library a model is always well-formed);
* ``json_schema``: the JSON Schema (draft 2020-12) checked in under ``schemas/``.

Supported field types: ``str``, ``int``, ``float``, ``bool``, ``Optional``/``X | None``,
``Literal`` of strings, ``tuple[T, ...]``, ``Mapping[str, T]``/``dict[str, T]``, nested models
and ``JSONValue`` (any JSON). Field metadata may carry ``description`` and ``pattern``.
"""

from __future__ import annotations

import dataclasses
import re
import sys
import types
import typing
from collections.abc import Mapping
from functools import cache
from typing import Any, TypeVar, Union, dataclass_transform, get_args, get_origin

from aitrace.errors import InputError

T = TypeVar("T")

# Marker for "any JSON value"; a real type alias so mypy stays useful.
JSONValue = Any


def field(
    *, description: str = "", pattern: str | None = None, default: Any = dataclasses.MISSING,
    default_factory: Any = dataclasses.MISSING,
) -> Any:
    """A dataclass field with schema metadata (description, string pattern)."""
    meta = {"description": description, "pattern": pattern}
    if default_factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


@dataclass_transform(frozen_default=True, field_specifiers=(field, dataclasses.field))
def model(cls: type[T]) -> type[T]:
    """Declare a frozen model class (a dataclass whose ``field()`` carries schema metadata)."""
    return dataclasses.dataclass(frozen=True)(cls)


@cache
def _hints(cls: type) -> dict[str, Any]:
    module = sys.modules[cls.__module__]
    return typing.get_type_hints(cls, vars(module), include_extras=False)


def _is_optional(tp: Any) -> tuple[bool, Any]:
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        if len(args) != len(get_args(tp)) and len(args) == 1:
            return True, args[0]
    return False, tp


# --------------------------------------------------------------------------- to JSON

def to_json(value: Any) -> Any:
    """Convert a model (or a structure of models) to plain JSON values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out: dict[str, Any] = {}
        for f in dataclasses.fields(value):
            v = getattr(value, f.name)
            if v is None:
                continue
            out[f.name] = to_json(v)
        return out
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    return value


# --------------------------------------------------------------------------- from JSON

def _fail(path: str, what: str, source: str) -> InputError:
    where = f" in {source}" if source else ""
    return InputError(
        f"invalid document{where}: field '{path or '$'}' {what}",
        hint="the file was not written by this version of aitrace, or it was edited; "
        "restore it from a trusted copy",
    )


def from_json(cls: type[T], data: Any, *, source: str = "", hint: str | None = None) -> T:
    """Parse untrusted JSON ``data`` into model ``cls``; raise ``InputError`` naming the field.

    ``hint`` replaces the default hint ("restore it from a trusted copy", right for what aitrace
    wrote) for documents people write by hand, such as policies.
    """
    try:
        return typing.cast(T, _convert(cls, data, "", source))
    except InputError as exc:
        if hint is None:
            raise
        raise InputError(exc.message, hint=hint) from None


def _unknown_field(name: str, known: list[str]) -> str:
    """``is not a known field (did you mean 'x'? known here: a, b, c)``."""
    import difflib

    near = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    guess = f"did you mean '{near[0]}'? " if near else ""
    return f"is not a known field ({guess}known here: {', '.join(known)})"


def _convert(tp: Any, data: Any, path: str, source: str) -> Any:  # noqa: C901 - a type switch
    optional, inner = _is_optional(tp)
    if optional:
        if data is None:
            return None
        return _convert(inner, data, path, source)
    if tp is Any:
        return data
    origin = get_origin(tp)
    if dataclasses.is_dataclass(tp):
        if not isinstance(data, dict):
            raise _fail(path, "must be an object", source)
        hints = _hints(tp)  # type: ignore[arg-type]
        names = {f.name for f in dataclasses.fields(tp)}
        unknown = sorted(set(data) - names, key=str)
        if unknown:
            where = f"{path}.{unknown[0]}" if path else str(unknown[0])
            known = [f.name for f in dataclasses.fields(tp)]
            raise _fail(where, _unknown_field(str(unknown[0]), known), source)
        kwargs: dict[str, Any] = {}
        for f in dataclasses.fields(tp):
            sub = f"{path}.{f.name}" if path else f.name
            if f.name not in data:
                has_default = (f.default is not dataclasses.MISSING
                               or f.default_factory is not dataclasses.MISSING)
                if not has_default:
                    raise _fail(sub, "is missing", source)
                continue
            value = _convert(hints[f.name], data[f.name], sub, source)
            pattern = f.metadata.get("pattern")
            if pattern and isinstance(value, str) and not re.fullmatch(pattern, value):
                raise _fail(sub, f"does not match {pattern}", source)
            kwargs[f.name] = value
        return typing.cast(Any, tp)(**kwargs)
    if origin is typing.Literal:
        if data not in get_args(tp):
            allowed = ", ".join(repr(a) for a in get_args(tp))
            raise _fail(path, f"must be one of {allowed} (got {data!r})", source)
        return data
    if origin is tuple:
        if not isinstance(data, list):
            raise _fail(path, "must be an array", source)
        (item_tp, _ellipsis) = get_args(tp)
        return tuple(_convert(item_tp, v, f"{path}[{i}]", source) for i, v in enumerate(data))
    if origin in (dict, Mapping, typing.Mapping, __import__("collections.abc").abc.Mapping):
        if not isinstance(data, dict):
            raise _fail(path, "must be an object", source)
        _k, val_tp = get_args(tp)
        return {k: _convert(val_tp, v, f"{path}.{k}", source) for k, v in data.items()}
    if tp is bool:
        if not isinstance(data, bool):
            raise _fail(path, "must be true or false", source)
        return data
    if tp is int:
        if isinstance(data, bool) or not isinstance(data, int):
            raise _fail(path, "must be an integer", source)
        return data
    if tp is float:
        if isinstance(data, bool) or not isinstance(data, (int, float)):
            raise _fail(path, "must be a number", source)
        try:
            value = float(data)
        except OverflowError:
            raise _fail(path, "is too large a number", source) from None
        if value != value or value in (float("inf"), float("-inf")):
            raise _fail(path, "must be a finite number", source)
        return value
    if tp is str:
        if not isinstance(data, str):
            raise _fail(path, "must be a string", source)
        return data
    raise TypeError(f"unsupported model type {tp!r} at {path}")  # a bug, not user input


# --------------------------------------------------------------------------- JSON Schema

def json_schema(cls: type, *, schema_id: str, title: str) -> dict[str, Any]:
    """The JSON Schema (2020-12) of model ``cls``, with nested models under ``$defs``."""
    defs: dict[str, Any] = {}
    root = _schema_for(cls, defs)
    name = cls.__name__
    schema: dict[str, Any] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": schema_id,
        "title": title,
    }
    schema.update(defs.pop(name))
    del root
    if defs:
        schema["$defs"] = dict(sorted(defs.items()))
    return schema


def _schema_for(tp: Any, defs: dict[str, Any]) -> dict[str, Any]:  # noqa: C901 - a type switch
    optional, inner = _is_optional(tp)
    if optional:
        return {"anyOf": [_schema_for(inner, defs), {"type": "null"}]}
    if tp is Any:
        return {}
    origin = get_origin(tp)
    if dataclasses.is_dataclass(tp):
        name = typing.cast(type, tp).__name__
        if name not in defs:
            defs[name] = {}  # placeholder against recursion
            hints = _hints(tp)  # type: ignore[arg-type]
            props: dict[str, Any] = {}
            required: list[str] = []
            for f in dataclasses.fields(tp):
                sub = _schema_for(hints[f.name], defs)
                if f.metadata.get("pattern"):
                    sub = {**sub, "pattern": f.metadata["pattern"]}
                if f.metadata.get("description"):
                    sub = {"description": f.metadata["description"], **sub}
                props[f.name] = sub
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                    required.append(f.name)
            doc = (tp.__doc__ or "").strip().split("\n")[0]
            body: dict[str, Any] = {"type": "object"}
            if doc:
                body["description"] = doc
            body.update({"properties": props, "required": required, "additionalProperties": False})
            defs[name] = body
        return {"$ref": f"#/$defs/{name}"}
    if origin is typing.Literal:
        return {"enum": list(get_args(tp))}
    if origin is tuple:
        return {"type": "array", "items": _schema_for(get_args(tp)[0], defs)}
    if origin in (dict, typing.Mapping, __import__("collections.abc").abc.Mapping):
        return {"type": "object", "additionalProperties": _schema_for(get_args(tp)[1], defs)}
    simple = {bool: "boolean", int: "integer", float: "number", str: "string"}
    if tp in simple:
        return {"type": simple[tp]}
    raise TypeError(f"unsupported model type {tp!r}")
