"""What the calibration believes about the tokens and spans of a spans project: each
token's posterior over the classes given its out-of-fold probabilities and its given
class (:func:`token_error_probability`), and each given span's, from all its tokens at
once (:func:`span_posteriors`). :mod:`backend.tasktypes.span_verdicts` turns them into
flags and issues.csv rows."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from backend.tasktypes.tokens import Span, token_range

#: Every slip between two classes is at least this likely in the token noise matrix (see
#: :func:`floored_noise`).
NOISE_FLOOR = 0.003


@dataclass
class TokenBeliefs:
    """What the calibration says about every token, per text, over the classes present:
    ``errors[r][t]`` P(token t's given class is wrong), ``posterior[r]`` (T, k) P(true class
    | model, given class); the token noise matrix, temperature and entity bias they came
    from, which :func:`span_posteriors` applies to whole spans."""

    errors: list[np.ndarray]
    posterior: list[np.ndarray]
    noise: np.ndarray
    temperature: float
    bias: np.ndarray


def token_error_probability(
    labels: list[np.ndarray], probs: list[np.ndarray], trusted: np.ndarray
) -> TokenBeliefs:
    """Each token's probability that its given class is wrong, per text, with the posterior
    it comes from: single choice's calibrated suspicion (:mod:`backend.tasktypes.calibration`)
    over every token, with the token noise matrix that confident learning estimates
    (``core.count``; no slip below NOISE_FLOOR, :func:`floored_noise`), and the model's
    probabilities scaled by a temperature and a bias of every entity class against "O"
    (column 0), fitted together
    (:func:`~backend.tasktypes.calibration.fit_scaling`; on ``bench/detection_ner.py``'s
    tuning seeds the bias comes out near +1: the token model under-rates entities). Tokens
    of a ``trusted`` row (ground truth) are certain."""
    from backend.tasktypes.calibration import fit_scaling, posterior
    from core.count import compute_confident_joint, estimate_latent

    lengths = [len(labels_) for labels_ in labels]
    flat_labels = np.concatenate([np.asarray(x, dtype=np.intp) for x in labels])
    flat_probs = np.concatenate(probs)
    flat_trusted = np.repeat(np.asarray(trusted, dtype=bool), lengths)
    joint = compute_confident_joint(flat_labels, flat_probs)
    _, noise, _ = estimate_latent(joint, flat_labels)
    noise = floored_noise(noise, NOISE_FLOOR)
    entities = np.arange(flat_probs.shape[1]) > 0
    temperature, bias = fit_scaling(
        flat_probs, flat_labels, noise_matrix=noise, shifted=entities, trusted=flat_trusted
    )
    post = posterior(
        flat_probs, flat_labels, noise, temperature=temperature, trusted=flat_trusted, bias=bias
    )
    error = 1.0 - post[np.arange(len(post)), flat_labels]
    cuts = np.cumsum(lengths)[:-1]
    return TokenBeliefs(np.split(error, cuts), np.split(post, cuts), noise, temperature, bias)


def floored_noise(noise: np.ndarray, floor: float) -> np.ndarray:
    """The noise matrix (P(given i | true j), columns summing to 1) with every off-diagonal
    cell at least ``floor``, each column scaled back to sum 1.

    Confident learning counts a slip it saw no confident example of as 0, and in Bayes'
    rule a 0 makes that slip impossible whatever the model says: on bench/detection_ner.py
    a "Chase" flipped from ORG to LOC, with the model's P(ORG) 0.72 and P(LOC) 0.007, kept
    a suspicion of 0.003 because no other ORG token had been caught given LOC. Not having
    seen a slip among a thousand tokens says it is rare, not that it cannot happen.
    """
    off = ~np.eye(len(noise), dtype=bool)
    out = np.array(noise, dtype=float)
    out[off] = np.maximum(out[off], floor)
    return out / out.sum(axis=0, keepdims=True)


def span_posteriors(
    local_probs: list[np.ndarray],
    audited: list[tuple[Span, ...]],
    probs: np.ndarray,
    present: np.ndarray,
    beliefs: TokenBeliefs,
    trusted: np.ndarray,
) -> list[list[np.ndarray | None]]:
    """P(true class of the whole span | model, given class), per given span of each text (over
    the classes present; None for a span over no token).

    The model's evidence for the span is the geometric mean of its tokens' probabilities
    (renormalised): a span's class is one answer for all its tokens, so one odd token (the
    "Kong" of "University of Hong Kong") does not make it another type, and several
    doubtful tokens add up. The token noise matrix, temperature and bias turn it into a posterior
    as for a token (:func:`backend.tasktypes.calibration.posterior`); a one-token span gets
    its token's posterior.
    """
    from backend.tasktypes.calibration import PROBABILITY_FLOOR, posterior

    rows: list[np.ndarray] = []
    given: list[int] = []
    where: list[tuple[int, int]] = []
    out: list[list[np.ndarray | None]] = []
    for r, spans in enumerate(audited):
        out.append([None] * len(spans))
        for i, span in enumerate(spans):
            a, b = token_range(probs[r].offsets, span)
            if a == b:
                continue
            mean_log = np.log(np.clip(local_probs[r][a:b], PROBABILITY_FLOOR, None)).mean(axis=0)
            pooled = np.exp(mean_log - mean_log.max())
            rows.append(pooled / pooled.sum())
            given.append(int(np.searchsorted(present, 1 + span.label)))
            where.append((r, i))
    if rows:
        found = posterior(
            np.array(rows),
            np.array(given),
            beliefs.noise,
            temperature=beliefs.temperature,
            trusted=np.asarray(trusted, dtype=bool)[[r for r, _ in where]],
            bias=beliefs.bias,
        )
        for (r, i), row in zip(where, found, strict=True):
            out[r][i] = row
    return out
