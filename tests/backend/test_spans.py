"""Entity spans (<Labels> over <Text>): tokens, config, export, audit, outputs, predictions."""

from __future__ import annotations

import copy
import csv
import json
from typing import Any

import numpy as np
import pytest

from backend.labelstudio.config import infer_task_kind, parse_label_config
from backend.labelstudio.dataset import Malformed, TaskKind, UnsupportedConfig
from backend.labelstudio.export import dataset_from_tasks, load_export
from backend.pipeline import AuditResult, NothingToAudit, run_audit
from backend.report import issue_rows, predictions, summary, write_outputs
from backend.settings import load_settings
from backend.tasktypes import get
from backend.tasktypes.token_model import TokenModel
from backend.tasktypes.tokens import Span, decode, token_classes, tokenize, usable_spans

CLASSES = ("PER", "LOC", "ORG")
CONFIG = (
    '<View><Labels name="label" toName="text">'
    + "".join(f'<Label value="{c}"/>' for c in CLASSES)
    + '</Labels><Text name="text" value="$text"/></View>'
)
NAMES = {
    "PER": ["John Smith", "Maria Garcia", "Wei Chen", "Anna Novak", "Peter Brown", "Olga Petrova"],
    "LOC": ["Paris", "Berlin", "New York", "Tokyo", "Lagos", "Lima", "Oslo", "Cairo"],
    "ORG": ["Acme Corp", "Globex", "Initech", "Umbrella Inc", "Hooli", "Soylent"],
}
TEMPLATES = [
    "{PER} moved to {LOC} last year .",
    "{PER} works for {ORG} in {LOC} .",
    "The office of {ORG} is in {LOC} .",
    "Yesterday {PER} met {PER} at {ORG} .",
    "{ORG} hired {PER} as chief engineer .",
    "In {LOC} , {PER} spoke about the weather .",
]
SETTINGS = load_settings({"folds": 4}, environ={})


def region(start: int, end: int, label: str, text: str = "") -> dict[str, Any]:
    value = {"start": start, "end": end, "text": text, "labels": [label]}
    return {"from_name": "label", "to_name": "text", "type": "labels", "value": value}


def sentences(n: int, seed: int, rate: float = 0.12) -> tuple[list[dict[str, Any]], dict[int, str]]:
    """Template sentences; ``rate`` of them get one error: a flipped type or a dropped span.
    Each task also holds its true result under ``"truth"``."""
    rng = np.random.default_rng(seed)
    tasks, errors = [], {}
    for t in range(1, n + 1):
        text, spans = "", []
        for part in TEMPLATES[int(rng.integers(len(TEMPLATES)))].split():
            if part.startswith("{"):
                label = part[1:4]
                name = str(rng.choice(NAMES[label]))
                text += " " if text else ""
                spans.append([len(text), len(text) + len(name), label])
                text += name
            else:
                text += (" " if text else "") + part
        true = [region(a, b, c, text[a:b]) for a, b, c in spans]
        if rng.random() < rate:
            i = int(rng.integers(len(spans)))
            if rng.random() < 0.5:
                spans[i][2] = CLASSES[(CLASSES.index(spans[i][2]) + 1) % 3]
                errors[t] = "flip"
            else:
                spans.pop(i)
                errors[t] = "drop"
        result = [region(a, b, c, text[a:b]) for a, b, c in spans]
        annotation = {"id": 100 + t, "result": result, "completed_by": 1}
        # "truth" is the true result (not a Label Studio field: the export ignores it).
        tasks.append({"id": t, "data": {"text": text}, "annotations": [annotation], "truth": true})
    return tasks, errors


@pytest.fixture(scope="module")
def project() -> tuple[list[dict[str, Any]], dict[int, str]]:
    return sentences(300, seed=1)


@pytest.fixture(scope="module")
def audited(project) -> AuditResult:
    """The project audited, with two spans it cannot use added to unchanged tasks: one
    past the end of its text, one overlapping a span of the same annotation."""
    tasks, errors = project
    tasks = copy.deepcopy(tasks)
    past, overlapping = [t for t in tasks if t["id"] not in errors][:2]
    n = len(past["data"]["text"])
    past["annotations"][0]["result"].append(region(n - 2, n + 5, "LOC"))
    first = overlapping["annotations"][0]["result"][0]["value"]
    overlapping["annotations"][0]["result"].append(region(first["start"] + 1, first["end"], "ORG"))
    return run_audit(dataset_from_tasks(tasks, parse_label_config(CONFIG), source="t"), SETTINGS)


def test_spans_past_the_text_or_overlapping_are_set_apart_by_one_rule():
    text = "Wei Chen flew to New York ."
    kept, skipped = usable_spans(
        text, [Span(17, 25, 1), Span(0, 3, 0), Span(0, 8, 0), Span(20, 30, 2), Span(26, 40, 1)]
    )
    assert kept == (Span(0, 8, 0), Span(17, 25, 1))
    assert [(s, why.split(" (")[0]) for s, why in skipped] == [
        (Span(0, 3, 0), "overlaps another span"),
        (Span(20, 30, 2), "ends past the text"),
        (Span(26, 40, 1), "ends past the text"),
    ]
    assert skipped[0][1] == "overlaps another span (0-8, kept)"


