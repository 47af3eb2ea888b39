"""Reading values out of task data, shared by the input types.

A reader raises :class:`~backend.labelstudio.dataset.Malformed` with a message naming the
field and what was wrong; the export reports it as a skipped task.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from backend.labelstudio.dataset import Malformed, is_number, type_name

_FIELD_REF = re.compile(r"\$([A-Za-z_]\w*)")
_VARIABLE = re.compile(r"^\$[^\s,$]+$")


def bare_field(value: str) -> str | None:
    """Return ``field`` when a config value is exactly ``$field``, else None."""
    return value[1:] if _VARIABLE.fullmatch(value) else None


def field_refs(value: str) -> tuple[str, ...]:
    """Return every ``$field`` a config value refers to, in order, once each."""
    return tuple(dict.fromkeys(_FIELD_REF.findall(value)))


def present(data: Mapping[str, Any], keys: tuple[str, ...]) -> None:
    """Raise Malformed unless every key is in ``data`` and not null."""
    for key in keys:
        if key not in data or data[key] is None:
            raise Malformed(f"task data has no {key!r} field")


def one_string(data: Mapping[str, Any], keys: tuple[str, ...]) -> str:
    """Return the string of the single field in ``keys``."""
    present(data, keys)
    (key,) = keys
    value = data[key]
    if not isinstance(value, str):
        raise Malformed(f"data field {key!r} must be a string; got {type_name(value)}")
    return value


def number(key: str, value: Any) -> float:
    """Return ``value`` as a finite float, or raise Malformed naming ``key``."""
    if not is_number(value):
        raise Malformed(f"non-numeric value in field {key!r}: {type_name(value)} {value!r:.40}")
    if not math.isfinite(value):
        raise Malformed(f"non-finite value in field {key!r}: {value!r}")
    return float(value)


class VectorReader:
    """Reads number vectors, holding their length (and a table's columns) across tasks."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.length: int | None = None
        self.columns: tuple[str, ...] | None = None

    def vector(self, key: str, value: Any) -> list[float]:
        """Return a non-empty list of numbers of the same length as every earlier one."""
        if not isinstance(value, list) or not value:
            raise Malformed(
                f"{self.what} field {key!r} must be a non-empty list of numbers; "
                f"got {type_name(value)}"
            )
        vector = [number(f"{key}[{i}]", v) for i, v in enumerate(value)]
        if self.length is None:
            self.length = len(vector)
        elif len(vector) != self.length:
            raise Malformed(
                f"{self.what} field {key!r} has length {len(vector)}; expected {self.length}"
            )
        return vector

    def table(self, key: str, value: Mapping[str, Any]) -> list[float]:
        """Return a ``{column: number}`` dict's values in sorted column order.

        Label Studio's Postgres storage does not keep key order, so columns are sorted.
        """
        columns = tuple(sorted(map(str, value)))
        if self.columns is None:
            self.columns = columns
        elif columns != self.columns:
            missing = sorted(set(self.columns) - set(columns))
            extra = sorted(set(columns) - set(self.columns))
            raise Malformed(f"table field {key!r} has columns missing {missing} / extra {extra}")
        return [number(f"{key}.{c}", value[c]) for c in columns]
