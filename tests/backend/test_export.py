"""Label Studio JSON exports -> AuditDataset, and fetching the media an export points at."""

from __future__ import annotations

import base64
import contextlib
import http.server
import json
import threading
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from backend.labelstudio.dataset import TaskKind, UnsupportedConfig
from backend.labelstudio.export import dataset_from_tasks, load_export
from backend.labelstudio.media import fetch_bytes

TEXT = TaskKind("sentiment", "text", "text", ("text",), ("pos", "neg", "neutral"))
IMAGE = TaskKind("animal", "img", "image", ("image",), ("cat", "dog"))
FIELDS = TaskKind("risk", "row", "numeric", ("age", "income"), ("low", "high"))
TABLE = TaskKind("risk", "row", "numeric", ("item",), ("low", "high"))
EMBEDDING = TaskKind("c", "vec", "embedding", ("embedding",), ("a", "b"))

TEXT_CONFIG = (
    '<View><Text name="text" value="$text"/><Choices name="sentiment" toName="text">'
    '<Choice value="pos"/><Choice value="neg"/><Choice value="neutral"/></Choices></View>'
)


def result(label: Any, control: str = "sentiment", obj: str = "text") -> list[dict[str, Any]]:
    """A choices result picking ``label``."""
    return [
        {"from_name": control, "to_name": obj, "type": "choices", "value": {"choices": [label]}}
    ]


def annotation(
    ann_id: int, label: Any, *, who: Any = 1, control: str = "sentiment", **extra: Any
) -> dict:
    """An export annotation."""
    return {"id": ann_id, "result": result(label, control), "completed_by": who, **extra}


def task(task_id: Any, data: Any, *annotations: dict) -> dict[str, Any]:
    """An export task."""
    return {"id": task_id, "data": data, "annotations": list(annotations)}


def reasons(ds) -> list[tuple[Any, Any, str]]:
    return [(s.task_id, s.annotation_id, s.reason) for s in ds.skipped]


# --- the happy path ----------------------------------------------------------------------


def test_one_row_per_usable_annotation():
    tasks = [
        task(
            1,
            {"text": "great"},
            annotation(11, "pos", who=7),
            annotation(12, "neg", who={"id": 8, "email": "b@x"}),
        ),
        task(2, {"text": "awful"}, annotation(21, "neg", who={"email": "c@x"}, ground_truth=True)),
        task(
            3,
            {"text": "fine"},
            annotation(31, "neutral", who=None),
            annotation(32, "pos", was_cancelled=True),
        ),
        task(4, {"text": "nobody yet"}),
        {"id": 5, "data": {"text": "no annotations key"}},
    ]
    ds = dataset_from_tasks(tasks, TEXT, source="export.json")
    assert len(ds) == 4
    assert ds.task_ids.tolist() == [1, 1, 2, 3]
    assert ds.task_ids.dtype == np.int64 and ds.annotation_ids.dtype == np.int64
    assert ds.annotation_ids.tolist() == [11, 12, 21, 31]
    assert ds.annotators == ["7", "8", "c@x", "unknown"]
    assert ds.annotator_emails == {"8": "b@x"}  # the key stays the id; the email is shown
    assert ds.labels.tolist() == [0, 1, 1, 2]
    assert ds.ground_truth.tolist() == [False, False, True, False]
    assert ds.inputs == ["great", "great", "awful", "fine"]
    assert ds.unlabeled == {4: "nobody yet", 5: "no annotations key"}
    assert reasons(ds) == [(3, 32, "annotation was cancelled (skipped)")]
    assert ds.source == "export.json" and ds.kind is TEXT  # one shared task is too little


@pytest.mark.parametrize(
    ("marks", "trust", "expected"),
    [
        ([True, False], None, [True, False]),  # a deliberate mark is honoured
        ([True, True], None, [False, False]),  # all marked: Label Studio's import default
        ([True, True], True, [True, True]),
        ([True, False], False, [False, False]),
        ([False, False], None, [False, False]),
    ],
)
def test_ground_truth(marks, trust, expected):
    tasks = [
        task(i + 1, {"text": "x"}, annotation(i + 1, "pos", ground_truth=mark))
        for i, mark in enumerate(marks)
    ]
    ds = dataset_from_tasks(tasks, TEXT, source="", trust_ground_truth=trust)
    assert ds.ground_truth.tolist() == expected


