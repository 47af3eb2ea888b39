"""From task inputs to a matrix a classifier can learn from, and the classifier itself.

:func:`featurize` turns the raw inputs of an :class:`~backend.labelstudio.dataset.AuditDataset`
into ``X``; :func:`make_model` returns the estimator cross-validation fits on it. What
``X`` holds depends on the input type:

=========  ================================================  ==========================
input      each input is                                     row of ``X``
=========  ================================================  ==========================
text       a string                                          the string (1-D object
                                                             array; the model's pipeline
                                                             vectorises it per fold)
image      a path, ``file://``, http(s) or Label Studio      ``3 * image_size**2`` RGB
           ``/data/...`` URL (bytes come from ``fetch``)     values in [0, 1]
numeric    a list of numbers (the columns)                   the numbers (float64)
embedding  a list of numbers (the vector)                    the numbers (float64)
=========  ================================================  ==========================
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from backend.features.image import featurize_images
from backend.features.models import default_model, make_model
from backend.features.tabular import featurize_vectors
from backend.features.text import featurize_text
from backend.labelstudio.dataset import TaskKind
from backend.settings import Settings

__all__ = ["Features", "default_model", "featurize", "make_model"]

#: The featurizers ``settings.featurizer`` may name.
FEATURIZERS = ("auto",)


class Features(NamedTuple):
    """What :func:`featurize` returns; unpacks as ``X, ok, failures``.

    ``X`` has a row for *every* input (indexable by an integer array: ``X[rows]``);
    ``ok[i]`` says whether row i could be featurized, and ``failures`` lists
    ``(row, reason)`` for each row that could not (its row of ``X`` is a placeholder:
    ``""`` or zeros). Callers audit ``X[ok]`` and report the failures.
    """

    X: np.ndarray
    ok: np.ndarray
    failures: list[tuple[int, str]]


def featurize(
    kind: TaskKind,
    inputs: Sequence[Any],
    settings: Settings,
    *,
    fetch: Callable[[str], bytes] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Features:
    """Featurize ``inputs`` (one per row) for ``kind``'s input type; see :class:`Features`.

    ``fetch(ref) -> bytes`` reads image references (the caller's, which knows the Label
    Studio URL and API key); without it only local paths and ``file://`` URLs can be read.
    ``progress(done, total)`` is called as rows are done.

    Raises
    ------
    ValueError
        For an unknown ``settings.featurizer`` or input type.
    ConnectionError, TimeoutError
        When no image at all could be fetched because the server failed (worth a retry).
    """
    if settings.featurizer not in FEATURIZERS:
        raise ValueError(
            f"setting featurizer must be one of {list(FEATURIZERS)}; got {settings.featurizer!r}"
        )
    total = len(inputs)
    input_type = kind.input_type
    if input_type == "image":
        return Features(
            *featurize_images(inputs, size=settings.image_size, fetch=fetch, progress=progress)
        )
    if input_type == "text":
        result = featurize_text(inputs)
    elif input_type in {"numeric", "embedding"}:
        result = featurize_vectors(inputs, what=input_type)
    else:
        raise ValueError(f"unknown input type {input_type!r} of control {kind.control!r}")
    if progress is not None:
        progress(total, total)
    return Features(*result)
