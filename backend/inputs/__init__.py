"""Input types: what annotators look at. One module per type, one registration line each.

An input type owns everything about its input and nothing else: which label-config
objects it reads (:meth:`InputType.claim`), reading its value from task data
(:meth:`InputType.reader`), turning values into a feature matrix
(:meth:`InputType.featurize`), its default model (:meth:`InputType.default_model`, and
:meth:`InputType.adapt` for a model the user names), and how the report shows one value
(:meth:`InputType.cell`). The pipeline, the export and the report ask :func:`get` and never
name a concrete type.

=========  ================================================  ==========================
input      each value is                                     row of ``X``
=========  ================================================  ==========================
text       a string                                          the string (1-D object
                                                             array; the model's pipeline
                                                             vectorises it per fold)
image      a path, ``file://``, http(s) or Label Studio      ``3 * image_size**2`` RGB
           ``/data/...`` URL (bytes come from ``fetch``)     values in [0, 1]
numeric    a list of numbers (the columns)                   the numbers (float64)
embedding  a list of numbers (the vector)                    the numbers (float64)
=========  ================================================  ==========================

To add one: write a module with a subclass of :class:`InputType` decorated with
:func:`register`, and import it at the bottom of this file. Modules keep heavy imports
(scikit-learn, Pillow) inside their methods: the web process parses label configs with this
registry and should not pay for them.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple, TypeVar

import numpy as np

if TYPE_CHECKING:
    from backend.labelstudio.dataset import TaskKind
    from backend.settings import Settings

__all__ = ["Features", "InputType", "featurize", "get", "names", "ordered", "register"]

#: fetch(reference) -> bytes: reads a file or URL a task refers to (images).
Fetch = Callable[[str], bytes]
#: progress(done, total)
RowProgress = Callable[[int, int], None]


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


class InputType:
    """The contract of an input type (subclass it and :func:`register` the subclass)."""

    #: The registry name, stored in ``TaskKind.input_type``.
    name: ClassVar[str]
    #: When several types could read a label-config object, the lowest goes first.
    priority: ClassVar[int] = 100
    #: How SUPPORTED messages describe what this type reads.
    describes: ClassVar[str] = ""

    def claim(self, tag: str, value: str, attrs: Mapping[str, Any]) -> tuple[str, ...] | None:
        """Return the data fields this type reads from a config object, or None if not its own.

        ``tag`` is the object tag in lower case (``text``, ``image``, ...), ``value`` its
        ``value`` attribute (``"$text"``; :mod:`backend.inputs.fields` parses it), ``attrs``
        its attributes. Raise
        :class:`~backend.labelstudio.dataset.UnsupportedConfig` for an object that is this
        type's but set up in a way it cannot read.
        """
        return None

    def reader(self, data_keys: tuple[str, ...]) -> Callable[[dict[str, Any]], Any]:
        """Return a function reading one task's value from its data (it may keep state to
        hold values consistent across tasks); it raises ``Malformed`` saying what is wrong."""
        raise NotImplementedError

    def featurize(
        self,
        inputs: Sequence[Any],
        settings: Settings,
        *,
        fetch: Fetch | None = None,
        progress: RowProgress | None = None,
    ) -> Features:
        """Turn values into a feature matrix (see :class:`Features`)."""
        raise NotImplementedError

    def default_model(self, settings: Settings, *, n_samples: int) -> Any:
        """Return the measured default estimator for this input (unfitted)."""
        raise NotImplementedError

    def per_class_model(self, settings: Settings, *, n_samples: int) -> Any:
        """Return the measured default for one yes/no question per class (multi-label);
        the same as :meth:`default_model` unless a type measured better."""
        return self.default_model(settings, n_samples=n_samples)

    def adapt(self, estimator: Any, *, n_samples: int) -> Any:
        """Return a user-named ``estimator`` fed what suits it (e.g. text through TF-IDF)."""
        return estimator

    def cell(self, value: Any, fetch: Fetch | None) -> str:
        """Return the report's HTML for one value (escaped)."""
        return f"<code>{html.escape(str(value)[:400])}</code>"


REGISTRY: dict[str, InputType] = {}

T = TypeVar("T", bound=type[InputType])


def register(cls: T) -> T:
    """Class decorator: make ``cls`` the input type of its ``name`` (replacing any before)."""
    REGISTRY[cls.name] = cls()
    return cls


def get(name: str) -> InputType:
    """Return the input type registered as ``name``."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown input type {name!r}; known: {', '.join(names())}") from None


def names() -> list[str]:
    """Return the registered input types' names."""
    return sorted(REGISTRY)


def ordered() -> list[InputType]:
    """Return the registered input types, lowest priority value first."""
    return sorted(REGISTRY.values(), key=lambda t: (t.priority, t.name))


def featurize(
    kind: TaskKind,
    inputs: Sequence[Any],
    settings: Settings,
    *,
    fetch: Fetch | None = None,
    progress: RowProgress | None = None,
) -> Features:
    """Featurize ``inputs`` (one per row) with ``kind``'s input type; see :class:`Features`.

    ``fetch(ref) -> bytes`` reads references such as image URLs (the caller's, which knows
    the Label Studio URL and API key); ``progress(done, total)`` is called as rows are done.

    Raises
    ------
    ValueError
        For an unknown input type.
    ConnectionError, TimeoutError
        When no input at all could be fetched because the server failed (worth a retry).
    """
    return get(kind.input_type).featurize(inputs, settings, fetch=fetch, progress=progress)


# The built-in types register themselves on import (kept last: they import the above).
from backend.inputs import embedding, image, numeric, text  # noqa: E402, F401