def test_annotation_without_id_gets_minus_one():
    ann = annotation(0, "pos")
    del ann["id"]
    ds = dataset_from_tasks([task(1, {"text": "x"}, ann)], TEXT, source="")
    assert ds.annotation_ids.tolist() == [-1]


def test_empty_list_gives_an_empty_dataset():
    ds = dataset_from_tasks([], TEXT, source="")
    assert len(ds) == 0 and ds.labels.dtype == np.intp and ds.unlabeled == {} and ds.skipped == []


def test_other_controls_results_are_ignored():
    ann = annotation(11, "pos")
    ann["result"].append(
        {"from_name": "notes", "to_name": "text", "type": "textarea", "value": {"text": ["hm"]}}
    )
    ds = dataset_from_tasks([task(1, {"text": "x"}, ann)], TEXT, source="")
    assert ds.labels.tolist() == [0]


def test_numeric_inputs():
    fields = dataset_from_tasks(
        [task(1, {"age": 30, "income": 2.5, "name": "ann"}, annotation(1, "high", control="risk"))],
        FIELDS,
        source="",
    )
    assert fields.inputs == [[30.0, 2.5]]
    table = dataset_from_tasks(
        [
            task(1, {"item": {"zeta": 1, "alpha": 2}}, annotation(1, "low", control="risk")),
            task(2, {"item": {"alpha": 3, "zeta": 4}}, annotation(2, "high", control="risk")),
        ],
        TABLE,
        source="",
    )
    assert table.inputs == [[2.0, 1.0], [3.0, 4.0]]  # sorted columns: alpha, zeta
    vector = dataset_from_tasks(
        [task(1, {"item": [1, 2.5]}, annotation(1, "low", control="risk"))], TABLE, source=""
    )
    assert vector.inputs == [[1.0, 2.5]]
    emb = dataset_from_tasks(
        [task(1, {"embedding": [0.1, 0.2]}, annotation(1, "a", control="c"))], EMBEDDING, source=""
    )
    assert emb.inputs == [[0.1, 0.2]]


# --- everything malformed is skipped, and the rest goes on ----------------------------------


