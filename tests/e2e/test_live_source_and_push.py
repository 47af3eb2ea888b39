"""labelaudit's Label Studio half against a real Label Studio 1.23.2.

Reading a project (text and tabular configs, every task, a cancelled
annotation, two annotators on a task), both kinds of API key, fetching an uploaded image,
and pushing an audit back (predictions, model_version, the review tab) twice.
"""

from __future__ import annotations

import struct
import zlib
from typing import Any

import httpx
import pytest

from backend.labelstudio.client import close, connect, load_project
from backend.labelstudio.config import parse_label_config
from backend.labelstudio.media import fetch_bytes
from backend.labelstudio.predictions import build_prediction
from backend.labelstudio.push import push_as_next_version
from tests.checks import validate_prediction

pytestmark = [
    pytest.mark.e2e,
    # label-studio-sdk 2.1.2 refreshes a personal access token with pydantic's deprecated
    # TokenRefreshResponse.parse_obj (tokens/client_ext.py); not ours to fix.
    pytest.mark.filterwarnings(
        "ignore:The `parse_obj` method is deprecated:pydantic.warnings.PydanticDeprecatedSince20"
    ),
]

TEXT_CONFIG = """<View>
  <Text name="text" value="$text"/>
  <Choices name="sentiment" toName="text" choice="single">
    <Choice value="pos"/><Choice value="neg"/><Choice value="neutral"/>
  </Choices>
</View>"""
TABLE_CONFIG = """<View>
  <Header value="Applicant"/>
  <Table name="row" value="$item"/>
  <Choices name="risk" toName="row"><Choice value="low"/><Choice value="high"/></Choices>
</View>"""
FIELDS_CONFIG = """<View>
  <Text name="row" value="age=$age income=$income"/>
  <Choices name="risk" toName="row"><Choice value="low"/><Choice value="high"/></Choices>
</View>"""
IMAGE_CONFIG = """<View>
  <Image name="image" value="$image"/>
  <Choices name="colour" toName="image"><Choice value="red"/><Choice value="blue"/></Choices>
</View>"""

N_TEXT_TASKS = 230


def _choice(control: str, obj: str, label: str) -> list[dict[str, Any]]:
    return [
        {"from_name": control, "to_name": obj, "type": "choices", "value": {"choices": [label]}}
    ]


def _png(rgb: tuple[int, int, int]) -> bytes:
    """Return a valid 2x2 PNG of one colour (no imaging library needed)."""
    raw = b"".join(b"\x00" + bytes(rgb) * 2 for _ in range(2))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


@pytest.fixture(scope="module")
def second_user(ls) -> int:
    """A second annotator in the organization."""
    return int(ls.users.create(email="annotator2@example.com", username="annotator2").id)


@pytest.fixture(scope="module")
def personal_access_token(ls) -> str:
    """The admin's personal access token (a JWT refresh token), created with the legacy one."""
    return ls.tokens.create().token


@pytest.fixture(scope="module")
def text_project(ls, second_user) -> dict[str, Any]:
    """A text project of 230 tasks: labels, a cancelled annotation, two annotators, gaps."""
    project = ls.projects.create(title="e2e text audit", label_config=TEXT_CONFIG)
    classes = ["pos", "neg", "neutral"]
    tasks: list[dict[str, Any]] = []
    for i in range(N_TEXT_TASKS):
        task: dict[str, Any] = {"data": {"text": f"review number {i}"}}
        if i % 10 != 9:  # every tenth task has no annotation
            task["annotations"] = [
                {
                    "result": _choice("sentiment", "text", classes[i % 3]),
                    # Label Studio marks imported annotations ground truth unless told.
                    "ground_truth": i == 0,
                }
            ]
        tasks.append(task)
    tasks[1]["annotations"].append(
        {
            "result": _choice("sentiment", "text", "neg"),
            "completed_by": second_user,
            "ground_truth": False,
        }
    )
    tasks[2]["annotations"] = [
        {
            "result": _choice("sentiment", "text", "pos"),
            "was_cancelled": True,
            "ground_truth": False,
        }
    ]
    imported = ls.projects.import_tasks(id=project.id, return_task_ids=True, request=tasks)
    return {"id": project.id, "task_ids": list(imported.task_ids)}


