"""Consensus labels and quality scores for data labelled by several annotators (CROWDLAB).

Mirrors ``cleanlab.multiannotator.get_label_quality_multiannotator`` and its ``_ensemble``
variant (2.x), with the same DataFrames and numbers. The method is that of Goh, Tkachenko
& Mueller, "CROWDLAB: Supervised learning to infer consensus labels and quality scores for
data with multiple annotators" (2022, arXiv:2210.06812).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from core._validation import check_option
from core.multiannotator import calibration
from core.multiannotator._annotations import (
    Annotations,
    check_labels,
    check_pred_probs,
    read_labels,
)
from core.multiannotator._annotator_stats import (
    annotator_stats,
    detailed_frame,
    detailed_label_quality,
)
from core.multiannotator._crowdlab import Consensus, Crowdlab, best_quality_label
from core.multiannotator.majority_vote import (
    RandomState,
    chooser,
    majority_vote,
    random_source,
    report_missing_classes,
)
from core.rank import _METHODS as _SCORE_METHODS

__all__ = ["get_label_quality_multiannotator", "get_label_quality_multiannotator_ensemble"]

CONSENSUS_METHODS = ("best_quality", "majority_vote")
QUALITY_METHODS = ("crowdlab", "agreement")
_SCORE_KWARGS = ("method", "adjust_pred_probs")

#: ``(return_detailed_quality, return_annotator_stats, return_weights)``.
Outputs = tuple[bool, bool, bool]


def _consensus_methods(consensus_method: str | Sequence[str]) -> list[str]:
    methods = [consensus_method] if isinstance(consensus_method, str) else list(consensus_method)
    if not methods:
        raise ValueError(
            f"consensus_method must name one of {list(CONSENSUS_METHODS)} or be a list of them; "
            "got an empty list"
        )
    for method in methods:
        if method not in CONSENSUS_METHODS:
            raise ValueError(
                f"{method!r} is not a valid consensus method: consensus_method must be one of "
                f"{list(CONSENSUS_METHODS)} or a list of them; got {consensus_method!r}"
            )
    return methods


def _score_kwargs(label_quality_score_kwargs: Mapping[str, Any] | None) -> dict[str, Any]:
    kwargs = dict(label_quality_score_kwargs or {})
    unknown = sorted(set(kwargs) - set(_SCORE_KWARGS))
    if unknown:
        raise TypeError(
            f"label_quality_score_kwargs may only hold {list(_SCORE_KWARGS)} (the options of "
            f"core.rank.get_label_quality_scores); got {unknown}"
        )
    if "method" in kwargs:
        check_option("label_quality_score_kwargs['method']", kwargs["method"], _SCORE_METHODS)
    if kwargs.get("adjust_pred_probs") and kwargs.get("method") == "confidence_weighted_entropy":
        raise ValueError(
            "label_quality_score_kwargs: adjust_pred_probs is not supported for "
            "method='confidence_weighted_entropy'"
        )
    return kwargs


def _results(
    ann: Annotations,
    frame: pd.DataFrame,
    main: Consensus,
    crowdlab: Crowdlab,
    *,
    outputs: Outputs,
    model_weight_for_stats: Any,
    weights_from: Consensus,
    keep_posterior: bool = False,
) -> dict[str, Any]:
    """The dictionary both functions return, keys in cleanlab's order (then ours)."""
    return_detailed_quality, return_annotator_stats, return_weights = outputs
    results: dict[str, Any] = {"label_quality": frame}
    detailed = None
    if return_detailed_quality:
        detailed = detailed_label_quality(ann, main.post_pred_probs, crowdlab.score_kwargs)
        results["detailed_label_quality"] = detailed_frame(ann, detailed)
    if return_annotator_stats:
        results["annotator_stats"] = annotator_stats(
            ann,
            main,
            detailed,
            quality_method=crowdlab.quality_method,
            model_weight=model_weight_for_stats,
        )
    if return_weights:
        results["model_weight"] = weights_from.model_weight
        results["annotator_weight"] = weights_from.annotator_weight
    if keep_posterior:
        results["post_pred_probs"] = main.post_pred_probs
    return results


def _columns(consensus: Consensus, suffix: str = "") -> dict[str, np.ndarray]:
    return {
        f"consensus_label{suffix}": consensus.label,
        f"consensus_quality_score{suffix}": consensus.quality,
        f"annotator_agreement{suffix}": consensus.agreement,
    }