@pytest.mark.parametrize(
    ("kind", "bad", "expected"),
    [
        (TEXT, "not a task", (None, None, "item 1 is str, not a task object")),
        (TEXT, {"data": {"text": "x"}}, (None, None, "item 1 has no integer task id")),
        (TEXT, {"id": "7", "data": {"text": "x"}}, (None, None, "item 1 has no integer task id")),
        (TEXT, {"id": 1, "data": {"text": "dup"}}, (1, None, "duplicate task id")),
        (TEXT, {"id": 9}, (9, None, "task data must be an object; got null")),
        (TEXT, task(9, ["text"]), (9, None, "task data must be an object; got list")),
        (TEXT, task(9, {"body": "x"}), (9, None, "task data has no 'text' field")),
        (TEXT, task(9, {"text": None}), (9, None, "task data has no 'text' field")),
        (TEXT, task(9, {"text": 42}), (9, None, "data field 'text' must be a string; got int")),
        (TEXT, task(9, {"text": ["a"]}), (9, None, "data field 'text' must be a string; got list")),
        (
            IMAGE,
            task(9, {"image": "  "}),
            (9, None, "data field 'image' is an empty image reference"),
        ),
        (
            TEXT,
            {"id": 9, "data": {"text": "x"}, "annotations": {"id": 1}},
            (9, None, "annotations must be a list; got dict"),
        ),
        (
            TEXT,
            task(9, {"text": "x"}, "not an annotation"),
            (9, None, "annotation is not an object"),
        ),
        (
            TEXT,
            task(9, {"text": "x"}, {"id": 91, "result": None}),
            (9, 91, "annotation result must be a list; got null"),
        ),
        (
            TEXT,
            task(9, {"text": "x"}, annotation(91, "pos", control="other")),
            (9, 91, "annotation has no choices result for 'sentiment'"),
        ),
        (
            TEXT,
            task(9, {"text": "x"}, {"id": 91, "result": []}),
            (9, 91, "annotation has no choices result for 'sentiment'"),
        ),
        (
            TEXT,
            task(9, {"text": "x"}, {"id": 91, "result": result("pos") + result("neg")}),
            (9, 91, "annotation has 2 choices results for 'sentiment'"),
        ),
        (
            TEXT,
            task(
                9,
                {"text": "x"},
                {
                    "id": 91,
                    "result": [
                        {
                            "from_name": "sentiment",
                            "type": "choices",
                            "value": {"choices": ["pos", "neg"]},
                        }
                    ],
                },
            ),
            (9, 91, "'sentiment' result must hold exactly one choice; got 2"),
        ),
        (
            TEXT,
            task(
                9,
                {"text": "x"},
                {"id": 91, "result": [{"from_name": "sentiment", "type": "choices"}]},
            ),
            (9, 91, "'sentiment' result must hold exactly one choice; got null"),
        ),
        (
            TEXT,
            task(9, {"text": "x"}, annotation(91, "angry")),
            (9, 91, "label 'angry' is not one of the classes ['pos', 'neg', 'neutral']"),
        ),
        (
            TEXT,
            task(9, {"text": "x"}, annotation(91, 3)),
            (9, 91, "label 3 is not one of the classes ['pos', 'neg', 'neutral']"),
        ),
        (
            FIELDS,
            task(9, {"age": "31", "income": 2.0}),
            (9, None, "non-numeric value in field 'age': str '31'"),
        ),
        (
            FIELDS,
            task(9, {"age": True, "income": 2.0}),
            (9, None, "non-numeric value in field 'age': bool True"),
        ),
        (
            FIELDS,
            task(9, {"age": float("nan"), "income": 2.0}),
            (9, None, "non-finite value in field 'age': nan"),
        ),
        (FIELDS, task(9, {"age": 1}), (9, None, "task data has no 'income' field")),
        (
            TABLE,
            task(9, {"item": {"alpha": 1}}),
            (9, None, "table field 'item' has columns missing ['zeta'] / extra []"),
        ),
        (
            TABLE,
            task(9, {"item": {"alpha": 1, "zeta": "high"}}),
            (9, None, "non-numeric value in field 'item.zeta': str 'high'"),
        ),
        (
            EMBEDDING,
            task(9, {"embedding": [0.1, 0.2, 0.3]}),
            (9, None, "embedding field 'embedding' has length 3; expected 2"),
        ),
        (
            EMBEDDING,
            task(9, {"embedding": []}),
            (9, None, "embedding field 'embedding' must be a non-empty list of numbers; got list"),
        ),
        (
            EMBEDDING,
            task(9, {"embedding": "0.1,0.2"}),
            (9, None, "embedding field 'embedding' must be a non-empty list of numbers; got str"),
        ),
        (
            EMBEDDING,
            task(9, {"embedding": [0.1, None]}),
            (9, None, "non-numeric value in field 'embedding[1]': null None"),
        ),
    ],
)
def test_malformed_rows_are_skipped_with_a_reason(kind, bad, expected):
    good_data = {
        "text": {"text": "fine"},
        "image": {"image": "/data/upload/1/cat.png"},
        "numeric": {"age": 1, "income": 2, "item": {"alpha": 1, "zeta": 2}},
        "embedding": {"embedding": [0.5, 0.5]},
    }[kind.input_type]
    good = task(1, good_data, annotation(11, kind.classes[0], control=kind.control))
    after = task(2, good_data, annotation(21, kind.classes[-1], control=kind.control))
    ds = dataset_from_tasks([good, bad, after], kind, source="")
    assert reasons(ds) == [expected]
    assert ds.task_ids.tolist() == [1, 2]  # the rest goes on
    assert ds.labels.tolist() == [0, len(kind.classes) - 1]


def test_dataset_from_tasks_needs_a_list():
    with pytest.raises(TypeError, match="tasks must be a list"):
        dataset_from_tasks({"id": 1}, TEXT, source="")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="tasks must be a list"):
        dataset_from_tasks(7, TEXT, source="")  # type: ignore[arg-type]


def test_dataset_from_tasks_walks_a_generator_once():
    tasks = [task(i, {"text": f"t{i}"}, annotation(10 * i, "pos")) for i in (1, 2, 3)]
    streamed = dataset_from_tasks((t for t in tasks), TEXT, source="")
    listed = dataset_from_tasks(tasks, TEXT, source="")
    assert streamed.task_ids.tolist() == listed.task_ids.tolist() == [1, 2, 3]
    assert streamed.labels.tolist() == listed.labels.tolist()


# --- files ---------------------------------------------------------------------------------


@pytest.fixture
def export_file(tmp_path):
    def write(content: Any, *, raw: bool = False):
        path = tmp_path / "export.json"
        path.write_text(content if raw else json.dumps(content), encoding="utf-8")
        return path

    return write


