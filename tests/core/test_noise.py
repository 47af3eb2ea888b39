"""core.benchmarking.noise against cleanlab.benchmarking.noise_generation.

cleanlab draws from numpy's global random state; ours from an explicit RandomState. The
oracle tests seed the global state with ``np.random.seed(s)`` before calling cleanlab and
pass ``s`` to ours: the outputs must be identical.
"""

from __future__ import annotations

import doctest
import itertools

import numpy as np
import pytest
from cleanlab.benchmarking import noise_generation as cl
from hypothesis import given, settings
from hypothesis import strategies as st

from core.benchmarking import noise
from core.benchmarking.noise import (
    generate_n_rand_probabilities_that_sum_to_m,
    generate_noise_matrix_from_trace,
    generate_noisy_labels,
    noise_matrix_is_valid,
    randomly_distribute_N_balls_into_K_bins,
)


@pytest.fixture(autouse=True)
def _restore_global_rng():
    """cleanlab reseeds numpy's global RandomState; put it back after each test."""
    state = np.random.get_state()
    yield
    np.random.set_state(state)


def _global_state_fingerprint() -> tuple:
    name, keys, pos, has_gauss, cached = np.random.get_state()
    return name, keys.tobytes(), pos, has_gauss, cached


def _outcome(fn, *args, **kwargs):
    """The return value, or the exception type, so both libraries can be compared."""
    try:
        return fn(*args, **kwargs)
    except (ValueError, ZeroDivisionError) as err:
        return type(err)


def _assert_same(expected, actual) -> None:
    if isinstance(expected, type) or expected is None:
        assert actual is expected
    else:
        assert actual is not None and not isinstance(actual, type)
        np.testing.assert_array_equal(actual, expected)


def _labels(rng: np.random.Generator, n: int, k: int, *, tiny: int = 0) -> np.ndarray:
    """Imbalanced labels in which every class 0..k-1 occurs, ``tiny`` of them only once."""
    weights = rng.dirichlet(np.full(k, 0.7))
    labels = rng.choice(k, size=n, p=weights)
    labels[:k] = np.arange(k)
    for c in range(tiny):
        labels[labels == c] = k - 1
        labels[c] = c
    return rng.permutation(labels)


# --------------------------------------------------------------------------- noise matrices


@pytest.mark.parametrize("k", [2, 3, 4, 5, 8, 12, 20, 50])
def test_noise_matrix_matches_cleanlab(k):
    rng = np.random.default_rng(k)
    checked = 0
    for seed, trace_frac, frac_zero, valid in itertools.product(
        range(4), (0.3, 0.6, 0.9, 1.0), (0.0, 0.4, 0.5, 1.0), (True, False)
    ):
        trace = k * trace_frac
        if valid and trace <= 1:
            continue
        if k == 2 and frac_zero >= 0.5 and trace < 1:
            continue  # cleanlab returns negative "probabilities"; see the deviation test
        py = rng.dirichlet(np.full(k, 2.0))
        kwargs = dict(py=py, frac_zero_noise_rates=frac_zero, valid_noise_matrix=valid, max_iter=50)
        expected = _outcome(cl.generate_noise_matrix_from_trace, k, trace, seed=seed, **kwargs)
        actual = _outcome(generate_noise_matrix_from_trace, k, trace, seed=seed, **kwargs)
        _assert_same(expected, actual)
        checked += expected is not None
    assert checked >= 40  # most draws succeed, so the comparison is not vacuous


@pytest.mark.parametrize(
    "bounds",
    [
        dict(max_trace_prob=0.8, min_trace_prob=0.3),
        dict(max_noise_rate=0.15, min_noise_rate=0.01),
        dict(max_trace_prob=0.95, min_trace_prob=0.5, max_noise_rate=0.3, min_noise_rate=0.05),
        dict(min_noise_rate=0.4),  # infeasible for many columns: both must raise alike
    ],
)
@pytest.mark.parametrize("k", [3, 6, 10])
def test_noise_matrix_bounds_match_cleanlab(k, bounds):
    py = np.full(k, 1 / k)
    for seed, trace_frac in itertools.product(range(5), (0.5, 0.7, 0.85)):
        kwargs = dict(py=py, max_iter=30, frac_zero_noise_rates=0.2, **bounds)
        trace = k * trace_frac
        expected = _outcome(cl.generate_noise_matrix_from_trace, k, trace, seed=seed, **kwargs)
        actual = _outcome(generate_noise_matrix_from_trace, k, trace, seed=seed, **kwargs)
        _assert_same(expected, actual)