def test_the_audit_reports_and_skips_the_spans_it_cannot_use(project, audited):
    tasks, errors = project
    past, overlapping = [t["id"] for t in tasks if t["id"] not in errors][:2]
    skipped = audited.tables["skipped_spans"]
    assert [(r["task_id"], r["reason"].split(" (")[0]) for r in skipped] == [
        (past, "ends past the text"),
        (overlapping, "overlaps another span"),
    ]
    assert all(r["annotation_id"] == 100 + r["task_id"] for r in skipped)
    assert audited.health["skipped_spans"] == 2
    assert any("2 span(s) were not audited" in note for note in audited.notes)
    # Never judged: no issues.csv row for either.
    for r in skipped:
        assert not [
            row
            for row in issue_rows(audited)
            if (row["task_id"], row["start"], row["end"]) == (r["task_id"], r["start"], r["end"])
        ]


def test_tokens_are_words_and_single_marks_with_offsets():
    text = "Dr. O'Neil paid $5,000 in New-York."
    offsets = tokenize(text)
    assert [text[a:b] for a, b in offsets.tolist()] == [
        "Dr",
        ".",
        "O",
        "'",
        "Neil",
        "paid",
        "$",
        "5",
        ",",
        "000",
        "in",
        "New",
        "-",
        "York",
        ".",
    ]


def test_spans_become_token_classes_and_back():
    text = "Wei Chen flew to New York ."
    offsets = tokenize(text)
    classes, snapped = token_classes(offsets, [Span(0, 8, 0), Span(17, 25, 1)])
    assert classes.tolist() == [1, 1, 0, 0, 2, 2, 0] and snapped == 0
    # A span cutting a word is widened to the word (and counted).
    classes, snapped = token_classes(offsets, [Span(1, 8, 0)])
    assert classes.tolist()[:2] == [1, 1] and snapped == 1
    probs = np.eye(4)[[1, 1, 0, 0, 2, 2, 0]] * 0.9 + 0.025
    (first, second) = decode(text, offsets, probs)
    assert (first.start, first.end, first.label, first.text) == (0, 8, 0, "Wei Chen")
    assert (second.start, second.end, second.label, second.text) == (17, 25, 1, "New York")
    assert first.score == pytest.approx(0.925)


def test_a_labels_config_is_a_span_project_and_other_objects_are_refused():
    kind = parse_label_config(CONFIG)
    assert kind.task_type == "spans" and kind.classes == CLASSES and kind.control == "label"
    with pytest.raises(UnsupportedConfig, match="over a <Text> object; got <HyperText>"):
        parse_label_config(CONFIG.replace("<Text ", "<HyperText "))
    with pytest.raises(UnsupportedConfig, match="means outside"):
        parse_label_config(CONFIG.replace('value="ORG"', 'value="O"'))
    two = CONFIG.replace(
        "</View>", '<Choices name="c" toName="text"><Choice value="a"/></Choices></View>'
    )
    with pytest.raises(UnsupportedConfig, match="2 audited controls"):
        parse_label_config(two)


def test_reading_spans_from_annotations():
    kind = parse_label_config(CONFIG)
    spans = get("spans")
    assert spans.read_label([region(9, 14, "LOC"), region(0, 4, "PER")], kind) == (
        Span(0, 4, 0),
        Span(9, 14, 1),
    )
    assert spans.read_label([], kind) == ()  # "no entity here" is an answer
    with pytest.raises(Malformed, match="not one of"):
        spans.read_label([region(0, 4, "DATE")], kind)
    with pytest.raises(Malformed, match="start < end"):
        spans.read_label([region(4, 4, "PER")], kind)
    bad = region(0, 4, "PER")
    bad["value"]["labels"] = ["PER", "LOC"]
    with pytest.raises(Malformed, match="exactly one label"):
        spans.read_label([bad], kind)


def test_nothing_to_audit_without_any_span():
    tasks = [
        {"id": i, "data": {"text": f"nothing {i}"}, "annotations": [{"id": i, "result": []}]}
        for i in range(1, 9)
    ]
    dataset = dataset_from_tasks(tasks, parse_label_config(CONFIG), source="t")
    with pytest.raises(NothingToAudit, match="no annotation has a span"):
        run_audit(dataset, SETTINGS)


def test_the_audit_finds_flipped_and_dropped_spans(project, audited):
    _, errors = project
    flagged = set(audited.task_ids[audited.is_label_issue].tolist())
    hit = flagged & set(errors)
    assert len(hit) >= 0.75 * len(errors)
    assert len(hit) >= 0.75 * len(flagged)
    rows = issue_rows(audited)
    for task, kind in errors.items():
        mine = [r for r in rows if r["task_id"] == task and r["is_label_issue"]]
        if kind == "drop" and mine:
            assert any(r["given_label"] == "O" and r["issue"] == "missing" for r in mine)
        if kind == "flip" and mine:
            assert any(r["issue"] == "wrong label" for r in mine)


