"""Shared data generators for the core tests (seeded, built inside tests, never at import)."""

from __future__ import annotations

import numpy as np
import pytest


def noisy_problem(
    seed: int,
    n: int,
    k: int,
    *,
    noise: float = 0.15,
    concentration: float = 2.5,
    float32: bool = False,
    round_to: int | None = None,
    missing: tuple[int, ...] = (),
    tiny: tuple[int, ...] = (),
    imbalance: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(labels, pred_probs)``: a classifier's view of a dataset with flipped labels.

    True classes (optionally imbalanced) get logits boosted by ``concentration``; a
    fraction ``noise`` of given labels is replaced at random. ``missing`` classes are never
    given, ``tiny`` classes are given exactly once, ``round_to`` rounds probabilities to
    create ties.
    """
    rng = np.random.default_rng(seed)
    weights = np.exp(-imbalance * np.arange(k))
    true = rng.choice(k, size=n, p=weights / weights.sum())
    logits = rng.normal(size=(n, k))
    logits[np.arange(n), true] += concentration
    probs = np.exp(logits)
    probs /= probs.sum(axis=1, keepdims=True)
    labels = np.where(rng.random(n) < noise, rng.integers(0, k, n), true)
    present = [c for c in range(k) if c not in missing and c not in tiny]
    for c in (*missing, *tiny):
        labels[labels == c] = rng.choice(present, size=int((labels == c).sum()))
    for i, c in enumerate(tiny):
        labels[i] = c
    if round_to is not None:
        probs = np.round(probs, round_to)
        probs /= probs.sum(axis=1, keepdims=True)
    if float32:
        probs = probs.astype(np.float32)
        probs /= probs.sum(axis=1, keepdims=True)
    return labels, probs


def noisy_multilabel_problem(
    seed: int,
    n: int,
    k: int,
    *,
    noise: float = 0.1,
    sharpness: float = 2.0,
    empty: float = 0.1,
    float32: bool = False,
    round_to: int | None = None,
    missing: tuple[int, ...] = (),
    always: tuple[int, ...] = (),
    tiny: tuple[int, ...] = (),
) -> tuple[list[list[int]], np.ndarray]:
    """Return ``(labels, pred_probs)`` for multi-label data with flipped class memberships.

    Each class is truly present with its own prior; a model's per-class probability is a
    sigmoid of ``sharpness`` toward the truth plus noise. Each given membership is flipped
    with probability ``noise``, a fraction ``empty`` of examples is given no class at all,
    ``missing`` classes are never given, ``always`` classes are given to every example,
    ``tiny`` classes to exactly one, and ``round_to`` rounds probabilities (ties, 0.5s).
    """
    rng = np.random.default_rng(seed)
    prior = rng.uniform(0.05, 0.5, size=k)
    true = rng.random((n, k)) < prior
    probs = 1 / (1 + np.exp(-(rng.normal(size=(n, k)) + sharpness * (2 * true - 1))))
    given = np.where(rng.random((n, k)) < noise, ~true, true)
    given[rng.random(n) < empty] = False
    given[:, list(missing)] = False
    given[:, list(always)] = True
    for i, c in enumerate(tiny):
        given[:, c] = False
        given[i, c] = True
    if round_to is not None:
        probs = np.round(probs, round_to)
    if float32:
        probs = probs.astype(np.float32)
    return [np.flatnonzero(row).tolist() for row in given], probs


def noisy_multiannotator_problem(
    seed: int,
    n: int,
    m: int,
    k: int,
    *,
    coverage: float = 0.35,
    accuracy: tuple[float, float] = (0.55, 0.95),
    concentration: float = 2.0,
    max_per_row: int | None = None,
    single: float = 0.0,
    once: int = 0,
    alone: int = 0,
    missing: tuple[int, ...] = (),
    rare: tuple[int, ...] = (),
    round_to: int | None = None,
    float32: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(labels_multiannotator, pred_probs)``: M annotators of varying accuracy label
    a random share ``coverage`` of N examples (NaN elsewhere).

    At most ``max_per_row`` annotators label an example; a fraction ``single`` of examples
    keeps one annotation; the last ``once`` annotators label exactly one example, the
    ``alone`` annotators before them only examples nobody else labels; classes in
    ``missing`` are never chosen (nor true), classes in ``rare`` twice, by mistake, on
    examples with three labels or more;
    ``round_to`` rounds probabilities (ties). Every example and every annotator has a label.
    """
    rng = np.random.default_rng(seed)
    present = np.array([c for c in range(k) if c not in missing])
    true = rng.choice(np.array([c for c in present if c not in rare]), size=n)
    given = rng.random((n, m)) < coverage
    given[:, m - once :] = False
    if max_per_row is not None:
        for row in np.flatnonzero(given.sum(axis=1) > max_per_row):
            cols = np.flatnonzero(given[row])
            given[row, rng.choice(cols, len(cols) - max_per_row, replace=False)] = False
    for row in np.flatnonzero(rng.random(n) < single):
        cols = np.flatnonzero(given[row])
        given[row] = False
        given[row, cols[0] if len(cols) else rng.integers(0, m - once)] = True
    regular = m - once - alone
    for col in range(regular, m - once):
        rows = rng.choice(n, size=3, replace=False)
        given[:, col] = False
        given[rows] = False
        given[rows, col] = True
    for row in np.flatnonzero(~given.any(axis=1)):
        given[row, rng.integers(0, regular)] = True
    for col in range(m - once, m):
        given[rng.integers(0, n), col] = True
    for col in np.flatnonzero(~given.any(axis=0)):
        given[rng.integers(0, n), col] = True
    common = np.array([c for c in present if c not in rare])
    correct = rng.random((n, m)) < rng.uniform(*accuracy, size=m)
    labels = np.where(correct, true[:, None], rng.choice(common, size=(n, m))).astype(float)
    crowded = np.argwhere(given & (given.sum(axis=1) >= 3)[:, None])
    for c in rare:
        for row, col in crowded[rng.permutation(len(crowded))[:2]]:
            labels[row, col] = c
    labels[~given] = np.nan
    logits = rng.normal(size=(n, k))
    logits[np.arange(n), true] += concentration
    probs = np.exp(logits)
    probs /= probs.sum(axis=1, keepdims=True)
    if round_to is not None:
        probs = np.round(probs, round_to)
        probs /= probs.sum(axis=1, keepdims=True)
    if float32:
        probs = probs.astype(np.float32)
        probs /= probs.sum(axis=1, keepdims=True)
    return labels, probs


@pytest.fixture
def make_problem():
    """The :func:`noisy_problem` factory."""
    return noisy_problem


#: Words for generated sentences: repeats, letter-case twins, words inside other words,
#: punctuation runs, brackets, apostrophes, dashes and regex metacharacters, so the text
#: summaries meet what real tokens hold.
TOKEN_WORDS = (
    "the", "The", "a", "an", "A", "Paris", "paris", "New", "York", "Yorker", "John",
    "'s", "n't", "(", ")", "-", "--", ".", ",", "!?", "...", "$", "5", "U.S.", "C++",
    "e-mail", "[x]", "*", "?", "co-op", "I", "if", "If", "ab", "b", "Ab",
)  # fmt: skip


def noisy_token_problem(
    seed: int,
    n_sentences: int,
    k: int,
    *,
    max_len: int = 25,
    noise: float = 0.1,
    concentration: float = 2.5,
    empty: float = 0.0,
    one_token: float = 0.1,
    missing: tuple[int, ...] = (),
    round_to: int | None = None,
    float32: bool = False,
    other: float = 0.6,
) -> tuple[list[list[int]], list[np.ndarray], list[list[str]]]:
    """Return ``(labels, pred_probs, tokens)`` of a token classification dataset.

    Sentences have 1..max_len tokens (a fraction ``one_token`` exactly one, ``empty``
    none); a fraction ``other`` of true labels is class 0 (NER's "O"), the rest spread
    over the other classes; a model's logits favour the true class by ``concentration``;
    a fraction ``noise`` of given labels is redrawn at random. ``missing`` classes are
    never given, ``round_to`` rounds probabilities (ties), ``float32`` stores them so.
    """
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, max_len + 1, n_sentences)
    lengths[rng.random(n_sentences) < one_token] = 1
    lengths[rng.random(n_sentences) < empty] = 0
    total = int(lengths.sum())
    rest = rng.integers(1, k, total) if k > 1 else np.zeros(total, dtype=int)
    true = np.where(rng.random(total) < other, 0, rest)
    logits = rng.normal(size=(total, k))
    logits[np.arange(total), true] += concentration
    probs = np.exp(logits)
    probs /= probs.sum(axis=1, keepdims=True)
    given = np.where(rng.random(total) < noise, rng.integers(0, k, total), true)
    present = [c for c in range(k) if c not in missing]
    for c in missing:
        given[given == c] = rng.choice(present, size=int((given == c).sum()))
    if round_to is not None:
        probs = np.round(probs, round_to)
        probs /= probs.sum(axis=1, keepdims=True)
    if float32:
        probs = probs.astype(np.float32)
        probs /= probs.sum(axis=1, keepdims=True)
    words = rng.choice(len(TOKEN_WORDS), size=total)
    bounds = np.cumsum(lengths)[:-1]
    labels = [part.tolist() for part in np.split(given, bounds)]
    pred_probs = [np.ascontiguousarray(part) for part in np.split(probs, bounds)]
    tokens = [[TOKEN_WORDS[w] for w in part] for part in np.split(words, bounds)]
    return labels, pred_probs, tokens