def test_noise_matrix_respects_bounds():
    nm = generate_noise_matrix_from_trace(
        6,
        4.2,
        py=np.full(6, 1 / 6),
        max_trace_prob=0.8,
        min_trace_prob=0.6,
        max_noise_rate=0.2,
        min_noise_rate=0.01,
        seed=3,
    )
    assert nm is not None
    diag = np.diagonal(nm)
    off = nm[~np.eye(6, dtype=bool)]
    tol = 1e-6
    assert diag.max() <= 0.8 + tol and diag.min() >= 0.6 - tol
    assert off.max() <= 0.2 + tol
    assert off[off > 0].min() >= 0.01 - tol


def test_noise_matrix_seed_as_random_state_continues_the_stream():
    py = np.array([0.2, 0.3, 0.5])
    expected = cl.generate_noise_matrix_from_trace(3, 2.1, py=py, seed=7)
    actual = generate_noise_matrix_from_trace(3, 2.1, py=py, seed=np.random.RandomState(7))
    np.testing.assert_array_equal(actual, expected)
    # a RandomState that has already been drawn from gives a different matrix
    used = np.random.RandomState(7)
    used.random_sample()
    assert not np.array_equal(generate_noise_matrix_from_trace(3, 2.1, py=py, seed=used), actual)


def test_noise_matrix_leaves_global_rng_alone():
    np.random.seed(123)
    before = _global_state_fingerprint()
    generate_noise_matrix_from_trace(5, 3.5, py=np.full(5, 0.2), seed=1)
    generate_noise_matrix_from_trace(5, 3.5, py=np.full(5, 0.2), seed=None)
    generate_noise_matrix_from_trace(2, 1.5, frac_zero_noise_rates=0.5, seed=2)
    assert _global_state_fingerprint() == before


def test_noise_matrix_seed_none_is_fresh_randomness():
    py = np.full(4, 0.25)
    first = generate_noise_matrix_from_trace(4, 3.0, py=py, seed=None)
    second = generate_noise_matrix_from_trace(4, 3.0, py=py, seed=None)
    assert first is not None and second is not None
    assert not np.array_equal(first, second)


def test_noise_matrix_max_iter_below_one_returns_none_like_cleanlab():
    py = np.full(3, 1 / 3)
    assert cl.generate_noise_matrix_from_trace(3, 2.0, py=py, max_iter=0) is None
    assert generate_noise_matrix_from_trace(3, 2.0, py=py, max_iter=0) is None


def test_noise_matrix_gives_up_like_cleanlab():
    # A trace barely above 1: no draw in 20 tries is learnable; with more tries one is.
    py = np.full(3, 1 / 3)
    assert cl.generate_noise_matrix_from_trace(3, 1.05, py=py, seed=0, max_iter=20) is None
    assert generate_noise_matrix_from_trace(3, 1.05, py=py, seed=0, max_iter=20) is None
    expected = cl.generate_noise_matrix_from_trace(3, 1.05, py=py, seed=0, max_iter=2_000)
    assert expected is not None
    actual = generate_noise_matrix_from_trace(3, 1.05, py=py, seed=0, max_iter=2_000)
    np.testing.assert_array_equal(actual, expected)


def test_two_class_zero_noise_rate_with_trace_below_one_raises():
    # cleanlab returns a matrix with a negative entry here; we refuse.
    bad = cl.generate_noise_matrix_from_trace(
        2, 0.5, valid_noise_matrix=False, frac_zero_noise_rates=0.5, seed=0
    )
    assert bad.min() < 0
    with pytest.raises(ValueError, match="trace must be >= 1"):
        generate_noise_matrix_from_trace(
            2, 0.5, valid_noise_matrix=False, frac_zero_noise_rates=0.5, seed=0
        )


