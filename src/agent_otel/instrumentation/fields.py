"""Reading fields from SDK response objects and from plain JSON alike.

A response reaches the instrumentation either as the SDK's typed object (``ChatCompletion``)
or, for ``with_raw_response`` calls, as the JSON body. One accessor reads both, so that each
extractor is written once.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any


def get(obj: Any, *path: str | int) -> Any:
    """``obj.a.b`` or ``obj["a"]["b"]`` (or a list index), None where anything is missing.

    On the hot path of every call and stream chunk, so the common cases (a plain dict, a
    typed SDK object) are tested first, and whether a type is a ``Mapping`` (an abstract
    class check, slow) is asked once per type."""
    for key in path:
        if obj is None:
            return None
        kind = type(obj)
        if kind is dict:
            obj = obj.get(key)
        elif isinstance(key, int):
            try:
                obj = obj[key]
            except (IndexError, KeyError, TypeError):
                return None
        elif _is_mapping(kind):
            obj = obj.get(key)
        else:
            obj = getattr(obj, key, None)
    return obj


def reader(obj: Any) -> Callable[[Any, str], Any]:
    """A one-key accessor for ``obj`` and objects of its kind (a stream chunk and its parts
    are all typed SDK objects, or all JSON): what :func:`get` does for one key, without
    deciding again at every field of every chunk."""
    if type(obj) is dict:
        return _dict_get
    return _mapping_get if _is_mapping(type(obj)) else _attribute


def _dict_get(obj: Any, key: str) -> Any:
    return obj.get(key) if type(obj) is dict else get(obj, key)


def _mapping_get(obj: Any, key: str) -> Any:
    return get(obj, key)


def _attribute(obj: Any, key: str) -> Any:
    # (a typed object may still hold a plain dict: a field the SDK's models do not know)
    return obj.get(key) if type(obj) is dict else getattr(obj, key, None)


_mapping_types: dict[type, bool] = {}
#: Types remembered; beyond, the check is made each time (a bound, not a working limit:
#: responses are made of a few dozen SDK classes).
_MAX_TYPES = 1024


def _is_mapping(kind: type) -> bool:
    known = _mapping_types.get(kind)
    if known is None:
        known = issubclass(kind, Mapping)
        if len(_mapping_types) < _MAX_TYPES:
            _mapping_types[kind] = known
    return known


def as_int(value: Any) -> int | None:
    """A token count as the API sent it, or None (a missing or malformed field)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    try:
        return list(value)
    except TypeError:
        return []


def arguments_value(raw: Any) -> Any:
    """Tool-call arguments: JSON text becomes its value, anything else stays as it is."""
    if isinstance(raw, str):
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    return raw
