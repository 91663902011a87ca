"""Reading TOML (``tomllib`` on Python ≥ 3.11, ``tomli`` before) and writing the small
subset that experiment files use (scalars, arrays and tables), so that a trial's
experiment file needs no TOML writer package."""

from __future__ import annotations

import math
import re
import sys
from typing import Any, Dict

if sys.version_info >= (3, 11):
    import tomllib as _toml
else:  # pragma: no cover - exercised on Python < 3.11 only
    try:
        import tomli as _toml
    except ImportError as error:
        raise ImportError(
            "plasticity.search reads TOML with `tomli` on Python < 3.11: "
            "pip install 'plasticity[search]' (or pip install tomli)"
        ) from error

TOMLDecodeError = _toml.TOMLDecodeError
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def loads(text: str) -> Dict[str, Any]:
    """The TOML document `text` as nested dicts."""
    return _toml.loads(text)


def dumps(document: Dict[str, Any]) -> str:
    """`document` as TOML: top-level scalars first, then one ``[table]`` per nested
    dict (``[a.b]`` for deeper ones). Comments of the source are not kept."""
    lines: list[str] = []
    _write_table(document, [], lines)
    return "\n".join(lines).lstrip("\n") + "\n"


def _write_table(table: Dict[str, Any], path: list[str], lines: list[str]) -> None:
    scalars = {k: v for k, v in table.items() if not isinstance(v, dict)}
    tables = {k: v for k, v in table.items() if isinstance(v, dict)}
    if path and (scalars or not tables):
        lines.append("")
        lines.append("[" + ".".join(_key(k) for k in path) + "]")
    for key, value in scalars.items():
        lines.append(f"{_key(key)} = {_value(value)}")
    for key, value in tables.items():
        _write_table(value, path + [key], lines)


def _key(key: str) -> str:
    return key if _BARE_KEY.match(key) else _string(key)


def _string(text: str) -> str:
    escaped = (
        text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    )
    return f'"{escaped}"'


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {type(value).__name__} {value!r} as TOML")
