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


@pytest.fixture
def make_problem():
    """The :func:`noisy_problem` factory."""
    return noisy_problem
