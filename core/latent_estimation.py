"""cleanlab 1.x's ``latent_estimation`` names, with 1.x's parameter names.

``s`` are the given labels and ``psx`` the out-of-sample predicted probabilities. Each
function is the :mod:`core.count` function of the same name (``num_label_errors`` is
:func:`core.count.num_label_issues`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from core import count
from core._validation import refuse_legacy_multi_label

__all__ = [
    "calibrate_confident_joint",
    "compute_confident_joint",
    "estimate_confident_joint_and_cv_pred_proba",
    "estimate_cv_predicted_probabilities",
    "estimate_joint",
    "estimate_latent",
    "estimate_noise_matrices",
    "estimate_py_and_noise_matrices_from_probabilities",
    "estimate_py_noise_matrices_and_cv_pred_proba",
    "num_label_errors",
]


def num_label_errors(
    labels: Any, psx: np.ndarray, confident_joint: np.ndarray | None = None
) -> int:
    """Estimate the number of label errors (1.x name of ``count.num_label_issues``)."""
    if confident_joint is None:
        return count.num_label_issues(labels, psx)
    return count.num_label_issues(
        labels, psx, confident_joint=confident_joint, estimation_method="off_diagonal_custom"
    )


def calibrate_confident_joint(
    confident_joint: np.ndarray, s: Any, multi_label: bool = False
) -> np.ndarray:
    """Calibrate rows of the confident joint to the label counts (single-label only)."""
    refuse_legacy_multi_label(multi_label)
    return count.calibrate_confident_joint(confident_joint, s)


def estimate_joint(
    s: Any,
    psx: np.ndarray | None = None,
    confident_joint: np.ndarray | None = None,
    multi_label: bool = False,
) -> np.ndarray:
    """Estimate the joint distribution of given and true labels (single-label only)."""
    refuse_legacy_multi_label(multi_label)
    return count.estimate_joint(s, psx, confident_joint=confident_joint)


def compute_confident_joint(
    s: Any,
    psx: np.ndarray,
    K: int | None = None,
    thresholds: np.ndarray | list[float] | None = None,
    calibrate: bool = True,
    multi_label: bool = False,
    return_indices_of_off_diagonals: bool = False,
) -> Any:
    """Estimate the confident joint; ``K`` (1.x) must agree with ``psx`` if given.

    Single-label only (1.x's multi-label counting differs from 2.x's).
    """
    refuse_legacy_multi_label(multi_label)
    if K is not None and K != np.shape(psx)[-1]:
        raise ValueError(
            f"K must equal the number of columns of psx ({np.shape(psx)[-1]}); got {K}"
        )
    return count.compute_confident_joint(
        s,
        psx,
        thresholds=thresholds,
        calibrate=calibrate,
        return_indices_of_off_diagonals=return_indices_of_off_diagonals,  # type: ignore[call-overload]
    )


def estimate_latent(
    confident_joint: np.ndarray,
    s: Any,
    py_method: str = "cnt",
    converge_latent_estimates: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Estimate ``(py, noise_matrix, inverse_noise_matrix)`` from the confident joint."""
    return count.estimate_latent(
        confident_joint, s, py_method=py_method, converge_latent_estimates=converge_latent_estimates
    )


def estimate_py_and_noise_matrices_from_probabilities(
    s: Any,
    psx: np.ndarray,
    thresholds: np.ndarray | list[float] | None = None,
    converge_latent_estimates: bool = True,
    py_method: str = "cnt",
    calibrate: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Estimate ``(py, noise_matrix, inverse_noise_matrix, confident_joint)``."""
    return count.estimate_py_and_noise_matrices_from_probabilities(
        s,
        psx,
        thresholds=thresholds,
        converge_latent_estimates=converge_latent_estimates,
        py_method=py_method,
        calibrate=calibrate,
    )


def estimate_confident_joint_and_cv_pred_proba(
    X: Any,
    s: Any,
    clf: Any = None,
    cv_n_folds: int = 5,
    thresholds: np.ndarray | list[float] | None = None,
    seed: int | None = None,
    calibrate: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Cross-validate ``clf``; return ``(confident_joint, psx)``."""
    return count.estimate_confident_joint_and_cv_pred_proba(
        X, s, clf, cv_n_folds=cv_n_folds, thresholds=thresholds, seed=seed, calibrate=calibrate
    )


def estimate_py_noise_matrices_and_cv_pred_proba(
    X: Any,
    s: Any,
    clf: Any = None,
    cv_n_folds: int = 5,
    thresholds: np.ndarray | list[float] | None = None,
    converge_latent_estimates: bool = False,
    py_method: str = "cnt",
    seed: int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Cross-validate; return ``(py, noise_matrix, inv_noise_matrix, confident_joint, psx)``."""
    return count.estimate_py_noise_matrices_and_cv_pred_proba(
        X,
        s,
        clf,
        cv_n_folds=cv_n_folds,
        thresholds=thresholds,
        converge_latent_estimates=converge_latent_estimates,
        py_method=py_method,
        seed=seed,
    )


def estimate_cv_predicted_probabilities(
    X: Any, labels: Any, clf: Any = None, cv_n_folds: int = 5, seed: int | None = None
) -> np.ndarray:
    """Return out-of-fold predicted probabilities ``psx``."""
    return count.estimate_cv_predicted_probabilities(
        X, labels, clf, cv_n_folds=cv_n_folds, seed=seed
    )


def estimate_noise_matrices(
    X: Any,
    s: Any,
    clf: Any = None,
    cv_n_folds: int = 5,
    thresholds: np.ndarray | list[float] | None = None,
    converge_latent_estimates: bool = True,
    seed: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Cross-validate; return ``(noise_matrix, inverse_noise_matrix)``."""
    return count.estimate_noise_matrices(
        X,
        s,
        clf,
        cv_n_folds=cv_n_folds,
        thresholds=thresholds,
        converge_latent_estimates=converge_latent_estimates,
        seed=seed,
    )