def get_label_quality_multiannotator(
    labels_multiannotator: pd.DataFrame | np.ndarray,
    pred_probs: np.ndarray,
    *,
    consensus_method: str | Sequence[str] = "best_quality",
    quality_method: str = "crowdlab",
    calibrate_probs: bool = False,
    return_detailed_quality: bool = True,
    return_annotator_stats: bool = True,
    return_weights: bool = False,
    verbose: bool = True,
    label_quality_score_kwargs: Mapping[str, Any] | None = None,
    random_state: RandomState = None,
    return_post_pred_probs: bool = False,
) -> dict[str, Any]:
    """Return a consensus label and quality score per example, and a quality per annotator.

    Parameters
    ----------
    labels_multiannotator : pd.DataFrame or np.ndarray of shape (n_samples, n_annotators)
        ``labels_multiannotator[n][m]`` is the class (``0..K-1``) annotator ``m`` gave
        example ``n``, NaN if ``m`` did not label ``n``. Every example needs one label and
        every annotator one example at least, and some example two labels. DataFrame columns
        are the annotators' ids and its index the examples'; both carry over to the results.
    pred_probs : np.ndarray of shape (n_samples, n_classes)
        A model's out-of-sample predicted class probabilities.
    consensus_method : {'best_quality', 'majority_vote'} or list of them, default='best_quality'
        ``'best_quality'``: the class of highest CROWDLAB posterior (the majority vote where
        classes tie). ``'majority_vote'``: the majority vote, ties broken as
        :func:`get_majority_vote_label` does. With a list, the first method gives the main
        columns and each other one adds columns suffixed ``_<method>``.
    quality_method : {'crowdlab', 'agreement'}, default='crowdlab'
        ``'crowdlab'``: the posterior probability of the consensus, from the model and the
        annotators, each weighted by its estimated accuracy. ``'agreement'``: the fraction of
        the example's annotators who chose the consensus.
    calibrate_probs : bool, default=False
        Temperature-scale ``pred_probs`` to the annotators' label distribution first
        (:func:`core.multiannotator.calibration.find_best_temp_scaler`).
    return_detailed_quality : bool, default=True
        Also return a quality score per annotator label.
    return_annotator_stats : bool, default=True
        Also return per-annotator statistics.
    return_weights : bool, default=False
        Also return the model's and the annotators' weights (``'crowdlab'`` only).
    verbose : bool, default=True
        Print cautions (classes no consensus label holds; annotators sharing no example).
    label_quality_score_kwargs : dict, optional
        ``method`` and ``adjust_pred_probs`` for :func:`core.rank.get_label_quality_scores`,
        which scores labels against the posterior.
    random_state : None, int, np.random.RandomState or np.random.Generator, default=None
        Breaks majority-vote ties nothing else breaks; None uses numpy's global random state,
        as cleanlab does.
    return_post_pred_probs : bool, default=False
        labelaudit's addition (cleanlab has no such argument): also return the posterior
        class probabilities behind the main consensus, ``post_pred_probs`` (n_samples,
        n_classes), from which every quality score above is read.

    Returns
    -------
    dict
        ``label_quality``: DataFrame, one row per example, columns ``consensus_label``,
        ``consensus_quality_score``, ``annotator_agreement`` (fraction of the example's
        annotators who chose the consensus), ``num_annotations``.
        ``detailed_label_quality``: DataFrame (n_samples, n_annotators), columns
        ``quality_annotator_<id>``, NaN where the annotator gave no label.
        ``annotator_stats``: DataFrame indexed by annotator, lowest quality first, columns
        ``annotator_quality``, ``agreement_with_consensus``, ``worst_class`` (the class of the
        annotator's labels that agree least with the consensus) and
        ``num_examples_labeled``.
        ``model_weight`` (float) and ``annotator_weight`` (n_annotators,), with
        ``return_weights``; with a list of consensus methods, those of the last one (as
        cleanlab returns them; the other results follow the first).

    Raises
    ------
    ValueError
        On labels that are not class indices or NaN, an example or annotator without
        labels, fewer than two annotators, no example labelled twice, ``pred_probs`` of the
        wrong shape or not probabilities, an unknown option, or ``return_weights`` with
        ``quality_method='agreement'``.

    Notes
    -----
    With ``quality_method='agreement'``, cleanlab 2.9 builds each example's label counts
    with a helper that puts the counts of float labels (any matrix holding NaN) in the first
    columns rather than their classes' (``[2, 2]`` counts as class 0), and so can pick a
    class nobody chose as ``'best_quality'`` consensus; calibration has the same slip. Here
    counts sit in their classes' columns; everything else equals cleanlab's.

    Examples
    --------
    >>> import numpy as np
    >>> labels = np.array([[0, 0, np.nan], [1, np.nan, 1], [0, 1, 1], [np.nan, 2, 2]])
    >>> probs = np.array([[0.9, 0.05, 0.05], [0.1, 0.8, 0.1], [0.6, 0.3, 0.1], [0.1, 0.1, 0.8]])
    >>> info = get_label_quality_multiannotator(labels, probs, verbose=False)
    >>> info["label_quality"]["consensus_label"].tolist()
    [0, 1, 1, 2]
    """
    matrix, annotator_ids, index = read_labels(labels_multiannotator)
    check_option("quality_method", quality_method, QUALITY_METHODS)
    if return_weights and quality_method != "crowdlab":
        raise ValueError(
            "Model and annotator weights are only applicable to the crowdlab quality method. "
            "Either set return_weights=False or quality_method='crowdlab'."
        )
    methods = _consensus_methods(consensus_method)
    score_kwargs = _score_kwargs(label_quality_score_kwargs)
    choose = chooser(random_source(random_state))
    check_labels(matrix, annotator_ids)
    probs = check_pred_probs(pred_probs, matrix)
    return label_quality(
        Annotations(matrix, annotator_ids, index),
        probs,
        methods=methods,
        quality_method=quality_method,
        score_kwargs=score_kwargs,
        calibrate_probs=calibrate_probs,
        outputs=(return_detailed_quality, return_annotator_stats, return_weights),
        verbose=verbose,
        choose=choose,
        keep_posterior=return_post_pred_probs,
    )


