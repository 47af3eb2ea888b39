"""Learning with noisy labels: train any classifier as if its labels were clean.

:class:`CleanLearning` wraps a scikit-learn classifier. ``fit`` gets out-of-sample
predicted probabilities by cross-validation, finds the examples whose given label is
probably wrong with confident learning (Northcutt, Jiang & Chuang, "Confident Learning:
Estimating Uncertainty in Dataset Labels", JAIR 70 (2021), Section 3 [CL]), drops them,
and trains the classifier on what is left, re-weighting each class by the inverse of its
estimated label-consistency ``1 / p(given = k | true = k)``, as in Rank Pruning
(Northcutt, Wu & Chuang, "Learning with Confident Examples: Rank Pruning for Robust
Classification with Noisy Labels", UAI 2017 [RP]).

Names, signatures, attributes and results mirror ``cleanlab.classification`` (2.x): with
integer labels ``0..K-1``, the same ``seed`` and a deterministic classifier, the label
issues, noise estimates, sample weights and predictions are identical to cleanlab's.

Differences from cleanlab:

* labels may be strings or any other sortable hashables. Classes are ``np.unique(labels)``
  (as sklearn's ``LabelEncoder``), the wrapped classifier sees the codes ``0..K-1``, and
  ``predict``, ``given_label`` and ``predicted_label`` speak the original labels;
* it is a well-behaved scikit-learn estimator: ``__init__`` only stores its arguments and
  ``fit`` never modifies them. In particular ``clf`` itself is never fitted (cleanlab fits
  it in place): the fitted classifier is ``clf_``, a clone. It works with ``clone``,
  ``Pipeline`` and ``GridSearchCV``, and ``save_space`` keeps the parameters;
* calling ``fit`` or ``find_label_issues`` again starts from scratch (cleanlab keeps the
  confident joint of the first call in ``find_label_issues_kwargs`` and reuses it);
* if every example of a class is pruned, ``predict_proba`` still has a (zero) column for
  it, and ``ps`` has an entry (zero) for a class no example is given;
* it seeds no global random state, prints nothing (``verbose=True`` logs progress through
  :mod:`logging` at INFO level), does not warn that ``X`` is ignored when ``pred_probs``
  is given, and never modifies the arrays or DataFrames it is given;
* ``find_label_issues`` (not ``fit``, which leaves its parameters as given) shows the
  estimated confident joint in ``find_label_issues_kwargs``, as cleanlab does, in a new
  dict; a later call estimates afresh. ``CleanLearning().clf`` is ``LogisticRegression()``,
  as in cleanlab (``clf=None`` still means it).
"""

from __future__ import annotations

import copy
import inspect
import logging
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import scipy.sparse
import sklearn.base
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import DataConversionWarning, NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.utils import get_tags
from sklearn.utils.multiclass import type_of_target

from core._util import clip_noise_rates, clip_values, label_counts
from core._validation import (
    check_positive_int,
    labels_to_array,
    validate_labels_and_pred_probs,
    validate_pred_probs,
    warn_unused,
)
from core.constants import (
    CLEAN_LEARNING_MIN_EXAMPLES_PER_CLASS,
    CLIPPING_LOWER_BOUND,
    MIN_CONSISTENCY_FOR_SAMPLE_WEIGHT,
    TINY_VALUE,
)
from core.count import (
    compute_confident_joint,
    estimate_cv_predicted_probabilities,
    estimate_latent,
    estimate_py_and_noise_matrices_from_probabilities,
    estimate_py_noise_matrices_and_cv_pred_proba,
)
from core.experimental.label_issues_batched import find_label_issues_batched
from core.filter import find_label_issues as _filter_label_issues
from core.rank import get_label_quality_scores
from core.typing import DatasetLike, LabelLike

if TYPE_CHECKING:  # pragma: no cover
    from typing import Self

__all__ = ["CleanLearning", "LearningWithNoisyLabels"]

_log = logging.getLogger(__name__)

#: Message when no labels are given; contains the phrase sklearn's estimator checks expect.
_LABELS_MISSING = (
    "labels is None: CleanLearning requires y to be passed, but the target y is None "
    "(give labels, or y=, its sklearn-style alias)"
)

#: Keys of ``find_label_issues_kwargs`` that ``CleanLearning`` cannot honour.
_UNSUPPORTED_FIND_LABEL_ISSUES_KWARGS = ("return_indices_ranked_by", "multi_label")

#: Learned cleanlab-style state: exposed as read-only properties that are ``None`` until
#: computed (so that ``__init__`` sets nothing but its parameters, as sklearn requires).
_STATE = (
    "label_issues_df",
    "label_issues_mask",
    "sample_weight",
    "confident_joint",
    "py",
    "ps",
    "num_classes",
    "noise_matrix",
    "inverse_noise_matrix",
    "clf_kwargs",
    "clf_final_kwargs",
)


# --------------------------------------------------------------------------- helpers


@dataclass(frozen=True)
class _Inputs:
    """Validated inputs of ``fit`` / ``find_label_issues``."""

    X: Any
    labels: np.ndarray  # the given labels as a 1-D array, original values
    classes: np.ndarray  # sorted classes; column j of pred_probs is classes[j]
    codes: np.ndarray  # labels encoded as 0..K-1 (intp)
    pred_probs: np.ndarray | None
    noise_matrix: np.ndarray | None
    inverse_noise_matrix: np.ndarray | None