@settings(max_examples=60, deadline=None)
@given(
    k=st.integers(2, 12),
    trace_frac=st.floats(0.15, 1.0),
    frac_zero=st.floats(0.0, 1.0),
    seed=st.integers(0, 2**32 - 1),
    concentration=st.floats(0.5, 5.0),
)
def test_noise_matrix_invariants(k, trace_frac, frac_zero, seed, concentration):
    trace = max(k * trace_frac, 1.01)
    py = np.random.default_rng(seed).dirichlet(np.full(k, concentration))
    nm = generate_noise_matrix_from_trace(
        k, trace, py=py, frac_zero_noise_rates=frac_zero, seed=seed, max_iter=100
    )
    if nm is None:
        return
    assert nm.shape == (k, k)
    np.testing.assert_allclose(nm.sum(axis=0), 1.0, rtol=0, atol=1e-9)
    np.testing.assert_allclose(np.trace(nm), trace, rtol=0, atol=1e-9)
    # As in cleanlab, diagonal entries may overshoot 1 by up to FLOATING_POINT_COMPARISON
    # (the tolerance of the bounds), leaving tiny negative noise rates in that column.
    assert nm.min() >= -1e-6 and nm.max() <= 1 + 1e-6
    assert noise_matrix_is_valid(nm, py)
    generate_noisy_labels(np.arange(k).repeat(3), nm, random_state=seed)  # accepted as is
    if k > 2:
        # Zero noise rates: all of a column whose diagonal is 1, plus the requested ones
        # spread over the other columns, at most K - 2 per column.
        noisy_cols = int(np.count_nonzero(np.diagonal(nm) != 1))
        wanted = max(int(k * (k - 1) * frac_zero) - (k - noisy_cols) * (k - 1), 0)
        expected = (k - noisy_cols) * (k - 1) + min(wanted, (k - 2) * noisy_cols)
        assert np.count_nonzero(nm[~np.eye(k, dtype=bool)] == 0) == expected


# --------------------------------------------------------------------------- noisy labels


@pytest.mark.parametrize("k", [2, 3, 5, 10, 25, 50])
def test_noisy_labels_match_cleanlab(k):
    rng = np.random.default_rng(100 + k)
    changed = 0
    for seed in range(6):
        n = int(rng.integers(3 * k, 3_000))
        true = _labels(rng, n, k, tiny=min(seed % 3, k - 1))
        py = np.bincount(true, minlength=k) / n
        nm = generate_noise_matrix_from_trace(
            k,
            max(1.2, k * rng.uniform(0.4, 0.95)),
            py=py,
            seed=seed,
            frac_zero_noise_rates=rng.uniform(0, 0.8),
        )
        assert nm is not None
        np.random.seed(seed)
        expected = cl.generate_noisy_labels(true, nm)
        np.testing.assert_array_equal(generate_noisy_labels(true, nm, random_state=seed), expected)
        np.random.seed(seed)
        expected = cl.generate_noisy_labels(true, nm)
        actual = generate_noisy_labels(true, nm, random_state=np.random.RandomState(seed))
        np.testing.assert_array_equal(actual, expected)
        changed += bool((actual != true).any())
    assert changed >= 4  # noise was added, so the matches are not trivial


def test_noisy_labels_single_class_present_matches_cleanlab():
    true = np.full(200, 2)
    nm = np.array([[0.7, 0.1, 0.2], [0.2, 0.8, 0.1], [0.1, 0.1, 0.7]])
    np.random.seed(5)
    expected = cl.generate_noisy_labels(true, nm)
    actual = generate_noisy_labels(true, nm, random_state=5)
    np.testing.assert_array_equal(actual, expected)
    np.testing.assert_array_equal(np.bincount(actual, minlength=3), [40, 20, 140])


def test_noisy_labels_hand_example():
    true = np.array([0] * 10 + [1] * 10)
    nm = np.array([[0.8, 0.3], [0.2, 0.7]])
    labels = generate_noisy_labels(true, nm, random_state=0)
    assert labels.dtype == np.intp
    assert (labels[:10] == 1).sum() == 2  # floor(0.2 * 10) of class 0 became 1
    assert (labels[10:] == 0).sum() == 3  # floor(0.3 * 10) of class 1 became 0
    np.testing.assert_array_equal(true, [0] * 10 + [1] * 10)  # input untouched