def test_load_export_with_and_without_config(export_file):
    path = export_file(
        [
            task(1, {"text": "good"}, annotation(11, "pos")),
            task(2, {"text": "bad"}, annotation(21, "neg")),
            task(3, {"text": "nothing"}),
        ]
    )
    inferred = load_export(path)
    assert inferred.kind.classes == ("neg", "pos")  # sorted: no config to give the order
    assert inferred.labels.tolist() == [1, 0]
    assert inferred.source == str(path)
    assert inferred.title == path.name
    configured = load_export(path, label_config=TEXT_CONFIG)
    assert configured.kind == TEXT
    assert configured.labels.tolist() == [0, 1]
    assert configured.unlabeled == {3: "nothing"}


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("{not json", r"is not valid JSON \(Expecting property name .* line 1 column 2\)"),
        ('{"id": 1, "data": {}}', "must be a JSON list of tasks .* got a JSON object"),
        ("42", "must be a JSON list of tasks .* got a JSON int"),
        (
            '[{"text": "x", "sentiment": "pos"}]',
            r"none of its 1 items has a 'data' object.*JSON_MIN",
        ),
    ],
    ids=["not-json", "object", "number", "json-min"],
)
def test_invalid_export_files(export_file, content, match):
    with pytest.raises(ValueError, match=match):
        load_export(export_file(content, raw=True))


def test_missing_and_binary_export_files(tmp_path):
    with pytest.raises(ValueError, match=r"cannot read export .*missing\.json"):
        load_export(tmp_path / "missing.json")
    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ValueError, match="is not UTF-8 text"):
        load_export(binary)


def test_export_with_an_unsupported_config_or_nothing_to_infer(export_file):
    path = export_file([task(1, {"text": "x"})])
    with pytest.raises(UnsupportedConfig, match="no choices or labels"):
        load_export(path)
    with pytest.raises(UnsupportedConfig, match="choice='several'"):
        load_export(
            path,
            label_config=TEXT_CONFIG.replace('toName="text"', 'toName="text" choice="several"'),
        )


# --- reading a live project ---------------------------------------------------------------


class _FakeSDK:
    """What load_project asks Label Studio: a project, the export (streamed) or pages of
    tasks (GET api/tasks/), users. ``export_status`` answers the export (200: the tasks)."""

    def __init__(self, list_users: Any, export_status: int = 200) -> None:
        self.export_status = export_status
        self.export_body: Any = None  # what a 200 export answers instead of the tasks
        tasks = [
            task(1, {"text": "good"}, annotation(11, "pos", who=7)),
            task(2, {"text": "bad"}, annotation(21, "neg", who=8)),
            task(3, {"text": "meh"}, annotation(31, "neutral", who={"id": 9, "email": "n@x"})),
        ]
        self.pages = [{"tasks": tasks, "total": len(tasks)}]
        project = SimpleNamespace(label_config=TEXT_CONFIG, title="Product reviews")
        self.projects = SimpleNamespace(get=lambda id: project)
        self.users = SimpleNamespace(list=list_users)
        self.asked: list[dict[str, Any]] = []
        self._client_wrapper = SimpleNamespace(
            get_base_url=lambda: "http://ls:8080/",
            httpx_client=SimpleNamespace(request=self._request, stream=self._stream),
        )

    def _answer(self, status: int, body: Any) -> Any:
        data = json.dumps(body).encode()
        return SimpleNamespace(
            status_code=status,
            iter_bytes=lambda: (data[i : i + 7] for i in range(0, len(data), 7)),
            read=lambda: data,
            json=lambda: body,
            text=data.decode(),
            content=data,
        )

    @contextlib.contextmanager
    def _stream(
        self, path: str, *, method: str, params: dict[str, Any], request_options: Any = None
    ) -> Iterator[Any]:
        """GET api/projects/3/export: every task in one JSON list, in chunks of 7 bytes."""
        assert (method, path) == ("GET", "api/projects/3/export")
        self.asked.append({"export": params})
        if self.export_status != 200:
            yield self._answer(self.export_status, {"detail": "no"})
            return
        body = [t for page in self.pages for t in page["tasks"]]
        yield self._answer(200, body if self.export_body is None else self.export_body)

    def _request(
        self, path: str, *, method: str, params: dict[str, Any], request_options: Any = None
    ) -> Any:
        """GET api/tasks/: one page of the tasks as JSON; past the last page, 404."""
        assert (method, path) == ("GET", "api/tasks/")
        self.asked.append(params)
        page = params["page"]
        body = self.pages[page - 1] if page <= len(self.pages) else {"detail": "Invalid page."}
        return self._answer(200 if page <= len(self.pages) else 404, body)


