"""Quality of each annotator's labels, and of each annotator (private to core.multiannotator).

What cleanlab 2.9 reports as ``detailed_label_quality`` and ``annotator_stats``, computed
for all annotators at once instead of one annotator (and one pandas group-by) at a time.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from core.multiannotator._annotations import Annotations
from core.multiannotator._crowdlab import Consensus
from core.rank import _scores

#: Detailed scores are computed for this many annotations at a time (methods that need
#: every class's probability copy one row of ``post_pred_probs`` per annotation).
_SCORE_BLOCK = 1 << 16


def detailed_label_quality(
    ann: Annotations, post_pred_probs: np.ndarray, score_kwargs: Mapping[str, Any]
) -> np.ndarray:
    """(N, M): the quality score of each annotator's label of each example, NaN where none.

    Scores depend on one example's row alone, except with ``adjust_pred_probs`` (class
    thresholds are taken over one annotator's examples), which is scored per annotator.
    """
    kwargs = {"method": "self_confidence", **score_kwargs}
    scores = np.empty(len(ann.rows))
    if kwargs.get("adjust_pred_probs"):
        order, bounds = ann.by_annotator, ann.annotator_start
        for m in range(ann.num_annotators):
            mine = order[bounds[m] : bounds[m + 1]]
            scores[mine] = _scores(ann.labels[mine], post_pred_probs[ann.rows[mine]], **kwargs)
    elif kwargs["method"] == "self_confidence":
        scores = post_pred_probs[ann.rows, ann.labels]
    else:
        for start in range(0, len(scores), _SCORE_BLOCK):
            block = slice(start, start + _SCORE_BLOCK)
            rows, labels = ann.rows[block], ann.labels[block]
            scores[block] = _scores(labels, post_pred_probs[rows], **kwargs)
    # Column-major, as cleanlab's array (built one annotator at a time) is: the per-annotator
    # means of these scores then sum each column contiguously, and so add in the same order.
    detailed = np.full(ann.matrix.shape, np.nan, order="F")
    detailed[ann.rows, ann.cols] = scores
    return detailed


def detailed_frame(ann: Annotations, detailed: np.ndarray) -> pd.DataFrame:
    """The ``detailed_label_quality`` DataFrame: columns ``quality_annotator_<id>``."""
    frame = pd.DataFrame(detailed, index=ann.index, columns=ann.annotator_ids, copy=False)
    return frame.add_prefix("quality_annotator_")


def _column_nanmeans(detailed: np.ndarray) -> np.ndarray:
    """``np.nanmean(detailed, axis=0)`` one column at a time (no copy of the whole array):
    each column's NaNs become 0 and the column is summed whole, as numpy's does it."""
    means = np.empty(detailed.shape[1])
    for m in range(detailed.shape[1]):
        column = detailed[:, m]
        missing = np.isnan(column)
        means[m] = np.where(missing, 0.0, column).sum() / np.intp(len(column) - missing.sum())
    return means


def _per_annotator_mean(ann: Annotations, values: np.ndarray) -> np.ndarray:
    """``np.mean`` of each annotator's per-annotation ``values``, examples in order."""
    return np.array([np.mean(part) for part in ann.annotator_slices(values)])


def _fraction_agreeing(ann: Annotations, label: np.ndarray, entries: np.ndarray) -> np.ndarray:
    """Per annotator, the fraction of its annotations among ``entries`` equal to ``label``
    of their example (NaN for an annotator without such annotations)."""
    cols = ann.cols[entries]
    agrees = ann.labels[entries] == label[ann.rows[entries]]
    seen = np.bincount(cols, minlength=ann.num_annotators)
    agreed = np.bincount(cols[agrees], minlength=ann.num_annotators)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(seen > 0, agreed / seen, np.nan)


def annotator_quality(
    ann: Annotations,
    consensus: Consensus,
    detailed: np.ndarray | None,
    *,
    quality_method: str,
    model_weight: Any,
) -> np.ndarray:
    """(M,): how far each annotator's labels can be trusted (paper, eq. 5).

    With ``"crowdlab"``, a mix of the mean quality of the annotator's labels (the detailed
    scores if computed, else self-confidence) and its agreement with the consensus on
    examples labelled more than once, weighted as the model against the annotators;
    with ``"agreement"``, that agreement alone.
    """
    label = consensus.label
    multi_entries = np.flatnonzero(ann.num_annotations[ann.rows] != 1)
    agreement = _fraction_agreeing(ann, label, multi_entries)
    if quality_method == "agreement":
        return agreement
    if detailed is not None:
        label_quality = _column_nanmeans(detailed)
    else:
        own = consensus.post_pred_probs[ann.rows, ann.labels]
        label_quality = _per_annotator_mean(ann, own)
    weight = consensus.annotator_weight
    assert weight is not None  # "crowdlab" always has annotator weights
    per_annotator = np.mean(ann.num_annotations) / len(weight)
    annotators = np.sum(weight) * per_annotator
    w = model_weight / (model_weight + annotators)
    return w * label_quality + (1 - w) * agreement


def worst_class(ann: Annotations, consensus: Consensus) -> np.ndarray:
    """(M,) int64: per annotator, the class whose labels agree least with the consensus.

    Ties go to the class the annotator chose most often, then to the class whose examples
    have the highest mean consensus quality, then to the lowest class.
    """
    k = consensus.post_pred_probs.shape[1]
    label = consensus.label
    cell = ann.cols.astype(np.int64) * k + ann.labels
    shape = (ann.num_annotators, k)
    count = np.bincount(cell, minlength=shape[0] * k).reshape(shape)
    right = ann.labels == label[ann.rows]
    correct = np.bincount(cell[right], minlength=shape[0] * k).reshape(shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        accuracy = np.where(count > 0, correct / count, np.inf)
    candidates = accuracy == accuracy.min(axis=1)[:, None]
    most = np.where(candidates, count, -1)
    candidates &= most == most.max(axis=1)[:, None]
    worst = candidates.argmax(axis=1).astype(np.int64)
    for m in np.flatnonzero(candidates.sum(axis=1) > 1):
        mine = ann.by_annotator[ann.annotator_start[m] : ann.annotator_start[m + 1]]
        # pandas' group mean (compensated summation), for the same numbers as cleanlab's
        quality = pd.Series(consensus.quality[ann.rows[mine]])
        means = quality.groupby(ann.labels[mine]).mean()
        means = means[np.flatnonzero(candidates[m])]
        worst[m] = means.index[np.flatnonzero(means.to_numpy() == means.max())[0]]
    return worst


def annotator_stats(
    ann: Annotations,
    consensus: Consensus,
    detailed: np.ndarray | None,
    *,
    quality_method: str,
    model_weight: Any,
) -> pd.DataFrame:
    """The ``annotator_stats`` DataFrame, lowest quality first."""
    stats = pd.DataFrame(
        {
            "annotator_quality": annotator_quality(
                ann, consensus, detailed, quality_method=quality_method, model_weight=model_weight
            ),
            "agreement_with_consensus": _fraction_agreeing(
                ann, consensus.label, np.arange(len(ann.rows))
            ),
            "worst_class": worst_class(ann, consensus),
            "num_examples_labeled": ann.num_labeled,
        },
        index=ann.annotator_ids,
    )
    return stats.sort_values(by=["annotator_quality", "agreement_with_consensus"])
