"""Temperature scaling of a model's probabilities to the annotators' label distribution.

As cleanlab 2.9 (``find_best_temp_scaler``, ``temp_scale_pred_probs`` in its multi-annotator
helpers): the temperature is searched on a coarse grid, then finely around the best, for
the lowest mean soft cross-entropy between each example's empirical label distribution
(the fraction of its annotators who chose each class) and the scaled probabilities.

One difference: cleanlab counts each example's labels with a helper that, for float labels
(which a matrix with NaN always holds), packs the counts into the first columns instead of
the columns of their classes, so an example labelled ``[2, 2]`` among three classes counts
as class 0. Here the counts sit in their classes' columns.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from core._validation import validate_pred_probs
from core.constants import LOG_PROBABILITY_FLOOR, MIN_SOFTMAX_TEMPERATURE
from core.multiannotator._annotations import (
    Annotations,
    check_labels,
    check_pred_probs,
    read_labels,
)

__all__ = ["find_best_temp_scaler", "temp_scale_pred_probs"]

#: The temperatures first tried (cleanlab's default coarse search range).
COARSE_TEMPERATURES: tuple[float, ...] = (0.1, 0.2, 0.5, 0.8, 1, 2, 3, 5, 8)

#: How many temperatures the fine search tries between two coarse ones.
FINE_SEARCH_SIZE = 4


def _softmax(log_probs: np.ndarray, temperature: float) -> np.ndarray:
    """Row-wise softmax of ``log_probs / temperature`` (no shift, as cleanlab)."""
    exp = np.exp(log_probs / max(temperature, MIN_SOFTMAX_TEMPERATURE))
    return exp / np.sum(exp, axis=1, keepdims=True)


def empirical_distribution(ann: Annotations, num_classes: int) -> np.ndarray:
    """(N, K): the fraction of each example's annotators who chose each class."""
    return ann.class_counts(num_classes) / ann.num_annotations[:, None]


def _mean_soft_cross_entropy(empirical: np.ndarray, probs: np.ndarray) -> float:
    clipped = np.clip(probs, a_min=LOG_PROBABILITY_FLOOR, a_max=None)
    per_example = -np.sum(empirical * np.log(clipped), axis=1) / np.log(probs.shape[1])
    return float(np.mean(per_example))


def _fine_temperatures(coarse: Sequence[float], size: int, best: int) -> np.ndarray:
    """``size`` steps from the coarse neighbour below up to the best, then ``size + 1`` from
    the best up to the neighbour above (both ends included)."""
    parts = [np.array([])]
    if best != 0:
        parts.append(np.linspace(coarse[best - 1], coarse[best], size, endpoint=False))
    if best != len(coarse) - 1:
        parts.append(np.linspace(coarse[best], coarse[best + 1], size + 1, endpoint=True))
    return np.concatenate(parts)


def best_temperature(
    empirical: np.ndarray,
    pred_probs: np.ndarray,
    coarse: Sequence[float] = COARSE_TEMPERATURES,
    fine_search_size: int = FINE_SEARCH_SIZE,
) -> np.float64:
    """The temperature minimising the mean soft cross-entropy (validated inputs)."""
    log_probs = np.log(pred_probs, where=pred_probs > 0, out=np.full(pred_probs.shape, -np.inf))
    coarse_loss = [_mean_soft_cross_entropy(empirical, _softmax(log_probs, t)) for t in coarse]
    fine = _fine_temperatures(coarse, fine_search_size, int(np.argmin(coarse_loss)))
    fine_loss = [_mean_soft_cross_entropy(empirical, _softmax(log_probs, t)) for t in fine]
    return np.float64(fine[np.argmin(fine_loss)])


def scale(pred_probs: np.ndarray, temperature: float) -> np.ndarray:
    """``pred_probs`` scaled by ``temperature`` (validated inputs; see the public version)."""
    clipped = np.clip(pred_probs, a_min=LOG_PROBABILITY_FLOOR, a_max=None)
    clipped = clipped / np.sum(clipped, axis=1)[:, np.newaxis]
    scaled = _softmax(np.log(clipped), temperature)
    return scaled / np.sum(scaled, axis=1)[:, np.newaxis]


def find_best_temp_scaler(
    labels_multiannotator: pd.DataFrame | np.ndarray,
    pred_probs: np.ndarray,
    coarse_search_range: Sequence[float] = COARSE_TEMPERATURES,
    fine_search_size: int = FINE_SEARCH_SIZE,
) -> float:
    """Return the temperature that best fits ``pred_probs`` to the annotators' labels.

    Parameters
    ----------
    labels_multiannotator : pd.DataFrame or np.ndarray of shape (n_samples, n_annotators)
        Class indices, NaN where an annotator did not label an example.
    pred_probs : np.ndarray of shape (n_samples, n_classes)
    coarse_search_range : sequence of float, default=(0.1, 0.2, 0.5, 0.8, 1, 2, 3, 5, 8)
        Temperatures tried first, ascending.
    fine_search_size : int, default=4
        Steps tried between the best coarse temperature and each of its neighbours.

    Returns
    -------
    float
        The temperature with the lowest mean soft cross-entropy between each example's
        empirical label distribution and the scaled probabilities.

    Examples
    --------
    >>> import numpy as np
    >>> labels = np.array([[0, 1, 0], [1, 1, 0], [1, 0, 1], [0, 0, 0]])
    >>> overconfident = np.array([[0.99, 0.01], [0.02, 0.98], [0.03, 0.97], [0.97, 0.03]])
    >>> float(find_best_temp_scaler(labels, overconfident))  # smooth it
    3.5
    """
    matrix, annotator_ids, _ = read_labels(labels_multiannotator)
    check_labels(matrix, annotator_ids, allow_single_label=True)
    probs = check_pred_probs(pred_probs, matrix)
    if len(coarse_search_range) == 0:
        raise ValueError("coarse_search_range must hold at least one temperature; got none")
    if isinstance(fine_search_size, bool) or not isinstance(fine_search_size, (int, np.integer)):
        raise TypeError(f"fine_search_size must be an int; got {type(fine_search_size).__name__}")
    empirical = empirical_distribution(Annotations(matrix), probs.shape[1])
    return best_temperature(empirical, probs, coarse_search_range, fine_search_size)


def temp_scale_pred_probs(pred_probs: np.ndarray, temp: float) -> np.ndarray:
    """Return ``pred_probs`` with temperature ``temp``: below 1 sharpens, above 1 smooths.

    Parameters
    ----------
    pred_probs : np.ndarray of shape (n_samples, n_classes)
    temp : float
        Probabilities are clipped at 1e-30, renormalised, and become
        ``softmax(log(p) / temp)``, renormalised again.

    Returns
    -------
    np.ndarray of shape (n_samples, n_classes)

    Examples
    --------
    >>> import numpy as np
    >>> temp_scale_pred_probs(np.array([[0.2, 0.8]]), 0.5).round(3)
    array([[0.059, 0.941]])
    """
    return scale(validate_pred_probs(pred_probs), temp)
