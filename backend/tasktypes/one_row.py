"""Single choice, one row judged again at once (instant feedback, :func:`rejudge_row`).

When a person changes an audited label, its row's out-of-fold probabilities still hold
(the models that made them never saw the row), so its new suspicion is the audit's own
formula for that label (the posterior with the audit's temperature and noise matrix), and
only the flag needs a rule that stands in for re-running confident learning. With ``p``
the row's probabilities over the classes present in the audit, ``j`` their argmax (the
suggestion) and ``L`` the new label, the row is flagged iff ``L != j`` and either

* it would sit off the diagonal of the audit's confident joint: ``p_L < t_L`` and
  ``p_j >= t_j`` (the audit's per-class confident thresholds, [CL] eq. 2), or
* its margin ``p_j - p_L`` reaches the smallest margin among the rows the audit flagged
  with given label ``L`` and suggestion ``j`` (``prune_by_noise_rate`` flags the largest
  margins of each off-diagonal cell: this is the audit's own cut in that cell).

A trusted row (ground truth, or a flag a person confirmed) is never flagged and has
suspicion 0, and a label that is the suggestion is never flagged (confident learning's
argmax rule). On the audit's own rows the rule reproduces 94-100% of the audit's
decisions, and after one label is changed it agrees with confident learning run again on
89-100% of rows (``bench/instant_rule.py``, bench/RESULTS.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from backend.tasktypes import Rejudged
from core.constants import FLOATING_POINT_COMPARISON, MISSING_CLASS_THRESHOLD

__all__ = ["OneRowRule", "one_row_rule", "over_present", "rejudge_row"]


@dataclass(frozen=True)
class OneRowRule:
    """What :func:`rejudge_row` keeps of an audit (the module docstring).

    ``present`` are the classes some row gave (config indices, ascending); ``thresholds``
    their confident thresholds; ``cuts[L, j]`` the smallest margin ``p_j - p_L`` among the
    rows flagged with given label ``present[L]`` and suggestion ``present[j]`` (inf: none);
    ``noise`` the estimated noise matrix over them and ``temperature`` the one the audit
    fitted (the suspicion's posterior, backend.tasktypes.calibration).
    """

    present: np.ndarray
    thresholds: np.ndarray
    cuts: np.ndarray
    noise: np.ndarray
    temperature: float


def one_row_rule(
    labels: np.ndarray,
    probs: np.ndarray,
    flagged: np.ndarray,
    *,
    noise_matrix: np.ndarray,
    temperature: float | None = None,
    trusted: np.ndarray | None = None,
) -> OneRowRule:
    """The audit's thresholds, per-cell cuts, noise matrix and temperature, from its rows'
    ``labels`` (config indices), out-of-fold ``probs`` (one column per config class),
    ``flagged`` mask and ``noise_matrix`` (over the config's classes); the temperature is
    fitted again (as the audit does) when not given."""
    from backend.tasktypes.calibration import fit_temperature
    from core.count import get_confident_thresholds

    present = np.unique(labels)
    local = np.searchsorted(present, labels)
    local_probs = over_present(probs, present)
    noise = np.asarray(noise_matrix, dtype=float)[np.ix_(present, present)]
    if temperature is None:
        temperature = fit_temperature(local_probs, local, noise_matrix=noise, trusted=trusted)
    thresholds = get_confident_thresholds(local, local_probs)
    cuts = np.full((len(present), len(present)), np.inf)
    rows = np.flatnonzero(np.asarray(flagged, dtype=bool))
    suggested = local_probs[rows].argmax(axis=1)
    margins = local_probs[rows, suggested] - local_probs[rows, local[rows]]
    np.minimum.at(cuts, (local[rows], suggested), margins)
    return OneRowRule(present, thresholds, cuts, noise, float(temperature))


def rejudge_row(rule: OneRowRule, probs: np.ndarray, label: int, *, trusted: bool) -> Rejudged:
    """Judge one row with a new ``label`` (a config index) from its out-of-fold ``probs``
    (one per config class): suspicion as :meth:`SingleChoice.judge` computes it (the
    posterior of :func:`backend.tasktypes.calibration.posterior`, with the audit's noise
    matrix and temperature), flagged by the rule of the module docstring, the suggestion
    unchanged."""
    from backend.tasktypes.calibration import posterior

    local_probs = over_present(np.asarray(probs, dtype=float)[None, :], rule.present)
    where = np.flatnonzero(rule.present == label)
    given = int(where[0]) if len(where) else -1
    p = local_probs[0]
    top = int(p.argmax())
    suspicion = 1.0  # a label no audited row gave: the audit has no belief in it
    if given >= 0:
        post = posterior(
            local_probs,
            np.array([given]),
            rule.noise,
            temperature=rule.temperature,
            trusted=np.array([trusted]),
        )
        suspicion = float(1.0 - post[0, given])
    flagged = False
    if not trusted and given != top:
        p_given = p[given] if given >= 0 else 0.0
        t_given = rule.thresholds[given] if given >= 0 else MISSING_CLASS_THRESHOLD
        cutoff = rule.thresholds[top] - FLOATING_POINT_COMPARISON
        off_diagonal = p_given < t_given - FLOATING_POINT_COMPARISON and p[top] >= cutoff
        cut = rule.cuts[given, top] if given >= 0 else np.inf
        beyond_cut = p[top] - p_given >= cut - FLOATING_POINT_COMPARISON
        flagged = bool(off_diagonal or beyond_cut)
    return Rejudged(suspicion, flagged, int(rule.present[top]))


def over_present(probs: np.ndarray, present: np.ndarray) -> np.ndarray:
    """The columns of the classes present, each row renormalised to sum to 1 (core works
    over the classes present; a class nobody chose gets no column)."""
    local = probs[:, present]
    return local / np.clip(local.sum(axis=1, keepdims=True), 1e-12, None)
