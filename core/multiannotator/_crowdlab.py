"""CROWDLAB: posterior class probabilities from a model and several annotators.

Goh, Tkachenko & Mueller, "CROWDLAB: Supervised learning to infer consensus labels and
quality scores for data with multiple annotators" (NeurIPS 2022 Human in the Loop Learning
Workshop, arXiv:2210.06812), as cleanlab 2.9 computes it. For a candidate consensus:

* the *likelihood* that an annotator picks the consensus class is the mean fraction of
  annotators agreeing with the consensus on examples labelled more than once; any other
  class gets ``(1 - likelihood) / (K - 1)``;
* each annotator's weight is ``1 - error / baseline_error``, its error being how often it
  disagrees with the other annotators of the same examples, and the baseline always
  guessing the most common consensus class (clipped at 1e-6);
* the model's weight is the same with the model's argmax error, times
  ``sqrt(mean number of annotations per example)``;
* the posterior is the weighted average of the model's probabilities and each annotator's
  likelihood vector (paper, eq. 2-4).

Sums add the same numbers in the same order as cleanlab, so results are bit for bit equal:
for one model, each example's terms are added annotator by annotator (one pass per
position of an annotation within its example, rather than cleanlab's pass per annotator
and class); for an ensemble, ``np.average`` over the models then the annotators becomes a
row sum over examples with as many annotations. Private to :mod:`core.multiannotator`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from core.constants import CLIPPING_LOWER_BOUND
from core.multiannotator._annotations import Annotations
from core.rank import _scores

#: Ensemble posteriors are built for this many (example, class, term) entries at a time.
_ENSEMBLE_BLOCK = 1 << 21


@dataclass(frozen=True)
class Consensus:
    """A consensus label per example and what CROWDLAB derives from it."""

    label: np.ndarray  #: (N,) int64
    agreement: np.ndarray  #: (N,) fraction of an example's annotators who chose ``label``
    quality: np.ndarray  #: (N,) quality score of ``label``
    post_pred_probs: np.ndarray  #: (N, K)
    model_weight: Any  #: float (one model), (P,) array (ensemble) or None ("agreement")
    annotator_weight: np.ndarray | None  #: (M,) or None ("agreement")


def best_quality_label(post_pred_probs: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """The class of highest posterior, or ``fallback`` where several share the maximum."""
    is_top = post_pred_probs == post_pred_probs.max(axis=1)[:, None]
    return np.where(is_top.sum(axis=1) == 1, is_top.argmax(axis=1), fallback).astype(np.int64)


def _put(target: np.ndarray, rows: np.ndarray, values: np.ndarray) -> None:
    """``target[rows] += values``, by slice when ``rows`` is every row in order."""
    if len(rows) == len(target):
        target += values
    else:
        target[rows] += values


class Crowdlab:
    """Consensus statistics of validated annotations and ``pred_probs``.

    ``pred_probs`` is (N, K), or (P, N, K) for an ensemble of P models.
    """

    def __init__(
        self,
        ann: Annotations,
        pred_probs: np.ndarray,
        *,
        quality_method: str = "crowdlab",
        score_kwargs: Mapping[str, Any] | None = None,
        verbose: bool = True,
    ) -> None:
        self.ann = ann
        self.pred_probs = pred_probs
        self.ensemble = pred_probs.ndim == 3
        self.num_classes = int(pred_probs.shape[-1])
        self.quality_method = quality_method
        self.score_kwargs = dict(score_kwargs or {})
        self.verbose = verbose
        self.counts = ann.class_counts(self.num_classes)
        self.multi = ann.num_annotations != 1

    @cached_property
    def _model_argmax(self) -> np.ndarray:
        return np.argmax(self.pred_probs, axis=-1)

    @cached_property
    def _agreement_with_annotators(self) -> tuple[np.ndarray, np.ndarray]:
        """Per annotator, the weighted mean fraction of the other annotators of its examples
        who chose its class (weights: their number), and which annotators share no example
        (given the mean of the others)."""
        ann = self.ann
        others = ann.num_annotations[ann.rows] - 1
        same = self.counts[ann.rows, ann.labels] - 1
        with np.errstate(divide="ignore", invalid="ignore"):
            per_example = np.where(others > 0, same / others, 0.0)
        weighted = per_example * others
        weight = np.bincount(ann.cols, weights=others, minlength=ann.num_annotators)
        agreement = np.full(ann.num_annotators, np.nan)
        for m, part in enumerate(ann.annotator_slices(weighted)):
            if weight[m]:
                agreement[m] = part.sum() / weight[m]
        alone = np.isnan(agreement)
        if alone.any() and not alone.all():
            agreement[alone] = np.mean(agreement[~alone])
        return agreement, alone

    def _annotator_weight(self, label_error: np.float64) -> np.ndarray:
        agreement, alone = self._agreement_with_annotators
        if self.verbose and alone.any():
            print(
                f"Annotator(s) {np.flatnonzero(alone).tolist()} did not annotate any examples "
                "that overlap with other annotators,\nusing the average annotator agreement "
                "among other annotators as this annotator's agreement."
            )
        return np.clip(1 - ((1 - agreement) / label_error), a_min=CLIPPING_LOWER_BOUND, a_max=None)

    def _model_weight(self, argmax: np.ndarray, label: np.ndarray, label_error: Any) -> Any:
        error = np.mean(argmax[self.multi] != label[self.multi])
        scale = np.sqrt(np.mean(self.ann.num_annotations))
        return np.maximum(1 - (error / label_error), CLIPPING_LOWER_BOUND) * scale

    def _posterior(self, label: np.ndarray, agreement: np.ndarray) -> tuple[np.ndarray, Any, Any]:
        """(post_pred_probs, model_weight, annotator_weight) for one consensus."""
        if self.quality_method == "agreement":
            return self.counts / self.ann.num_annotations[:, None], None, None
        k = self.num_classes
        likelihood = np.mean(agreement[self.multi])
        other_likelihood = (1 - likelihood) / (k - 1) if k > 1 else 0.0
        sub = label[self.multi]
        label_error = np.clip(
            np.mean(sub != np.argmax(np.bincount(sub, minlength=k))),
            a_min=CLIPPING_LOWER_BOUND,
            a_max=None,
        )
        weight = self._annotator_weight(label_error)
        if self.ensemble:
            model_weight = np.array(
                [self._model_weight(a, label, label_error) for a in self._model_argmax]
            )
            post = self._ensemble_posterior(model_weight, weight, likelihood, other_likelihood)
        else:
            model_weight = self._model_weight(self._model_argmax, label, label_error)
            post = self._posterior_one_model(model_weight, weight, likelihood, other_likelihood)
        return post, model_weight, weight

    def _posterior_one_model(
        self, model_weight: Any, weight: np.ndarray, likelihood: Any, other_likelihood: Any
    ) -> np.ndarray:
        """Model term first, then each annotation's term, added in annotator order."""
        ann = self.ann
        post = self.pred_probs.astype(np.float64, copy=False) * model_weight
        total = np.zeros(ann.num_examples)
        hit, miss = weight * likelihood, weight * other_likelihood
        for slot in ann.slots():
            rows, cols, labels = ann.rows[slot], ann.cols[slot], ann.labels[slot]
            _put(total, rows, weight[cols])
            chosen = post[rows, labels]
            _put(post, rows, miss[cols][:, None])
            post[rows, labels] = chosen + hit[cols]
        total += model_weight
        post /= total[:, None]
        return post

    def _ensemble_posterior(
        self, model_weight: np.ndarray, weight: np.ndarray, likelihood: Any, other_likelihood: Any
    ) -> np.ndarray:
        """Per example and class, ``np.average`` of the models' probabilities and the
        annotations' likelihoods, weighted by model and annotator weights."""
        ann, k = self.ann, self.num_classes
        models = len(model_weight)
        post = np.empty((ann.num_examples, k))
        classes = np.arange(k)[None, :, None]
        for examples, entries in ann.groups_by_count():
            terms = models + entries.shape[1]
            step = max(1, _ENSEMBLE_BLOCK // (k * terms))
            for start in range(0, len(examples), step):
                rows, idx = examples[start : start + step], entries[start : start + step]
                annotator_w = weight[ann.cols[idx]]
                weights = np.concatenate(
                    (np.broadcast_to(model_weight, (len(rows), models)), annotator_w), axis=1
                )
                products = np.empty((len(rows), k, terms))
                products[:, :, :models] = (
                    np.moveaxis(self.pred_probs[:, rows, :], 0, -1) * model_weight
                )
                products[:, :, models:] = np.where(
                    ann.labels[idx][:, None, :] == classes,
                    likelihood * annotator_w[:, None, :],
                    other_likelihood * annotator_w[:, None, :],
                )
                post[rows] = products.sum(axis=2) / weights.sum(axis=1)[:, None]
        return post

    def consensus(self, label: np.ndarray) -> Consensus:
        """Everything CROWDLAB derives from the consensus ``label``."""
        agreement = self.counts[np.arange(len(label)), label] / self.ann.num_annotations
        post, model_weight, weight = self._posterior(label, agreement)
        if self.quality_method == "agreement":
            quality = agreement
        else:
            quality = _scores(label, post, **{"method": "self_confidence", **self.score_kwargs})
        return Consensus(label, agreement, quality, post, model_weight, weight)