def _as_kwargs(name: str, value: Any) -> dict[str, Any]:
    """Return a fresh dict copy of a keyword-argument mapping (``None`` means empty)."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise TypeError(f"{name} must be a dict of keyword arguments; got {type(value).__name__}")
    return dict(value)


def _num_rows(X: Any) -> int:
    """Return the number of examples in ``X`` (``X.shape[0]``, else ``len(X)``)."""
    shape = getattr(X, "shape", None)
    if shape is not None and len(shape) > 0:
        return int(shape[0])
    try:
        return len(X)
    except TypeError:
        raise TypeError(f"X must support len(X) or X.shape[0]; got {type(X).__name__}") from None


def _subset_rows(X: Any, keep: np.ndarray) -> Any:
    """Return the rows of ``X`` where the boolean mask ``keep`` is True."""
    if isinstance(X, (pd.DataFrame, pd.Series)):
        return X.iloc[keep]
    try:
        return X[keep]
    except Exception:
        raise TypeError(
            "X must support boolean-mask row selection (X[mask] or X.iloc[mask]); "
            f"got {type(X).__name__}"
        ) from None


def _square_matrix(name: str, matrix: Any) -> np.ndarray | None:
    """Return a float copy of a (K, K) probability matrix, or None."""
    if matrix is None:
        return None
    try:
        arr = np.array(matrix, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(
            f"{name} must be a numeric (K, K) array; got {type(matrix).__name__}"
        ) from None
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1]:
        raise ValueError(f"{name} must be a square (K, K) matrix; got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values")
    trace = np.trace(arr)
    if trace <= 1:
        raise ValueError(
            f"{name} must have trace > 1 (most labels are correct: Trace({name}) must be > 1); "
            f"got trace {np.round(trace, 2)}"
        )
    return arr


def _encode_labels(labels: np.ndarray, num_classes: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(classes, codes)`` with ``classes[codes] == labels``.

    Integer labels with a known number of classes ``K`` (from ``pred_probs`` or a noise
    matrix) are class indices, as in cleanlab: ``classes = arange(K)``, so a class that
    no example is given is still a class. Otherwise ``classes = np.unique(labels)``.
    """
    if labels.dtype.kind in "iu" and num_classes is not None:
        lo, hi = labels.min(), labels.max()
        if lo < 0 or hi >= num_classes:
            raise ValueError(
                f"labels must be class indices 0..{num_classes - 1} (one per column of "
                f"pred_probs / row of the noise matrix); got labels from {lo} to {hi}"
            )
        return np.arange(num_classes, dtype=labels.dtype), labels.astype(np.intp)
    try:
        classes, codes = np.unique(labels, return_inverse=True)
    except TypeError:
        kinds = sorted({type(v).__name__ for v in labels.tolist()})
        raise TypeError(
            "labels must be mutually sortable (all strings, or all numbers, ...) so that "
            f"classes_ can be sorted; got a mix of {kinds}"
        ) from None
    if num_classes is not None and len(classes) != num_classes:
        raise ValueError(
            f"labels contain {len(classes)} distinct classes but pred_probs / the noise "
            f"matrix have {num_classes}; with non-integer labels every class must occur, "
            "and column j must belong to the j-th class in sorted order"
        )
    return classes, codes.reshape(-1).astype(np.intp, copy=False)