def _users() -> list[Any]:
    return [
        SimpleNamespace(id=7, email="seven@x"),
        SimpleNamespace(id=8, email=""),
        SimpleNamespace(id=99, email="never-annotated@x"),
    ]


def _broken_users() -> list[Any]:
    from label_studio_sdk.core.api_error import ApiError

    raise ApiError(status_code=403, body={"detail": "not allowed to list users"})


EXPORT_ASKED = {"export": {"exportType": "JSON", "download_all_tasks": "true"}}
PAGE_ASKED = {"project": 3, "page": 1, "page_size": 1000, "fields": "all"}


@pytest.mark.parametrize(
    ("list_users", "emails"),
    [(_users, {"7": "seven@x", "9": "n@x"}), (_broken_users, {"9": "n@x"})],
)
@pytest.mark.parametrize(
    ("export_status", "asked"), [(200, [EXPORT_ASKED]), (403, [EXPORT_ASKED, PAGE_ASKED])]
)
def test_load_project_maps_user_ids_to_emails(
    monkeypatch, caplog, list_users, emails, export_status, asked
):
    from backend.labelstudio import client

    fake = _FakeSDK(list_users, export_status)
    monkeypatch.setattr(client, "connect", lambda url, key: fake)
    monkeypatch.setattr(client, "close", lambda ls: None)
    ds = client.load_project("http://ls:8080", KEY, 3)
    assert fake.asked == asked  # the export, else (refused) task pages
    assert ("reading task pages instead" in caplog.text) == (export_status == 403)
    assert ds.read_notes == (
        [
            "Label Studio refused the export (HTTP 403): the project was read in task pages, "
            "which cost Label Studio 2.5-5x more; an API key allowed to export reads it in one "
            "call"
        ]
        if export_status == 403
        else []
    )
    assert ds.annotators == ["7", "8", "9"]  # keys stay user ids
    assert ds.annotator_emails == emails  # users who annotated nothing are left out
    assert ds.title == "Product reviews" and ds.source == "http://ls:8080/projects/3"
    assert ("not allowed to list users" in caplog.text) == (list_users is _broken_users)


@pytest.mark.parametrize(
    ("status", "error"),
    [(401, PermissionError), (500, ConnectionError), (200, None)],
)
def test_an_export_that_fails_otherwise_is_not_replaced_by_pages(monkeypatch, status, error):
    """Only a refusal (400, 403, 404, 405) falls back to pages: a wrong key, a server error
    (retried by the caller) or an answer that is not a list of tasks is an error."""
    from backend.labelstudio import client

    fake = _FakeSDK(_users, status)
    if status == 200:
        fake.export_body = {"detail": "not a list of tasks"}
        error = ValueError
    monkeypatch.setattr(client, "connect", lambda url, key: fake)
    monkeypatch.setattr(client, "close", lambda ls: None)
    with pytest.raises(error) as raised:
        client.load_project("http://ls:8080", KEY, 3)
    assert KEY not in str(raised.value)
    assert fake.asked == [EXPORT_ASKED]  # no page read


@pytest.mark.parametrize("with_total", [True, False])
def test_iter_task_pages_reads_until_the_total_or_a_404(with_total):
    from backend.labelstudio.reading import iter_task_pages

    fake = _FakeSDK(_users)
    (whole,) = fake.pages
    tasks = whole["tasks"]
    total = {"total": 3} if with_total else {}
    fake.pages = [{"tasks": tasks[:2], **total}, {"tasks": tasks[2:], **total}]
    pages = list(iter_task_pages(fake, 3, page_size=2))  # type: ignore[arg-type]
    assert [[t["id"] for t in page] for page, _ in pages] == [[1, 2], [3]]
    assert [p["page"] for p in fake.asked] == ([1, 2] if with_total else [1, 2, 3])


# --- fetching the media an export points at -------------------------------------------------

KEY = "0123456789abcdef0123456789abcdef01234567"  # a legacy-token-shaped key (not a JWT)


