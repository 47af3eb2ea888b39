"""Numeric inputs: ``<Table value="$item"/>`` over a ``{column: number}`` dict, or a
``<Text>``/``<HyperText>`` whose value reads several ``$fields``. Default model: ExtraTrees
(100 trees, min_samples_leaf=2), chosen by detection F1 (``bench/detection.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from backend.inputs import register
from backend.inputs.fields import VectorReader, bare_field, field_refs, number, present
from backend.inputs.vectors import VectorInput

if TYPE_CHECKING:
    from backend.settings import Settings

#: Trees of the default model; more gave no better detection on the tuning sets.
TREES = 100


@register
class Numeric(VectorInput):
    """Numbers: a table dict, a list, or several numeric fields, as one row of columns."""

    name = "numeric"
    priority = 10
    describes = "<Table> (numeric dict) or a <Text>/<HyperText> reading several $fields"

    def claim(self, tag: str, value: str, attrs: Mapping[str, Any]) -> tuple[str, ...] | None:
        field = bare_field(value)
        if tag == "table" and field is not None:
            return (field,)
        fields = field_refs(value)
        if tag in {"text", "hypertext"} and field is None and len(fields) >= 2:
            return fields
        return None

    def reader(self, data_keys: tuple[str, ...]) -> Callable[[dict[str, Any]], Any]:
        vectors = VectorReader("numeric")

        def read(data: dict[str, Any]) -> list[float]:
            present(data, data_keys)
            if len(data_keys) > 1:
                return [number(key, data[key]) for key in data_keys]
            (key,) = data_keys
            value = data[key]
            if isinstance(value, dict):
                return vectors.table(key, value)
            if isinstance(value, list):
                return vectors.vector(key, value)
            return [number(key, value)]

        return read

    def default_model(self, settings: Settings, *, n_samples: int) -> Any:
        from sklearn.ensemble import ExtraTreesClassifier

        return ExtraTreesClassifier(
            n_estimators=TREES, min_samples_leaf=2, random_state=settings.seed
        )

    def adapt(self, estimator: Any, *, n_samples: int) -> Any:
        from sklearn.pipeline import Pipeline
        from sklearn.preprocessing import StandardScaler

        return Pipeline([("scale", StandardScaler()), ("model", estimator)])
