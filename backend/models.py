"""The classifier behind an audit: the input type's measured default, or the user's own.

Each input type's default (:mod:`backend.inputs`, one module per type) was chosen by how
well confident learning finds injected label flips with its out-of-fold probabilities
(F1 of ``core.filter.find_label_issues``), tuned on one set of datasets and checked on
others (``bench/detection.py``, ``bench/RESULTS.md``). With all of them
``filter_by="prune_by_noise_rate"`` (the settings' default) is the best or close to it.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Mapping
from typing import Any

from backend import inputs
from backend.labelstudio.dataset import TaskKind
from backend.settings import Settings


def estimator_from_path(path: str, params: Mapping[str, Any]) -> Any:
    """Import ``path`` ("package.module.Name") and instantiate it with ``params``."""
    module_name, _, name = path.rpartition(".")
    if not module_name or not name:
        raise ValueError(
            f"setting model must be 'auto' or a dotted path such as "
            f"'sklearn.linear_model.LogisticRegression'; got {path!r}"
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise ValueError(f"setting model {path!r}: cannot import {module_name!r} ({err})") from None
    factory = getattr(module, name, None)
    if factory is None or not callable(factory):
        raise ValueError(f"setting model {path!r}: {module_name!r} has no class {name!r}")
    try:
        estimator = factory(**params)
    except TypeError as err:
        accepted = _parameter_names(factory)
        raise ValueError(
            f"setting model_params {dict(params)!r} do not fit {path}: {err}"
            + (f" (it accepts {', '.join(accepted)})" if accepted else "")
        ) from None
    missing = [m for m in ("fit", "predict_proba") if not hasattr(estimator, m)]
    if missing:
        raise ValueError(
            f"setting model {path!r} is not a probabilistic classifier: it has no "
            f"{' or '.join(missing)} (with these model_params)"
        )
    return estimator


def _parameter_names(factory: Any) -> list[str]:
    try:
        return list(inspect.signature(factory).parameters)
    except (TypeError, ValueError):
        return []


def make_model(
    kind: TaskKind, settings: Settings, *, n_samples: int, per_class: bool = False
) -> Any:
    """Return an unfitted, clonable classifier with ``fit``/``predict_proba`` for ``kind``.

    ``settings.model == "auto"`` gives the input type's default model; ``settings.model_params``
    then set its parameters by scikit-learn's nested names (``{"complementnb__alpha":
    0.5}``). Otherwise ``settings.model`` is a dotted path to an estimator class,
    instantiated with ``settings.model_params``, and fed what suits it (the input type's
    ``adapt``: text through the default TF-IDF vectorizer, numeric columns through a
    StandardScaler, pixel and embedding vectors as they are). ``per_class=True`` asks for
    the model of one yes/no question per class (multi-label): the input type's
    ``per_class_model`` when ``model == "auto"``. ``random_state`` is set to
    ``settings.seed`` wherever the estimator has one and the params do not say otherwise.

    Raises
    ------
    ValueError
        For an unknown path, a class that is not a probabilistic classifier, or params
        the estimator does not accept.
    """
    from sklearn.base import clone

    input_type = inputs.get(kind.input_type)
    params = dict(settings.model_params)
    if settings.model == "auto":
        default = input_type.per_class_model if per_class else input_type.default_model
        model = default(settings, n_samples=n_samples)
        if params:
            try:
                model.set_params(**params)
            except ValueError as err:
                raise ValueError(
                    f"setting model_params {params!r} do not fit the default "
                    f"{kind.input_type} model ({type(model).__name__}): {err}"
                ) from None
    else:
        model = input_type.adapt(estimator_from_path(settings.model, params), n_samples=n_samples)
    seeded = {
        name: settings.seed
        for name in model.get_params()
        if (name == "random_state" or name.endswith("__random_state"))
        and name not in params
        and name.removeprefix("model__") not in params
    }
    model.set_params(**seeded)
    return clone(model)


def split_features(model: Any) -> tuple[Any | None, Any]:
    """Return (feature steps, classifier) of ``model``: a Pipeline's steps before its last
    (as a Pipeline), or None when the classifier takes the inputs as they are.

    The feature steps of labelaudit's models learn nothing from labels (TF-IDF, scaling,
    PCA), so the audit fits them once on every audited input and cross-validates only the
    classifier (as with a pretrained embedding: the labels stay out of fold).
    """
    from sklearn.pipeline import Pipeline

    if isinstance(model, Pipeline) and len(model.steps) > 1:
        return Pipeline(model.steps[:-1]), model.steps[-1][1]
    return None, model


class Featurized:
    """A fitted classifier behind fitted feature steps: ``predict_proba`` of raw inputs."""

    def __init__(self, features: Any | None, model: Any) -> None:
        self.features = features
        self.model = model

    def predict_proba(self, X: Any) -> Any:
        """Return the classifier's probabilities of ``X`` after the feature steps."""
        return self.model.predict_proba(X if self.features is None else self.features.transform(X))
