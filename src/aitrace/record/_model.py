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
from collections.abc import Callable, Mapping
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

@cache
def _model_fields(cls: Any) -> tuple[str, ...] | None:
    """The field names of a model class in order, or ``None`` when ``cls`` is not a model."""
    if dataclasses.is_dataclass(cls):
        return tuple(f.name for f in dataclasses.fields(cls))
    return None


def to_json(value: Any) -> Any:
    """Convert a model (or a structure of models) to plain JSON values."""
    if value is None or isinstance(value, (str, int, float)):
        return value
    names = _model_fields(typing.cast(Any, type(value)))
    if names is not None:
        out: dict[str, Any] = {}
        for name in names:
            v = getattr(value, name)
            if v is not None:
                out[name] = to_json(v)
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
        return typing.cast(T, _converter(typing.cast(Any, cls))(data, "", source))
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


_Convert = Callable[[Any, str, str], Any]
"""``(data, json_path, source) -> value``: one type's check-and-convert, built once per type."""

_MAPPINGS = (dict, Mapping, typing.Mapping)


@cache
def _converter(tp: Any) -> _Convert:  # noqa: C901 - a type switch
    """The converter of ``tp``, built from its type hints once.

    Parsing thousands of steps must not re-inspect the same hints for every value.
    """
    optional, inner = _is_optional(tp)
    if optional:
        return _optional(inner)
    if tp is Any:
        return _any
    if dataclasses.is_dataclass(tp):
        return _ModelConverter(typing.cast(type, tp))
    origin = get_origin(tp)
    if origin is typing.Literal:
        return _literal(get_args(tp))
    if origin is tuple:
        return _array(get_args(tp)[0])
    if origin in _MAPPINGS:
        return _object(get_args(tp)[1])
    if tp is bool:
        return _bool
    if tp is int:
        return _int
    if tp is float:
        return _float
    if tp is str:
        return _str
    raise TypeError(f"unsupported model type {tp!r}")  # a bug, not user input


def _optional(inner_tp: Any) -> _Convert:
    inner = _converter(inner_tp)

    def convert(data: Any, path: str, source: str) -> Any:
        return None if data is None else inner(data, path, source)
    return convert


def _any(data: Any, path: str, source: str) -> Any:
    return data


def _literal(allowed: tuple[Any, ...]) -> _Convert:
    def convert(data: Any, path: str, source: str) -> Any:
        if data not in allowed:
            shown = ", ".join(repr(a) for a in allowed)
            raise _fail(path, f"must be one of {shown} (got {data!r})", source)
        return data
    return convert


def _array(item_tp: Any) -> _Convert:
    item = _converter(item_tp)

    def convert(data: Any, path: str, source: str) -> Any:
        if not isinstance(data, list):
            raise _fail(path, "must be an array", source)
        return tuple(item(v, f"{path}[{i}]", source) for i, v in enumerate(data))
    return convert


def _object(value_tp: Any) -> _Convert:
    value = _converter(value_tp)

    def convert(data: Any, path: str, source: str) -> Any:
        if not isinstance(data, dict):
            raise _fail(path, "must be an object", source)
        return {k: value(v, f"{path}.{k}", source) for k, v in data.items()}
    return convert


def _bool(data: Any, path: str, source: str) -> Any:
    if not isinstance(data, bool):
        raise _fail(path, "must be true or false", source)
    return data


def _int(data: Any, path: str, source: str) -> Any:
    if isinstance(data, bool) or not isinstance(data, int):
        raise _fail(path, "must be an integer", source)
    return data


def _float(data: Any, path: str, source: str) -> Any:
    if isinstance(data, bool) or not isinstance(data, (int, float)):
        raise _fail(path, "must be a number", source)
    try:
        value = float(data)
    except OverflowError:
        raise _fail(path, "is too large a number", source) from None
    if value != value or value in (float("inf"), float("-inf")):
        raise _fail(path, "must be a finite number", source)
    return value


def _str(data: Any, path: str, source: str) -> Any:
    if not isinstance(data, str):
        raise _fail(path, "must be a string", source)
    return data


@dataclasses.dataclass(frozen=True)
class _FieldPlan:
    name: str
    required: bool
    pattern: re.Pattern[str] | None
    convert: _Convert


class _ModelConverter:
    """A model's fields in order (resolved on first use, so models may refer to each other)."""

    __slots__ = ("_plan", "cls")

    def __init__(self, cls: type) -> None:
        self.cls = cls
        self._plan: tuple[frozenset[str], tuple[_FieldPlan, ...]] | None = None

    def plan(self) -> tuple[frozenset[str], tuple[_FieldPlan, ...]]:
        if self._plan is None:
            hints = _hints(self.cls)
            fields = dataclasses.fields(self.cls)
            self._plan = (frozenset(f.name for f in fields), tuple(
                _FieldPlan(name=f.name, convert=_converter(hints[f.name]),
                           required=(f.default is dataclasses.MISSING
                                     and f.default_factory is dataclasses.MISSING),
                           pattern=re.compile(f.metadata["pattern"])
                           if f.metadata.get("pattern") else None)
                for f in fields))
        return self._plan

    def __call__(self, data: Any, path: str, source: str) -> Any:
        if not isinstance(data, dict):
            raise _fail(path, "must be an object", source)
        names, fields = self.plan()
        if not names.issuperset(data):
            unknown = sorted(set(data) - names, key=str)
            known = [f.name for f in fields]
            raise _fail(f"{path}.{unknown[0]}" if path else str(unknown[0]),
                        _unknown_field(str(unknown[0]), known), source)
        kwargs: dict[str, Any] = {}
        for f in fields:
            sub = f"{path}.{f.name}" if path else f.name
            if f.name not in data:
                if f.required:
                    raise _fail(sub, "is missing", source)
                continue
            value = f.convert(data[f.name], sub, source)
            if f.pattern is not None and isinstance(value, str) and not f.pattern.fullmatch(value):
                raise _fail(sub, f"does not match {f.pattern.pattern}", source)
            kwargs[f.name] = value
        return self.cls(**kwargs)


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