def _output_labels(classes: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Return ``classes[codes]``; integer labels shrink to int16/int32 as in cleanlab."""
    out = classes[codes]
    if out.dtype.kind in "iu" and out.size:
        num_classes = len(classes)
        for dtype in (np.int16, np.int32):
            info = np.iinfo(dtype)
            if num_classes < info.max and info.min <= out.min() and out.max() <= info.max:
                return out.astype(dtype)
    return out


def _py_and_inverse_from_noise(
    ps: np.ndarray, noise_matrix: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(py, inverse_noise_matrix)`` from ``p(s)`` and ``p(s|y)`` ([CL], Section 3).

    ``p(y) = P(s|y)^-1 p(s)``, clipped to ``[CLIPPING_LOWER_BOUND, 1]`` and renormalised;
    then ``p(y|s) = p(s|y) p(y) / p(s)`` with the noise rates clipped into range.
    """
    try:
        py = np.linalg.inv(noise_matrix).dot(ps)
    except np.linalg.LinAlgError:
        raise ValueError("noise_matrix must be invertible; got a singular matrix") from None
    py = clip_values(py, low=CLIPPING_LOWER_BOUND, high=1.0, new_sum=1.0)
    joint = noise_matrix * py
    inverse = joint.T / np.clip(ps, a_min=TINY_VALUE, a_max=None)
    return py, clip_noise_rates(inverse)


def _noise_from_inverse(ps: np.ndarray, inverse_noise_matrix: np.ndarray) -> np.ndarray:
    """Return ``p(s|y) = p(y|s) p(s) / p(y)`` with ``p(y) = sum_s p(y|s) p(s)``."""
    joint = (inverse_noise_matrix * ps).T
    py = joint.sum(axis=0)
    return clip_noise_rates(joint / np.clip(py, a_min=TINY_VALUE, a_max=None))


def _accepts_sample_weight(method: Any) -> bool:
    """Whether ``method`` has a parameter named ``sample_weight`` (as cleanlab checks)."""
    try:
        return "sample_weight" in inspect.signature(method).parameters
    except (TypeError, ValueError):
        return False


def _label_issues_frame(label_issues: Any, labels: np.ndarray) -> pd.DataFrame:
    """Turn the ``label_issues`` argument of ``fit`` into a DataFrame (a new object)."""
    n = len(labels)
    if isinstance(label_issues, pd.DataFrame):
        if "is_label_issue" not in label_issues.columns:
            raise ValueError(
                "label_issues must have an 'is_label_issue' column (as returned by "
                f"find_label_issues); got columns {list(label_issues.columns)}"
            )
        if len(label_issues) != n:
            raise ValueError(
                "label_issues and labels must have the same length; "
                f"got {len(label_issues)} rows and {n} labels"
            )
        if label_issues["is_label_issue"].dtype.kind != "b":
            raise ValueError(
                "label_issues['is_label_issue'] must be boolean; "
                f"got dtype {label_issues['is_label_issue'].dtype}"
            )
        if "given_label" in label_issues.columns and np.any(
            label_issues["given_label"].to_numpy() != labels
        ):
            raise ValueError("labels must match label_issues['given_label']")
        return label_issues.reset_index(drop=True).copy()
    if not isinstance(label_issues, np.ndarray):
        raise TypeError(
            "label_issues must be a pandas DataFrame, a boolean mask or an integer index "
            f"array; got {type(label_issues).__name__}"
        )
    if label_issues.dtype.kind == "b":
        if label_issues.shape != (n,):
            raise ValueError(
                f"label_issues as a boolean mask must have shape ({n},) like labels; "
                f"got shape {label_issues.shape}"
            )
        mask = label_issues.copy()
    elif label_issues.dtype.kind in "iu":
        indices = label_issues.reshape(-1)
        if len(np.unique(indices)) != len(indices):
            raise ValueError(
                "label_issues as integer indices must not repeat an index (as returned by "
                "filter.find_label_issues(..., return_indices_ranked_by=...))"
            )
        if len(indices) and (indices.min() < 0 or indices.max() >= n):
            raise ValueError(
                f"label_issues indices must be in 0..{n - 1}; "
                f"got indices from {indices.min()} to {indices.max()}"
            )
        mask = np.zeros(n, dtype=bool)
        mask[indices] = True
    else:
        raise TypeError(
            f"label_issues as a numpy array must be bool or int; got dtype {label_issues.dtype}"
        )
    return pd.DataFrame({"is_label_issue": mask})


def _state_property(name: str, doc: str) -> property:
    private = "_" + name

    def getter(self: CleanLearning) -> Any:
        return getattr(self, private, None)

    return property(getter, doc=doc)


# --------------------------------------------------------------------------- estimator


class CleanLearning(ClassifierMixin, BaseEstimator):
    """Train a classifier on noisily labelled data as if the labels were clean.

    ``fit`` (1) gets out-of-sample ``pred_probs`` by ``cv_n_folds``-fold cross-validation
    of ``clf`` (unless given), (2) estimates the confident joint, the noise matrices and
    the label issues with confident learning ([CL], Section 3), and (3) trains a fresh
    copy of ``clf`` on the examples without issues, weighting class ``k`` by
    ``1 / p(given = k | true = k)`` when ``clf.fit`` accepts ``sample_weight``.

    Parameters
    ----------
    clf : estimator, default=None
        A classifier with ``fit(X, y, sample_weight=None)``, ``predict_proba(X)`` and
        ``predict(X)``, clonable by :func:`sklearn.base.clone`. It is never fitted itself:
        clones are. ``None`` means ``LogisticRegression()``, stored as ``clf`` (as in
        cleanlab); with a ``LogisticRegression`` ``X`` of more than two dimensions is
        flattened to ``(n_samples, -1)``. The classifier is
        trained on the label codes ``0..K-1`` (the positions of ``classes_``).
    seed : int, optional
        ``random_state`` of the ``StratifiedKFold`` used for cross-validation. ``None``
        draws from numpy's global generator (unlike cleanlab, the global generator is
        never seeded here).
    cv_n_folds : int, default=5
        Number of cross-validation folds used to compute ``pred_probs``.
    converge_latent_estimates : bool, default=False
        Iterate the latent-algebra identities so that ``py`` and both noise matrices agree
        (see :func:`core.count.estimate_latent`).
    pulearning : label, optional
        For two classes only: the class known to have no label errors (PU learning). Its
        noise rates and confident-joint entries are forced accordingly.
    find_label_issues_kwargs : dict, default={}
        Passed to :func:`core.filter.find_label_issues`, e.g. ``filter_by``,
        ``frac_noise``, ``min_examples_per_class`` (default 10 here, 1 there).
        ``return_indices_ranked_by`` and ``multi_label`` are not supported. A
        ``confident_joint`` given here replaces the estimated one.
    label_quality_scores_kwargs : dict, default={}
        Passed to :func:`core.rank.get_label_quality_scores` (``method``,
        ``adjust_pred_probs``).
    verbose : bool, default=False
        Log progress messages (``logging`` at INFO level, logger ``core.classification``).
    low_memory : bool, default=False
        Find label issues chunk by chunk with
        :func:`core.experimental.label_issues_batched.find_label_issues_batched` (an
        approximation of ``filter_by="low_self_confidence"``, for data too big for
        memory). No noise matrices are estimated, so ``fit`` adds no automatic sample
        weights; ``find_label_issues_kwargs``, ``thresholds`` and the noise matrices are
        not used and warn when given.

    Attributes
    ----------
    clf_ : estimator
        The classifier trained on the cleaned data.
    classes_ : np.ndarray of shape (n_classes,)
        The class labels, sorted; codes ``0..K-1`` index into it.
    label_issues_ : np.ndarray of shape (n_samples,), bool
        Which training examples were found (or given) to have label issues.
    n_features_in_ : int
        Number of features seen by ``clf_`` (when ``clf_`` records it).
    label_issues_df : pd.DataFrame or None
        One row per training example: ``is_label_issue``, ``label_quality``,
        ``given_label``, ``predicted_label`` and, after ``fit`` with automatic weights,
        ``sample_weight``. See :meth:`find_label_issues`.
    label_issues_mask : np.ndarray or pd.Series or None
        The ``is_label_issue`` column.
    sample_weight : pd.Series or None
        Automatic weights of the final training (0 for pruned examples).
    confident_joint : np.ndarray of shape (n_classes, n_classes) or None
    py : np.ndarray of shape (n_classes,) or None
        Estimated prior of the true labels ``p(y)``.
    ps : np.ndarray of shape (n_classes,) or None
        Prior of the given labels ``p(s)``.
    num_classes : int or None
    noise_matrix : np.ndarray of shape (n_classes, n_classes) or None
        ``P(given = i | true = j)``; columns sum to 1.
    inverse_noise_matrix : np.ndarray of shape (n_classes, n_classes) or None
        ``P(true = i | given = j)``; columns sum to 1.
    clf_kwargs : dict or None
        Keyword arguments given to ``clf.fit`` in cross-validation.
    clf_final_kwargs : dict or None
        Keyword arguments given to the final ``clf.fit`` (including ``sample_weight``).

    See Also
    --------
    core.filter.find_label_issues : Find label issues from given ``pred_probs``.
    core.count.estimate_py_noise_matrices_and_cv_pred_proba : The cross-validation step.

    References
    ----------
    C. G. Northcutt, L. Jiang, I. L. Chuang. Confident Learning: Estimating Uncertainty in
    Dataset Labels. Journal of Artificial Intelligence Research 70 (2021) 1373-1411.

    C. G. Northcutt, T. Wu, I. L. Chuang. Learning with Confident Examples: Rank Pruning
    for Robust Classification with Noisy Labels. UAI 2017 (the class re-weighting).

    Examples
    --------
    >>> from sklearn.datasets import make_blobs
    >>> from core.classification import CleanLearning
    >>> X, y = make_blobs(n_samples=150, centers=3, random_state=0)
    >>> names = [["ant", "bee", "cat"][k] for k in y]
    >>> cl = CleanLearning(seed=0).fit(X, names)
    >>> cl.classes_.tolist()
    ['ant', 'bee', 'cat']
    >>> list(cl.get_label_issues().columns)
    ['is_label_issue', 'label_quality', 'given_label', 'predicted_label', 'sample_weight']
    """

    def __init__(
        self,
        clf: Any = None,
        *,
        seed: int | None = None,
        cv_n_folds: int = 5,
        converge_latent_estimates: bool = False,
        pulearning: Any = None,
        # Mutable defaults mirror cleanlab's signature; they are never modified.
        find_label_issues_kwargs: Mapping[str, Any] = {},
        label_quality_scores_kwargs: Mapping[str, Any] = {},
        verbose: bool = False,
        low_memory: bool = False,
    ) -> None:
        # cleanlab's default, visible as the parameter (CleanLearning().clf is a classifier)
        self.clf = LogisticRegression() if clf is None else clf
        self.seed = seed
        self.cv_n_folds = cv_n_folds
        self.converge_latent_estimates = converge_latent_estimates
        self.pulearning = pulearning
        self.find_label_issues_kwargs = find_label_issues_kwargs
        self.label_quality_scores_kwargs = label_quality_scores_kwargs
        self.verbose = verbose
        self.low_memory = low_memory

    # ----------------------------------------------------------- cleanlab attributes

    label_issues_df = _state_property("label_issues_df", "Label issues found or given.")
    label_issues_mask = _state_property("label_issues_mask", "The is_label_issue column.")
    sample_weight = _state_property("sample_weight", "Automatic sample weights of fit.")
    confident_joint = _state_property("confident_joint", "Confident joint C[given][true].")
    py = _state_property("py", "Estimated prior of the true labels p(y).")
    ps = _state_property("ps", "Prior of the given labels p(s).")
    num_classes = _state_property("num_classes", "Number of classes K.")
    noise_matrix = _state_property("noise_matrix", "P(given = i | true = j).")
    inverse_noise_matrix = _state_property("inverse_noise_matrix", "P(true = i | given = j).")
    clf_kwargs = _state_property("clf_kwargs", "fit kwargs used in cross-validation.")
    clf_final_kwargs = _state_property("clf_final_kwargs", "fit kwargs of the final fit.")

    def _clear_state(self) -> None:
        for name in _STATE:
            setattr(self, "_" + name, None)

    def _say(self, message: str) -> None:
        if self.verbose:
            _log.info(message)

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "clf_")

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        inner = get_tags(LogisticRegression() if self.clf is None else self.clf)
        tags.input_tags.sparse = inner.input_tags.sparse
        tags.input_tags.allow_nan = inner.input_tags.allow_nan
        tags.input_tags.string = inner.input_tags.string
        return tags

    # ----------------------------------------------------------- validation

    def _template_clf(self) -> Any:
        """Return the unfitted classifier to clone (``LogisticRegression()`` by default)."""
        clf = LogisticRegression() if self.clf is None else self.clf
        missing = [m for m in ("fit", "predict_proba", "predict") if not hasattr(clf, m)]
        if missing:
            raise TypeError(
                "clf must be a classifier with fit, predict_proba and predict methods; "
                f"{type(clf).__name__} has no {', '.join(missing)}"
            )
        return clf

    def _prepare_X(self, X: Any) -> Any:
        """Make lists arrays and, for the default classifier, flatten X to 2-D."""
        if isinstance(X, (list, tuple)) or (
            X is not None and not hasattr(X, "shape") and hasattr(X, "__array__")
        ):
            try:
                X = np.asarray(X)
            except ValueError as err:
                raise ValueError(f"X must be convertible to an array: {err}") from None
        if scipy.sparse.issparse(X) and X.format not in ("csr", "csc"):
            X = X.tocsr()  # so that rows can be selected
        if isinstance(self.clf, LogisticRegression | None) and X is not None:
            shape = getattr(X, "shape", None)
            if shape is not None and len(shape) > 2:
                X = X.reshape((shape[0], -1))
        return X

    def _find_label_issues_kwargs(self) -> dict[str, Any]:
        kwargs = _as_kwargs("find_label_issues_kwargs", self.find_label_issues_kwargs)
        unsupported = [k for k in _UNSUPPORTED_FIND_LABEL_ISSUES_KWARGS if k in kwargs]
        if unsupported:
            raise ValueError(
                f"find_label_issues_kwargs must not contain {unsupported}: ranked indices "
                "and multi-label data are not supported by CleanLearning"
            )
        return {"min_examples_per_class": CLEAN_LEARNING_MIN_EXAMPLES_PER_CLASS, **kwargs}

    def _validate(
        self,
        X: Any,
        labels: Any,
        *,
        pred_probs: Any,
        noise_matrix: Any,
        inverse_noise_matrix: Any,
        need_X: bool,
    ) -> _Inputs:
        if labels is None:
            raise ValueError(_LABELS_MISSING)
        labels_arr = labels_to_array(labels, name="labels")
        if labels_arr.ndim == 2 and labels_arr.shape[1] == 1:
            warnings.warn(
                "A column-vector y was passed when a 1d array was expected; labels are "
                "raveled to shape (n_samples,)",
                DataConversionWarning,
                stacklevel=3,
            )
            labels_arr = labels_arr.ravel()
        if labels_arr.ndim != 1:
            raise ValueError(
                f"labels must be 1-D of shape (n_samples,); got shape {labels_arr.shape}"
            )
        if labels_arr.size == 0:
            raise ValueError("labels is empty; at least one example is needed")
        if labels_arr.dtype.kind in "fcO" and bool(np.any(pd.isna(labels_arr))):
            raise ValueError("labels contain missing values (NaN or None)")
        if labels_arr.dtype.kind in "fc":
            target = type_of_target(labels_arr, input_name="labels")
            if target.startswith("continuous"):
                raise ValueError(
                    f"labels must be discrete class labels; Unknown label type: {target} "
                    "(a regression target?)"
                )
        probs = None if pred_probs is None else validate_pred_probs(pred_probs)
        noise = _square_matrix("noise_matrix", noise_matrix)
        inverse = _square_matrix("inverse_noise_matrix", inverse_noise_matrix)
        num_classes: int | None = None
        if probs is not None:
            num_classes = probs.shape[1]
        elif noise is not None:
            num_classes = noise.shape[0]
        if inverse is not None:
            if num_classes is not None and inverse.shape[0] != num_classes:
                raise ValueError(
                    f"inverse_noise_matrix must have shape ({num_classes}, {num_classes}); "
                    f"got {inverse.shape}"
                )
            num_classes = inverse.shape[0]
        if noise is not None and num_classes != noise.shape[0]:
            raise ValueError(
                f"noise_matrix must have shape ({num_classes}, {num_classes}) to match "
                f"pred_probs / inverse_noise_matrix; got {noise.shape}"
            )
        classes, codes = _encode_labels(labels_arr, num_classes)
        if len(np.unique(codes)) < 2:
            raise ValueError(
                f"labels must contain at least 2 classes; got 1 class ({labels_arr[0]!r})"
            )
        if probs is not None:
            codes, probs = validate_labels_and_pred_probs(codes, probs)
        X = self._prepare_X(X)
        if need_X:
            if X is None:
                raise ValueError("X must be given (features to train clf on); got None")
            n_X = _num_rows(X)
            if n_X != len(codes):
                raise ValueError(
                    "X and labels must have the same length; "
                    f"got {n_X} rows of X and {len(codes)} labels"
                )
        return _Inputs(X, labels_arr, classes, codes, probs, noise, inverse)

    # ----------------------------------------------------------- fit / predict

    def fit(
        self,
        X: DatasetLike,
        labels: LabelLike | None = None,
        *,
        pred_probs: np.ndarray | None = None,
        thresholds: np.ndarray | list[float] | None = None,
        noise_matrix: np.ndarray | None = None,
        inverse_noise_matrix: np.ndarray | None = None,
        label_issues: pd.DataFrame | np.ndarray | None = None,
        sample_weight: np.ndarray | None = None,
        clf_kwargs: Mapping[str, Any] = {},  # cleanlab's signature; never modified
        clf_final_kwargs: Mapping[str, Any] = {},
        validation_func: Callable[[Any, Any], dict[str, Any]] | None = None,
        y: LabelLike | None = None,
    ) -> Self:
        """Find label issues, drop them, and train ``clf`` on the remaining examples.

        Parameters
        ----------
        X : array_like, DataFrame or sparse matrix of shape (n_samples, ...)
            Features, in any format ``clf`` accepts that supports row selection.
        labels : array_like of shape (n_samples,)
            Given (noisy) labels: integers ``0..K-1`` as in cleanlab, or any sortable
            hashable class labels.
        pred_probs : np.ndarray of shape (n_samples, n_classes), optional
            Out-of-sample predicted probabilities; skips cross-validation. Column ``j``
            belongs to ``classes_[j]`` (class ``j`` for integer labels).
        thresholds : array_like of shape (n_classes,), optional
            Per-class confident thresholds for the confident joint ([CL], eq. 2).
        noise_matrix : np.ndarray of shape (n_classes, n_classes), optional
            Known ``P(given = i | true = j)`` (columns sum to 1, trace > 1).
        inverse_noise_matrix : np.ndarray of shape (n_classes, n_classes), optional
            Known ``P(true = i | given = j)`` (columns sum to 1, trace > 1).
        label_issues : pd.DataFrame or np.ndarray, optional
            Skip finding issues: a DataFrame from :meth:`find_label_issues`, a boolean
            mask of shape ``(n_samples,)`` or integer indices of the issues. Automatic
            sample weights then need noise estimates from an earlier
            :meth:`find_label_issues` on this estimator.
        sample_weight : array_like of shape (n_samples,), optional
            Weights for the final training (only those of kept examples are used).
            ``clf.fit`` must accept ``sample_weight``. Without it, weights
            ``1 / noise_matrix[k, k]`` are used when ``clf.fit`` accepts them.
        clf_kwargs : dict, default={}
            Keyword arguments for every ``clf.fit`` (not ``sample_weight``).
        clf_final_kwargs : dict, default={}
            Keyword arguments for the final ``clf.fit`` only; they override
            ``clf_kwargs``.
        validation_func : callable, optional
            ``validation_func(X_holdout, y_holdout) -> dict`` of extra ``clf.fit`` kwargs in
            each cross-validation fold (``y_holdout`` holds label codes ``0..K-1``).
        y : array_like of shape (n_samples,), optional
            sklearn-style alias of ``labels``; give one of them.

        Returns
        -------
        self : CleanLearning
            Fitted estimator (``clf_``, ``classes_``, ``label_issues_`` and the cleanlab
            attributes ``label_issues_df``, ``noise_matrix``, ... are set).

        Raises
        ------
        ValueError
            If neither or both of ``labels`` and ``y`` are given, lengths disagree,
            ``sample_weight`` is given but unsupported, or inputs are malformed.
        TypeError
            If ``clf`` lacks ``fit``, ``predict`` or ``predict_proba``, or an argument has
            the wrong type.
        """
        if labels is not None and y is not None:
            raise ValueError("give either labels or y (its alias), not both")
        if labels is None:
            labels = y
        if labels is None:
            raise ValueError(_LABELS_MISSING)
        fit_kwargs = _as_kwargs("clf_kwargs", clf_kwargs)
        final_kwargs = {**fit_kwargs, **_as_kwargs("clf_final_kwargs", clf_final_kwargs)}
        if "sample_weight" in fit_kwargs:
            raise ValueError(
                "sample_weight must be passed to fit(sample_weight=...) or in "
                "clf_final_kwargs, not in clf_kwargs"
            )
        template = self._template_clf()
        weighted_fit = _accepts_sample_weight(template.fit)
        if sample_weight is not None and not weighted_fit:
            raise ValueError(
                "sample_weight was given but clf.fit of "
                f"{type(template).__name__} has no sample_weight parameter"
            )
        inputs = self._validate(
            X,
            labels,
            pred_probs=pred_probs,
            noise_matrix=noise_matrix,
            inverse_noise_matrix=inverse_noise_matrix,
            need_X=True,
        )
        n = len(inputs.codes)
        weights = None
        if sample_weight is not None:
            weights = np.asarray(sample_weight)
            if weights.ndim != 1 or len(weights) != n:
                raise ValueError(
                    f"sample_weight must have shape ({n},) like labels; got {weights.shape}"
                )

        if label_issues is None:
            df = self._find_label_issues(
                inputs,
                thresholds=thresholds,
                save_space=False,
                clf_kwargs=fit_kwargs,
                validation_func=validation_func,
            )
        else:
            self._say("Using the provided label_issues instead of finding label issues.")
            if not self._same_classes(inputs.classes):
                # Estimates from an earlier find_label_issues on other classes are stale.
                self._clear_state()
            self.classes_ = inputs.classes
            if self.num_classes is None:
                self._num_classes = len(inputs.classes)
            df = _label_issues_frame(label_issues, inputs.labels)
            if "label_quality" not in df.columns and inputs.pred_probs is not None:
                df["label_quality"] = get_label_quality_scores(
                    inputs.codes,
                    inputs.pred_probs,
                    **_as_kwargs("label_quality_scores_kwargs", self.label_quality_scores_kwargs),
                )

        mask = df["is_label_issue"].to_numpy(dtype=bool)
        keep = ~mask
        X_clean = _subset_rows(inputs.X, keep)
        codes_clean = inputs.codes[keep]
        self._say(f"Pruning {int(mask.sum())} examples with label issues; {keep.sum()} remain.")

        self._sample_weight = None
        noise = self.noise_matrix
        if weights is None:
            if weighted_fit and "sample_weight" not in final_kwargs and noise is not None:
                # Class k keeps only about p(s=k|y=k) of its true members: weigh it up so
                # the classifier sees the true class balance ([RP]).
                per_class = 1.0 / np.maximum(np.diagonal(noise), MIN_CONSISTENCY_FOR_SAMPLE_WEIGHT)
                auto = per_class[codes_clean]
                expanded = np.zeros(n)
                expanded[keep] = auto
                df["sample_weight"] = expanded
                self._sample_weight = df["sample_weight"]
                final_kwargs["sample_weight"] = auto
                self._say("Weighting classes by 1 / noise_matrix[k, k] in the final fit.")
        elif "sample_weight" not in final_kwargs:
            final_kwargs["sample_weight"] = weights[keep]

        self._label_issues_df = df
        self._label_issues_mask = mask
        self.label_issues_ = mask
        self._clf_final_kwargs = final_kwargs
        try:
            clf = sklearn.base.clone(template)
        except Exception:  # not an sklearn estimator: an independent copy will do
            clf = copy.deepcopy(template)
        self._say("Fitting the final model on the cleaned data.")
        clf.fit(X_clean, codes_clean, **final_kwargs)
        self.clf_ = clf
        if hasattr(clf, "n_features_in_"):
            self.n_features_in_ = clf.n_features_in_
        return self

    def _same_classes(self, classes: np.ndarray) -> bool:
        """Whether ``classes`` equal the classes of an earlier call (True if none)."""
        seen = getattr(self, "classes_", None)
        if seen is None:
            return True
        return len(seen) == len(classes) and bool(np.all(seen == classes))

    def _codes_of(self, y: Any) -> np.ndarray:
        """Codes of labels ``y`` in ``classes_``; -1 for labels not among them."""
        return pd.Index(self.classes_).get_indexer(labels_to_array(y, name="y"))

    def predict(self, X: DatasetLike, *args: Any, **kwargs: Any) -> np.ndarray:
        """Predict class labels with the classifier trained on the cleaned data.

        Parameters
        ----------
        X : array_like of shape (n_samples, ...)
            Data in the format ``clf`` expects.
        *args, **kwargs
            Passed to ``clf_.predict``.

        Returns
        -------
        np.ndarray of shape (n_samples,)
            Predicted labels, elements of ``classes_``.
        """
        self._check_fitted()
        codes = np.asarray(self.clf_.predict(self._prepare_X(X), *args, **kwargs))
        return self.classes_[codes.astype(np.intp)]

    def predict_proba(self, X: DatasetLike, *args: Any, **kwargs: Any) -> np.ndarray:
        """Predict class probabilities with the classifier trained on the cleaned data.

        Parameters
        ----------
        X : array_like of shape (n_samples, ...)
            Data in the format ``clf`` expects.
        *args, **kwargs
            Passed to ``clf_.predict_proba``.

        Returns
        -------
        np.ndarray of shape (n_samples, n_classes)
            Column ``j`` is the probability of ``classes_[j]``. If every example of a
            class was pruned, that class gets a column of zeros.
        """
        self._check_fitted()
        proba = np.asarray(self.clf_.predict_proba(self._prepare_X(X), *args, **kwargs))
        seen = getattr(self.clf_, "classes_", None)
        num_classes = len(self.classes_)
        if seen is not None and proba.ndim == 2 and proba.shape[1] == len(seen) < num_classes:
            full = np.zeros((proba.shape[0], num_classes), dtype=proba.dtype)
            full[:, np.asarray(seen, dtype=np.intp)] = proba
            return full
        return proba

    def _check_fitted(self) -> None:
        """Raise NotFittedError before ``fit``; unlike sklearn's check_is_fitted, this asks
        nothing of ``clf`` (any object with fit/predict/predict_proba will do, as in cleanlab)."""
        if getattr(self, "clf_", None) is None:
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet. Call 'fit' with "
                "appropriate arguments before using this estimator."
            )

    def score(self, X: DatasetLike, y: LabelLike, sample_weight: Any = None) -> float:
        """Score ``clf_`` on test data (its own ``score``, else accuracy).

        Before ``fit``, as cleanlab, ``clf`` itself is asked (it may have been fitted
        elsewhere): its ``score(X, y)``, returned as it answers, else the accuracy of its
        ``predict``; an unfitted ``clf`` raises its own error.

        Parameters
        ----------
        X : array_like of shape (n_samples, ...)
            Test data.
        y : array_like of shape (n_samples,)
            Test labels, in the same terms as the labels given to ``fit``.
        sample_weight : array_like of shape (n_samples,), optional
            Weights of the test examples.

        Returns
        -------
        float
        """
        if getattr(self, "clf_", None) is None:
            return self._score_unfitted(self._prepare_X(X), y, sample_weight)
        X = self._prepare_X(X)
        if hasattr(self.clf_, "score"):
            codes = self._codes_of(y)  # clf_ knows label codes; unknown labels never match
            if _accepts_sample_weight(self.clf_.score):
                return float(self.clf_.score(X, codes, sample_weight=sample_weight))
            return float(self.clf_.score(X, codes))
        return float(accuracy_score(y, self.predict(X), sample_weight=sample_weight))

    def _score_unfitted(self, X: Any, y: LabelLike, sample_weight: Any) -> Any:
        """:meth:`score` before ``fit``: ``clf`` as given, on the labels as given."""
        clf = self._template_clf()
        if hasattr(clf, "score"):
            if sample_weight is not None and _accepts_sample_weight(clf.score):
                return clf.score(X, y, sample_weight=sample_weight)
            return clf.score(X, y)
        return float(accuracy_score(y, clf.predict(X), sample_weight=sample_weight))

    # ----------------------------------------------------------- label issues

    def find_label_issues(
        self,
        X: DatasetLike = None,
        labels: LabelLike | None = None,
        *,
        pred_probs: np.ndarray | None = None,
        thresholds: np.ndarray | list[float] | None = None,
        noise_matrix: np.ndarray | None = None,
        inverse_noise_matrix: np.ndarray | None = None,
        save_space: bool = False,
        clf_kwargs: Mapping[str, Any] = {},  # cleanlab's signature; never modified
        validation_func: Callable[[Any, Any], dict[str, Any]] | None = None,
    ) -> pd.DataFrame:
        """Find label issues with confident learning, cross-validating ``clf`` if needed.

        Parameters
        ----------
        X : array_like of shape (n_samples, ...), optional
            Features; needed unless ``pred_probs`` is given (then it is ignored).
        labels : array_like of shape (n_samples,)
            Given labels (integers ``0..K-1`` or any sortable hashables).
        pred_probs : np.ndarray of shape (n_samples, n_classes), optional
            Out-of-sample predicted probabilities; skips cross-validation.
        thresholds : array_like of shape (n_classes,), optional
            Per-class confident thresholds.
        noise_matrix : np.ndarray of shape (n_classes, n_classes), optional
            Known ``P(given = i | true = j)``; must have trace > 1.
        inverse_noise_matrix : np.ndarray of shape (n_classes, n_classes), optional
            Known ``P(true = i | given = j)``; must have trace > 1.
        save_space : bool, default=False
            If True, the DataFrame is returned but not stored in ``label_issues_df``.
        clf_kwargs : dict, default={}
            Keyword arguments for ``clf.fit`` in every fold.
        validation_func : callable, optional
            ``validation_func(X_holdout, y_holdout) -> dict`` of extra ``clf.fit`` kwargs.

        Returns
        -------
        pd.DataFrame
            One row per example with columns ``is_label_issue`` (bool), ``label_quality``
            (float in [0, 1], lower is more suspicious), ``given_label`` and
            ``predicted_label`` (the argmax of ``pred_probs``), both original labels
            (int16 for integer labels, as cleanlab).

        Raises
        ------
        ValueError
            On malformed inputs, a noise matrix with trace <= 1, too few examples per
            class for ``cv_n_folds``, or unsupported ``find_label_issues_kwargs``.

        Examples
        --------
        >>> import numpy as np
        >>> from core.classification import CleanLearning
        >>> rng = np.random.default_rng(0)
        >>> labels = np.repeat(["cat", "dog"], 20)
        >>> pred_probs = rng.dirichlet([1, 1], size=40)
        >>> df = CleanLearning().find_label_issues(labels=labels, pred_probs=pred_probs)
        >>> list(df.columns)
        ['is_label_issue', 'label_quality', 'given_label', 'predicted_label']
        """
        inputs = self._validate(
            X,
            labels,
            pred_probs=pred_probs,
            noise_matrix=noise_matrix,
            inverse_noise_matrix=inverse_noise_matrix,
            need_X=pred_probs is None,
        )
        return self._find_label_issues(
            inputs,
            thresholds=thresholds,
            save_space=save_space,
            clf_kwargs=_as_kwargs("clf_kwargs", clf_kwargs),
            validation_func=validation_func,
            show_joint=True,
        )

    def _find_label_issues(
        self,
        inputs: _Inputs,
        *,
        thresholds: Any,
        save_space: bool,
        clf_kwargs: dict[str, Any],
        validation_func: Callable[[Any, Any], dict[str, Any]] | None,
        show_joint: bool = False,
    ) -> pd.DataFrame:
        """Find label issues; with ``show_joint`` (the public :meth:`find_label_issues`, not
        ``fit``, which leaves its parameters alone as sklearn asks) the estimated confident
        joint is also put in ``find_label_issues_kwargs``, as cleanlab does."""
        filter_kwargs = (
            _as_kwargs("find_label_issues_kwargs", self.find_label_issues_kwargs)
            if self.low_memory
            else self._find_label_issues_kwargs()
        )
        quality_kwargs = _as_kwargs("label_quality_scores_kwargs", self.label_quality_scores_kwargs)
        codes, pred_probs = inputs.codes, inputs.pred_probs
        num_classes = len(inputs.classes)
        n = len(codes)
        template = self._template_clf()
        cv_n_folds = self.cv_n_folds
        if pred_probs is None:
            cv_n_folds = check_positive_int("cv_n_folds", cv_n_folds, minimum=2)
            if n / num_classes < cv_n_folds:
                raise ValueError(
                    f"cv_n_folds={cv_n_folds} needs more examples per class "
                    f"({n} examples, {num_classes} classes); decrease cv_n_folds "
                    "or pass pred_probs (Need more data from each class for cross-validation)"
                )
        user_joint = filter_kwargs.get("confident_joint")
        if user_joint is not None and user_joint is getattr(self, "_estimated_joint", None):
            user_joint = None  # this estimator's own estimate from an earlier call, not a given
            del filter_kwargs["confident_joint"]
        if self.low_memory:
            user_joint = None
        if user_joint is not None:
            user_joint = np.array(user_joint)  # a copy: pulearning edits it in place
            if user_joint.shape != (num_classes, num_classes):
                raise ValueError(
                    "find_label_issues_kwargs['confident_joint'] must have shape "
                    f"({num_classes}, {num_classes}); got {user_joint.shape}"
                )
            filter_kwargs["confident_joint"] = user_joint

        self._clear_state()
        self.classes_ = inputs.classes
        self._num_classes = num_classes
        ps = label_counts(codes, num_classes) / float(n)
        self._ps = ps
        self._clf_kwargs = clf_kwargs

        if self.low_memory:
            mask, pred_probs = self._low_memory_mask(
                inputs,
                cv_n_folds=cv_n_folds,
                thresholds=thresholds,
                clf_kwargs=clf_kwargs,
                validation_func=validation_func,
            )
            return self._issues_frame(inputs, mask, pred_probs, quality_kwargs, save_space)

        noise_matrix, inverse_noise_matrix = inputs.noise_matrix, inputs.inverse_noise_matrix
        py: np.ndarray | None = None
        confident_joint: np.ndarray | None = user_joint
        if user_joint is not None:
            # As cleanlab: the given joint's noise matrix replaces a given noise_matrix.
            py, noise_matrix, _ = estimate_latent(user_joint, codes)
        if noise_matrix is not None:
            if inverse_noise_matrix is None:
                self._say("Computing label noise estimates from the noise matrix.")
                py, inverse_noise_matrix = _py_and_inverse_from_noise(ps, noise_matrix)
        elif inverse_noise_matrix is not None:
            self._say("Computing label noise estimates from the inverse noise matrix.")
            noise_matrix = _noise_from_inverse(ps, inverse_noise_matrix)
        else:
            if pred_probs is None:
                self._say(f"Computing pred_probs by {cv_n_folds}-fold cross-validation.")
                py, noise_matrix, inverse_noise_matrix, confident_joint, pred_probs = (
                    estimate_py_noise_matrices_and_cv_pred_proba(
                        inputs.X,
                        codes,
                        template,
                        cv_n_folds=cv_n_folds,
                        thresholds=thresholds,
                        converge_latent_estimates=self.converge_latent_estimates,
                        seed=self.seed,
                        clf_kwargs=clf_kwargs,
                        validation_func=validation_func,
                    )
                )
            else:
                self._say("Computing label noise estimates from pred_probs.")
                py, noise_matrix, inverse_noise_matrix, confident_joint = (
                    estimate_py_and_noise_matrices_from_probabilities(
                        codes,
                        pred_probs,
                        thresholds=thresholds,
                        converge_latent_estimates=self.converge_latent_estimates,
                    )
                )
        if pred_probs is None:
            self._say(f"Computing pred_probs by {cv_n_folds}-fold cross-validation.")
            pred_probs = estimate_cv_predicted_probabilities(
                inputs.X,
                codes,
                template,
                cv_n_folds=cv_n_folds,
                seed=self.seed,
                clf_kwargs=clf_kwargs,
                validation_func=validation_func,
            )
        if confident_joint is None:
            confident_joint = compute_confident_joint(codes, pred_probs, thresholds=thresholds)
        assert noise_matrix is not None and inverse_noise_matrix is not None  # by the above

        if self.pulearning is not None:
            self._apply_pulearning(
                inputs.classes, noise_matrix, inverse_noise_matrix, confident_joint
            )

        self._py = py
        self._noise_matrix = noise_matrix
        self._inverse_noise_matrix = inverse_noise_matrix
        self._confident_joint = confident_joint
        if (
            "confident_joint" not in filter_kwargs
            and filter_kwargs.get("filter_by") != "confident_learning"
        ):
            filter_kwargs["confident_joint"] = confident_joint
            if show_joint:
                # As cleanlab, in a new dict (the one given is not changed); unlike
                # cleanlab, a later call estimates afresh rather than reusing it.
                self.find_label_issues_kwargs = {
                    **_as_kwargs("find_label_issues_kwargs", self.find_label_issues_kwargs),
                    "confident_joint": confident_joint,
                }
                self._estimated_joint = confident_joint

        self._say("Using pred_probs to identify label issues.")
        mask = _filter_label_issues(codes, pred_probs, **filter_kwargs)
        return self._issues_frame(inputs, mask, pred_probs, quality_kwargs, save_space)

    def _issues_frame(
        self,
        inputs: _Inputs,
        mask: np.ndarray,
        pred_probs: np.ndarray,
        quality_kwargs: dict[str, Any],
        save_space: bool,
    ) -> pd.DataFrame:
        """The label issues DataFrame of :meth:`find_label_issues`, kept unless ``save_space``."""
        codes = inputs.codes
        quality = get_label_quality_scores(codes, pred_probs, **quality_kwargs)
        df = pd.DataFrame({"is_label_issue": mask, "label_quality": quality})
        df["given_label"] = _output_labels(inputs.classes, codes)
        df["predicted_label"] = _output_labels(inputs.classes, pred_probs.argmax(axis=1))
        self._say(f"Identified {int(np.sum(mask))} examples with label issues.")
        if not save_space:
            self._label_issues_df = df
            self._label_issues_mask = df["is_label_issue"]
            self.label_issues_ = np.asarray(mask, dtype=bool)
        return df

    def _low_memory_mask(
        self,
        inputs: _Inputs,
        *,
        cv_n_folds: int,
        thresholds: Any,
        clf_kwargs: dict[str, Any],
        validation_func: Callable[[Any, Any], dict[str, Any]] | None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """``low_memory=True``: (issue mask, pred_probs) from the batched search.

        No noise matrices are estimated, so ``fit`` adds no automatic sample weights.
        """
        if self.find_label_issues_kwargs:
            warnings.warn(
                "`find_label_issues_kwargs` is not used when `low_memory=True`.",
                UserWarning,
                stacklevel=4,
            )
        warn_unused(
            "`low_memory=True`",
            {
                "thresholds": (thresholds, None),
                "noise_matrix": (inputs.noise_matrix, None),
                "inverse_noise_matrix": (inputs.inverse_noise_matrix, None),
            },
            stacklevel=5,
        )
        pred_probs = inputs.pred_probs
        if pred_probs is None:
            self._say(f"Computing pred_probs by {cv_n_folds}-fold cross-validation.")
            pred_probs = estimate_cv_predicted_probabilities(
                inputs.X,
                inputs.codes,
                self._template_clf(),
                cv_n_folds=cv_n_folds,
                seed=self.seed,
                clf_kwargs=clf_kwargs,
                validation_func=validation_func,
            )
        self._say("Using pred_probs to identify label issues in batches (low_memory=True).")
        mask = find_label_issues_batched(
            inputs.codes, pred_probs, return_mask=True, verbose=self.verbose
        )
        return mask, pred_probs

    def _apply_pulearning(
        self,
        classes: np.ndarray,
        noise_matrix: np.ndarray,
        inverse_noise_matrix: np.ndarray,
        confident_joint: np.ndarray,
    ) -> None:
        """Force the estimates to say class ``pulearning`` has no label errors (in place)."""
        if len(classes) != 2:
            warnings.warn(
                f"pulearning is only used with 2 classes; ignored for {len(classes)} classes",
                UserWarning,
                stacklevel=4,
            )
            return
        matches = np.flatnonzero(classes == self.pulearning)
        if len(matches) != 1:
            raise ValueError(
                f"pulearning must be one of the classes {classes.tolist()}; got {self.pulearning!r}"
            )
        clean = int(matches[0])
        other = 1 - clean
        # No example of another true class is given the clean label ...
        noise_matrix[clean][other] = 0
        noise_matrix[other][other] = 1
        inverse_noise_matrix[other][clean] = 0
        inverse_noise_matrix[clean][clean] = 1
        # ... and, as cleanlab does, the joint's entries are overwritten the same way.
        confident_joint[clean][other] = 0
        confident_joint[other][other] = 1

    def get_label_issues(self) -> pd.DataFrame | None:
        """Return the label issues stored by :meth:`fit` or :meth:`find_label_issues`.

        Returns
        -------
        pd.DataFrame or None
            ``label_issues_df``; None (with a warning) if nothing was computed yet.
        """
        if self.label_issues_df is None:
            warnings.warn(
                "label issues have not been computed yet; call find_label_issues() or fit() first",
                UserWarning,
                stacklevel=2,
            )
        return self.label_issues_df

    def save_space(self) -> None:
        """Drop the label-issue DataFrame and noise estimates; keep what predicts.

        ``clf_`` and ``classes_`` stay, so ``predict`` still works, and the estimator can
        be fitted again (its parameters are untouched, unlike cleanlab's).
        """
        if self.label_issues_df is None:
            self._say("label_issues_df is already empty.")
        self._clear_state()
        if hasattr(self, "label_issues_"):
            del self.label_issues_
        self._say("Deleted label_issues_df and the noise estimates to save space.")


class LearningWithNoisyLabels(CleanLearning):
    """Deprecated cleanlab 1.x name of :class:`CleanLearning`; use that instead.

    Takes the same parameters as :class:`CleanLearning` and behaves identically, but warns
    (``DeprecationWarning``) when constructed.
    """

    def __init__(
        self,
        clf: Any = None,
        *,
        seed: int | None = None,
        cv_n_folds: int = 5,
        converge_latent_estimates: bool = False,
        pulearning: Any = None,
        find_label_issues_kwargs: Mapping[str, Any] = {},
        label_quality_scores_kwargs: Mapping[str, Any] = {},
        verbose: bool = False,
        low_memory: bool = False,
    ) -> None:
        warnings.warn(
            "LearningWithNoisyLabels is the cleanlab 1.x name; use "
            "core.classification.CleanLearning instead",
            DeprecationWarning,
            stacklevel=2,
        )
        super().__init__(
            clf,
            seed=seed,
            cv_n_folds=cv_n_folds,
            converge_latent_estimates=converge_latent_estimates,
            pulearning=pulearning,
            find_label_issues_kwargs=find_label_issues_kwargs,
            label_quality_scores_kwargs=label_quality_scores_kwargs,
            verbose=verbose,
            low_memory=low_memory,
        )
