"""Tokens for span projects (NER): a tokenizer, the spans audited, spans <-> token classes.

* :func:`tokenize` splits a text into words and single punctuation marks, with their
  character offsets (an explicit, documented rule: ``\\w+`` runs, plus each other
  non-space character alone).
* :func:`usable_spans` sets apart the spans of an annotation the audit cannot use, with
  why (the rule): a span that ends past its text, and a span that overlaps another span of
  the same annotation. Of overlapping spans the one that starts first is kept (at equal
  starts the longer, then the first given); each later span overlapping a kept one is
  skipped. Tokens hold one class each, so nested or crossing spans cannot both be audited.
  Skipped spans are reported (``skipped_spans.csv``, summary.json's notes), never judged.
* :func:`token_classes` turns character spans into one class per token (0 is "O",
  outside every span; ``1 + c`` is entity class ``c``): a token is in a span when their
  characters overlap. A span whose ends fall inside a token is *snapped* outwards to the
  token's edges and counted as such (reported, not lost).
* :func:`decode` turns per-token classes back into spans (runs of one class).

The token model is :mod:`backend.tasktypes.token_model`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: Words (``\w+``) and every other non-space character on its own.
TOKEN = re.compile(r"\w+|[^\w\s]")


@dataclass(frozen=True)
class Span:
    """A labelled character range ``[start, end)`` of a text; ``label`` indexes the classes."""

    start: int
    end: int
    label: int


@dataclass(frozen=True)
class Suggested:
    """A span the model suggests: its range, class, mean probability and text."""

    start: int
    end: int
    label: int
    score: float
    text: str


@dataclass
class TokenProbs:
    """One text's tokens (``offsets``: (T, 2) character ranges) and their class
    probabilities (``probs``: (T, 1 + K), column 0 is "O")."""

    text: str
    offsets: np.ndarray
    probs: np.ndarray


def tokenize(text: str) -> np.ndarray:
    """(T, 2) start and end offsets of the tokens of ``text``."""
    found = [(m.start(), m.end()) for m in TOKEN.finditer(text)]
    return np.asarray(found, dtype=np.int64).reshape(-1, 2)


#: Why a span is not audited (:func:`usable_spans`).
PAST_THE_END = "ends past the text"
OVERLAPS = "overlaps another span"


def usable_spans(
    text: str, spans: Sequence[Span]
) -> tuple[tuple[Span, ...], list[tuple[Span, str]]]:
    """The spans the audit uses (by start) and the skipped ones with why (module docstring)."""
    kept: list[Span] = []
    skipped: list[tuple[Span, str]] = []
    order = sorted(range(len(spans)), key=lambda i: (spans[i].start, -spans[i].end, i))
    for span in (spans[i] for i in order):
        if span.end > len(text):
            skipped.append((span, f"{PAST_THE_END} ({len(text)} characters)"))
            continue
        other = next((k for k in kept if k.start < span.end and span.start < k.end), None)
        if other is not None:
            skipped.append((span, f"{OVERLAPS} ({other.start}-{other.end}, kept)"))
            continue
        kept.append(span)
    return tuple(kept), skipped


def token_classes(offsets: np.ndarray, spans: Sequence[Span]) -> tuple[np.ndarray, int]:
    """One class per token (0: outside; 1 + label: in a span) and how many spans had to be
    snapped to token edges. Spans should not overlap (:func:`usable_spans`); if they do,
    the later one wins."""
    classes = np.zeros(len(offsets), dtype=np.int64)
    snapped = 0
    for span in spans:
        inside = (offsets[:, 0] < span.end) & (offsets[:, 1] > span.start)
        if not inside.any():
            snapped += 1  # a span over whitespace only: nothing to label
            continue
        first, last = offsets[inside][0], offsets[inside][-1]
        if first[0] != span.start or last[1] != span.end:
            snapped += 1
        classes[inside] = 1 + span.label
    return classes, snapped


def token_range(offsets: np.ndarray, span: Span) -> tuple[int, int]:
    """The tokens ``[a, b)`` a span covers (``a == b`` when it covers none)."""
    inside = np.flatnonzero((offsets[:, 0] < span.end) & (offsets[:, 1] > span.start))
    return (int(inside[0]), int(inside[-1]) + 1) if len(inside) else (0, 0)


def decode(text: str, offsets: np.ndarray, probs: np.ndarray) -> tuple[Suggested, ...]:
    """The spans of the most probable class of each token: runs of one entity class."""
    best = probs.argmax(axis=1) if len(probs) else np.zeros(0, dtype=np.int64)
    spans = []
    t = 0
    while t < len(best):
        cls = int(best[t])
        if cls == 0:
            t += 1
            continue
        end = t
        while end + 1 < len(best) and best[end + 1] == cls:
            end += 1
        start_char, end_char = int(offsets[t, 0]), int(offsets[end, 1])
        score = float(probs[t : end + 1, cls].mean())
        spans.append(Suggested(start_char, end_char, cls - 1, score, text[start_char:end_char]))
        t = end + 1
    return tuple(spans)
