"""Predictions in Label Studio's format, and the push logic against a fake Label Studio."""

from __future__ import annotations

import json
from collections import Counter
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from label_studio_sdk.core.api_error import ApiError

from backend.labelstudio import push as push_module
from backend.labelstudio import versions as versions_module
from backend.labelstudio.dataset import TaskKind
from backend.labelstudio.instant_push import point_tabs, replace_task_prediction
from backend.labelstudio.predictions import build_predict_result, build_prediction
from backend.labelstudio.push import push_as_next_version, push_audit
from backend.labelstudio.versions import version_number
from tests.checks import validate_prediction

KIND = TaskKind("sentiment", "text", "text", ("text",), ("pos", "neg"))
POS, NEG = 0, 1  # single choice labels are class indices
CONFIG = (
    '<View><Text name="text" value="$text"/><Choices name="sentiment" toName="text">'
    '<Choice value="pos"/><Choice value="neg"/></Choices></View>'
)


# --- the format --------------------------------------------------------------------------


def test_build_prediction_is_what_import_predictions_takes():
    assert build_prediction(KIND, 12, NEG, 0.93, "labelaudit-7", mislabeling=0.93) == {
        "task": 12,
        "result": [
            {
                "from_name": "sentiment",
                "to_name": "text",
                "type": "choices",
                "value": {"choices": ["neg"]},
            }
        ],
        "score": 0.93,
        "model_version": "labelaudit-7",
        "mislabeling": 0.93,
    }


def test_predict_variant_has_no_task_and_mislabeling_is_optional():
    prediction = build_predict_result(KIND, POS, 0.1, "labelaudit-1")
    assert set(prediction) == {"result", "score", "model_version"}
    assert prediction["result"][0]["value"] == {"choices": ["pos"]}


def test_numpy_values_become_plain_json():
    prediction = build_prediction(
        KIND, np.int64(5), np.int64(POS), np.float32(0.25), "v", mislabeling=np.float64(0.25)
    )
    assert json.loads(json.dumps(prediction)) == prediction
    assert type(prediction["task"]) is int and type(prediction["score"]) is float


def test_built_predictions_fit_the_config():
    validate_prediction(CONFIG, build_prediction(KIND, 1, NEG, 0.5, "v"))
    validate_prediction(CONFIG, build_predict_result(KIND, POS, 0.5, "v"))


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"value": {"choices": ["maybe"]}}, "Invalid value for control 'sentiment'"),
        ({"from_name": "nope"}, "'from_name' 'nope' not found"),
    ],
)
def test_validate_prediction_reports_what_does_not_fit(change, match):
    prediction = build_prediction(KIND, 1, NEG, 0.5, "v")
    prediction["result"][0].update(change)
    with pytest.raises(ValueError, match=match):
        validate_prediction(CONFIG, prediction)


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "match"),
    [
        ((1, 2, 0.5, "v"), {}, ValueError, r"label must be a class index in 0..1; got 2"),
        ((1, "pos", 0.5, "v"), {}, TypeError, r"label must be a class index; got str"),
        ((1, POS, float("nan"), "v"), {}, ValueError, "score must be finite; got nan"),
        ((1, POS, "0.5", "v"), {}, TypeError, "score must be a number; got str"),
        (
            (1, POS, 0.5, "v"),
            {"mislabeling": float("inf")},
            ValueError,
            "mislabeling must be finite",
        ),
        ((1, POS, 0.5, ""), {}, ValueError, "model_version must be a non-empty string"),
        (("1", POS, 0.5, "v"), {}, TypeError, "task_id must be an int; got str"),
        ((True, POS, 0.5, "v"), {}, TypeError, "task_id must be an int; got bool"),
    ],
)
def test_bad_arguments(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        build_prediction(KIND, *args, **kwargs)


# --- the push ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("labelaudit-3", 3),
        ("labelaudit-12", 12),
        ("labelaudit-x", None),
        ("labelaudit-3b", None),
        ("my-labelaudit-3", None),
        ("other", None),
        ("", None),
    ],
)
def test_version_number(version, expected):
    assert version_number(version) == expected