def test_noisy_labels_truncate_after_a_float_round_trip_like_cleanlab():
    # 0.3 of the 10 examples of class 0 is 3, but (0.3 * (10 / 15)) * 15 = 2.9999999999999996
    # in floating point, which cleanlab truncates to 2; so do we.
    true = np.array([0] * 10 + [1] * 5)
    nm = np.array([[0.7, 0.0], [0.3, 1.0]])
    np.random.seed(4)
    expected = cl.generate_noisy_labels(true, nm)
    actual = generate_noisy_labels(true, nm, random_state=4)
    np.testing.assert_array_equal(actual, expected)
    assert (actual[:10] == 1).sum() == 2
    np.testing.assert_array_equal(actual[10:], 1)


def test_noisy_labels_missing_class():
    # Class 1 never occurs. cleanlab's prior covers only present classes and fails to
    # broadcast; ours flips the present classes as the matrix says.
    true = np.array([0] * 20 + [2] * 10)
    nm = np.array([[0.5, 0.2, 0.1], [0.25, 0.6, 0.2], [0.25, 0.2, 0.7]])
    np.random.seed(0)
    with pytest.raises(ValueError, match="broadcast"):
        cl.generate_noisy_labels(true, nm)
    labels = generate_noisy_labels(true, nm, random_state=0)
    counts = np.zeros((3, 3), dtype=int)
    np.add.at(counts, (labels, true), 1)
    np.testing.assert_array_equal(counts[:, 0], [10, 5, 5])
    np.testing.assert_array_equal(counts[:, 2], [1, 2, 7])
    assert counts[:, 1].sum() == 0


def test_noisy_labels_accepts_list_and_identity():
    labels = generate_noisy_labels([0, 1, 2, 1, 0], np.eye(3), random_state=1)
    np.testing.assert_array_equal(labels, [0, 1, 2, 1, 0])


def test_noisy_labels_leaves_global_rng_alone_and_none_is_fresh():
    rng = np.random.default_rng(0)
    true = _labels(rng, 2_000, 4)
    nm = np.array(
        [[0.6, 0.1, 0.1, 0.1], [0.2, 0.7, 0.1, 0.1], [0.1, 0.1, 0.7, 0.1], [0.1, 0.1, 0.1, 0.7]]
    )
    np.random.seed(9)
    before = _global_state_fingerprint()
    first = generate_noisy_labels(true, nm)
    second = generate_noisy_labels(true, nm)
    generate_noisy_labels(true, nm, random_state=3)
    assert _global_state_fingerprint() == before
    assert not np.array_equal(first, second)
    # Fresh randomness still produces exactly the requested counts.
    np.testing.assert_array_equal(np.bincount(first, minlength=4), np.bincount(second, minlength=4))


# --------------------------------------------------------------------------- validity


def test_noise_matrix_is_valid_matches_cleanlab():
    rng = np.random.default_rng(11)
    verdicts = []
    for k in (2, 3, 4, 6, 10):
        for seed in range(12):
            trace = k * rng.uniform(0.15, 1.0)
            nm = generate_noise_matrix_from_trace(
                k, trace, valid_noise_matrix=False, seed=seed, min_trace_prob=0.0
            )
            for py in (rng.dirichlet(np.full(k, 0.5)), np.full(k, 1 / k)):
                expected = cl.noise_matrix_is_valid(nm, py)
                assert noise_matrix_is_valid(nm, py) is expected
                verdicts.append(expected)
    assert 0.1 < np.mean(verdicts) < 0.9  # both outcomes are exercised


@pytest.mark.parametrize(
    ("noise_matrix", "py", "expected"),
    [
        (np.eye(3), np.array([0.2, 0.3, 0.5]), True),
        (np.full((3, 3), 1 / 3), np.full(3, 1 / 3), False),  # labels independent of truth
        (np.array([[0.8, 0.3], [0.2, 0.7]]), np.array([0.5, 0.5]), True),
        (np.array([[0.8, 0.3], [0.2, 0.7]]), np.array([0.5, 0.6]), False),  # py sums to 1.1
        (np.array([[0.3, 0.4], [0.7, 0.6]]), np.array([0.5, 0.5]), False),  # class 0 swamped
    ],
)
def test_noise_matrix_is_valid_hand_examples(noise_matrix, py, expected):
    assert cl.noise_matrix_is_valid(noise_matrix, py) is expected
    assert noise_matrix_is_valid(noise_matrix, py) is expected