def test_load_project_reads_every_task_and_annotation(label_studio, text_project, second_user):
    pages: list[tuple[int, int | None]] = []
    ds = load_project(
        label_studio.url,
        label_studio.token,
        text_project["id"],
        progress=lambda done, total: pages.append((done, total)),
    )
    ids = text_project["task_ids"]
    assert pages == [(N_TEXT_TASKS, None)]  # one export call (test_full_read.py: vs pages)
    assert ds.kind.classes == ("pos", "neg", "neutral")
    assert (ds.kind.control, ds.kind.object_name, ds.kind.input_type) == (
        "sentiment",
        "text",
        "text",
    )

    annotated = [i for i in range(N_TEXT_TASKS) if i % 10 != 9 and i != 2]
    # one row per usable annotation: task 1 has two
    assert len(ds) == len(annotated) + 1
    assert sorted(set(ds.task_ids.tolist())) == sorted(ids[i] for i in annotated)
    rows_1 = [r for r in range(len(ds)) if ds.task_ids[r] == ids[1]]
    assert sorted(ds.annotators[r] for r in rows_1) == sorted(["1", str(second_user)])
    assert sorted(ds.labels[rows_1].tolist()) == [1, 1]  # "neg" from both annotators
    assert ds.ground_truth.sum() == 1 and ds.task_ids[ds.ground_truth][0] == ids[0]
    assert (ds.annotation_ids > 0).all()

    (cancelled,) = ds.skipped
    assert cancelled.task_id == ids[2] and "cancelled" in cancelled.reason
    # the task whose only annotation was cancelled, and the never-annotated ones
    expected_unlabeled = {ids[2]} | {ids[i] for i in range(N_TEXT_TASKS) if i % 10 == 9}
    assert set(ds.unlabeled) == expected_unlabeled
    assert ds.unlabeled[ids[9]] == "review number 9"
    row_5 = int((ds.task_ids == ids[5]).nonzero()[0][0])
    assert ds.inputs[row_5] == "review number 5" and ds.labels[row_5] == 5 % 3


@pytest.mark.parametrize(
    ("config", "data", "expected"),
    [
        (TABLE_CONFIG, {"item": {"income": 52.5, "age": 31}}, [31.0, 52.5]),
        (FIELDS_CONFIG, {"age": 44, "income": 12.0}, [44.0, 12.0]),
    ],
    ids=["table-dict", "several-fields"],
)
def test_load_project_tabular(label_studio, ls, config, data, expected):
    project = ls.projects.create(title="e2e tabular audit", label_config=config)
    tasks = [
        {
            "data": data,
            "annotations": [{"result": _choice("risk", "row", "high"), "ground_truth": False}],
        },
        {
            "data": {k: "n/a" for k in data},
            "annotations": [{"result": _choice("risk", "row", "low")}],
        },
    ]
    ls.projects.import_tasks(id=project.id, request=tasks)
    ds = load_project(label_studio.url, label_studio.token, project.id)
    assert ds.kind.input_type == "numeric"
    assert ds.inputs == [expected]
    assert ds.labels.tolist() == [1]
    (bad,) = ds.skipped
    assert bad.annotation_id is None and "non-numeric value" in bad.reason


def test_both_token_kinds_work(label_studio, text_project, personal_access_token):
    assert personal_access_token.count(".") == 2  # a JWT, not a 40-hex legacy token
    legacy = connect(label_studio.url, label_studio.token)
    pat = connect(label_studio.url, personal_access_token)
    try:
        assert legacy.users.whoami().email == pat.users.whoami().email == "admin@example.com"
        assert pat._client_wrapper.get_headers()["Authorization"].startswith("Bearer ")
        assert legacy._client_wrapper.get_headers()["Authorization"].startswith("Token ")
    finally:
        close(legacy)
        close(pat)
    by_legacy = load_project(label_studio.url, label_studio.token, text_project["id"])
    by_pat = load_project(label_studio.url, personal_access_token, text_project["id"])
    assert by_pat.task_ids.tolist() == by_legacy.task_ids.tolist()
    assert by_pat.labels.tolist() == by_legacy.labels.tolist()


def test_bad_key_fails_without_showing_it(label_studio, text_project):
    wrong = "f" * 40
    with pytest.raises(PermissionError, match="rejected the API key") as caught:
        load_project(label_studio.url, wrong, text_project["id"])
    assert wrong not in str(caught.value)


def test_fetch_bytes_of_an_uploaded_image(label_studio, ls, personal_access_token):
    project = ls.projects.create(title="e2e image audit", label_config=IMAGE_CONFIG)
    image = _png((255, 0, 0))
    answer = httpx.post(
        f"{label_studio.url}/api/projects/{project.id}/import",
        headers={"Authorization": f"Token {label_studio.token}"},
        files={"file": ("red.png", image, "image/png")},
        timeout=30,
    )
    assert answer.status_code == 201, answer.text
    (task,) = list(ls.tasks.list(project=project.id))
    ref = task.data["image"]
    assert ref.startswith("/data/upload/")
    assert parse_label_config(IMAGE_CONFIG).data_keys == ("image",)

    for key in (label_studio.token, personal_access_token):
        assert fetch_bytes(ref, base_url=label_studio.url, api_key=key) == image
    assert (
        fetch_bytes(label_studio.url + ref, base_url=label_studio.url, api_key=label_studio.token)
        == image
    )
    with pytest.raises(PermissionError, match="HTTP 401"):
        fetch_bytes(ref, base_url=label_studio.url)  # Label Studio media needs the key


