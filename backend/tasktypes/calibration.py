"""The probability that a given label is wrong, from out-of-fold probabilities and noise.

One annotation per task (single choice). Write ``x`` for the task's input, ``y`` for its
unknown true class and ``s`` for the class the annotator gave. Confident learning's
assumption is class-conditional noise: the annotator's slip depends on the true class,
not on the input, so ``P(s = i | y = j, x) = N[i, j]``, the estimated noise matrix
(``core.count.estimate_latent``; columns sum to 1). Bayes' rule then gives the
posterior of the true class once the given label is known:

    P(y = j | x, s = i) = N[i, j] · P(y = j | x) / Σ_l N[i, l] · P(y = l | x)

and the **suspicion** of the annotation is ``1 - P(y = s | x, s)``, the probability that
its label is wrong.

``P(y | x)`` is the model's out-of-fold probability ``p(x)``, sharpened or softened by
one temperature: ``q_T(x) = softmax(log p(x) / T)``. The labels we have are noisy, so
``T`` is fitted by maximum likelihood of the *given* labels under the labels the model
and the noise together predict (forward correction; Patrini et al., "Making deep neural
networks robust to label noise: a loss correction approach", CVPR 2017):

    P(s = i | x) = Σ_j N[i, j] · q_T,j(x),    T = argmax Σ_rows log P(s = s_row | x_row)

Fitting ``T`` on the given labels directly, as if ``q`` predicted them, would calibrate
the channel's output instead of its input: ``q`` would be softened to absorb the noise,
and the Bayes step above would count the noise a second time. Noise is a minority, so
one parameter is well determined by the noisy labels. An annotation that is trusted
(ground truth) is its own true class: its channel is the identity, so in the fit it
counts as ``log q_T,s(x)`` (labelled evidence for the temperature) and its posterior is
certain (suspicion 0).

The out-of-fold models here are regularised and squashed (ComplementNB's text
probabilities sit near 1/K), so ``T`` is usually well below 1. ``bench/detection.py``
measures the result: expected calibration error against the injected flips, with a
reliability table (:func:`reliability`). The estimate is only as good as ``N``: when the
model is weak, confident learning counts its confusions as noise, ``N`` is too noisy and
the suspicion runs high (bench/RESULTS.md, "Calibrated suspicion", also says why ``N``'s
noise level is not fitted here as well).
"""

from __future__ import annotations

import numpy as np

#: Model probabilities are clipped to this before logs (a class the fold never saw is 0).
PROBABILITY_FLOOR = 1e-6
#: The search range of log(T): T from ~0.007 (sharpen a lot) to ~20 (soften a lot).
LOG_TEMPERATURE_BOUNDS = (-5.0, 3.0)
#: A channel probability below this counts as this (keeps logs and divisions finite).
LIKELIHOOD_FLOOR = 1e-300
#: The search range of a class bias (:func:`fit_scaling`), in log-odds.
BIAS_BOUNDS = (-5.0, 5.0)
#: The fit stops once log(T) is known this closely (T within 0.1%).
LOG_TEMPERATURE_TOLERANCE = 1e-3
#: At most this many rows, evenly spaced, fit the temperature: one number, which they pin
#: down to ~1% (100,000 synthetic rows: 0.399 from these, 0.401 from all), in bounded time.
MAX_FIT_ROWS = 20_000
#: Equal-width bins of suspicion for the reliability table and the calibration error.
RELIABILITY_BINS = 10


def _check(
    probs: np.ndarray, labels: np.ndarray, noise_matrix: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    probs = np.asarray(probs, dtype=float)
    labels = np.asarray(labels)
    if probs.ndim != 2:
        raise ValueError(
            f"probs must be 2-D of shape (n_samples, n_classes); got shape {probs.shape}"
        )
    if labels.shape != (len(probs),):
        raise ValueError(
            f"labels must be 1-D with one label per row of probs ({len(probs)}); "
            f"got shape {labels.shape}"
        )
    num_classes = probs.shape[1]
    if len(labels) and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"labels must be class indices in 0..{num_classes - 1}")
    if noise_matrix is not None and np.shape(noise_matrix) != (num_classes, num_classes):
        raise ValueError(
            f"noise_matrix must be of shape ({num_classes}, {num_classes}); "
            f"got {np.shape(noise_matrix)}"
        )
    return probs, labels.astype(np.intp)


