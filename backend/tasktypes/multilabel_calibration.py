"""The probability that a multi-label annotation's set is wrong, from out-of-fold probabilities.

Multi-label is one yes/no question per class. For class ``k`` write ``t`` for whether the
class truly applies, ``g`` for whether the annotator gave it, and ``p(x)`` for the
out-of-fold probability of the class's binary model. The noise is class-conditional, as
in confident learning: the annotator leaves a true class out with probability ``r_out``
and adds a class that does not apply with probability ``r_in``, whatever the input. The
probability that the class truly applies is the model's logit, rescaled (Platt):

    q(x) = sigmoid(a · logit p(x) + b)
    P(g = 1 | x) = r_in + (1 - r_out - r_in) · q(x)

Per class, ``a``, ``b``, ``r_out`` and ``r_in`` maximise the likelihood of the *given*
values (through the noise: forward correction, as :mod:`backend.tasktypes.calibration`
does for single choice), plus a weak prior that noise is rare:
``PRIOR_STRENGTH · (log(1 - 2 r_out) + log(1 - 2 r_in))`` (rates below one half). With a
noise level fixed from confident learning instead, the suspicion runs far too high
wherever a class's model is weak: confident learning counts that model's mistakes as
label noise (bench/RESULTS.md, "Multi-label detection": estimated rates 2-19x the
injected ones). The prior's strength was tuned on the bench's tuning sets and checked on
held-out ones.

Bayes' rule then gives each class's posterior that its given value is right,

    P(t = 1 | x, g = 1) = (1 - r_out) q / ((1 - r_out) q + r_in (1 - q))
    P(t = 0 | x, g = 0) = (1 - r_in) (1 - q) / ((1 - r_in) (1 - q) + r_out q)

and the **suspicion** of the set, the probability that at least one class is wrong,
``1 - Π_k P(t_k = g_k | x, g_k)`` (the classes' slips taken as independent). A trusted
row (ground truth) has no noise: it counts as ``P(g | x) = q`` in the fit and its
suspicion is 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Out-of-fold probabilities are clipped to [floor, 1 - floor] before their logits.
PROBABILITY_FLOOR = 1e-6
#: Weight of the prior that label noise is rare (tuned on the bench's tuning sets:
#: 5, 10, 15, 25 tried; 10 gave the lowest mean and worst ECE there).
PRIOR_STRENGTH = 10.0
#: Search bounds: log of the slope ``a``, the bias ``b``, and the noise rates' logit
#: parameter (rate = MAX_RATE · sigmoid(v)).
LOG_SLOPE_BOUNDS = (-4.0, 4.0)
BIAS_BOUNDS = (-20.0, 20.0)
RATE_LOGIT_BOUNDS = (-12.0, 12.0)
#: A noise rate is below this (a class given more often wrongly than rightly is no class).
MAX_RATE = 0.5
#: Starting noise rates are kept inside (START_RATE_MIN, START_RATE_MAX) of MAX_RATE.
START_RATE_MIN, START_RATE_MAX = 1e-3, 0.9
#: Each class's rows are gathered into this many equal-width bins of the logit for the fit.
FIT_BINS = 256
#: The search stops when a step improves the log posterior by less than this fraction.
FIT_TOLERANCE = 1e-7
#: Likelihoods and divisions below this count as this.
TINY = 1e-300


@dataclass(frozen=True)
class ClassChannels:
    """Per class (arrays of shape ``(n_classes,)``): the Platt slope and bias that turn the
    model's logit into P(class truly applies), and the rates at which a true class is left
    out (``left_out``) and a wrong one added (``added``)."""

    slope: np.ndarray
    bias: np.ndarray
    left_out: np.ndarray
    added: np.ndarray

    def noise_matrices(self) -> np.ndarray:
        """(n_classes, 2, 2) P(given = i | true = j), i, j in {absent, chosen}."""
        out = np.empty((len(self.slope), 2, 2))
        out[:, 0, 0], out[:, 1, 0] = 1.0 - self.added, self.added
        out[:, 0, 1], out[:, 1, 1] = self.left_out, 1.0 - self.left_out
        return out


def _check(given: np.ndarray, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    given = np.asarray(given, dtype=bool)
    probs = np.asarray(probs, dtype=float)
    if probs.ndim != 2:
        raise ValueError(
            f"probs must be 2-D of shape (n_samples, n_classes); got shape {probs.shape}"
        )
    if given.shape != probs.shape:
        raise ValueError(
            f"given must be a boolean matrix of the shape of probs {probs.shape}; "
            f"got shape {given.shape}"
        )
    return given, probs


def _logits(probs: np.ndarray) -> np.ndarray:
    p = np.clip(probs, PROBABILITY_FLOOR, 1.0 - PROBABILITY_FLOOR)
    return np.log(p) - np.log1p(-p)


def _sigmoid(v: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * v))


def fit_channels(
    given: np.ndarray,
    probs: np.ndarray,
    *,
    start_rates: np.ndarray | None = None,
    trusted: np.ndarray | None = None,
    prior_strength: float = PRIOR_STRENGTH,
) -> ClassChannels:
    """Fit each class's slope, bias and noise rates by maximum a posteriori (module docstring).

    ``given`` (n_samples, n_classes) booleans and ``probs`` out-of-fold probabilities of
    the same shape; ``start_rates`` (n_classes, 2): where the search starts (left out,
    added), e.g. confident learning's estimates (default 0.02 each); ``trusted`` rows are
    taken as true sets. A class given on every row or on none keeps slope 1, bias 0 and no
    noise.
    """
    from scipy.optimize import minimize
    from threadpoolctl import threadpool_limits

    given, probs = _check(given, probs)
    k = probs.shape[1]
    z, counts = _binned(given, probs, trusted)
    varied = given.any(axis=0) & ~given.all(axis=0)
    rates = np.full((k, 2), 0.02) if start_rates is None else np.asarray(start_rates, float)
    start_v = np.clip(rates / MAX_RATE, START_RATE_MIN, START_RATE_MAX)
    start_v = np.log(start_v) - np.log1p(-start_v)

    start = np.concatenate([np.zeros(k), np.zeros(k), start_v[:, 0], start_v[:, 1]])
    bounds = (
        [LOG_SLOPE_BOUNDS] * k + [BIAS_BOUNDS] * k + [RATE_LOGIT_BOUNDS] * (2 * k)
    )  # fmt: skip
    # One BLAS thread: L-BFGS-B's own steps are tiny vector operations, which OpenBLAS's
    # threads turn into waiting (13 ms a step on a busy 2-core machine instead of ~0.1 ms).
    with threadpool_limits(limits=1, user_api="blas"):
        found = minimize(
            _objective,
            start,
            args=(z, counts, varied, prior_strength),
            jac=True,
            method="L-BFGS-B",
            bounds=bounds,
            options={"ftol": FIT_TOLERANCE},
        )
    u, b, v_out, v_in = found.x.reshape(4, k)
    return ClassChannels(
        slope=np.where(varied, np.exp(u), 1.0),
        bias=np.where(varied, b, 0.0),
        left_out=np.where(varied, MAX_RATE * _sigmoid(v_out), 0.0),
        added=np.where(varied, MAX_RATE * _sigmoid(v_in), 0.0),
    )


def _binned(
    given: np.ndarray, probs: np.ndarray, trusted: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """Each class's rows gathered into FIT_BINS equal-width bins of the logit: (the mean
    logit of each bin (FIT_BINS, n_classes), and the counts (4, FIT_BINS, n_classes) of
    rows given / not given the class, not trusted then trusted). The likelihood depends
    on a row only through its logit and given value, so the fit runs on these few
    hundred weighted points instead of every row, at the same answer to within a bin."""
    z = _logits(probs)
    n, k = z.shape
    edge = -_logits(np.zeros(1))[0]  # logits lie in [-edge, edge]
    which = np.clip(((z + edge) / (2 * edge) * FIT_BINS).astype(np.intp), 0, FIT_BINS - 1)
    cell = which * k + np.arange(k)  # (bin, class), flattened
    size = FIT_BINS * k
    total = np.bincount(cell.ravel(), minlength=size).astype(float)
    mean = np.bincount(cell.ravel(), weights=z.ravel(), minlength=size) / np.maximum(total, 1)
    sure = np.zeros(n, dtype=bool) if trusted is None else np.asarray(trusted, dtype=bool)
    counts = np.zeros((4, size))
    for slot, (value, trust) in enumerate(
        [(True, False), (False, False), (True, True), (False, True)]
    ):
        rows = (given == value) & (sure == trust)[:, None]
        counts[slot] = np.bincount(cell[rows], minlength=size)
    return mean.reshape(FIT_BINS, k), counts.reshape(4, FIT_BINS, k)


def _objective(
    theta: np.ndarray,
    z: np.ndarray,
    counts: np.ndarray,
    varied: np.ndarray,
    prior_strength: float,
) -> tuple[float, np.ndarray]:
    """Minus the log posterior of every class's (log slope, bias, rate logits), and its
    gradient; ``theta`` is the four parameters of every class, parameter-major; ``z`` and
    ``counts`` as :func:`_binned` returns them."""
    k = z.shape[1]
    u, b, v_out, v_in = theta.reshape(4, k)
    on, off, sure_on, sure_off = counts
    a = np.exp(u)
    s_out, s_in = _sigmoid(v_out), _sigmoid(v_in)
    r_out, r_in = MAX_RATE * s_out, MAX_RATE * s_in
    q = _sigmoid(a * z + b)
    span = 1.0 - r_out - r_in
    p1 = r_in + span * q  # P(given | x) of rows that may be noisy; trusted rows: q
    p0 = 1.0 - p1
    log_lik = (
        on * np.log(np.maximum(p1, TINY))
        + off * np.log(np.maximum(p0, TINY))
        + sure_on * np.log(np.maximum(q, TINY))
        + sure_off * np.log(np.maximum(1.0 - q, TINY))
    )
    prior = prior_strength * (np.log1p(-2.0 * r_out) + np.log1p(-2.0 * r_in))
    value = -(log_lik.sum(axis=0) * varied).sum() - (prior * varied).sum()
    # d log-likelihood / d p1 of the rows that may be noisy
    r = on / np.maximum(p1, TINY) - off / np.maximum(p0, TINY)
    d_eta = r * span * q * (1.0 - q) + sure_on * (1.0 - q) - sure_off * q
    grad_u = -(d_eta * z).sum(axis=0) * a
    grad_b = -d_eta.sum(axis=0)
    d_r_out = (r * q).sum(axis=0) + 2.0 * prior_strength / (1.0 - 2.0 * r_out)
    d_r_in = -(r * (1.0 - q)).sum(axis=0) + 2.0 * prior_strength / (1.0 - 2.0 * r_in)
    grad_v_out = d_r_out * MAX_RATE * s_out * (1.0 - s_out)
    grad_v_in = d_r_in * MAX_RATE * s_in * (1.0 - s_in)
    grad = np.concatenate([grad_u, grad_b, grad_v_out, grad_v_in]) * np.tile(varied, 4)
    return float(value), grad


def posterior_correct(
    given: np.ndarray,
    probs: np.ndarray,
    channels: ClassChannels,
    *,
    trusted: np.ndarray | None = None,
) -> np.ndarray:
    """(n_samples, n_classes) the posterior that each given value (chosen or not) is true."""
    given, probs = _check(given, probs)
    q = _sigmoid(channels.slope * _logits(probs) + channels.bias)
    keep_on = (1.0 - channels.left_out) * q
    keep_off = (1.0 - channels.added) * (1.0 - q)
    on = keep_on / np.maximum(keep_on + channels.added * (1.0 - q), TINY)
    off = keep_off / np.maximum(keep_off + channels.left_out * q, TINY)
    out = np.where(given, on, off)
    if trusted is not None:
        out[np.asarray(trusted, dtype=bool)] = 1.0
    return out


def set_error_probability(
    given: np.ndarray,
    probs: np.ndarray,
    channels: ClassChannels,
    *,
    trusted: np.ndarray | None = None,
) -> np.ndarray:
    """(n_samples,) the probability that each row's set is not its true set."""
    return 1.0 - posterior_correct(given, probs, channels, trusted=trusted).prod(axis=1)