@pytest.fixture(scope="module")
def push_project(ls) -> dict[str, Any]:
    """40 text tasks, a few with another model's predictions on them."""
    project = ls.projects.create(title="e2e push audit", label_config=TEXT_CONFIG)
    tasks = [
        {
            "data": {"text": f"t{i}"},
            "annotations": [{"result": _choice("sentiment", "text", "pos")}],
        }
        for i in range(40)
    ]
    ids = list(
        ls.projects.import_tasks(id=project.id, return_task_ids=True, request=tasks).task_ids
    )
    other = [
        {
            "task": t,
            "result": _choice("sentiment", "text", "neg"),
            "score": 0.99,
            "model_version": "other-model",
        }
        for t in ids[:10]
    ]
    ls.projects.import_predictions(id=project.id, request=other)
    return {"id": project.id, "task_ids": ids, "kind": parse_label_config(TEXT_CONFIG)}


def test_imported_labels_are_ground_truth_in_label_studio_but_not_trusted(
    label_studio, ls, push_project
):
    raw = [a for t in ls.tasks.list(project=push_project["id"]) for a in t.annotations]
    assert len(raw) == 40 and all(a["ground_truth"] for a in raw)  # Label Studio's default
    ds = load_project(label_studio.url, label_studio.token, push_project["id"])
    assert len(ds) == 40 and not ds.ground_truth.any()  # so the audit can flag them


def _predictions_by_task(ls, project_id: int) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    for p in ls.predictions.list(project=project_id):
        found.setdefault(int(p.task), []).append(p.model_version)
    return found


def _tab(ls, project_id: int, title: str) -> list[int]:
    views = [v for v in ls.views.list(project=project_id) if v.data.get("title") == title]
    assert len(views) == 1, f"expected one tab {title!r}, found {len(views)}"
    return [int(t.id) for t in ls.tasks.list(project=project_id, view=views[0].id)]


def _flags(annotation: dict[int, int], flagged: dict[int, float]) -> dict[int, int]:
    """Flagged task -> its annotation id, most suspicious first (what push_audit takes)."""
    return {t: annotation[t] for t in sorted(flagged, key=flagged.get, reverse=True)}


def _audit(kind, ids: list[int], flagged: dict[int, float]) -> list[dict[str, Any]]:
    return [
        build_prediction(
            kind,
            t,
            kind.classes.index("neg" if t in flagged else "pos"),
            flagged.get(t, 0.01),
            "unset",
        )
        for t in ids
    ]


def test_push_audit_twice(ls, push_project):
    pid, ids, kind = push_project["id"], push_project["task_ids"], push_project["kind"]
    # a stale labelaudit version from an earlier, interrupted push on one task
    ls.predictions.create(
        task=ids[-1],
        result=_choice("sentiment", "text", "pos"),
        score=0.5,
        model_version="labelaudit-7",
    )
    # A second annotation on a task that gets flagged: the tab still lists the task once.
    ls.annotations.create(id=ids[17], result=_choice("sentiment", "text", "neg"))
    annotation = {t.id: t.annotations[-1]["id"] for t in ls.tasks.list(project=pid, fields="all")}
    flagged = {ids[3]: 0.61, ids[17]: 0.93, ids[25]: 0.75, ids[8]: 0.88, ids[30]: 0.52}
    predictions = _audit(kind, ids, flagged)
    validate_prediction(TEXT_CONFIG, predictions[0])
    chunks: list[tuple[int, int]] = []
    version = push_as_next_version(
        ls,
        pid,
        predictions,
        _flags(annotation, flagged),
        progress=lambda d, t: chunks.append((d, t)),
    )
    assert version == "labelaudit-8"
    assert chunks == [(40, 40)]
    assert ls.projects.get(id=pid).model_version == "labelaudit-8"
    assert _tab(ls, pid, "Needs re-review") == sorted(flagged, key=flagged.get, reverse=True)
    by_task = _predictions_by_task(ls, pid)
    for t in ids:
        ours = [v for v in by_task.get(t, []) if v.startswith("labelaudit-")]
        assert ours == ["labelaudit-8"], (t, by_task.get(t))
    assert sorted(
        t for t, v in by_task.items() if sorted(v) == ["labelaudit-8", "other-model"]
    ) == sorted(ids[:10])

    # The second audit flags other tasks; the first version's predictions go.
    flagged2 = {ids[0]: 0.7, ids[39]: 0.95}
    version2 = push_as_next_version(
        ls, pid, _audit(kind, ids, flagged2), _flags(annotation, flagged2)
    )
    assert version2 == "labelaudit-9"
    assert ls.projects.get(id=pid).model_version == "labelaudit-9"
    assert _tab(ls, pid, "Needs re-review") == [ids[39], ids[0]]
    by_task = _predictions_by_task(ls, pid)
    assert all(
        [v for v in versions if v.startswith("labelaudit-")] == ["labelaudit-9"]
        for versions in by_task.values()
    )
    assert len(by_task) == 40
    assert sorted(t for t, versions in by_task.items() if "other-model" in versions) == sorted(
        ids[:10]
    )

    # Nothing flagged: the tab holds nothing (not every task).
    version3 = push_as_next_version(ls, pid, _audit(kind, ids, {}), {})
    assert version3 == "labelaudit-10"
    assert _tab(ls, pid, "Needs re-review") == []
