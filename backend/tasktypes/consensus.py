"""A calibrated posterior over a task's classes from a model and its annotators.

CROWDLAB's posterior (``core.multiannotator``) ranks well but is no probability: a task
three good annotators agree on scores ~0.8, because each annotator enters as a weighted
*average* of likelihood vectors. For "the probability this label is wrong" we combine
the same evidence as independent evidence should be combined (naive Bayes, the one-coin
Dawid-Skene model):

    P(true = k | task) ∝ p_model(k) ** (1 / T) · Π_j [a_j if label_j = k else (1 - a_j) / (K - 1)]

* ``p_model`` are the out-of-fold probabilities (the model never saw the task), sharpened
  or softened by one temperature ``T`` fitted so they best predict the consensus labels
  (:func:`backend.tasktypes.calibration.fit_temperature`, maximum likelihood; a
  cross-validated linear model is usually under-confident);
* ``a_j`` is annotator j's accuracy, estimated as their agreement with the consensus
  (Laplace-smoothed, so one annotation says little), clipped to (1/K, 0.99].

bench/multiannotator.py measures its calibration (expected calibration error) beside
CROWDLAB's.
"""

from __future__ import annotations

import numpy as np

from backend.tasktypes.calibration import PROBABILITY_FLOOR

#: Estimated annotator accuracies stay at most this (no annotator is taken as infallible).
MAX_ACCURACY = 0.99


def annotator_accuracy(
    labels: np.ndarray,
    consensus: np.ndarray,
    annotator: np.ndarray,
    num_classes: int,
    *,
    annotators: int | None = None,
) -> np.ndarray:
    """Each annotator's smoothed agreement with the consensus: (agree + 1) / (n + 2), over
    the annotations given (an annotator with none gets 1/2, clipped)."""
    size = annotators if annotators is not None else int(annotator.max(initial=-1)) + 1
    count = np.bincount(annotator, minlength=size)
    agree = np.bincount(annotator, weights=labels == consensus, minlength=size)
    accuracy = (agree + 1.0) / (count + 2.0)
    return np.clip(accuracy, 1.0 / num_classes + 1e-3, MAX_ACCURACY)


def posterior(
    probs: np.ndarray,
    task: np.ndarray,
    labels: np.ndarray,
    accuracy: np.ndarray,
    *,
    temperature: float,
) -> np.ndarray:
    """(T, K) posterior of every task from its model ``probs`` (T, K) and its annotations:
    row r of ``task``/``labels``/``accuracy`` is annotation r's task, label and annotator's
    accuracy."""
    num_classes = probs.shape[1]
    log_post = np.log(np.clip(probs, PROBABILITY_FLOOR, None)) / temperature
    miss = np.log((1.0 - accuracy) / max(1, num_classes - 1))
    log_post += np.bincount(task, weights=miss, minlength=len(probs))[:, None]
    np.add.at(log_post, (task, labels), np.log(accuracy) - miss)
    log_post -= log_post.max(axis=1, keepdims=True)
    post = np.exp(log_post)
    return post / post.sum(axis=1, keepdims=True)