def _channel(
    labels: np.ndarray,
    noise_matrix: np.ndarray | None,
    trusted: np.ndarray | None,
    num_classes: int,
) -> np.ndarray:
    """Row r: P(s = labels[r] | y = j) for every j (the identity where trusted or no noise)."""
    identity = np.eye(num_classes)
    matrix = identity if noise_matrix is None else np.asarray(noise_matrix, dtype=float)
    rows = matrix[labels]
    if trusted is not None:
        trusted = np.asarray(trusted, dtype=bool)
        rows[trusted] = identity[labels[trusted]]
    return rows


def _centred_logs(probs: np.ndarray, bias: np.ndarray | None = None) -> np.ndarray:
    """log probs (plus ``bias``, one number per class) minus each row's maximum (<= 0, so
    exp(... / T) never overflows)."""
    log_probs = np.log(np.clip(probs, PROBABILITY_FLOOR, None))
    if bias is not None:
        log_probs += bias
    log_probs -= log_probs.max(axis=1, keepdims=True)
    return log_probs


def _sharpened(centred: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(log probs / T), unnormalised: exp(centred / T), each row's maximum 1."""
    z = centred * (1.0 / temperature)
    np.exp(z, out=z)
    return z


def fit_temperature(
    probs: np.ndarray,
    labels: np.ndarray,
    *,
    noise_matrix: np.ndarray | None = None,
    trusted: np.ndarray | None = None,
) -> float:
    """The temperature T maximising the likelihood of the given ``labels``.

    ``probs`` (n_samples, n_classes) are out-of-fold probabilities; ``noise_matrix``
    (n_classes, n_classes) is P(given = i | true = j): the labels are modelled as
    ``noise_matrix @ softmax(log probs / T)`` (without it, as ``softmax(log probs / T)``
    itself). Rows where ``trusted`` is true are taken as true labels (no noise).
    """
    from scipy.optimize import minimize_scalar

    probs, labels = _check(probs, labels, noise_matrix)
    if len(labels) > MAX_FIT_ROWS:
        rows = np.linspace(0, len(labels) - 1, MAX_FIT_ROWS).round().astype(np.intp)
        probs, labels = probs[rows], labels[rows]
        trusted = None if trusted is None else np.asarray(trusted, dtype=bool)[rows]
    channel = _channel(labels, noise_matrix, trusted, probs.shape[1])
    centred = _centred_logs(probs)

    def nll(log_t: float) -> float:
        weights = _sharpened(centred, float(np.exp(log_t)))
        likelihood = np.einsum("ij,ij->i", weights, channel) / weights.sum(axis=1)
        return float(-np.log(np.clip(likelihood, LIKELIHOOD_FLOOR, None)).mean())

    found = minimize_scalar(
        nll,
        bounds=LOG_TEMPERATURE_BOUNDS,
        method="bounded",
        options={"xatol": LOG_TEMPERATURE_TOLERANCE},
    )
    return float(np.exp(found.x))


def fit_scaling(
    probs: np.ndarray,
    labels: np.ndarray,
    *,
    noise_matrix: np.ndarray,
    shifted: np.ndarray,
    trusted: np.ndarray | None = None,
) -> tuple[float, np.ndarray]:
    """A temperature T and a bias b for some classes, maximising the likelihood of the
    given ``labels`` as :func:`fit_temperature` does, with the model's probabilities taken
    as ``softmax((log probs + b · shifted) / T)``: ``shifted`` (n_classes,) marks the
    classes whose log-odds against the others move together by ``b``. Returns T and the
    bias per class (``b`` where shifted, 0 elsewhere), for :func:`posterior`.

    Two parameters where temperature scaling has one (vector scaling, Guo et al., ICML
    2017, with one shared bias): a regularised model trained where one class is most of
    the rows (the "O" of named entities) under-rates the others at every confidence, which
    one temperature cannot undo without over-sharpening the rest.
    """
    from scipy.optimize import minimize

    probs, labels = _check(probs, labels, noise_matrix)
    shifted = np.asarray(shifted, dtype=float)
    if shifted.shape != (probs.shape[1],):
        raise ValueError(f"shifted must have one entry per class ({probs.shape[1]})")
    if len(labels) > MAX_FIT_ROWS:
        rows = np.linspace(0, len(labels) - 1, MAX_FIT_ROWS).round().astype(np.intp)
        probs, labels = probs[rows], labels[rows]
        trusted = None if trusted is None else np.asarray(trusted, dtype=bool)[rows]
    channel = _channel(labels, noise_matrix, trusted, probs.shape[1])

    def nll(params: np.ndarray) -> float:
        weights = _sharpened(_centred_logs(probs, params[1] * shifted), float(np.exp(params[0])))
        likelihood = np.einsum("ij,ij->i", weights, channel) / weights.sum(axis=1)
        return float(-np.log(np.clip(likelihood, LIKELIHOOD_FLOOR, None)).mean())

    found = minimize(
        nll, np.zeros(2), method="L-BFGS-B", bounds=[LOG_TEMPERATURE_BOUNDS, BIAS_BOUNDS]
    )
    return float(np.exp(found.x[0])), float(found.x[1]) * shifted


def posterior(
    probs: np.ndarray,
    labels: np.ndarray,
    noise_matrix: np.ndarray,
    *,
    temperature: float,
    trusted: np.ndarray | None = None,
    bias: np.ndarray | None = None,
) -> np.ndarray:
    """(n_samples, n_classes) P(true = j | x, given label): Bayes' rule with the noise
    matrix as likelihood and ``softmax((log probs + bias) / temperature)`` as prior (module
    docstring; ``bias`` from :func:`fit_scaling`, none by default). Trusted rows are
    certain of their label."""
    probs, labels = _check(probs, labels, noise_matrix)
    joint = _sharpened(_centred_logs(probs, bias), temperature)
    joint *= _channel(labels, noise_matrix, trusted, probs.shape[1])
    joint /= np.clip(joint.sum(axis=1, keepdims=True), LIKELIHOOD_FLOOR, None)
    return joint


def label_error_probability(
    probs: np.ndarray,
    labels: np.ndarray,
    noise_matrix: np.ndarray,
    *,
    trusted: np.ndarray | None = None,
) -> tuple[np.ndarray, float]:
    """Each label's probability of being wrong, and the temperature fitted on the way.

    The temperature is fitted through the noise (:func:`fit_temperature` with
    ``noise_matrix``), then ``1 - posterior[row, label]`` (:func:`posterior`).
    """
    post, temperature = fitted_posterior(probs, labels, noise_matrix, trusted=trusted)
    rows = np.arange(len(post))
    return 1.0 - post[rows, np.asarray(labels, dtype=np.intp)], temperature


def fitted_posterior(
    probs: np.ndarray,
    labels: np.ndarray,
    noise_matrix: np.ndarray,
    *,
    trusted: np.ndarray | None = None,
) -> tuple[np.ndarray, float]:
    """:func:`posterior` with the temperature fitted through the noise
    (:func:`fit_temperature`), and that temperature."""
    temperature = fit_temperature(probs, labels, noise_matrix=noise_matrix, trusted=trusted)
    post = posterior(probs, labels, noise_matrix, temperature=temperature, trusted=trusted)
    return post, temperature


def reliability(
    scores: np.ndarray, outcomes: np.ndarray, *, bins: int = RELIABILITY_BINS
) -> list[tuple[float, float, float, float, int]]:
    """Equal-width bins of ``scores`` in [0, 1]: (low, high, mean score, share of
    ``outcomes`` true, count) for every bin that holds a score (the last bin holds 1)."""
    scores = np.asarray(scores, dtype=float)
    outcomes = np.asarray(outcomes, dtype=bool)
    which = np.minimum((scores * bins).astype(np.intp), bins - 1)
    count = np.bincount(which, minlength=bins)
    total = np.bincount(which, weights=scores, minlength=bins)
    hits = np.bincount(which, weights=outcomes, minlength=bins)
    return [
        (b / bins, (b + 1) / bins, total[b] / count[b], hits[b] / count[b], int(count[b]))
        for b in range(bins)
        if count[b]
    ]


def expected_calibration_error(
    scores: np.ndarray, outcomes: np.ndarray, *, bins: int = RELIABILITY_BINS
) -> float:
    """Σ over bins of (count / n) · |mean score - share true|: 0 for a score that means what
    it says (Naeini et al., AAAI 2015; Guo et al., ICML 2017)."""
    table = reliability(scores, outcomes, bins=bins)
    n = sum(row[4] for row in table)
    return float(sum(count * abs(mean - share) for _, _, mean, share, count in table) / max(n, 1))
