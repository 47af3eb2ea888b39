"""/predict's answers: the stored verdicts of audited tasks, the final model for new ones."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from backend.service.cache import Cache
from backend.service.credentials import Credentials, MissingCredentials
from backend.service.policy import describe_error
from backend.settings import Settings
from backend.store import Artifacts, Store

if TYPE_CHECKING:
    from backend.labelstudio.dataset import TaskKind

logger = logging.getLogger("labelaudit.service")

#: The version /setup answers for a project that was never audited.
NO_VERSION = "labelaudit-0"
#: How many final models a process keeps loaded.
MODELS_CACHED = 4

_Answer = TypeVar("_Answer")


@dataclass
class FinalModel:
    """The noise-aware model of one version, for tasks that were never audited."""

    kind: TaskKind
    model: Any  # predict_proba columns are the labels of kind's task type (classes 0..K-1)
    version: str  # what its answers carry: the version the project shows (updated in place)


class Predictor:
    """Answers /predict from the store and the versions' final models (cached per process)."""

    def __init__(
        self, settings: Settings, store: Store, artifacts: Artifacts, credentials: Credentials
    ) -> None:
        self.settings = settings
        self.store = store
        self.artifacts = artifacts
        self.credentials = credentials
        self.models = Cache(MODELS_CACHED)

    def predict(self, project: int, tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """One answer per task, in order: stored verdicts, else the final model, else empty."""
        return self._answers(project, tasks, self.store.answers, dict)

    def predict_json(self, project: int, tasks: list[dict[str, Any]]) -> str:
        """:meth:`predict`'s list as JSON text, the stored answers as the store keeps them:
        decoding and encoding them again was ~56 µs of /predict's CPU for 10 tasks
        (bench/route_cpu.py, issue 16)."""
        return (
            "["
            + ", ".join(self._answers(project, tasks, self.store.answers_json, json.dumps))
            + "]"
        )

    def _answers(
        self,
        project: int,
        tasks: list[dict[str, Any]],
        stored_answers: Callable[[int, list[int]], list[_Answer | None]],
        encode: Callable[[dict[str, Any]], _Answer],
    ) -> list[_Answer]:
        ids = [_task_id(task) for task in tasks]
        known = [i for i in ids if i is not None]
        stored = dict(zip(known, stored_answers(project, known), strict=True))
        answers = [stored.get(i) if i is not None else None for i in ids]
        missing = [pos for pos, answer in enumerate(answers) if answer is None]
        version = None
        if missing:
            version = self.store.current_version(project)
            fresh = self._predict_new(project, version, [tasks[pos] for pos in missing])
            for pos, new in zip(missing, fresh, strict=True):
                answers[pos] = None if new is None else encode(new)
        empty = {"result": [], "score": 0.0, "model_version": version or NO_VERSION}
        return [answer if answer is not None else encode(dict(empty)) for answer in answers]

    def _predict_new(
        self, project: int, version: str | None, tasks: list[dict[str, Any]]
    ) -> list[dict[str, Any] | None]:
        """Predict tasks no audit has seen with the version's final model (None: cannot)."""
        from backend.labelstudio.export import dataset_from_tasks

        if version is None:
            return [None] * len(tasks)
        try:
            final = self.final_model(project, version)
            if final is None:
                return [None] * len(tasks)
            positioned = [{"id": pos, "data": task.get("data")} for pos, task in enumerate(tasks)]
            inputs = dataset_from_tasks(positioned, final.kind, source="predict").unlabeled
            try:
                url, key = self.credentials.of(project)
            except MissingCredentials:
                url = key = ""
            found = self.predict_inputs(final, list(inputs.items()), url, key)
        except Exception as err:  # /predict answers something for every task, always
            logger.warning(
                "predicting new tasks of project %s failed: %s",
                project,
                self.credentials.scrub(describe_error(err), project),
            )
            return [None] * len(tasks)
        return [found.get(pos) for pos in range(len(tasks))]

    def predict_inputs(
        self, final: FinalModel, items: list[tuple[int, Any]], url: str, key: str
    ) -> dict[int, dict[str, Any]]:
        """Predict raw task inputs with the final model; keys whose input fails are left out."""
        from backend import tasktypes
        from backend.inputs import featurize
        from backend.labelstudio.predictions import build_predict_result

        if not items:
            return {}
        keys = [k for k, _ in items]
        fetch = self.credentials.fetcher(url, key) if url and key else None
        X, ok, _ = featurize(final.kind, [v for _, v in items], self.settings, fetch=fetch)
        rows = np.flatnonzero(ok)
        if len(rows) == 0:
            return {}
        task_type = tasktypes.get(final.kind.task_type)
        labels = task_type.suggest(final.model.predict_proba(X[rows]))
        out = {}
        for row, label in zip(rows.tolist(), labels.tolist(), strict=True):
            answer = build_predict_result(final.kind, label, 0.0, final.version)
            # score is the suspicion of a given label; a task nobody labelled has none.
            answer.pop("score")
            out[keys[row]] = answer
        return out

    def final_model(self, project: int, version: str) -> FinalModel | None:
        """Return the final model of a version (cached per process), or None if absent."""
        path = self.artifacts.version_dir(project, version) / "model.pkl"

        def load() -> FinalModel | None:
            return self.artifacts.read_pickle(path) if path.exists() else None

        return self.models.get((project, version), load)


def _task_id(task: Any) -> int | None:
    value = task.get("id") if isinstance(task, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None