def test_fetch_local_file_and_file_url(tmp_path):
    image = tmp_path / "a b.png"
    image.write_bytes(b"\x89PNG data")
    assert fetch_bytes(str(image)) == b"\x89PNG data"
    assert fetch_bytes(image.as_uri()) == b"\x89PNG data"
    with pytest.raises(ValueError, match=r"cannot read media file .*missing\.png"):
        fetch_bytes(str(tmp_path / "missing.png"))
    with pytest.raises(ValueError, match=r"refused .*local files are not fetched here"):
        fetch_bytes(str(image), allow_local=False)


def test_fetch_data_uri():
    payload = base64.b64encode(b"pixels").decode()
    assert fetch_bytes(f"data:image/png;base64,{payload}") == b"pixels"
    with pytest.raises(ValueError, match="not valid base64"):
        fetch_bytes("data:image/png;base64,@@@")


@pytest.mark.parametrize(
    ("ref", "match"),
    [
        ("", "must be a non-empty string"),
        ("/data/upload/1/x.png", "is a Label Studio URL; pass base_url"),
        ("s3://bucket/x.png", "scheme 's3' is not supported"),
    ],
)
def test_fetch_refusals(ref, match):
    with pytest.raises(ValueError, match=match):
        fetch_bytes(ref)


class _Recorder(http.server.BaseHTTPRequestHandler):
    """Serves /img.png; records the Authorization header of every request."""

    seen: list[str | None]

    def do_GET(self) -> None:
        self.server.seen.append(self.headers.get("Authorization"))  # type: ignore[attr-defined]
        if self.path.startswith("/data/upload/") or self.path.startswith("/img.png"):
            body = b"image-bytes"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        else:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def servers() -> Iterator[list[http.server.ThreadingHTTPServer]]:
    """Two tiny HTTP servers on 127.0.0.1 (two origins)."""
    started = []
    for _ in range(2):
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
        server.seen = []  # type: ignore[attr-defined]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        started.append(server)
    yield started
    for server in started:
        server.shutdown()
        server.server_close()


def _url(server: http.server.ThreadingHTTPServer) -> str:
    host, port = server.server_address[:2]
    return f"http://{host}:{port}"


def test_fetch_sends_the_key_only_to_label_studio_s_media_routes(servers):
    ls, elsewhere = servers
    assert fetch_bytes("/data/upload/1/x.png", base_url=_url(ls), api_key=KEY) == b"image-bytes"
    assert (
        fetch_bytes(_url(ls) + "/img.png", base_url=_url(ls) + "/", api_key=KEY) == b"image-bytes"
    )
    assert (
        fetch_bytes(_url(elsewhere) + "/img.png?sig=1", base_url=_url(ls), api_key=KEY)
        == b"image-bytes"
    )
    assert ls.seen == [f"Token {KEY}", None]  # /img.png is not a media route: no key
    assert elsewhere.seen == [None]


def test_fetch_errors_hold_no_key_and_no_query(servers):
    ls, _ = servers
    with pytest.raises(ValueError, match="HTTP 404") as caught:
        fetch_bytes("/data/missing.png?secret=abc", base_url=_url(ls), api_key=KEY)
    assert KEY not in str(caught.value) and "secret" not in str(caught.value)
    with pytest.raises(ConnectionError) as refused:
        fetch_bytes("http://127.0.0.1:9/x.png", base_url=_url(ls), api_key=KEY, timeout=2)
    assert KEY not in str(refused.value)


@pytest.mark.parametrize(("setting", "asked"), [("true", EXPORT_ASKED), ("false", PAGE_ASKED)])
def test_the_read_with_export_setting_chooses_how_the_service_reads(
    monkeypatch, tmp_path, setting, asked
):
    """LABELAUDIT_READ_WITH_EXPORT=false: whole projects are read in task pages (nothing left
    in Label Studio's data dir), for the audits' reads and the cleaned exports alike."""
    from backend.labelstudio import client
    from backend.service import build_service
    from backend.settings import load_settings

    fakes: list[_FakeSDK] = []

    def connect(url: str, key: str) -> _FakeSDK:
        fakes.append(_FakeSDK(_users))
        return fakes[-1]

    monkeypatch.setattr(client, "connect", connect)
    monkeypatch.setattr(client, "close", lambda ls: None)
    settings = load_settings({"read_with_export": setting, "model_dir": str(tmp_path)}, environ={})
    io = build_service(settings).io
    io.load("http://ls:8080", KEY, 3, lambda *a: None)
    tasks = list(io.export_tasks("http://ls:8080", KEY, 3))
    assert [fake.asked[0] for fake in fakes] == [asked, asked]
    assert [t["id"] for t in tasks] == [1, 2, 3]