def test_noise_matrix_is_valid_verbose(capsys):
    assert noise_matrix_is_valid(np.eye(3), np.full(3, 1 / 3)) is True
    assert capsys.readouterr().out == ""
    noise_matrix_is_valid(np.eye(3), np.full(3, 1 / 3), verbose=True)
    assert capsys.readouterr().out.count("class ") == 3
    # fails at class 0: only that line is printed
    noise_matrix_is_valid(np.array([[0.3, 0.4], [0.7, 0.6]]), np.full(2, 0.5), verbose=True)
    out = capsys.readouterr().out
    assert out.count("class ") == 1 and out.rstrip().endswith("False")
    noise_matrix_is_valid(np.eye(2), np.array([0.5, 0.6]), verbose=True)
    assert "not a joint distribution" in capsys.readouterr().out


# --------------------------------------------------------------------------- helpers


def test_rand_probabilities_match_cleanlab():
    cases = [(1.0, 1.0, 0.0), (0.5, 0.6, 0.1), (0.9, 0.95, 0.5), (0.2, 0.15, 0.0), (0.1, 1, 0.09)]
    for n, seed, (m_per, max_prob, min_prob) in itertools.product(range(13), range(8), cases):
        m = n * m_per if n else 1.0
        np.random.seed(seed)
        expected = _outcome(
            cl.generate_n_rand_probabilities_that_sum_to_m,
            n,
            m,
            max_prob=max_prob,
            min_prob=min_prob,
        )
        actual = _outcome(
            generate_n_rand_probabilities_that_sum_to_m,
            n,
            m,
            max_prob=max_prob,
            min_prob=min_prob,
            random_state=seed,
        )
        _assert_same(expected, actual)


@settings(max_examples=80, deadline=None)
@given(
    n=st.integers(1, 20),
    mean=st.floats(0.0, 1.0),
    width=st.floats(0.0, 1.0),
    seed=st.integers(0, 2**32 - 1),
)
def test_rand_probabilities_invariants(n, mean, width, seed):
    max_prob = min(1.0, mean + width)
    min_prob = max(0.0, mean - width)
    p = generate_n_rand_probabilities_that_sum_to_m(
        n, n * mean, max_prob=max_prob, min_prob=min_prob, random_state=seed
    )
    assert p.shape == (n,)
    np.testing.assert_allclose(p.sum(), n * mean, rtol=0, atol=1e-9)
    assert p.max() <= max_prob + 1e-6 and p.min() >= min_prob - 1e-6


def test_balls_match_cleanlab():
    bounds = [(None, None), (2, None), (5, 1), (3, 3), (1, 0), (None, 4)]
    for n_balls, n_bins, seed, (hi, lo) in itertools.product(
        range(0, 40, 3), range(1, 8), range(6), bounds
    ):
        np.random.seed(seed)
        expected = _outcome(
            cl.randomly_distribute_N_balls_into_K_bins,
            n_balls,
            n_bins,
            max_balls_per_bin=hi,
            min_balls_per_bin=lo,
        )
        actual = _outcome(
            randomly_distribute_N_balls_into_K_bins,
            n_balls,
            n_bins,
            max_balls_per_bin=hi,
            min_balls_per_bin=lo,
            random_state=seed,
        )
        _assert_same(expected, actual)


def test_balls_that_do_not_fit_are_dropped_like_cleanlab():
    counts = randomly_distribute_N_balls_into_K_bins(10, 2, max_balls_per_bin=3, random_state=0)
    np.testing.assert_array_equal(counts, [3, 3])
    counts = randomly_distribute_N_balls_into_K_bins(17, 4, min_balls_per_bin=4, random_state=2)
    assert counts.sum() == 17 and counts.min() >= 4


def test_balls_with_zero_capacity():
    with pytest.raises(ZeroDivisionError):
        cl.randomly_distribute_N_balls_into_K_bins(5, 3, max_balls_per_bin=0)
    counts = randomly_distribute_N_balls_into_K_bins(5, 3, max_balls_per_bin=0, random_state=0)
    np.testing.assert_array_equal(counts, [0, 0, 0])