def get_label_quality_multiannotator_ensemble(
    labels_multiannotator: pd.DataFrame | np.ndarray,
    pred_probs: np.ndarray,
    *,
    calibrate_probs: bool = False,
    return_detailed_quality: bool = True,
    return_annotator_stats: bool = True,
    return_weights: bool = False,
    verbose: bool = True,
    label_quality_score_kwargs: Mapping[str, Any] | None = None,
    random_state: RandomState = None,
) -> dict[str, Any]:
    """:func:`get_label_quality_multiannotator` with an ensemble of P models.

    The consensus is ``'best_quality'`` and the quality method ``'crowdlab'``; each model
    gets its own weight in the posterior, and annotators are scored with their mean.

    Parameters
    ----------
    labels_multiannotator : pd.DataFrame or np.ndarray of shape (n_samples, n_annotators)
        As for :func:`get_label_quality_multiannotator`.
    pred_probs : np.ndarray of shape (n_models, n_samples, n_classes)
        Each model's predicted class probabilities.
    calibrate_probs, return_detailed_quality, return_annotator_stats, return_weights, verbose
        As for :func:`get_label_quality_multiannotator` (each model calibrated on its own;
        ``pred_probs`` itself is left as it is).
    label_quality_score_kwargs : dict, optional
        As for :func:`get_label_quality_multiannotator`. (cleanlab 2.9 passes them on to
        one of its internal functions instead, which rejects them with a TypeError.)
    random_state : None, int, np.random.RandomState or np.random.Generator, default=None
        As for :func:`get_label_quality_multiannotator`.

    Returns
    -------
    dict
        As :func:`get_label_quality_multiannotator`, with ``model_weight`` of shape
        (n_models,).

    Examples
    --------
    >>> import numpy as np
    >>> labels = np.array([[0, 0, np.nan], [1, np.nan, 1], [0, 1, 1], [np.nan, 2, 2]])
    >>> probs = np.array([[0.9, 0.05, 0.05], [0.1, 0.8, 0.1], [0.6, 0.3, 0.1], [0.1, 0.1, 0.8]])
    >>> info = get_label_quality_multiannotator_ensemble(labels, np.stack([probs, probs]),
    ...                                                  verbose=False, return_weights=True)
    >>> info["model_weight"].shape
    (2,)
    """
    matrix, annotator_ids, index = read_labels(labels_multiannotator)
    score_kwargs = _score_kwargs(label_quality_score_kwargs)
    choose = chooser(random_source(random_state))
    check_labels(matrix, annotator_ids)
    probs = check_pred_probs(pred_probs, matrix, ensemble=True)
    return label_quality_ensemble(
        Annotations(matrix, annotator_ids, index),
        probs,
        score_kwargs=score_kwargs,
        calibrate_probs=calibrate_probs,
        outputs=(return_detailed_quality, return_annotator_stats, return_weights),
        verbose=verbose,
        choose=choose,
    )


