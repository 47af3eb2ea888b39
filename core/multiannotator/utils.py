"""The helpers of cleanlab's ``internal.multiannotator_utils`` that users call themselves.

``assert_valid_inputs_multiannotator`` checks a wide label matrix (and ``pred_probs``) as
the multi-annotator functions do; ``format_multiannotator_labels`` turns class names into
indices; ``find_best_temp_scaler`` and ``temp_scale_pred_probs`` calibrate a model to the
annotators.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.multiannotator._annotations import check_labels, check_pred_probs, read_labels
from core.multiannotator.calibration import find_best_temp_scaler, temp_scale_pred_probs
from core.multiannotator.formats import format_multiannotator_labels

__all__ = [
    "assert_valid_inputs_multiannotator",
    "find_best_temp_scaler",
    "format_multiannotator_labels",
    "temp_scale_pred_probs",
]


def assert_valid_inputs_multiannotator(
    labels_multiannotator: pd.DataFrame | np.ndarray,
    pred_probs: np.ndarray | None = None,
    ensemble: bool = False,
    allow_single_label: bool = False,
    annotator_ids: pd.Index | None = None,
) -> None:
    """Raise (or warn) as the multi-annotator functions do on invalid inputs.

    Parameters
    ----------
    labels_multiannotator : pd.DataFrame or np.ndarray of shape (n_samples, n_annotators)
        Class indices, NaN where an annotator did not label an example.
    pred_probs : np.ndarray of shape (n_samples, n_classes), optional
        Or (n_models, n_samples, n_classes) with ``ensemble``.
    ensemble : bool, default=False
    allow_single_label : bool, default=False
        Allow one annotator and examples with one label each (active learning does).
    annotator_ids : pd.Index, optional
        Names for the annotators in messages (a DataFrame's columns are used otherwise).

    Raises
    ------
    ValueError
        On labels that are not class indices or NaN, an example or an annotator without
        labels, and (unless ``allow_single_label``) fewer than two annotators or no example
        labelled twice; on ``pred_probs`` of the wrong shape or not probabilities. Warns if
        no two annotators agree on any example.

    Examples
    --------
    >>> import numpy as np
    >>> assert_valid_inputs_multiannotator(np.array([[0, 0], [1, np.nan]]))
    """
    matrix, ids, _ = read_labels(labels_multiannotator)
    ids = annotator_ids if annotator_ids is not None else ids
    check_labels(matrix, ids, allow_single_label=allow_single_label)
    if pred_probs is not None:
        check_pred_probs(pred_probs, matrix, ensemble=ensemble)