# --------------------------------------------------------------------------- bad input

_PY3 = np.full(3, 1 / 3)


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        (dict(K=1, trace=1.5), ValueError, "K must be >= 2"),
        (dict(K=3.0, trace=2.0, py=_PY3), TypeError, "K must be an int"),
        (dict(K=3, trace=1.0, py=_PY3), ValueError, r"trace must be > 1 when valid"),
        (dict(K=3, trace=3.5, py=_PY3), ValueError, r"trace must be in \[0.0, 3\]"),
        (dict(K=3, trace=-0.1, valid_noise_matrix=False), ValueError, "trace must be in"),
        (dict(K=3, trace=float("nan"), py=_PY3), ValueError, "trace must be in"),
        (dict(K=3, trace="2", py=_PY3), TypeError, "trace must be a real number"),
        (dict(K=3, trace=2.0), ValueError, "py is required"),
        (dict(K=3, trace=2.0, py=np.full(4, 0.25)), ValueError, r"py must have shape \(K,\)"),
        (dict(K=3, trace=2.0, py=np.array([0.5, 0.6, -0.1])), ValueError, "py must hold"),
        (dict(K=3, trace=2.0, py=np.array([0.3, 0.3, 0.3])), ValueError, "py must sum to 1"),
        (dict(K=3, trace=2.0, py=_PY3, frac_zero_noise_rates=1.5), ValueError, "frac_zero"),
        (dict(K=3, trace=2.0, py=_PY3, max_trace_prob=1.2), ValueError, "max_trace_prob"),
        (dict(K=3, trace=2.0, py=_PY3, min_noise_rate=-0.1), ValueError, "min_noise_rate"),
        (dict(K=3, trace=2.4, py=_PY3, max_trace_prob=0.7), ValueError, "max_trace_prob=0.7 is"),
        (dict(K=3, trace=1.2, py=_PY3, min_trace_prob=0.5), ValueError, "min_trace_prob=0.5 is"),
        (
            dict(K=4, trace=1.2, py=np.full(4, 0.25), max_noise_rate=0.2),
            ValueError,
            "max_noise_rate=0.2 is too small",
        ),
        (dict(K=3, trace=2.0, py=_PY3, seed=-1), ValueError, "seed must be an int in"),
        (dict(K=3, trace=2.0, py=_PY3, seed=1.5), TypeError, "seed must be an int, a numpy"),
        (dict(K=3, trace=2.0, py=_PY3, seed=np.random.default_rng(0)), TypeError, "seed"),
        (dict(K=3, trace=2.0, py=_PY3, max_iter=2.0), TypeError, "max_iter must be an int"),
    ],
)
def test_noise_matrix_bad_input(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        generate_noise_matrix_from_trace(**kwargs)


_NM2 = np.array([[0.8, 0.3], [0.2, 0.7]])


@pytest.mark.parametrize(
    ("true_labels", "noise_matrix", "kwargs", "exc", "match"),
    [
        ([0, 1, 2], _NM2, {}, ValueError, r"true_labels must be class indices 0\.\.1"),
        ([0, -1], _NM2, {}, ValueError, "true_labels must be class indices"),
        ([], _NM2, {}, ValueError, "true_labels is empty"),
        ([[0, 1]], _NM2, {}, ValueError, "true_labels must be 1-D"),
        ([0, 1], np.ones((2, 3)) / 2, {}, ValueError, r"noise_matrix must be a square"),
        ([0, 1], np.array([[0.8, 0.3], [0.3, 0.7]]), {}, ValueError, "columns must sum to 1"),
        ([0, 1], np.array([[1.2, 0.3], [-0.2, 0.7]]), {}, ValueError, r"in \[0, 1\]"),
        ([0, 1], np.array([[np.nan, 0.3], [0.2, 0.7]]), {}, ValueError, "NaN"),
        ([0, 1], _NM2, {"random_state": "x"}, TypeError, "random_state must be"),
        ([0, 1], _NM2, {"random_state": 2**32}, ValueError, "random_state must be an int in"),
    ],
)
def test_noisy_labels_bad_input(true_labels, noise_matrix, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        generate_noisy_labels(true_labels, noise_matrix, **kwargs)


@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        (lambda: noise_matrix_is_valid(np.eye(3), np.full(2, 0.5)), ValueError, r"\(K, K\) = "),
        (lambda: noise_matrix_is_valid(np.eye(2), np.eye(2)), ValueError, "py must be 1-D"),
        (lambda: noise_matrix_is_valid(np.diag([np.inf, 1.0]), np.full(2, 0.5)), ValueError, "NaN"),
        (lambda: generate_n_rand_probabilities_that_sum_to_m(-1, 1.0), ValueError, "n must be"),
        (lambda: generate_n_rand_probabilities_that_sum_to_m(2, -1.0), ValueError, "m must be"),
        (
            lambda: generate_n_rand_probabilities_that_sum_to_m(4, 3.0, max_prob=0.5),
            ValueError,
            r"max_prob=0.5 is too small: 4 values .* \(needs max_prob >= 0.75\)",
        ),
        (
            lambda: generate_n_rand_probabilities_that_sum_to_m(4, 1.0, min_prob=0.5),
            ValueError,
            r"min_prob=0.5 is too large.*\(needs min_prob <= 0.25\)",
        ),
        (
            lambda: generate_n_rand_probabilities_that_sum_to_m(2, 1.0, max_prob=2.0),
            ValueError,
            r"max_prob must be in \[0.0, 1.0\]",
        ),
        (lambda: randomly_distribute_N_balls_into_K_bins(5, 0), ValueError, "K must be >= 1"),
        (lambda: randomly_distribute_N_balls_into_K_bins(-5, 2), ValueError, "N must be >= 0"),
        (lambda: randomly_distribute_N_balls_into_K_bins(5.0, 2), TypeError, "N must be an int"),
        (
            lambda: randomly_distribute_N_balls_into_K_bins(5, 2, max_balls_per_bin=-1),
            ValueError,
            "max_balls_per_bin must be >= 0",
        ),
    ],
)
def test_helpers_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_docstring_examples():
    result = doctest.testmod(noise, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 6
    assert result.failed == 0


def test_cleanlab_module_name_holds_the_same_functions():
    import cleanlab.benchmarking.noise_generation as theirs

    import core.benchmarking.noise as ours
    import core.benchmarking.noise_generation as alias

    public = [n for n in vars(theirs) if not n.startswith("_") and callable(getattr(theirs, n))]
    public = [n for n in public if getattr(theirs, n).__module__ == theirs.__name__]
    assert public and set(public) <= set(alias.__all__)
    assert alias.noise_matrix_is_valid is ours.noise_matrix_is_valid  # draws nothing


@pytest.mark.parametrize("seed", [0, 1, 7])
@pytest.mark.parametrize("k", [2, 3, 5])
def test_cleanlab_module_name_draws_as_cleanlab_does(seed: int, k: int) -> None:
    """As on cleanlab, generate_noise_matrix_from_trace seeds numpy's global state and the
    unseeded calls after it continue from there: a script's numbers do not change."""
    import core.benchmarking.noise_generation as alias

    true_labels = np.repeat(np.arange(k), 40)
    py = np.full(k, 1 / k)
    results = []
    for module in (cl, alias):
        np.random.seed(12345)  # whatever state a script is in before
        matrix = module.generate_noise_matrix_from_trace(k, 0.7 * k, py=py, seed=seed)
        labels = module.generate_noisy_labels(true_labels, matrix)
        probs = module.generate_n_rand_probabilities_that_sum_to_m(4, 2.0)
        balls = module.randomly_distribute_N_balls_into_K_bins(10, 3)
        results.append((matrix, labels, probs, balls, _global_state_fingerprint()))
    for theirs, ours in zip(*results, strict=True):
        if isinstance(theirs, tuple):
            assert theirs == ours
        else:
            np.testing.assert_array_equal(ours, theirs)


def test_cleanlab_module_name_checks_before_it_seeds() -> None:
    import core.benchmarking.noise_generation as alias

    before = _global_state_fingerprint()
    with pytest.raises(TypeError, match="seed"):
        alias.generate_noise_matrix_from_trace(3, 2.1, py=np.full(3, 1 / 3), seed="1")
    assert alias.generate_noise_matrix_from_trace(3, 2.1, py=np.full(3, 1 / 3), max_iter=0) is None
    assert _global_state_fingerprint() == before
