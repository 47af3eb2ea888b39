"""Embedding inputs: a precomputed vector in a field named ``embedding``, ``embeddings``,
``vector`` or ``*_embedding``/``*_vector``/``*_emb`` (the same length in every task).
Default model: StandardScaler -> RBF SVC with sigmoid calibration (logistic regression past
``SVC_MAX_SAMPLES`` rows), chosen by detection F1 (``bench/detection.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from backend.inputs import register
from backend.inputs.fields import VectorReader, bare_field, present
from backend.inputs.vectors import VectorInput

if TYPE_CHECKING:
    from backend.settings import Settings

#: A data field with one of these names (or suffixes) holds a precomputed embedding.
EMBEDDING_FIELD_NAMES = ("embedding", "embeddings", "vector")
EMBEDDING_FIELD_SUFFIXES = ("_embedding", "_embeddings", "_vector", "_emb")
#: Object tags whose value may name an embedding field.
OBJECT_TAGS = frozenset({"text", "hypertext", "image", "table"})


def is_embedding_field(name: str) -> bool:
    """Return whether a data field's name marks it as holding an embedding vector."""
    lowered = name.lower()
    return lowered in EMBEDDING_FIELD_NAMES or lowered.endswith(EMBEDDING_FIELD_SUFFIXES)


@register
class Embedding(VectorInput):
    """A vector of numbers from one field whose name says it is an embedding."""

    name = "embedding"
    priority = 0
    describes = (
        "an object reading an embedding field "
        f"({', '.join(EMBEDDING_FIELD_NAMES)} or *{', *'.join(EMBEDDING_FIELD_SUFFIXES)})"
    )

    def claim(self, tag: str, value: str, attrs: Mapping[str, Any]) -> tuple[str, ...] | None:
        field = bare_field(value)
        if tag in OBJECT_TAGS and field is not None and is_embedding_field(field):
            return (field,)
        return None

    def reader(self, data_keys: tuple[str, ...]) -> Callable[[dict[str, Any]], Any]:
        vectors = VectorReader("embedding")

        def read(data: dict[str, Any]) -> list[float]:
            present(data, data_keys)
            (key,) = data_keys
            return vectors.vector(key, data[key])

        return read

    def default_model(self, settings: Settings, *, n_samples: int) -> Any:
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        from backend.inputs.estimators import LR_MAX_ITER, SVC_MAX_SAMPLES, CalibratedSVC

        if n_samples > SVC_MAX_SAMPLES:
            return make_pipeline(StandardScaler(), LogisticRegression(max_iter=LR_MAX_ITER))
        return make_pipeline(StandardScaler(), CalibratedSVC())