class _Response:
    def __init__(self, status: int, body: Any) -> None:
        self.status_code = status
        self._body = body
        self.content = b"" if body is None else json.dumps(body).encode()
        self.text = self.content.decode()

    def json(self) -> Any:
        return self._body


#: The Data Manager columns of a text project, as GET /api/dm/columns answers (1.23.2, cut).
COLUMNS = [
    {"id": "text", "parent": "data", "target": "tasks",
     "visibility_defaults": {"explore": True, "labeling": True}},
    {"id": "id", "target": "tasks", "visibility_defaults": {"explore": True, "labeling": False}},
    {"id": "inner_id", "target": "tasks",
     "visibility_defaults": {"explore": False, "labeling": False}},
    {"id": "annotations_results", "target": "tasks",
     "visibility_defaults": {"explore": False, "labeling": False}},
    {"id": "predictions_score", "target": "tasks",
     "visibility_defaults": {"explore": False, "labeling": False}},
    {"id": "data", "target": "tasks", "children": ["text"]},
]  # fmt: skip


class FakeLabelStudio:
    """The Label Studio routes a push uses, shaped like the SDK client, with LS 1.23.2's rules."""

    def __init__(self, task_ids: list[int]) -> None:
        self.task_ids = set(task_ids)
        self.predictions: list[dict[str, Any]] = []
        self.model_version = ""
        self.tabs: list[SimpleNamespace] = []
        self.backends: list[SimpleNamespace] = []
        self.fail_import_after: int | None = None
        self.locked_deletes = 0  # how many deletes answer 500 "database is locked" first
        self.calls: list[str] = []
        self.projects = SimpleNamespace(
            get=lambda id: SimpleNamespace(model_version=self.model_version),
            update=self._update_project,
            import_predictions=self._import,
        )
        self.views = SimpleNamespace(
            list=lambda project: list(self.tabs), create=self._create_view, update=self._update_view
        )
        self.ml = SimpleNamespace(list=lambda project: list(self.backends), update=self._update_ml)
        self._client_wrapper = SimpleNamespace(
            get_base_url=lambda: "http://fake/",
            httpx_client=SimpleNamespace(request=self._request),
        )

    def add(self, task: int, model_version: str) -> None:
        """A prediction that was there before the push."""
        self.predictions.append({"id": len(self.predictions) + 1000, "task": task,
                                 "model_version": model_version})  # fmt: skip

    def _update_project(self, id: int, model_version: str) -> None:
        self.calls.append(f"set {model_version}")
        if not any(p["model_version"] == model_version for p in self.predictions):
            raise ApiError(status_code=400, body={"detail": "Model version doesn't exist"})
        self.model_version = model_version

    def _import(self, id: int, request: list[dict[str, Any]], request_options: Any = None) -> None:
        if self.fail_import_after is not None and len(self.calls) >= self.fail_import_after:
            raise ApiError(status_code=503, body={"detail": "down"})
        self.calls.append(f"import {len(request)}")
        for item in request:
            assert item["task"] in self.task_ids
            self.predictions.append({"id": len(self.predictions) + 1, **item})

    def _create_view(self, project: int, data: dict[str, Any]) -> SimpleNamespace:
        self.calls.append(f"create tab {data['title']}")
        view = SimpleNamespace(id=len(self.tabs) + 1, data=dict(data))
        self.tabs.append(view)
        return view

    def _update_view(self, id: str, project: int, data: dict[str, Any]) -> SimpleNamespace:
        self.calls.append(f"update tab {data['title']}")
        (view,) = [v for v in self.tabs if str(v.id) == id]
        view.data = dict(data)
        return view

    def _update_ml(self, id: int, *, url: str, project: int, **fields: Any) -> SimpleNamespace:
        (backend,) = [b for b in self.backends if b.id == id]
        assert url == backend.url  # Label Studio 1.23.2 answers 500 without url and project
        vars(backend).update(fields)
        return backend

    def _request(self, path: str, *, method: str, json: Any = None, **_: Any) -> _Response:
        if path.startswith("api/dm/columns"):
            return _Response(200, {"columns": COLUMNS})
        if path.startswith("api/predictions/?project="):
            return _Response(200, [dict(p) for p in self.predictions])
        if path.startswith("api/predictions/?task="):
            task = int(path.split("=")[1])
            return _Response(200, [dict(p) for p in self.predictions if p["task"] == task])
        if path == "api/predictions/" and method == "POST":
            self.calls.append(f"create {json['model_version']}")
            assert json["task"] in self.task_ids
            self.predictions.append({"id": len(self.predictions) + 2000, **json})
            return _Response(201, self.predictions[-1])
        if path.startswith("api/predictions/") and method == "PATCH":
            pid = int(path.split("/")[2])
            self.calls.append("patch one")
            (held,) = [p for p in self.predictions if p["id"] == pid]
            held.update(json)
            return _Response(200, dict(held))
        if path.startswith("api/predictions/"):
            assert method == "DELETE"
            if self.locked_deletes > 0:
                self.locked_deletes -= 1
                self.calls.append("locked")
                return _Response(500, {"detail": "database is locked"})
            pid = int(path.split("/")[2])
            self.calls.append("delete one")
            self.predictions = [p for p in self.predictions if p["id"] != pid]
            return _Response(204, None)
        assert path.endswith("/model-versions/")
        if method == "GET":
            return _Response(200, dict(Counter(p["model_version"] for p in self.predictions)))
        self.calls.append(f"delete {json['model_version']}")
        self.predictions = [
            p for p in self.predictions if p["model_version"] != json["model_version"]
        ]
        return _Response(200, {"deleted_predictions": 1})

    def tab(self, title: str) -> str:
        """The annotation ids a tab lists (its one filter's value)."""
        (view,) = [v for v in self.tabs if v.data["title"] == title]
        (item,) = view.data["filters"]["items"]
        assert (item["filter"], item["operator"]) == ("filter:tasks:annotations_ids", "contains")
        return item["value"]

    def ours(self, task: int) -> list[str]:
        return [
            p["model_version"]
            for p in self.predictions
            if p["task"] == task and version_number(p["model_version"]) is not None
        ]


