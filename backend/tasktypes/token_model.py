"""The token model of span projects: token features built once, a linear classifier per fold.

* :class:`TokenFeatures` (a scikit-learn transformer that learns nothing from labels):
  each text -> :class:`TokenRows`, its tokens (``backend.tasktypes.tokens.tokenize``) and
  their hashed string features (:func:`token_features`: the word, lower-case form, shape,
  affixes, character n-grams, the words and shapes within CONTEXT tokens either side, the
  word pair, and for the first token of a name the wording of its clause:
  :func:`clause_features`). The pipeline (``backend.pipeline.prepare``) builds them once
  for every audited text; each fold then only stacks rows and fits.
* :class:`TokenModel`: a ``LogisticRegression`` over the training tokens' classes ("O" or
  an entity type), fitted with BLAS on one thread (on a shared machine OpenBLAS's threads
  made L-BFGS 5-20x slower); ``predict_proba`` gives one
  :class:`~backend.tasktypes.tokens.TokenProbs` per text.

No gazetteer of the project's own spans: measured on ``bench/detection_ner.py``'s tuning
seeds it made the model surer of the wrong type for names that are also another type
("Lincoln", "Chase"), and it made the features depend on the fold.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from backend.tasktypes.tokens import Span, TokenProbs, token_classes, tokenize, usable_spans

#: Hashed feature space.
N_FEATURES = 2**20
#: Neighbouring tokens whose word and shape are features, on either side.
CONTEXT = 2
#: Character n-grams of the word (of "<word>", lower-case) used as features.
CHAR_NGRAMS: tuple[int, ...] = (3,)
#: Inverse regularisation strength of the logistic regression.
C = 1.0
#: L-BFGS iterations.
MAX_ITER = 300
#: Tokens of the wording between two name runs kept in a clause feature, nearest first.
CLAUSE_WORDS = 6
#: Stands for a name run inside a clause feature's wording.
RUN = "§"
#: A hashed feature column is used when at least this many training tokens have it (one
#: token's own word pair or rare n-gram says little and costs L-BFGS a coefficient per class).
MIN_TOKENS = 2


@dataclass
class TokenRows:
    """One text, tokenized (``offsets``: (T, 2)), and the hashed feature columns of each
    token: token ``t`` has columns ``indices[indptr[t]:indptr[t + 1]]``."""

    text: str
    offsets: np.ndarray
    indices: np.ndarray
    indptr: np.ndarray

    def __len__(self) -> int:
        return len(self.offsets)


def _shape(word: str) -> str:
    """Xxxx -> Xx, 1999 -> d, McDonald -> XxXx: character classes, runs collapsed."""
    out: list[str] = []
    for char in word:
        kind = "X" if char.isupper() else "x" if char.islower() else "d" if char.isdigit() else char
        if not out or out[-1] != kind:
            out.append(kind)
    return "".join(out)[:6]


def token_features(
    words: list[str], *, context: int = CONTEXT, char_ngrams: Sequence[int] = CHAR_NGRAMS
) -> list[list[str]]:
    """String features of each token of one text (hashed by :class:`TokenFeatures`)."""
    lower = [w.lower() for w in words]
    shapes = [_shape(w) for w in words]
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
        padded = f"<{low}>"
        for k in char_ngrams:
            f.extend(f"c{k}={padded[j : j + k]}" for j in range(len(padded) - k + 1))
        for offset in range(-context, context + 1):
            j = i + offset
            if offset == 0:
                continue
            if 0 <= j < n:
                f.append(f"w{offset}={lower[j]}")
                f.append(f"s{offset}={shapes[j]}")
            else:
                f.append(f"w{offset}=<edge>")
        if i:
            f.append(f"ww={lower[i - 1]}_{low}")
        rows.append(f)
    for start, clause in clause_features(words, lower):
        rows[start].extend(clause)
    return rows


def _name_like(word: str) -> bool:
    return word[:1].isupper() or word[:1].isdigit()


def _name_runs(words: list[str]) -> list[tuple[int, int]]:
    """The maximal runs [start, end) of tokens that start with a capital or a digit."""
    runs: list[tuple[int, int]] = []
    for i, word in enumerate(words):
        if not _name_like(word):
            continue
        if runs and runs[-1][1] == i:
            runs[-1] = (runs[-1][0], i + 1)
        else:
            runs.append((i, i + 1))
    return runs


def clause_features(words: list[str], lower: list[str]) -> list[tuple[int, list[str]]]:
    """The clause features of each name run of one text's ``words`` (:func:`_name_runs`;
    ``lower``: the words lower-cased), as (the run's first token, its features), given to
    that token: the wording between the run and the run before it (``gl``;
    at most CLAUSE_WORDS tokens, nearest first kept, ``<s>`` at the text's start) and
    between it and the run after it (``gr``; ``</s>`` at the end), and the same two reaching
    across one more run (``gl2``, ``gr2``; RUN stands for that run).

    A name's type is told by its clause more than by its nearest words: in "Jordan and
    Egypt signed a trade agreement" and "Jordan and Smith founded a firm" the words either
    side of "Jordan" are the same. Only the first token has them, so a wording is counted
    once per run: one that no two runs share is dropped with the other rare columns
    (MIN_TOKENS), and texts whose wording never repeats lose nothing but the hashing (on
    every token of a run, a long name's unique wording survived and cost free sentences
    18% more CPU at 2,000 tasks; bench/RESULTS.md, issue 13's sixth round).
    """
    runs = _name_runs(words)
    if not runs:
        return []
    # gaps[k]: the tokens between run k - 1 and run k (gaps[0] from the start, the last to
    # the end of the text).
    edges = [0, *(i for run in runs for i in run), len(words)]
    gaps = [lower[edges[2 * k] : edges[2 * k + 1]] for k in range(len(runs) + 1)]
    gaps[0] = ["<s>", *gaps[0]]
    gaps[-1] = [*gaps[-1], "</s>"]
    out = []
    for r in range(len(runs)):
        before = " ".join(gaps[r][-CLAUSE_WORDS:])
        after = " ".join(gaps[r + 1][:CLAUSE_WORDS])
        clause = [f"gl={before}", f"gr={after}"]
        if r > 0:
            clause.append(f"gl2={' '.join(gaps[r - 1][-CLAUSE_WORDS:])} {RUN} {before}")
        if r + 1 < len(runs):
            clause.append(f"gr2={after} {RUN} {' '.join(gaps[r + 2][:CLAUSE_WORDS])}")
        out.append((runs[r][0], clause))
    return out


class TokenFeatures(TransformerMixin, BaseEstimator):
    """Texts -> :class:`TokenRows` (an object array); learns nothing (``fit`` is a no-op)."""

    def __init__(
        self, *, context: int = CONTEXT, char_ngrams: tuple[int, ...] = CHAR_NGRAMS
    ) -> None:
        self.context = context
        self.char_ngrams = char_ngrams

    def fit(self, X: Any, y: Any = None) -> TokenFeatures:
        return self

    def __sklearn_is_fitted__(self) -> bool:
        return True  # nothing to learn

    def transform(self, X: Sequence[Any]) -> np.ndarray:
        """One :class:`TokenRows` per text."""
        from sklearn.feature_extraction import FeatureHasher

        texts = [str(text) for text in X]
        tokenized = [tokenize(text) for text in texts]
        features: list[list[str]] = []
        for text, offsets in zip(texts, tokenized, strict=True):
            words = [text[a:b] for a, b in offsets.tolist()]
            features.extend(
                token_features(words, context=self.context, char_ngrams=self.char_ngrams)
            )
        out = np.empty(len(texts), dtype=object)
        if features:
            hasher = FeatureHasher(n_features=N_FEATURES, input_type="string", alternate_sign=False)
            hashed = hasher.transform(features).tocsr()
            indptr, indices = hashed.indptr, hashed.indices
        else:
            indptr, indices = np.zeros(1, np.int64), np.zeros(0, np.int32)
        start = 0
        for i, (text, offsets) in enumerate(zip(texts, tokenized, strict=True)):
            end = start + len(offsets)
            a, b = indptr[start], indptr[end]
            out[i] = TokenRows(
                text, offsets, indices[a:b].copy(), (indptr[start : end + 1] - a).astype(np.int64)
            )
            start = end
        return out


def _rows_of(X: Sequence[Any], features: TokenFeatures) -> list[TokenRows]:
    """``X`` as TokenRows (texts are featurized here)."""
    items = list(X)
    if all(isinstance(x, TokenRows) for x in items):
        return items
    return list(features.transform([x.text if isinstance(x, TokenRows) else x for x in items]))


def _stack(rows: Sequence[TokenRows]) -> tuple[np.ndarray, np.ndarray]:
    """All tokens' hashed columns and their row pointers, one row per token."""
    if not rows:
        return np.zeros(0, np.int32), np.zeros(1, np.int64)
    indices = np.concatenate([r.indices for r in rows])
    lengths = np.concatenate([np.diff(r.indptr) for r in rows])
    return indices, np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)


class TokenModel:
    """Classifies every token of a text: fit on texts (or :class:`TokenRows`) and their
    spans, predict TokenProbs. ``num_classes`` counts "O" (column 0) and every entity class.
    """

    def __init__(
        self, num_classes: int, *, C: float = C, min_tokens: int = MIN_TOKENS, seed: int = 0
    ) -> None:
        self.num_classes = num_classes
        self.C = C
        self.min_tokens = min_tokens
        self.seed = seed
        self.features = TokenFeatures()
        self.columns: np.ndarray = np.zeros(0, dtype=np.int64)
        self.clf: Any = None

    def _matrix(self, rows: Sequence[TokenRows]) -> Any:
        """The tokens of ``rows`` over the training columns (columns never trained dropped)."""
        from scipy.sparse import csr_matrix

        indices, indptr = _stack(rows)
        if len(self.columns) == 0:
            return csr_matrix((len(indptr) - 1, 1))
        at = np.minimum(np.searchsorted(self.columns, indices), len(self.columns) - 1)
        known = self.columns[at] == indices
        kept = np.concatenate([[0], np.cumsum(known)]).astype(np.int64)
        shape = (len(indptr) - 1, len(self.columns))
        return csr_matrix((np.ones(int(kept[-1])), at[known], kept[indptr]), shape=shape)

    def fit(self, X: Sequence[Any], spans: Sequence[Sequence[Span]]) -> TokenModel:
        """Fit on texts (or TokenRows) and their given spans."""
        from sklearn.linear_model import LogisticRegression
        from threadpoolctl import threadpool_limits

        rows = _rows_of(X, self.features)
        classes = [
            token_classes(r.offsets, usable_spans(r.text, given)[0])[0]
            for r, given in zip(rows, spans, strict=True)
        ]
        y = np.concatenate(classes) if classes else np.zeros(0, dtype=np.int64)
        indices, _ = _stack(rows)
        # Only the hashed columns MIN_TOKENS training tokens use: L-BFGS's cost grows with
        # the number of coefficients, and a column no training token has stays 0 anyway.
        columns, counts = np.unique(indices, return_counts=True)
        self.columns = columns[counts >= min(self.min_tokens, int(counts.max(initial=1)))]
        if len(np.unique(y)) < 2:  # one class only: every token is it
            self.clf = _Constant(int(y[0]) if len(y) else 0)
            return self
        X_train = self._matrix(rows)
        self.clf = LogisticRegression(C=self.C, max_iter=MAX_ITER, random_state=self.seed)
        with threadpool_limits(limits=1, user_api="blas"):
            self.clf.fit(X_train, y)
        return self

    def predict_proba(self, X: Sequence[Any]) -> np.ndarray:
        """One :class:`TokenProbs` per text (or TokenRows): an object array."""
        rows = _rows_of(X, self.features)
        out = np.empty(len(rows), dtype=object)
        total = sum(len(r) for r in rows)
        probs = np.zeros((total, self.num_classes))
        if total:
            columns = self.clf.classes_.astype(np.int64)
            probs[:, columns] = self.clf.predict_proba(self._matrix(rows))
        start = 0
        for i, r in enumerate(rows):
            out[i] = TokenProbs(r.text, r.offsets, probs[start : start + len(r)])
            start += len(r)
        return out


class _Constant:
    """A classifier for training data of one class: that class, with certainty."""

    def __init__(self, cls: int) -> None:
        self.classes_ = np.array([cls])

    def predict_proba(self, X: Any) -> np.ndarray:
        return np.ones((X.shape[0], 1))