def _calibrated_models(ann: Annotations, pred_probs: np.ndarray) -> np.ndarray:
    """Each model temperature-scaled on its own, in a copy of ``pred_probs``'s dtype (the
    array cleanlab writes its scaled models back into)."""
    empirical = calibration.empirical_distribution(ann, pred_probs.shape[2])
    scaled = np.array(pred_probs, copy=True)
    for p, model in enumerate(pred_probs):
        scaled[p] = calibration.scale(model, calibration.best_temperature(empirical, model))
    return scaled


# --------------------------------------------------------------------------- on checked inputs


def label_quality(
    ann: Annotations,
    probs: np.ndarray,
    *,
    methods: list[str],
    quality_method: str,
    score_kwargs: dict[str, Any],
    calibrate_probs: bool,
    outputs: Outputs,
    verbose: bool,
    choose: Callable[..., Any],
    keep_posterior: bool = False,
) -> dict[str, Any]:
    """:func:`get_label_quality_multiannotator` of checked inputs."""
    if calibrate_probs:
        empirical = calibration.empirical_distribution(ann, probs.shape[1])
        probs = calibration.scale(probs, calibration.best_temperature(empirical, probs))
    crowdlab = Crowdlab(
        ann, probs, quality_method=quality_method, score_kwargs=score_kwargs, verbose=verbose
    )
    voted = majority_vote(ann, crowdlab.counts, probs, choose)
    by_vote = crowdlab.consensus(voted)
    best_label = best_quality_label(by_vote.post_pred_probs, voted)
    kept_vote = by_vote if "majority_vote" in methods else None
    del by_vote  # its posterior is not needed any more
    columns: dict[str, np.ndarray] = {}
    main: Consensus | None = None
    for method in methods:
        if method == "majority_vote" and kept_vote is not None:
            found = kept_vote
        else:
            found = crowdlab.consensus(best_label)
        if verbose:
            report_missing_classes(ann, found.label, method)
        if main is None:
            main = found
            columns.update(_columns(found))
            columns["num_annotations"] = ann.num_annotations
        else:
            columns.update(_columns(found, f"_{method}"))
    assert main is not None  # methods is not empty
    return _results(
        ann,
        pd.DataFrame(columns, index=ann.index, copy=False),
        main,
        crowdlab,
        outputs=outputs,
        model_weight_for_stats=main.model_weight,
        weights_from=found,  # the last method's, as cleanlab returns
        keep_posterior=keep_posterior,
    )


def label_quality_ensemble(
    ann: Annotations,
    probs: np.ndarray,
    *,
    score_kwargs: dict[str, Any],
    calibrate_probs: bool,
    outputs: Outputs,
    verbose: bool,
    choose: Callable[..., Any],
) -> dict[str, Any]:
    """:func:`get_label_quality_multiannotator_ensemble` of checked inputs."""
    if calibrate_probs:
        probs = _calibrated_models(ann, probs)
    crowdlab = Crowdlab(ann, probs, score_kwargs=score_kwargs, verbose=verbose)
    voted = majority_vote(ann, crowdlab.counts, np.mean(probs, axis=0), choose)
    best_label = best_quality_label(crowdlab.consensus(voted).post_pred_probs, voted)
    main = crowdlab.consensus(best_label)
    if verbose:
        report_missing_classes(ann, main.label, "crowdlab")
    columns = {**_columns(main), "num_annotations": ann.num_annotations}
    return _results(
        ann,
        pd.DataFrame(columns, index=ann.index, copy=False),
        main,
        crowdlab,
        outputs=outputs,
        model_weight_for_stats=np.mean(main.model_weight),
        weights_from=main,
    )
