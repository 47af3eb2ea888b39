"""Tokens for span projects (NER): a tokenizer, spans <-> token classes, and a token model.

* :func:`tokenize` splits a text into words and single punctuation marks, with their
  character offsets (an explicit, documented rule: ``\\w+`` runs, plus each other
  non-space character alone).
* :func:`token_classes` turns character spans into one class per token (0 is "O",
  outside every span; ``1 + c`` is entity class ``c``): a token is in a span when their
  characters overlap. A span whose ends fall inside a token is *snapped* outwards to the
  token's edges and counted as such (reported, not lost).
* :func:`decode` turns per-token classes back into spans (runs of one class).
* :class:`TokenModel`: a scikit-learn classifier of each token from its word, lower-case
  form, shape, affixes, neighbouring words and a gazetteer of the project's own spans
  (built out-of-fold within the training rows, so a span never vouches for itself).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

#: Words (``\w+``) and every other non-space character on its own.
TOKEN = re.compile(r"\w+|[^\w\s]")
#: Hashed feature space of the token model.
N_FEATURES = 2**20


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


def token_classes(offsets: np.ndarray, spans: Sequence[Span]) -> tuple[np.ndarray, int]:
    """One class per token (0: outside; 1 + label: in a span) and how many spans had to be
    snapped to token edges. Where spans overlap, the later one wins."""
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


def _shape(word: str) -> str:
    """Xxxx -> Xx, 1999 -> d, McDonald -> XxXx: character classes, runs collapsed."""
    out: list[str] = []
    for char in word:
        kind = "X" if char.isupper() else "x" if char.islower() else "d" if char.isdigit() else char
        if not out or out[-1] != kind:
            out.append(kind)
    return "".join(out)[:6]


def token_features(
    words: list[str], gazetteer: dict[str, frozenset[str]] | None = None
) -> list[list[str]]:
    """String features of each token of one text (hashed by the model)."""
    lower = [w.lower() for w in words]
    shapes = [_shape(w) for w in words]
    gaz = [sorted(gazetteer.get(w, ())) if gazetteer else [] for w in lower]
    n = len(words)
    rows = []
    for i, (word, low) in enumerate(zip(words, lower, strict=True)):
        f = [
            "b",
            f"w={low}",
            f"s={shapes[i]}",
            f"p2={low[:2]}",
            f"p3={low[:3]}",
            f"x2={low[-2:]}",
            f"x3={low[-3:]}",
        ]
        if word[:1].isupper():
            f.append("cap" if i else "cap0")
        for offset in (-2, -1, 1, 2):
            j = i + offset
            if 0 <= j < n:
                f.append(f"w{offset}={lower[j]}")
                f.append(f"s{offset}={shapes[j]}")
                if abs(offset) == 1:
                    f.extend(f"g{offset}={c}" for c in gaz[j])
            else:
                f.append(f"w{offset}=<edge>")
        if i:
            f.append(f"ww={lower[i - 1]}_{low}")
        f.extend(f"g={c}" for c in gaz[i])
        rows.append(f)
    return rows


def build_gazetteer(words: list[list[str]], classes: list[np.ndarray]) -> dict[str, frozenset[str]]:
    """Lower-case word -> the classes it was labelled with inside spans (as strings)."""
    found: dict[str, set[str]] = defaultdict(set)
    for text_words, text_classes in zip(words, classes, strict=True):
        for word, cls in zip(text_words, text_classes.tolist(), strict=True):
            if cls:
                found[word.lower()].add(str(cls))
    return {w: frozenset(c) for w, c in found.items()}


class TokenModel:
    """Classifies every token of a text: fit on texts and their spans, predict TokenProbs.

    ``num_classes`` counts "O" (column 0) and every entity class.
    """

    def __init__(self, num_classes: int, *, C: float = 4.0, seed: int = 0) -> None:
        self.num_classes = num_classes
        self.C = C
        self.seed = seed
        self.gazetteer: dict[str, frozenset[str]] = {}
        self.columns: np.ndarray = np.zeros(0, dtype=np.int64)
        self.clf: Any = None

    def _hasher(self) -> Any:
        from sklearn.feature_extraction import FeatureHasher

        return FeatureHasher(n_features=N_FEATURES, input_type="string", alternate_sign=False)

    def fit(self, texts: Sequence[str], spans: Sequence[Sequence[Span]]) -> TokenModel:
        """Fit on ``texts`` and their given spans."""
        from sklearn.linear_model import LogisticRegression

        words, classes = [], []
        for text, given in zip(texts, spans, strict=True):
            offsets = tokenize(text)
            words.append([text[a:b] for a, b in offsets.tolist()])
            classes.append(token_classes(offsets, given)[0])
        # The gazetteer of each half of the training texts comes from the other half.
        half = np.arange(len(texts)) % 2
        features: list[list[str]] = []
        for part in (0, 1):
            other = np.flatnonzero(half != part)
            gaz = build_gazetteer([words[i] for i in other], [classes[i] for i in other])
            for i in np.flatnonzero(half == part):
                features.extend(token_features(words[i], gaz))
        order = np.concatenate([np.flatnonzero(half == 0), np.flatnonzero(half == 1)])
        y = np.concatenate([classes[i] for i in order]) if len(order) else np.zeros(0)
        self.gazetteer = build_gazetteer(words, classes)
        X = self._hasher().transform(features).tocsc()
        # Only the hashed columns the training tokens use: L-BFGS's cost grows with the
        # number of coefficients, and a column no training token has stays 0 anyway.
        self.columns = np.flatnonzero(np.diff(X.indptr))
        X = X[:, self.columns].tocsr()
        if len(np.unique(y)) < 2:  # one class only: every token is it
            self.clf = _Constant(int(y[0]) if len(y) else 0)
            return self
        self.clf = LogisticRegression(C=self.C, max_iter=300, random_state=self.seed)
        self.clf.fit(X, y)
        return self

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """One :class:`TokenProbs` per text (an object array)."""
        out = np.empty(len(texts), dtype=object)
        all_features: list[list[str]] = []
        tokenized = []
        for text in texts:
            offsets = tokenize(text)
            words = [text[a:b] for a, b in offsets.tolist()]
            tokenized.append(offsets)
            all_features.extend(token_features(words, self.gazetteer))
        probs = np.zeros((len(all_features), self.num_classes))
        if all_features:
            X = self._hasher().transform(all_features).tocsc()[:, self.columns].tocsr()
            probs[:, self.clf.classes_.astype(np.int64)] = self.clf.predict_proba(X)
        start = 0
        for i, (text, offsets) in enumerate(zip(texts, tokenized, strict=True)):
            out[i] = TokenProbs(text, offsets, probs[start : start + len(offsets)])
            start += len(offsets)
        return out


class _Constant:
    """A classifier for training data of one class: that class, with certainty."""

    def __init__(self, cls: int) -> None:
        self.classes_ = np.array([cls])

    def predict_proba(self, X: Any) -> np.ndarray:
        return np.ones((X.shape[0], 1))