def test_issue_rows_are_spans_and_a_task_scores_its_worst_span(audited):
    rows = issue_rows(audited)
    assert list(rows[0]) == [
        "task_id", "annotation_id", "annotator", "start", "end", "text", "given_label",
        "suggested_label", "suspicion", "is_label_issue", "issue",
    ]  # fmt: skip
    texts = dict(zip(audited.task_ids.tolist(), audited.inputs, strict=True))
    for r in rows[:20]:
        assert texts[r["task_id"]][r["start"] : r["end"]] == r["text"]
    worst: dict[int, float] = {}
    for r in rows:
        worst[r["task_id"]] = max(worst.get(r["task_id"], 0.0), r["suspicion"])
    for verdict in audited.task_verdicts()[:30]:
        assert verdict["suspicion"] == pytest.approx(worst[verdict["task_id"]], abs=1e-6)


def test_a_span_is_flagged_exactly_when_its_probability_of_being_wrong_is_above_half(audited):
    rows = issue_rows(audited)
    assert {r["is_label_issue"] for r in rows} == {True, False}
    for r in rows:
        assert r["is_label_issue"] == (r["suspicion"] > 0.5), r
    assert audited.health["model_temperature"] > 0


def test_predictions_are_regions_with_scores(audited):
    pushed = predictions(audited, "labelaudit-1")
    assert len(pushed) == 300
    texts = dict(zip(audited.task_ids.tolist(), audited.inputs, strict=True))
    regions = [(p["task"], r) for p in pushed for r in p["result"]]
    assert regions
    for task, r in regions:
        value = r["value"]
        assert r["type"] == "labels" and r["from_name"] == "label" and r["to_name"] == "text"
        assert value["labels"][0] in CLASSES and 0 < r["score"] <= 1
        assert texts[task][value["start"] : value["end"]] == value["text"]


def test_outputs_and_report(audited, tmp_path):
    data = summary(audited, settings=SETTINGS.redacted(), source="t", model_version="v")
    assert data["task_kind"]["task_type"] == "spans"
    assert {q["label"] for q in data["entity_quality"]} == set(CLASSES)
    assert sum(data["span_issues"].values()) == sum(
        r["is_label_issue"] for r in issue_rows(audited)
    )
    paths = write_outputs(audited, tmp_path, data)
    with open(paths["issues"], newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(issue_rows(audited))
    page = paths["report"].read_text()
    assert "Flagged spans in their text" in page and "<mark>" in page
    assert "Spans not audited" in page and "ends past the text" in page
    with open(paths["skipped_spans"], newline="") as handle:
        assert len(list(csv.DictReader(handle))) == 2
    assert json.loads(paths["summary"].read_text())["health"]["spans"] > 0


def test_the_token_model_predicts_unseen_texts_and_the_final_model_suggests_spans(audited, project):
    tasks, _ = project
    model = TokenModel(4).fit(
        [t["data"]["text"] for t in tasks],
        [
            get("spans").read_label(t["annotations"][0]["result"], parse_label_config(CONFIG))
            for t in tasks
        ],
    )
    (probs,) = model.predict_proba(["Anna Novak moved to Oslo last year ."])
    (suggested,) = get("spans").suggest(np.array([probs], dtype=object))
    assert [(s.text, CLASSES[s.label]) for s in suggested] == [
        ("Anna Novak", "PER"),
        ("Oslo", "LOC"),
    ]


def test_the_service_audits_a_span_project_and_predicts_new_texts(tmp_path, project):
    from tests.backend.test_service import FakeLabelStudio, audit, make_service

    tasks, _ = project
    ls = FakeLabelStudio()
    ls.config = CONFIG
    ls.tasks[1] = tasks[:160]
    service = make_service(tmp_path, ls)
    job = audit(service)
    assert job["state"] == "succeeded", job
    (_, pushed, _) = ls.pushes[0]
    assert len(pushed) == 160 and all(p["result"] for p in pushed)
    (answer,) = service.predict(
        1, [{"id": 5000, "data": {"text": "Wei Chen works for Hooli in Lima ."}}]
    )
    found = {(r["value"]["text"], r["value"]["labels"][0]) for r in answer["result"]}
    assert found == {("Wei Chen", "PER"), ("Hooli", "ORG"), ("Lima", "LOC")}


def test_an_export_without_its_config_is_read_as_a_span_project(project, tmp_path):
    tasks, _ = project
    kind = infer_task_kind(tasks[:20])
    assert kind == TaskKind("label", "text", "text", ("text",), ("LOC", "ORG", "PER"), "spans")
    path = tmp_path / "export.json"
    path.write_text(json.dumps(tasks[:20]))
    dataset = load_export(path)
    assert dataset.kind == kind and len(dataset) == 20
    mixed = [*tasks[:2], {"id": 99, "data": {"text": "x"}, "annotations": [{"result": [
        {"from_name": "c", "to_name": "text", "type": "choices", "value": {"choices": ["a"]}}
    ]}]}]  # fmt: skip
    with pytest.raises(UnsupportedConfig, match="from 2 controls"):
        infer_task_kind(mixed)
