"""cleanlab's module name for :mod:`core.benchmarking.noise`: the same functions, so that
``from cleanlab.benchmarking.noise_generation import ...`` becomes
``from core.benchmarking.noise_generation import ...``."""

from core.benchmarking.noise import (
    generate_n_rand_probabilities_that_sum_to_m,
    generate_noise_matrix_from_trace,
    generate_noisy_labels,
    noise_matrix_is_valid,
    randomly_distribute_N_balls_into_K_bins,
)

__all__ = [
    "generate_n_rand_probabilities_that_sum_to_m",
    "generate_noise_matrix_from_trace",
    "generate_noisy_labels",
    "noise_matrix_is_valid",
    "randomly_distribute_N_balls_into_K_bins",
]
