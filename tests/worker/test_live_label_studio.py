"""The whole loop against a real Label Studio 1.23.2: connect, train, annotate, predict.

Label Studio connects to ``labelaudit serve`` (Redis mode, HTTP Basic on) with a real
Celery worker behind it; the backend gets its Label Studio URL and token from /setup.
"Start Training" reaches it as START_TRAINING; a new annotation reaches it through the
webhook Label Studio created when the model was connected, once that webhook carries the
Authorization header (README: "Connecting Label Studio"); opening a task nobody predicted
makes Label Studio call /predict.

Uses the e2e fixtures (a Label Studio in .e2e/venv); skipped with LABELAUDIT_SKIP_E2E=1.
"""

from __future__ import annotations

import base64
import os
import uuid

import httpx
import pytest

from tests.worker.conftest import wait_ready
from tests.worker.support import (
    CLASSES,
    CONFIG,
    drop_namespace,
    free_port,
    numeric_tasks,
    start_server,
    start_worker,
    stop_worker,
    wait_for,
    worker_env,
)

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        os.environ.get("LABELAUDIT_SKIP_E2E") == "1", reason="LABELAUDIT_SKIP_E2E=1"
    ),
]

USER, PASSWORD = "label-studio", "a long shared secret for the backend"
AUDIT_TIMEOUT = 90.0


def choice(label: str) -> list[dict]:
    return [
        {"from_name": "label", "to_name": "row", "type": "choices", "value": {"choices": [label]}}
    ]


@pytest.fixture(scope="module")
def backend(label_studio, redis_url, tmp_path_factory):
    """``labelaudit serve`` and one worker, no Label Studio credentials of their own."""
    root = tmp_path_factory.mktemp("live")
    namespace = f"labelaudit-test-{uuid.uuid4().hex[:12]}"
    env = worker_env(
        {
            "REDIS_URL": redis_url,
            "MODEL_DIR": str(root / "models"),
            "LABELAUDIT_NAMESPACE": namespace,
            "LABELAUDIT_FOLDS": "3",
            "LABELAUDIT_DEBOUNCE_SECONDS": "1",
            "LABELAUDIT_SWEEP_SECONDS": "0",
            "BASIC_AUTH_USER": USER,
            "BASIC_AUTH_PASS": PASSWORD,
        }
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = start_server(env, root / "serve.log", port)
    worker = start_worker(env, root / "worker.log")
    try:
        wait_ready(root / "worker.log", worker)

        def up() -> bool:
            try:
                return httpx.get(f"{url}/health", auth=(USER, PASSWORD)).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(up, timeout=30, what="labelaudit serve", every=0.1)
        yield url
    finally:
        stop_worker(server)
        stop_worker(worker)
        drop_namespace(redis_url, namespace)
        for name in ("serve.log", "worker.log"):
            text = (root / name).read_text()
            assert label_studio.token not in text and PASSWORD not in text, name


@pytest.fixture(scope="module")
def ls(label_studio):
    from backend.labelstudio.client import close, connect

    client = connect(label_studio.url, label_studio.token)
    yield client
    close(client)


def wait_audited(backend: str, project_id: int, version: str, what: str) -> None:
    """Wait until the backend stored an audit of ``version`` and its job ended (the audit is
    stored as soon as Label Studio shows it; older versions are deleted after that)."""

    def done() -> bool:
        answer = httpx.get(f"{backend}/projects/{project_id}/audit", auth=(USER, PASSWORD))
        if answer.status_code != 200 or answer.json()["model_version"] != version:
            return False
        job = httpx.get(f"{backend}/jobs/{answer.json()['job']}", auth=(USER, PASSWORD)).json()
        return job.get("state") == "succeeded"

    wait_for(done, timeout=AUDIT_TIMEOUT, what=what, every=0.5)


def predictions_by_task(ls, project_id: int) -> dict[int, list]:
    tasks = ls.tasks.list(project=project_id, fields="all", page_size=100)
    return {t.id: list(t.predictions or []) for t in tasks}


def test_label_studio_drives_the_backend(ls, backend):
    project = ls.projects.create(title="labelaudit live", label_config=CONFIG)
    tasks = numeric_tasks(40, seed=21, flip=0.15)
    ls.projects.import_tasks(
        id=project.id,
        request=[
            {"data": t["data"], "annotations": [{"result": a["result"]} for a in t["annotations"]]}
            for t in tasks
        ],
    )

    # Connect the model with HTTP Basic: Label Studio calls /health and /setup with it.
    ml = ls.ml.create(
        url=backend,
        project=project.id,
        title="labelaudit",
        auth_method="BASIC_AUTH",
        basic_auth_user=USER,
        basic_auth_pass=PASSWORD,
    )
    assert ml.state == "CO", ml  # connected
    # The same backend refuses anyone without the credentials, on every kind of route.
    for method, path in (("GET", "/health"), ("POST", "/setup"), ("POST", "/webhook")):
        refused = httpx.request(method, f"{backend}{path}", json={}, timeout=10)
        assert refused.status_code == 401, (path, refused.status_code)
        wrong = httpx.request(method, f"{backend}{path}", json={}, auth=(USER, "nope"), timeout=10)
        assert wrong.status_code == 401, (path, wrong.status_code)

    # "Start Training": a START_TRAINING webhook (HTTP Basic too); the audit runs and pushes.
    ls.ml.train(id=ml.id)
    wait_audited(backend, project.id, "labelaudit-1", "the first audit")
    assert ls.projects.get(id=project.id).model_version == "labelaudit-1"
    first = predictions_by_task(ls, project.id)
    assert all(len(p) == 1 for p in first.values()) and len(first) == 40
    views = [
        v for v in ls.views.list(project=project.id) if v.data.get("title") == "Needs re-review"
    ]
    assert len(views) == 1
    # The model card says what the audit found, also on a basic-auth connection.
    assert ls.ml.get(id=ml.id).title.startswith("labelaudit · labelaudit-1: ")

    # The webhook Label Studio created for the model has no Authorization header: add it.
    token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    (hook,) = [h for h in ls.webhooks.list(project=str(project.id)) if h.url.startswith(backend)]
    ls.webhooks.update(hook.id, url=hook.url, headers={"Authorization": f"Basic {token}"})

    # A new annotation: ANNOTATION_CREATED, debounced, a second audit replaces the first.
    task_id = sorted(first)[0]
    ls.annotations.create(id=task_id, result=choice(CLASSES[2]), project=project.id)
    # (written in place: the project keeps showing labelaudit-1, changed where it changed)
    wait_audited(backend, project.id, "labelaudit-2", "the audit after a new annotation")
    assert ls.projects.get(id=project.id).model_version == "labelaudit-1"
    second = predictions_by_task(ls, project.id)
    assert all(len(p) == 1 for p in second.values())
    assert {p[0].model_version for p in second.values()} == {"labelaudit-1"}

    # A task nobody audited: opening it makes Label Studio ask /predict (the final model).
    (new_id,) = ls.projects.import_tasks(
        id=project.id, request=[{"data": {"x": 8.1, "y": -0.2}}], return_task_ids=True
    ).task_ids
    ls.tasks.get(id=new_id)
    predicted = wait_for(
        lambda: ls.tasks.get(id=new_id).predictions, timeout=30, what="/predict", every=0.5
    )
    assert predicted[0].model_version == "labelaudit-1"  # the version the project shows
    assert predicted[0].result[0]["value"] == {"choices": ["b"]}
    assert predicted[0].score is None  # no label yet, so no suspicion