@pytest.fixture
def fake(monkeypatch) -> FakeLabelStudio:
    # Two predictions of the tests' size a call (each is ~150 bytes of JSON).
    size = len(json.dumps(_preds({1: 0.25})[0])) + 2
    monkeypatch.setattr(push_module, "IMPORT_MAX_BYTES", 2 * size + size // 2)
    return FakeLabelStudio(list(range(1, 6)))


def _preds(scores: dict[int, float]) -> list[dict[str, Any]]:
    return [build_prediction(KIND, t, NEG, s, "pending") for t, s in scores.items()]


def test_push_sets_version_imports_in_chunks_and_saves_the_tab(fake):
    fake.add(1, "other-model")
    progress: list[tuple[int, int]] = []
    scores = {1: 0.2, 2: 0.9, 3: 0.1, 4: 0.7, 5: 0.3}
    version = push_as_next_version(
        fake, 1, _preds(scores), {2: 12, 4: 14}, progress=lambda d, t: progress.append((d, t))
    )
    assert version == "labelaudit-1"
    assert progress == [(2, 5), (4, 5), (5, 5)]
    # A project without tabs gets the page's Default tab first; version and tab switch together.
    assert fake.calls == [
        "import 2",
        "import 2",
        "import 1",
        "set labelaudit-1",
        "create tab Default",
        "create tab Needs re-review",
    ]
    assert fake.model_version == "labelaudit-1"
    assert fake.tab("Needs re-review") == "12 14"
    assert fake.tabs[0].data["filters"]["items"] == []
    assert {p["model_version"] for p in fake.predictions} == {"labelaudit-1", "other-model"}


def test_push_saves_more_tabs_of_the_same_form(fake):
    scores = {1: 0.2, 2: 0.9, 3: 0.1}
    tabs = {"Needs another annotator": {3: 13, 1: 11}}
    push_as_next_version(fake, 1, _preds(scores), {2: 12}, tabs=tabs)
    assert fake.calls[-2:] == ["create tab Needs re-review", "create tab Needs another annotator"]
    assert fake.tab("Needs re-review") == "12"
    assert fake.tab("Needs another annotator") == "13 11"
    # A later audit with no such task leaves the tab empty, never stale.
    push_as_next_version(fake, 1, _preds(scores), {}, tabs={"Needs another annotator": {}})
    assert fake.tab("Needs another annotator") == "0"
    with pytest.raises(ValueError, match="flagged task 9 has no prediction"):
        push_as_next_version(fake, 1, _preds(scores), {}, tabs={"Other": {9: 19}})


def test_the_switch_runs_inside_the_guard(fake):
    import contextlib

    @contextlib.contextmanager
    def guard():
        fake.calls.append("hold")
        yield
        fake.calls.append("release")

    push_as_next_version(fake, 1, _preds({1: 0.5}), {1: 11}, guard=guard)
    held = fake.calls[fake.calls.index("hold") : fake.calls.index("release") + 1]
    assert held == ["hold", "set labelaudit-1", "create tab Default", "create tab Needs re-review",
                    "release"]  # fmt: skip


def test_one_task_shows_its_new_prediction_in_place_and_none_of_our_older_ones(fake):
    push_as_next_version(fake, 1, _preds({1: 0.9, 2: 0.2}), {1: 11})
    fake.add(1, "other-model")
    fake.add(1, "labelaudit-7")  # a newer version being pushed now: not ours to touch
    (before,) = [
        p for p in fake.predictions if p["task"] == 1 and p["model_version"] == "labelaudit-1"
    ]
    answer = build_predict_result(KIND, POS, 0.1, "labelaudit-3")  # a later audit's answer
    calls = len(fake.calls)
    shown = replace_task_prediction(fake, 1, 1, answer, version="labelaudit-3")
    assert fake.calls[calls:] == ["patch one"]  # changed where it is: no moment without one
    mine = [p for p in fake.predictions if p["task"] == 1]
    assert sorted(p["model_version"] for p in mine) == [
        "labelaudit-1",
        "labelaudit-7",
        "other-model",
    ]
    (current,) = [p for p in mine if p["model_version"] == "labelaudit-1"]  # the one shown
    assert current["id"] == shown == before["id"]
    assert current["score"] == 0.1 and current["result"] == answer["result"]
    # The same answer again changes nothing; None removes ours (a deleted annotation).
    calls = len(fake.calls)
    assert replace_task_prediction(fake, 1, 1, answer, version="labelaudit-3") == shown
    assert fake.calls[calls:] == []
    assert replace_task_prediction(fake, 1, 1, None, version="labelaudit-3") is None
    assert fake.ours(1) == ["labelaudit-7"]
    assert fake.ours(2) == ["labelaudit-1"]
    # A task with none of ours gets one of the version the project shows.
    calls = len(fake.calls)
    replace_task_prediction(fake, 1, 1, answer, version="labelaudit-3")
    assert fake.calls[calls:] == ["create labelaudit-1"]
    # Two of ours on one task (an interrupted push): the newest is kept, the other goes.
    fake.add(2, "labelaudit-2")
    replace_task_prediction(fake, 1, 2, answer, version="labelaudit-3")
    assert fake.ours(2) == ["labelaudit-2"]


def _push_in_place(fake: FakeLabelStudio, scores: dict[int, float], flagged: dict[int, int],
                   version: str) -> list[dict[str, Any]]:  # fmt: skip
    """push_audit as the backend calls it; returns the predictions as the project shows them."""
    predictions = [{**p, "model_version": version} for p in _preds(scores)]
    push_audit(fake, 1, predictions, flagged, version=version, in_place=True)
    return predictions


def test_a_re_audit_writes_only_what_changed_under_the_version_shown(fake):
    first = _push_in_place(fake, {1: 0.2, 2: 0.9, 3: 0.1, 4: 0.7}, {2: 12}, "labelaudit-1")
    assert fake.model_version == "labelaudit-1"
    assert {p["model_version"] for p in first} == {"labelaudit-1"}
    ids = {p["task"]: p["id"] for p in fake.predictions}
    calls = len(fake.calls)
    # task 1: score moved by less than the tolerance (kept as shown); task 2: moved more;
    # task 3: no longer audited; task 5: new.
    shown = _push_in_place(
        fake, {1: 0.2 + 0.004, 2: 0.5, 4: 0.7, 5: 0.6}, {2: 12, 5: 15}, "labelaudit-2"
    )
    assert fake.calls[calls:] == [
        "import 1",  # task 5
        "patch one",  # task 2
        "update tab Needs re-review",
        "delete one",  # task 3's
    ]
    assert fake.model_version == "labelaudit-1"  # the project keeps showing its version
    assert fake.tab("Needs re-review") == "12 15"
    assert {p["task"]: p["id"] for p in fake.predictions if p["task"] != 5} == {
        t: i for t, i in ids.items() if t != 3
    }  # the same predictions, changed in place
    assert all(fake.ours(t) == ["labelaudit-1"] for t in (1, 2, 4, 5)) and fake.ours(3) == []
    by_task = {p["task"]: p for p in fake.predictions}
    assert by_task[1]["score"] == 0.2 and by_task[2]["score"] == 0.5
    # What the caller is told the project shows is what it holds.
    assert {p["task"]: (p["score"], p["model_version"]) for p in shown} == {
        t: (by_task[t]["score"], "labelaudit-1") for t in (1, 2, 4, 5)
    }
    # A changed suggestion is written whatever its score.
    calls = len(fake.calls)
    moved = [
        {**p, "model_version": "labelaudit-3"} for p in _preds({1: 0.2, 2: 0.5, 4: 0.7, 5: 0.6})
    ]
    moved[0]["result"] = build_prediction(KIND, 1, POS, 0.2, "x")["result"]
    push_audit(fake, 1, moved, {}, version="labelaudit-3", in_place=True)
    assert fake.calls[calls:] == ["patch one", "update tab Needs re-review"]


def test_evidence_text_is_written_when_a_flag_comes_or_goes_not_when_its_figures_move():
    from backend.labelstudio.inplace import differs

    plain = build_predict_result(KIND, NEG, 0.8, "labelaudit-1")
    flagged = {**plain, "result": [{**r, "meta": {"text": ["labelaudit: model: neg 0.81"]}}
                                   for r in plain["result"]]}  # fmt: skip
    moved = {**flagged, "result": [{**r, "meta": {"text": ["labelaudit: model: neg 0.79"]}}
                                   for r in plain["result"]]}  # fmt: skip
    assert differs(plain, flagged) and differs(flagged, plain)
    assert not differs(flagged, moved)
    assert not differs(plain, {**plain, "score": 0.8 + 0.009})
    assert differs(plain, {**plain, "score": 0.8 + 0.011})
    assert differs({**plain, "score": None}, plain)


def test_in_place_needs_a_version_of_ours_with_predictions(fake):
    fake.add(1, "other-model")
    fake.model_version = "other-model"  # another model shown: a version of our own, in full
    _push_in_place(fake, {1: 0.5, 2: 0.5}, {}, "labelaudit-1")
    assert fake.model_version == "labelaudit-1"
    fake.predictions = [p for p in fake.predictions if p["model_version"] != "labelaudit-1"]
    _push_in_place(fake, {1: 0.5, 2: 0.5}, {}, "labelaudit-2")  # ours shown, but none left
    assert fake.model_version == "labelaudit-2" and fake.ours(1) == ["labelaudit-2"]


def test_the_next_version_counts_from_the_latest_audit_too():
    from backend.labelstudio.versions import later_version

    assert later_version("labelaudit-2", "labelaudit-6") == "labelaudit-7"
    assert later_version("labelaudit-8", "labelaudit-6") == "labelaudit-8"
    assert later_version("labelaudit-2", "labelaudit-file") == "labelaudit-2"


def test_tabs_are_pointed_at_annotation_ids(fake):
    push_as_next_version(fake, 1, _preds({1: 0.9, 2: 0.2}), {1: 11})
    point_tabs(fake, 1, {"Needs re-review": [12, 11]})
    assert fake.tab("Needs re-review") == "12 11"
    point_tabs(fake, 1, {"Needs re-review": []})
    assert fake.tab("Needs re-review") == "0"


def test_switched_is_told_after_the_switch_and_before_the_deletes(fake):
    push_as_next_version(fake, 1, _preds({1: 0.5, 2: 0.5}), {1: 11})
    push_as_next_version(
        fake, 1, _preds({1: 0.5, 2: 0.5}), {}, switched=lambda v: fake.calls.append(v)
    )
    assert fake.calls[-4:] == [
        "set labelaudit-2",
        "update tab Needs re-review",
        "labelaudit-2",
        "delete labelaudit-1",
    ]


def test_push_twice_keeps_one_current_prediction_per_task_and_one_tab(fake):
    fake.add(3, "labelaudit-4")  # an older, partial push
    fake.add(3, "labelaudit-final")  # not one of ours
    assert (
        push_as_next_version(fake, 1, _preds({1: 0.5, 2: 0.5, 3: 0.5}), {1: 11}) == "labelaudit-5"
    )
    assert push_as_next_version(fake, 1, _preds({1: 0.5, 2: 0.5}), {}) == "labelaudit-6"
    assert all(fake.ours(t) in ([], ["labelaudit-6"]) for t in range(1, 6))
    assert fake.ours(1) == ["labelaudit-6"] and fake.ours(3) == []
    assert any(p["model_version"] == "labelaudit-final" for p in fake.predictions)  # not ours
    assert [t.data["title"] for t in fake.tabs] == ["Default", "Needs re-review"]
    assert fake.tab("Needs re-review") == "0"  # no annotation has id 0: an empty tab
    assert fake.calls[-3:] == [
        "set labelaudit-6",
        "update tab Needs re-review",
        "delete labelaudit-5",
    ]


def test_a_big_old_version_is_deleted_prediction_by_prediction(fake, monkeypatch):
    monkeypatch.setattr(versions_module, "VERSION_DELETE_MAX", 2)
    push_as_next_version(fake, 1, _preds({1: 0.5, 2: 0.5, 3: 0.5}), {})
    push_as_next_version(fake, 1, _preds({1: 0.5, 4: 0.5}), {})
    assert fake.calls[-3:] == ["delete one"] * 3  # three short writes, not one long one
    assert {p["task"] for p in fake.predictions} == {1, 4}
    assert {p["model_version"] for p in fake.predictions} == {"labelaudit-2"}


def test_deletes_that_meet_an_annotator_s_write_try_again_and_never_fail_the_push(
    fake, monkeypatch, caplog
):
    monkeypatch.setattr(versions_module, "VERSION_DELETE_MAX", 1)
    monkeypatch.setattr(versions_module, "DELETE_RETRY_DELAYS", (0.0, 0.0))
    push_as_next_version(fake, 1, _preds({1: 0.5, 2: 0.5, 3: 0.5}), {})
    fake.locked_deletes = 2  # the first delete meets two writes, then gets through
    push_as_next_version(fake, 1, _preds({1: 0.5, 2: 0.5, 3: 0.5}), {})
    assert fake.calls[-5:] == ["locked", "locked", "delete one", "delete one", "delete one"]
    assert {p["model_version"] for p in fake.predictions} == {"labelaudit-2"}

    fake.locked_deletes = 3  # more than the tries: the rest waits for the next push
    assert push_as_next_version(fake, 1, _preds({1: 0.5, 2: 0.5, 3: 0.5}), {}) == "labelaudit-3"
    assert fake.model_version == "labelaudit-3"
    assert "3 predictions of older labelaudit versions are left for the next push" in caplog.text
    assert push_as_next_version(fake, 1, _preds({1: 0.5, 2: 0.5, 3: 0.5}), {}) == "labelaudit-4"
    assert {p["model_version"] for p in fake.predictions} == {"labelaudit-4"}


def test_a_prediction_deleted_meanwhile_counts_as_deleted(fake, monkeypatch, caplog):
    monkeypatch.setattr(versions_module, "VERSION_DELETE_MAX", 0)
    push_as_next_version(fake, 1, _preds({1: 0.5, 2: 0.5}), {})
    fake.predictions = [p for p in fake.predictions if p["task"] != 1]  # a person deleted it
    answer = fake._request

    def stale_list(path: str, *, method: str, **kwargs: Any) -> _Response:
        if path.startswith("api/predictions/?project="):  # the list still names task 1's
            listed = answer(path, method=method, **kwargs)._body
            return _Response(200, [{"id": 1, "task": 1, "model_version": "labelaudit-1"}, *listed])
        if path == "api/predictions/1/":
            return _Response(404, {"detail": "Not found."})
        return answer(path, method=method, **kwargs)

    fake._client_wrapper.httpx_client.request = stale_list
    calls = len(fake.calls)
    assert push_as_next_version(fake, 1, _preds({1: 0.5, 2: 0.5}), {}) == "labelaudit-2"
    assert fake.calls[calls:].count("delete one") == 1  # prediction 1 answered 404: gone
    assert {p["model_version"] for p in fake.predictions} == {"labelaudit-2"}
    assert "left for the next push" not in caplog.text


def test_label_studio_failing_after_the_switch_never_fails_the_push(fake, caplog):
    push_as_next_version(fake, 1, _preds({1: 0.5}), {})
    answer = fake._request

    def down_after_switch(path: str, *, method: str, **kwargs: Any) -> _Response:
        if fake.model_version == "labelaudit-2" and path.endswith("/model-versions/"):
            return _Response(503, {"detail": "down"})
        return answer(path, method=method, **kwargs)

    fake._client_wrapper.httpx_client.request = down_after_switch
    assert push_as_next_version(fake, 1, _preds({1: 0.5}), {}) == "labelaudit-2"
    assert fake.model_version == "labelaudit-2"
    assert "deleting older versions of project 1 stopped" in caplog.text


def test_the_tab_keeps_what_the_lead_set_and_gains_an_all_tasks_tab(fake):
    # A tab an earlier labelaudit made alone (so the page never made its Default tab), with
    # the filter the page cannot render; the lead has since widened a column.
    old = {"title": "Needs re-review", "columnsWidth": {"tasks:id": 90},
           "filters": {"conjunction": "and", "items": [
               {"filter": "filter:tasks:id", "operator": "in_list", "type": "Number",
                "value": [1]}]}}  # fmt: skip
    fake.tabs.append(SimpleNamespace(id=7, data=old))
    push_as_next_version(fake, 1, _preds({1: 0.9, 2: 0.1}), {1: 21})
    review = next(t for t in fake.tabs if t.id == 7)
    assert review.data["columnsWidth"] == {"tasks:id": 90}
    assert fake.tab("Needs re-review") == "21"
    assert "tasks:inner_id" in review.data["hiddenColumns"]["explore"]  # reading columns added
    assert "tasks:data.text" not in review.data["hiddenColumns"]["explore"]
    assert [t.data["title"] for t in fake.tabs] == ["Needs re-review", "Default"]


def test_push_shows_the_audit_on_labelaudits_model_card(fake):
    ours = SimpleNamespace(
        id=3,
        title="labelaudit",
        url="http://b:9090",
        model_version="labelaudit-0",
        auth_method="NONE",
    )
    other = SimpleNamespace(
        id=4, title="yolo", url="http://y", model_version="v7", auth_method="NONE"
    )
    fake.backends += [ours, other]
    push_as_next_version(fake, 1, _preds({1: 0.9, 2: 0.1, 3: 0.2}), {1: 31})
    assert ours.title == "labelaudit · labelaudit-1: 1 of 3 tasks to re-review"
    assert "suspicion" in ours.description
    push_as_next_version(fake, 1, _preds({1: 0.9, 2: 0.1, 3: 0.2}), {})
    assert ours.title == "labelaudit · labelaudit-2: 0 of 3 tasks to re-review"
    assert other.title == "yolo"
    assert not hasattr(ours, "basic_auth_pass")  # no auth fields sent for a NONE connection


def test_a_basic_auth_card_keeps_its_credentials(fake):
    ours = SimpleNamespace(
        id=3, title="audit · old", url="http://b:9090", model_version="labelaudit-2",
        auth_method="BASIC_AUTH", basic_auth_user="lead",
    )  # fmt: skip
    fake.backends.append(ours)
    push_as_next_version(fake, 1, _preds({1: 0.9}), {1: 41})
    assert ours.title == "audit · labelaudit-1: 1 of 1 tasks to re-review"
    # Label Studio re-checks the connection: method and user again, "" keeps the password.
    sent = (ours.auth_method, ours.basic_auth_user, ours.basic_auth_pass)
    assert sent == ("BASIC_AUTH", "lead", "")


def test_a_model_card_that_cannot_be_updated_does_not_fail_the_push(fake, caplog):
    def refuse(id: int, **fields: Any) -> None:
        raise ApiError(status_code=400, body={"detail": "nope"})

    fake.backends.append(
        SimpleNamespace(id=3, title="t", url="u", model_version="labelaudit-0", auth_method="NONE")
    )
    fake.ml.update = refuse
    assert push_as_next_version(fake, 1, _preds({1: 0.9}), {}) == "labelaudit-1"
    assert "could not update the model card" in caplog.text


def test_a_push_that_dies_half_way_is_cleaned_up_by_the_next(fake):
    push_as_next_version(fake, 1, _preds({1: 0.5, 2: 0.5}), {1: 11})
    fake.fail_import_after = len(fake.calls) + 1  # the next push dies after one chunk
    with pytest.raises(ConnectionError, match="HTTP 503"):
        push_as_next_version(fake, 1, _preds({1: 0.5, 2: 0.5, 3: 0.5, 4: 0.5}), {2: 12})
    assert fake.model_version == "labelaudit-1"  # still the complete version
    assert fake.tab("Needs re-review") == "11"  # and its tab
    fake.fail_import_after = None
    assert (
        push_as_next_version(fake, 1, _preds({1: 0.5, 2: 0.5, 3: 0.5}), {3: 13}) == "labelaudit-3"
    )
    assert {p["model_version"] for p in fake.predictions} == {"labelaudit-3"}
    assert fake.tab("Needs re-review") == "13"


@pytest.mark.parametrize(
    ("flagged", "error", "match"),
    [
        ([1], TypeError, "flagged must map task id -> annotation id"),
        ({9: 1}, ValueError, "flagged task 9 has no prediction"),
        ({1: -1}, ValueError, "flagged task 1 needs the id of its flagged annotation"),
        ({1: "3"}, ValueError, "flagged task 1 needs the id"),
    ],
)
def test_push_refuses_bad_flags_before_touching_label_studio(fake, flagged, error, match):
    with pytest.raises(error, match=match):
        push_as_next_version(fake, 1, _preds({1: 0.5}), flagged)
    assert fake.calls == []


@pytest.mark.parametrize(
    ("predictions", "error", "match"),
    [
        ([], ValueError, "predictions is empty"),
        ("abc", TypeError, "predictions must be a list of dicts"),
        ([1], TypeError, r"predictions\[0\] must be a dict"),
        ([{"task": "1", "result": []}], ValueError, r"predictions\[0\] must have an int 'task'"),
        ([{"task": 1}], ValueError, r"predictions\[0\] must have a list 'result'"),
        (
            [{"task": 1, "result": []}, {"task": 1, "result": []}],
            ValueError,
            "two items for task 1",
        ),
    ],
)
def test_push_refuses_bad_predictions_before_touching_label_studio(fake, predictions, error, match):
    with pytest.raises(error, match=match):
        push_audit(fake, 1, predictions, {}, version="labelaudit-1")
    assert fake.calls == []


@pytest.mark.parametrize("version", ["a b-1", "labelaudit", "labelaudit-x"])
def test_push_refuses_a_bad_version(fake, version):
    with pytest.raises(ValueError, match="version must be <prefix>-<n>"):
        push_audit(fake, 1, _preds({1: 0.5}), {}, version=version)
    assert fake.calls == []


def test_push_refuses_predictions_of_another_version(fake):
    with pytest.raises(ValueError, match="every prediction must carry model_version"):
        push_audit(fake, 1, _preds({1: 0.5}), {}, version="labelaudit-1")
