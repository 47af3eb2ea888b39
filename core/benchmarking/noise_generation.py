"""cleanlab's module name for :mod:`core.benchmarking.noise`, with cleanlab's randomness.

``from cleanlab.benchmarking.noise_generation import ...`` becomes
``from core.benchmarking.noise_generation import ...`` and a script keeps its numbers:
like cleanlab's, these functions draw from numpy's *global* random state when no
``random_state`` is given, and :func:`generate_noise_matrix_from_trace` seeds it
(``np.random.seed(seed)``), so the labels a script draws after it (cleanlab's own tests
call ``generate_noisy_labels`` next) are the ones it draws on cleanlab.

That side effect is cleanlab's, kept here only so that switching is a change of import.
:mod:`core.benchmarking.noise` has the same functions and never touches global state:
use it in new code.
"""

from __future__ import annotations

import numpy as np

from core.benchmarking import noise
from core.benchmarking.noise import RandomStateLike, noise_matrix_is_valid
from core.typing import LabelLike

__all__ = [
    "generate_n_rand_probabilities_that_sum_to_m",
    "generate_noise_matrix_from_trace",
    "generate_noisy_labels",
    "noise_matrix_is_valid",
    "randomly_distribute_N_balls_into_K_bins",
]


def _global_state() -> np.random.RandomState:
    """numpy's global ``RandomState``: the one ``np.random.seed`` and ``np.random.rand`` use."""
    return np.random.mtrand._rand


def _or_global(random_state: RandomStateLike) -> RandomStateLike:
    return _global_state() if random_state is None else random_state


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
    seed: int | None = 0,
    max_iter: int = 10000,
) -> np.ndarray | None:
    """:func:`core.benchmarking.noise.generate_noise_matrix_from_trace`, drawn as cleanlab
    draws it: numpy's global random state is seeded with ``seed`` (None: from the
    operating system), then drawn from, and left where the draws leave it."""

    def draw(random_state: RandomStateLike, iterations: int) -> np.ndarray | None:
        return noise.generate_noise_matrix_from_trace(
            K,
            trace,
            max_trace_prob=max_trace_prob,
            min_trace_prob=min_trace_prob,
            max_noise_rate=max_noise_rate,
            min_noise_rate=min_noise_rate,
            valid_noise_matrix=valid_noise_matrix,
            py=py,
            frac_zero_noise_rates=frac_zero_noise_rates,
            seed=random_state,
            max_iter=iterations,
        )

    draw(seed, 0)  # checks every argument and draws nothing (max_iter=0 answers None)
    if max_iter < 1:  # cleanlab answers None before it seeds
        return None
    np.random.seed(seed)  # noqa: NPY002 (cleanlab's side effect, the point of this module)
    return draw(_global_state(), max_iter)


def generate_noisy_labels(
    true_labels: LabelLike,
    noise_matrix: np.ndarray,
    *,
    random_state: RandomStateLike = None,
) -> np.ndarray:
    """:func:`core.benchmarking.noise.generate_noisy_labels`; with no ``random_state``,
    drawn from numpy's global random state, as cleanlab draws."""
    return noise.generate_noisy_labels(
        true_labels, noise_matrix, random_state=_or_global(random_state)
    )


def generate_n_rand_probabilities_that_sum_to_m(
    n: int,
    m: float,
    *,
    max_prob: float = 1.0,
    min_prob: float = 0.0,
    random_state: RandomStateLike = None,
) -> np.ndarray:
    """:func:`core.benchmarking.noise.generate_n_rand_probabilities_that_sum_to_m`; with no
    ``random_state``, drawn from numpy's global random state, as cleanlab draws."""
    return noise.generate_n_rand_probabilities_that_sum_to_m(
        n, m, max_prob=max_prob, min_prob=min_prob, random_state=_or_global(random_state)
    )


def randomly_distribute_N_balls_into_K_bins(  # cleanlab's public names, upper case
    N: int,
    K: int,
    *,
    max_balls_per_bin: int | None = None,
    min_balls_per_bin: int | None = None,
    random_state: RandomStateLike = None,
) -> np.ndarray:
    """:func:`core.benchmarking.noise.randomly_distribute_N_balls_into_K_bins`; with no
    ``random_state``, drawn from numpy's global random state, as cleanlab draws."""
    return noise.randomly_distribute_N_balls_into_K_bins(
        N,
        K,
        max_balls_per_bin=max_balls_per_bin,
        min_balls_per_bin=min_balls_per_bin,
        random_state=_or_global(random_state),
    )
