"""Synthetic label noise: noise matrices with a chosen trace, and labels flipped to match.

Mirrors ``cleanlab.benchmarking.noise_generation`` (2.x): same names and parameters and,
for the same seed, the same outputs. cleanlab seeds and draws from numpy's *global*
random state; here every draw comes from a :class:`numpy.random.RandomState` that is
passed explicitly. ``np.random.RandomState(s)`` produces exactly the stream that
``np.random.seed(s)`` followed by the legacy ``np.random.*`` calls produces, so the
results agree without touching global state.

A *noise matrix* ``P`` has ``P[i][j] = p(label=i | true_label=j)``: each column is a
probability vector (the matrix is left stochastic). Given the prior ``py[j] =
p(true_label=j)``, the matrix is called *valid* (learnable) when, for every class ``k``,
``p(label=k) * p(true_label=k) < p(label=k, true_label=k)``: the given label ``k`` is
positively correlated with the true label ``k``. This is the condition that cleanlab's
benchmarks (Northcutt, Jiang & Chuang, "Confident Learning", JAIR 2021) generate noise
under.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from core._util import group_by_label, label_counts
from core._validation import check_positive_int, validate_labels
from core.constants import FLOATING_POINT_COMPARISON, ROW_SUM_TOLERANCE
from core.typing import LabelLike

__all__ = [
    "RandomStateLike",
    "generate_n_rand_probabilities_that_sum_to_m",
    "generate_noise_matrix_from_trace",
    "generate_noisy_labels",
    "noise_matrix_is_valid",
    "randomly_distribute_N_balls_into_K_bins",
]

#: A seed (int in ``[0, 2**32)``), a ``RandomState`` to draw from, or None for fresh
#: randomness (a new ``RandomState`` seeded from the operating system's entropy).
RandomStateLike = int | np.integer | np.random.RandomState | None


# --------------------------------------------------------------------------- validation


def _as_random_state(random_state: Any, name: str) -> np.random.RandomState:
    """Return the ``RandomState`` to draw from; never numpy's global one."""
    if random_state is None:
        return np.random.RandomState()  # seeded from OS entropy
    if isinstance(random_state, np.random.RandomState):
        return random_state
    if isinstance(random_state, (int, np.integer)) and not isinstance(random_state, bool):
        if not 0 <= random_state < 2**32:
            raise ValueError(f"{name} must be an int in [0, 2**32 - 1]; got {random_state}")
        return np.random.RandomState(int(random_state))
    raise TypeError(
        f"{name} must be an int, a numpy.random.RandomState or None; "
        f"got {type(random_state).__name__}"
    )


def _check_number(name: str, value: Any, *, low: float, high: float) -> float:
    """Return ``value`` as a float, or raise naming ``name`` unless ``low <= value <= high``."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number; got {type(value).__name__}")
    if not low <= value <= high:  # also rejects NaN
        raise ValueError(f"{name} must be in [{low}, {high}]; got {value}")
    return float(value)


def _check_prior(py: Any, num_classes: int) -> np.ndarray:
    """Return ``py`` as a float array of shape ``(num_classes,)`` that sums to 1."""
    prior = np.asarray(py, dtype=float)
    if prior.shape != (num_classes,):
        raise ValueError(
            f"py must have shape (K,) = ({num_classes},), one prior per class; "
            f"got shape {prior.shape}"
        )
    if not np.all(np.isfinite(prior)) or prior.min() < 0:
        raise ValueError(f"py must hold probabilities >= 0; got {prior}")
    # No noise matrix is valid for a prior that is not a distribution (the joint
    # p(label, true_label) cannot sum to 1), so fail now rather than after max_iter tries.
    if abs(prior.sum() - 1.0) > FLOATING_POINT_COMPARISON:
        raise ValueError(f"py must sum to 1 (it is p(true_label=k)); got sum {prior.sum()!r}")
    return prior


def _check_noise_matrix(noise_matrix: Any) -> np.ndarray:
    """Return ``noise_matrix`` as a float ``(K, K)`` array whose columns are distributions."""
    matrix = np.asarray(noise_matrix, dtype=float)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1] or matrix.size == 0:
        raise ValueError(f"noise_matrix must be a square (K, K) matrix; got shape {matrix.shape}")
    if not np.all(np.isfinite(matrix)):
        raise ValueError("noise_matrix contains NaN or infinite values")
    # Generated matrices meet [0, 1] only up to FLOATING_POINT_COMPARISON (a diagonal of
    # 1 + 3e-7 leaves a noise rate of -3e-7), so accept that much.
    if matrix.min() < -FLOATING_POINT_COMPARISON or matrix.max() > 1 + FLOATING_POINT_COMPARISON:
        raise ValueError(
            "noise_matrix entries must be probabilities in [0, 1]; "
            f"got min {matrix.min()}, max {matrix.max()}"
        )
    col_sums = matrix.sum(axis=0)
    # The same tolerance as for rows of pred_probs: hand-written matrices are often rounded.
    bad = np.abs(col_sums - 1.0) > ROW_SUM_TOLERANCE
    if bad.any():
        col = int(np.flatnonzero(bad)[0])
        raise ValueError(
            "noise_matrix columns must sum to 1 (column j is p(label | true_label=j)); "
            f"column {col} sums to {col_sums[col]:.6g}"
        )
    return matrix


# --------------------------------------------------------------------------- random helpers


def _rand_probabilities(
    n: int,
    m: float,
    max_prob: float,
    min_prob: float,
    rs: np.random.RandomState,
    *,
    max_name: str = "max_prob",
    min_name: str = "min_prob",
) -> np.ndarray:
    """Draw ``n`` values in ``[min_prob, max_prob]`` (up to a tolerance) that sum to ``m``."""
    if n == 0:
        return np.array([])
    if max_prob + FLOATING_POINT_COMPARISON < m / n:
        raise ValueError(
            f"{max_name}={max_prob} is too small: {n} values of at most {max_name} cannot "
            f"sum to {m} (needs {max_name} >= {m / n:.6g}): {max_name} must be greater than or "
            f"equal to {m}/{n}"
        )
    if min_prob > (m + FLOATING_POINT_COMPARISON) / n:
        raise ValueError(
            f"{min_name}={min_prob} is too large: {n} values of at least {min_name} cannot "
            f"sum to {m} (needs {min_name} <= {m / n:.6g}): {min_name} must be less than or "
            f"equal to {m}/{n}"
        )
    # A flat Dirichlet draw is uniform on the simplex.
    result = rs.dirichlet(np.ones(n)) * m
    # Pull the largest value down to max_prob, moving the excess onto the smallest value.
    # A random share of the room left is swapped between the two, so that the new largest
    # value is not always exactly max_prob. Each step draws once from rs, so the number of
    # steps, and hence the stream, is the same as cleanlab's.
    while result.max() > max_prob + FLOATING_POINT_COMPARISON:
        smallest, largest = result.min(), result.max()
        raised = smallest + (largest - max_prob)
        shift = (max_prob - raised) * rs.random_sample()
        result[result.argmin()] = raised + shift
        result[result.argmax()] = max_prob - shift
    # Symmetrically, lift the smallest value up to min_prob at the expense of the largest.
    while result.min() < min_prob - FLOATING_POINT_COMPARISON:
        smallest, largest = result.min(), result.max()
        lowered = largest - (min_prob - smallest)
        shift = (lowered - min_prob) * rs.random_sample()
        result[result.argmax()] = lowered - shift
        result[result.argmin()] = min_prob + shift
    return result


def _distribute_balls(
    n_balls: int,
    n_bins: int,
    max_per_bin: int | None,
    min_per_bin: float | None,
    rs: np.random.RandomState,
) -> np.ndarray:
    """Random integer bin counts; see :func:`randomly_distribute_N_balls_into_K_bins`."""
    if n_balls == 0:
        return np.zeros(n_bins, dtype=int)
    cap = n_balls if max_per_bin is None else min(max_per_bin, n_balls)
    floor = 0 if min_per_bin is None else min(min_per_bin, n_balls / n_bins)
    if n_balls / n_bins > cap:  # not all balls fit: place as many as do
        n_balls = cap * n_bins
    if n_balls == 0:  # cap == 0 (cleanlab divides by zero here)
        return np.zeros(n_bins, dtype=int)
    shares = _rand_probabilities(n_bins, 1, cap / n_balls, floor / n_balls, rs)
    counts = np.round(shares * n_balls)
    # Rounding may miss the total by a few balls: take them one at a time from the fullest
    # bin, or give them to the emptiest (a sequential rule: ties go to the first bin).
    total = counts.sum()
    while total > n_balls:
        counts[counts.argmax()] -= 1
        total -= 1
    while total < n_balls:
        counts[counts.argmin()] += 1
        total += 1
    return counts.astype(int)


def generate_n_rand_probabilities_that_sum_to_m(
    n: int,
    m: float,
    *,
    max_prob: float = 1.0,
    min_prob: float = 0.0,
    random_state: RandomStateLike = None,
) -> np.ndarray:
    """Draw ``n`` random probabilities in ``[min_prob, max_prob]`` that sum to ``m``.

    Starts from a uniform draw on the simplex scaled by ``m`` (a flat Dirichlet), then
    repeatedly moves mass from the largest to the smallest entry (or back) until every
    entry is within ``FLOATING_POINT_COMPARISON`` of the bounds.

    Parameters
    ----------
    n : int
        Number of probabilities, ``n >= 0``.
    m : float
        Their sum, ``m >= 0``.
    max_prob : float, default=1.0
        Upper bound of every entry, in ``[0, 1]``; needs ``max_prob >= m / n``.
    min_prob : float, default=0.0
        Lower bound of every entry, in ``[0, 1]``; needs ``min_prob <= m / n``.
    random_state : int, numpy.random.RandomState or None, default=None
        Seed or generator to draw from. None draws fresh randomness. An int ``s`` gives
        the same result as ``cleanlab``'s function after ``np.random.seed(s)``.

    Returns
    -------
    np.ndarray of shape (n,)
        Floats summing to ``m`` (up to rounding).

    Raises
    ------
    ValueError
        If the bounds cannot be met (``max_prob < m / n`` or ``min_prob > m / n``).

    Examples
    --------
    >>> p = generate_n_rand_probabilities_that_sum_to_m(4, 2.0, max_prob=0.6, random_state=0)
    >>> bool(abs(p.sum() - 2.0) < 1e-9 and p.max() <= 0.6 + 1e-6)
    True
    """
    n = check_positive_int("n", n, minimum=0)
    m = _check_number("m", m, low=0.0, high=float(np.finfo(float).max))
    max_prob = _check_number("max_prob", max_prob, low=0.0, high=1.0)
    min_prob = _check_number("min_prob", min_prob, low=0.0, high=1.0)
    rs = _as_random_state(random_state, "random_state")
    return _rand_probabilities(n, m, max_prob, min_prob, rs)


def randomly_distribute_N_balls_into_K_bins(  # cleanlab's public names, upper case
    N: int,
    K: int,
    *,
    max_balls_per_bin: int | None = None,
    min_balls_per_bin: int | None = None,
    random_state: RandomStateLike = None,
) -> np.ndarray:
    """Randomly split ``N`` balls into ``K`` bins, within per-bin bounds.

    Bin shares are drawn with :func:`generate_n_rand_probabilities_that_sum_to_m` and
    rounded; rounding errors are fixed one ball at a time.

    Parameters
    ----------
    N : int
        Number of balls, ``N >= 0``.
    K : int
        Number of bins, ``K >= 1``.
    max_balls_per_bin : int, optional
        At most this many balls per bin (default ``N``). If ``N / K`` exceeds it, only
        ``max_balls_per_bin * K`` balls are placed (as in cleanlab), so the result then
        sums to less than ``N``.
    min_balls_per_bin : int, optional
        At least this many balls per bin (capped at ``N / K``; default 0).
    random_state : int, numpy.random.RandomState or None, default=None
        Seed or generator to draw from; None draws fresh randomness.

    Returns
    -------
    np.ndarray of shape (K,), int
        Balls per bin. (cleanlab's docstring swaps N and K here; this is the behaviour.)

    Examples
    --------
    >>> counts = randomly_distribute_N_balls_into_K_bins(10, 3, max_balls_per_bin=4, random_state=0)
    >>> int(counts.sum()), bool(counts.max() <= 4)
    (10, True)
    """
    n_balls = check_positive_int("N", N, minimum=0)
    n_bins = check_positive_int("K", K, minimum=1)
    cap = (
        None
        if max_balls_per_bin is None
        else check_positive_int("max_balls_per_bin", max_balls_per_bin, minimum=0)
    )
    floor = (
        None
        if min_balls_per_bin is None
        else check_positive_int("min_balls_per_bin", min_balls_per_bin, minimum=0)
    )
    rs = _as_random_state(random_state, "random_state")
    return _distribute_balls(n_balls, n_bins, cap, floor, rs)


# --------------------------------------------------------------------------- noise matrices


def _is_valid(noise_matrix: np.ndarray, py: np.ndarray, *, verbose: bool = False) -> bool:
    """The learnability check of :func:`noise_matrix_is_valid`, for validated inputs."""
    joint = noise_matrix * py  # p(label=i, true_label=j) = P[i][j] * p(true_label=j)
    total = joint.sum()
    if not abs(total - 1.0) < FLOATING_POINT_COMPARISON:
        if verbose:
            print(f"noise_matrix * py sums to {total:.6g}, not 1: not a joint distribution")
        return False
    # np.dot, as cleanlab: the comparison below is strict, so the last bit matters.
    ps = np.dot(noise_matrix, py)  # p(label=i)
    independent = ps * py  # p(label=k) p(true_label=k): the joint if labels were random
    agree = np.diagonal(joint)  # p(label=k, true_label=k)
    ok = independent < agree
    if verbose:
        shown = len(ok) if ok.all() else int(np.argmin(ok)) + 1  # up to the first failure
        for k in range(shown):
            print(
                f"class {k}: p(label={k}) p(true_label={k}) = {independent[k]:.6g} "
                f"< p(label={k}, true_label={k}) = {agree[k]:.6g}: {bool(ok[k])}"
            )
    return bool(ok.all())


def noise_matrix_is_valid(
    noise_matrix: np.ndarray, py: np.ndarray, *, verbose: bool = False
) -> bool:
    """Whether a noise matrix is learnable under the prior ``py``.

    Valid means that ``noise_matrix * py`` is a joint distribution (sums to 1) and that,
    for every class ``k``, ``p(label=k) p(true_label=k) < p(label=k, true_label=k)``,
    where ``p(label) = noise_matrix @ py``.

    Parameters
    ----------
    noise_matrix : np.ndarray of shape (n_classes, n_classes)
        ``P[i][j] = p(label=i | true_label=j)``; columns sum to 1.
    py : np.ndarray of shape (n_classes,)
        Prior ``p(true_label=k)``.
    verbose : bool, default=False
        Print the per-class comparison (up to the first failing class).

    Returns
    -------
    bool

    Raises
    ------
    ValueError
        If the shapes disagree or the inputs are not finite.

    Examples
    --------
    >>> import numpy as np
    >>> noise_matrix_is_valid(np.array([[0.8, 0.3], [0.2, 0.7]]), np.array([0.5, 0.5]))
    True
    >>> noise_matrix_is_valid(np.full((2, 2), 0.5), np.array([0.5, 0.5]))
    False
    """
    prior = np.asarray(py, dtype=float)
    if prior.ndim != 1 or prior.size == 0:
        raise ValueError(f"py must be 1-D of shape (n_classes,); got shape {prior.shape}")
    k = len(prior)
    matrix = np.asarray(noise_matrix, dtype=float)
    if matrix.shape != (k, k):
        raise ValueError(
            f"noise_matrix must have shape (K, K) = ({k}, {k}) to match py; "
            f"got shape {matrix.shape}"
        )
    if not (np.all(np.isfinite(matrix)) and np.all(np.isfinite(prior))):
        raise ValueError("noise_matrix and py must not contain NaN or infinite values")
    return _is_valid(matrix, prior, verbose=verbose)


def _two_class_noise_matrix(
    trace: float, frac_zero_noise_rates: float, rs: np.random.RandomState
) -> np.ndarray:
    """The ``K == 2`` case, where the trace pins each column down to one free number.

    As in cleanlab, the trace and noise-rate bounds are not used here.
    """
    if frac_zero_noise_rates >= 0.5:  # one noise rate is 0, so one column is (1, 0)
        if trace < 1:
            raise ValueError(
                "a 2-class noise matrix with a zero noise rate has a diagonal entry of 1, "
                f"so trace must be >= 1; got trace={trace} with "
                f"frac_zero_noise_rates={frac_zero_noise_rates}"
            )
        other = trace - 1.0
        if rs.random_sample() > 0.5:
            return np.array([[1.0, 1 - other], [0.0, other]])
        return np.array([[other, 0.0], [1 - other, 1.0]])  # the same, rotated by 180°
    diagonal = _rand_probabilities(2, trace, 1.0, 0.0, rs)
    return np.array([[diagonal[0], 1 - diagonal[1]], [1 - diagonal[0], diagonal[1]]])


def _draw_noise_matrix(
    num_classes: int,
    trace: float,
    *,
    max_trace_prob: float,
    min_trace_prob: float,
    max_noise_rate: float,
    min_noise_rate: float,
    frac_zero_noise_rates: float,
    rs: np.random.RandomState,
) -> np.ndarray:
    """One random ``K x K`` noise matrix with the given trace (``K > 2``)."""
    k = num_classes
    diagonal = _rand_probabilities(
        k,
        trace,
        max_trace_prob,
        min_trace_prob,
        rs,
        max_name="max_trace_prob",
        min_name="min_trace_prob",
    )
    noise_matrix = np.diag(diagonal)
    noisy_cols = np.flatnonzero(diagonal != 1)
    # A column whose diagonal is exactly 1 already holds K - 1 zero noise rates; spread the
    # remaining zeros over the other columns, at most K - 2 per column so that each keeps
    # at least one non-zero rate.
    num_zeros = int(k * (k - 1) * frac_zero_noise_rates) - (k - len(noisy_cols)) * (k - 1)
    zeros_per_col = _distribute_balls(max(num_zeros, 0), len(noisy_cols), k - 2, 0, rs)
    for col, num_zero in zip(noisy_cols, zeros_per_col, strict=True):
        num_noise = k - 1 - int(num_zero)
        rates = _rand_probabilities(
            num_noise,
            1 - diagonal[col],
            max_noise_rate,
            min_noise_rate,
            rs,
            max_name="max_noise_rate",
            min_name="min_noise_rate",
        )
        rows = rs.choice(np.delete(np.arange(k), col), num_noise, replace=False)
        noise_matrix[rows, col] = rates[::-1]  # cleanlab pops rates from the end
    return noise_matrix


def generate_noise_matrix_from_trace(
    K: int,  # cleanlab's public name, upper case
    trace: float,
    *,
    max_trace_prob: float = 1.0,
    min_trace_prob: float = 1e-5,
    max_noise_rate: float = 1 - 1e-5,
    min_noise_rate: float = 0.0,
    valid_noise_matrix: bool = True,
    py: np.ndarray | None = None,
    frac_zero_noise_rates: float = 0.0,
    seed: RandomStateLike = 0,
    max_iter: int = 10000,
) -> np.ndarray | None:
    """Draw a random ``K x K`` noise matrix whose diagonal sums to ``trace``.

    The diagonal is drawn first (within the trace-probability bounds); then each column
    that is not ``(0, .., 1, .., 0)`` gets noise rates summing to ``1 - diagonal``, some
    of them zero (``frac_zero_noise_rates``), placed in random rows. With
    ``valid_noise_matrix=True`` this is retried until the matrix is learnable under ``py``
    (:func:`noise_matrix_is_valid`), at most ``max_iter`` times.

    Parameters
    ----------
    K : int
        Number of classes, ``K >= 2``.
    trace : float
        Sum of the diagonal, in ``[0, K]`` (``> 1`` when ``valid_noise_matrix``). A higher
        trace means less noise; ``trace == K`` is the identity.
    max_trace_prob, min_trace_prob : float, default=1.0, 1e-5
        Bounds of each diagonal entry, in ``[0, 1]``. Not used when ``K == 2`` (as in
        cleanlab).
    max_noise_rate, min_noise_rate : float, default=1 - 1e-5, 0.0
        Bounds of each non-zero off-diagonal entry, in ``[0, 1]``. Not used when
        ``K == 2``.
    valid_noise_matrix : bool, default=True
        Only return a learnable matrix; needs ``trace > 1``.
    py : np.ndarray of shape (K,), optional
        Prior ``p(true_label=k)``; required when ``valid_noise_matrix`` and ``K > 2``,
        and then must sum to 1.
    frac_zero_noise_rates : float, default=0.0
        Fraction, in ``[0, 1]``, of the ``K * (K - 1)`` off-diagonal entries set to 0.
        A column whose diagonal is 1 has only zeros (possibly more than asked); every
        other column keeps at least one non-zero rate, so high fractions give fewer
        zeros than asked (as in cleanlab, whose docstring promises "or higher").
    seed : int, numpy.random.RandomState or None, default=0
        Seed or generator to draw from. An int ``s`` gives exactly cleanlab's matrix for
        ``seed=s``; numpy's global random state is neither used nor changed. None draws
        fresh randomness.
    max_iter : int, default=10000
        Attempts to find a valid matrix before giving up. Below 1, returns None at once
        (as cleanlab).

    Returns
    -------
    np.ndarray of shape (K, K) or None
        Columns sum to 1 and the diagonal to ``trace``; None if no valid matrix was found
        in ``max_iter`` attempts.

    Raises
    ------
    ValueError
        If ``K < 2``, ``trace`` is out of range, ``py`` is missing or malformed, a bound or
        fraction is outside ``[0, 1]``, or the bounds cannot be met for this trace.
    TypeError
        If ``K`` or ``max_iter`` is not an int, or ``seed`` not an int, RandomState or None.

    Notes
    -----
    Bounds are met up to ``FLOATING_POINT_COMPARISON``, as in cleanlab: with ``trace``
    close to ``K`` a diagonal entry may exceed 1 by up to 1e-6, leaving noise rates as low
    as -1e-6 in its column.

    Examples
    --------
    >>> import numpy as np
    >>> nm = generate_noise_matrix_from_trace(3, 2.4, py=np.array([0.3, 0.3, 0.4]), seed=1)
    >>> bool(np.isclose(np.trace(nm), 2.4) and np.allclose(nm.sum(axis=0), 1))
    True
    """
    k = check_positive_int("K", K, minimum=2)
    trace = _check_number("trace", trace, low=0.0, high=k)
    if valid_noise_matrix and trace <= 1:
        raise ValueError(
            "trace must be > 1 when valid_noise_matrix=True (a learnable noise matrix "
            f"needs trace > 1); got trace={trace}"
        )
    bounds = {
        "max_trace_prob": max_trace_prob,
        "min_trace_prob": min_trace_prob,
        "max_noise_rate": max_noise_rate,
        "min_noise_rate": min_noise_rate,
        "frac_zero_noise_rates": frac_zero_noise_rates,
    }
    checked = {name: _check_number(name, v, low=0.0, high=1.0) for name, v in bounds.items()}
    if isinstance(max_iter, bool) or not isinstance(max_iter, (int, np.integer)):
        raise TypeError(f"max_iter must be an int; got {type(max_iter).__name__}")
    prior = None
    if valid_noise_matrix and k > 2:
        if py is None:
            raise ValueError(
                "py is required when valid_noise_matrix=True and K > 2 (validity depends "
                "on the prior: py must be given); got None"
            )
        prior = _check_prior(py, k)
    rs = _as_random_state(seed, "seed")
    if max_iter < 1:
        return None
    if k == 2:  # every 2 x 2 matrix with trace > 1 is valid, whatever py is
        return _two_class_noise_matrix(trace, checked["frac_zero_noise_rates"], rs)
    for _ in range(max_iter):
        noise_matrix = _draw_noise_matrix(
            k,
            trace,
            max_trace_prob=checked["max_trace_prob"],
            min_trace_prob=checked["min_trace_prob"],
            max_noise_rate=checked["max_noise_rate"],
            min_noise_rate=checked["min_noise_rate"],
            frac_zero_noise_rates=checked["frac_zero_noise_rates"],
            rs=rs,
        )
        if prior is None or _is_valid(noise_matrix, prior):
            return noise_matrix
    return None


def generate_noisy_labels(
    true_labels: LabelLike,
    noise_matrix: np.ndarray,
    *,
    random_state: RandomStateLike = None,
) -> np.ndarray:
    """Flip labels so that they follow ``noise_matrix`` against ``true_labels``.

    For each true class ``j`` with ``n_j`` examples, ``floor(P[i][j] * n_j)`` of them
    (chosen at random, without replacement) get label ``i != j``; the rest keep ``j``.
    (The product is computed as cleanlab computes it, so it can land one below; see Notes.)

    Parameters
    ----------
    true_labels : array_like of shape (n_samples,)
        Noise-free labels, integers in ``0..K-1``. Classes may be missing.
    noise_matrix : np.ndarray of shape (n_classes, n_classes)
        ``P[i][j] = p(label=i | true_label=j)``; entries in ``[0, 1]``, columns sum to 1.
    random_state : int, numpy.random.RandomState or None, default=None
        Seed or generator to draw from. None draws fresh randomness. cleanlab's function
        (which has no such argument) draws from numpy's global state: after
        ``np.random.seed(s)`` it returns what this returns for ``random_state=s``.

    Returns
    -------
    np.ndarray of shape (n_samples,), intp
        The noisy labels.

    Raises
    ------
    ValueError
        If ``true_labels`` are not class indices below ``K`` or ``noise_matrix`` is not a
        square matrix of probabilities whose columns sum to 1.

    Notes
    -----
    Counts are truncated, not rounded, and computed as ``(P * (n_j / n)) * n`` in
    floating point, exactly as cleanlab does, so that they match it to the example: for
    ``P[i][j] = 0.3``, ``n_j = 10`` and ``n = 15`` that is 2.9999999999999996, so 2 flips,
    not 3. Unlike
    cleanlab (whose class prior covers only the classes present, and so fails to broadcast
    when a class is missing), every class ``0..K-1`` is counted here.

    Examples
    --------
    >>> import numpy as np
    >>> labels = generate_noisy_labels(
    ...     [0] * 10 + [1] * 10, np.array([[0.8, 0.3], [0.2, 0.7]]), random_state=0
    ... )
    >>> int((labels[:10] == 1).sum()), int((labels[10:] == 0).sum())
    (2, 3)
    """
    true = validate_labels(true_labels, name="true_labels")
    matrix = _check_noise_matrix(noise_matrix)
    k = len(matrix)
    if true.max() >= k:
        raise ValueError(
            f"true_labels must be class indices 0..{k - 1} (noise_matrix is {k} x {k}); "
            f"got label {true.max()}"
        )
    rs = _as_random_state(random_state, "random_state")
    n = len(true)
    py = label_counts(true, k) / n
    flips = (matrix * py * n).astype(int)  # flips[i][j]: true j relabelled i
    np.fill_diagonal(flips, 0)
    noisy = true.copy()
    classes = np.arange(k)
    # One draw per class, in class order, as cleanlab does: the stream must line up.
    for j, members in enumerate(group_by_label(true, k)):
        new_labels = np.repeat(classes, flips[:, j])
        if 0 < len(new_labels) <= len(members):
            noisy[rs.choice(members, len(new_labels), replace=False)] = new_labels
    return noisy
