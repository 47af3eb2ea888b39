"""The audit's outputs: issues.csv, predictions.json, summary.json, report.html."""

from __future__ import annotations

import csv
import html
import json
import re
from pathlib import Path

import numpy as np
import pytest

from backend.labelstudio.client import task_page
from backend.labelstudio.dataset import AuditDataset, TaskKind
from backend.pipeline import run_audit
from backend.report import (
    FILTER_BY_WORDS,
    ISSUES_COLUMNS,
    STEPS,
    render_html,
    summary,
    write_outputs,
)
from backend.settings import load_settings

CLASSES = ("spam", "ham", "eggs")


@pytest.fixture
def text_result():
    """A text audit whose texts are HTML-hostile, with known flips."""
    rng = np.random.default_rng(0)
    words = {
        0: "win money prize offer",
        1: "meeting lunch tomorrow notes",
        2: "omelette yolk pan breakfast",
    }
    texts, true = [], []
    for i in range(180):
        label = i % 3
        picked = rng.choice(words[label].split(), size=3)
        texts.append(" ".join(picked) + f" <script>alert({i})</script> & more")
        true.append(label)
    given = np.array(true)
    flipped = np.arange(0, 180, 15)
    given[flipped] = (given[flipped] + 1) % 3
    data = AuditDataset(
        kind=TaskKind("sentiment", "text", "text", ("text",), CLASSES),
        task_ids=np.arange(1, 181, dtype=np.int64),
        annotation_ids=np.arange(501, 681, dtype=np.int64),
        annotators=["ann@example.com"] * 180,
        labels=given.astype(np.intp),
        ground_truth=np.zeros(180, dtype=bool),
        inputs=texts,
        source="test",
    )
    return run_audit(data, load_settings({"folds": 3}, environ={})), set((flipped + 1).tolist())


def test_only_the_named_outputs_are_written_again(tmp_path, text_result):
    """After the push only the summary and the page change (its time): the rest stays."""
    result, _ = text_result
    settings = load_settings({}, environ={}).redacted()
    first = summary(result, settings=settings, source="file:x.json", model_version="labelaudit-3")
    paths = write_outputs(result, tmp_path, first)
    before = {key: path.read_bytes() for key, path in paths.items()}
    for path in paths.values():
        path.write_text("left alone")
    result.timings["push"] = 12.345
    later = summary(result, settings=settings, source="file:x.json", model_version="labelaudit-3")
    again = write_outputs(result, tmp_path, later, only={"summary", "report"})
    assert again == paths  # every path is still named
    written = {key for key, path in paths.items() if path.read_text() != "left alone"}
    assert written == {"summary", "report"}
    assert json.loads(paths["summary"].read_text())["timings_seconds"]["push"] == 12.345
    assert paths["summary"].read_bytes() != before["summary"]


def test_outputs_are_complete_and_consistent(tmp_path, text_result):
    result, flipped_tasks = text_result
    settings = load_settings({"label_studio_api_key": "very-secret-key"}, environ={})
    summary_data = summary(
        result, settings=settings.redacted(), source="file:x.json", model_version="labelaudit-3"
    )
    paths = write_outputs(result, tmp_path, summary_data)
    with paths["issues"].open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0]) == (*ISSUES_COLUMNS, "evidence")
    flagged = [r for r in rows if r["is_label_issue"] == "True"]
    # Why each flag: the model's top labels and the most similar other tasks.
    assert flagged
    assert all(
        r["evidence"].startswith("model: ") and "; similar: task " in r["evidence"] for r in flagged
    )
    assert all(r["evidence"] == "" for r in rows if r["is_label_issue"] == "False")
    assert len(rows) == result.counts["audited_annotations"]
    flagged = [r for r in rows if r["is_label_issue"] == "True"]
    assert rows[: len(flagged)] == flagged  # flagged first
    suspicion = [float(r["suspicion"]) for r in flagged]
    assert suspicion == sorted(suspicion, reverse=True)  # most suspicious first
    assert {int(r["task_id"]) for r in flagged} & flipped_tasks

    predictions = json.loads(paths["predictions"].read_text())
    assert len(predictions) == result.counts["annotated_tasks"]
    for p in predictions:
        assert p["model_version"] == "labelaudit-3"
        assert 0 <= p["score"] <= 1
        (item,) = p["result"]
        assert item["from_name"] == "sentiment" and item["to_name"] == "text"
        assert item["type"] == "choices" and item["value"]["choices"][0] in CLASSES

    written = json.loads(paths["summary"].read_text())
    assert written == json.loads(json.dumps(summary_data, default=str))
    assert written["counts"] == result.counts
    assert written["flagged_task_ids"] == result.flagged_task_ids()
    assert written["model_version"] == "labelaudit-3"
    assert len(written["noise_matrix"]["matrix"]) == 3
    assert 0 <= written["health"]["overall_label_health_score"] <= 1

    for path in paths.values():
        assert "very-secret-key" not in path.read_text(encoding="utf-8")


def test_report_is_self_contained_and_escapes_content(tmp_path, text_result):
    result, _ = text_result
    summary_data = summary(
        result,
        settings=load_settings(environ={}).redacted(),
        source="file:<b>x</b>.json",
        model_version="labelaudit-file",
        title="<i>reviews</i>",
    )
    paths = write_outputs(result, tmp_path, summary_data)
    page = paths["report"].read_text(encoding="utf-8")
    assert "<script>" not in page  # annotated text is escaped, never executed
    assert "&lt;script&gt;alert(" in page
    assert "&lt;b&gt;x&lt;/b&gt;" in page
    assert "<title>labelaudit report — &lt;i&gt;reviews&lt;/i&gt;</title>" in page
    assert len(re.findall(r"src=.data:image/png;base64,", page)) >= 3  # plots are inlined
    assert not re.search(r"src=.https?://", page)  # nothing loaded from elsewhere
    assert f"{result.counts['flagged_annotations']:,}" in page


def test_the_audits_notes_are_on_the_page_escaped(tmp_path, text_result):
    result, _ = text_result
    summary_data = _summary(result)
    summary_data["notes"] = []
    assert "<h2>Notes</h2>" not in render_html(result, summary_data)
    summary_data["notes"] = ["tasks: Label Studio refused the export (HTTP 403)", "<b>x</b>"]
    page = render_html(result, summary_data)
    notes = page.split("<h2>Notes</h2>", 1)[1].split("</ul>", 1)[0]
    assert "<li>tasks: Label Studio refused the export (HTTP 403)</li>" in notes
    assert "<li>&lt;b&gt;x&lt;/b&gt;</li>" in notes


def _summary(result, **overrides):
    settings = load_settings(overrides, environ={}).redacted()
    return summary(result, settings=settings, source="test", model_version="labelaudit-1")


def _table(page: str) -> str:
    """The flagged-annotations table of a report page."""
    return page.split("<th>task</th>", 1)[1].split("</table>", 1)[0]


def test_task_ids_link_to_label_studio_without_credentials(text_result):
    result, _ = text_result
    data = _summary(result)
    link = task_page("https://admin:hunter2@ls.example.org:8443/label/?token=abc#x", 3)
    page = render_html(result, data, task_url=link)
    flagged = result.flagged_task_ids()
    for task_id in flagged[:10]:
        href = f'href="https://ls.example.org:8443/label/projects/3/data?task={task_id}"'
        assert f"<a {href}" in page
    assert len(re.findall(r"<a href=\"https://", _table(page))) == min(
        result.counts["flagged_annotations"], 50
    )
    assert "hunter2" not in page and "admin" not in page and "token" not in page

    plain = render_html(result, data)
    assert "<a " not in _table(plain) and "ls.example.org" not in plain
    assert f"<tr><td>{flagged[0]}</td>" in _table(plain)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://localhost:8080", "http://localhost:8080/projects/7/data?task=42"),
        ("http://u:p@localhost:8080/ls/", "http://localhost:8080/ls/projects/7/data?task=42"),
        ("https://[::1]:8443?k=v", "https://[::1]:8443/projects/7/data?task=42"),
    ],
)
def test_task_page(url, expected):
    assert task_page(url, 7)(42) == expected


def test_annotators_show_their_email_where_known(tmp_path):
    rng = np.random.default_rng(1)
    n = 120
    true = np.arange(n) % 2
    points = true[:, None] * 6.0 + rng.normal(size=(n, 2))
    given = true.copy()
    given[::5] = 1 - given[::5]  # both annotators have wrong labels
    data = AuditDataset(
        kind=TaskKind("label", "row", "numeric", ("x", "y"), ("a", "b")),
        task_ids=np.arange(1, n + 1, dtype=np.int64),
        annotation_ids=np.arange(1001, 1001 + n, dtype=np.int64),
        annotators=["7" if i % 2 else "8" for i in range(n)],
        labels=given.astype(np.intp),
        ground_truth=np.zeros(n, dtype=bool),
        inputs=points.tolist(),
        annotator_emails={"7": "seven@example.com"},
    )
    result = run_audit(data, load_settings({"folds": 3}, environ={}))
    assert set(result.annotators) == {"seven@example.com", "8"}
    paths = write_outputs(result, tmp_path, _summary(result))
    with paths["issues"].open(encoding="utf-8") as handle:
        by_annotation = {int(r["annotation_id"]): r["annotator"] for r in csv.DictReader(handle)}
    assert by_annotation[1002] == "seven@example.com" and by_annotation[1001] == "8"
    rows = re.findall(r"<tr><td>\d+</td><td>([^<]*)</td>", _table(paths["report"].read_text()))
    assert rows and set(rows) <= {"seven@example.com", "user 8"}
    assert "seven@example.com" in rows


@pytest.mark.parametrize("method", sorted(FILTER_BY_WORDS))
def test_the_report_explains_its_figures_and_method(text_result, method):
    result, _ = text_result
    page = render_html(result, _summary(result, filter_by=method))
    assert f"the method, <code>{method}</code>, {html.escape(FILTER_BY_WORDS[method])}" in page
    assert f"classes · filter <code>{method}</code></p>" in page
    for term in ("suspicion", "flagged", "label health score", "noise matrix"):
        assert f"<dt>{term}</dt><dd>" in page
    assert "1 &minus; the estimated fraction of wrong labels" in page
    # Single choice: the suspicion is said to be the probability the label is wrong.
    assert "<dt>suspicion</dt><dd>The estimated probability that the annotator&#x27;s label " in (
        page
    )


def test_the_summary_says_what_suspicion_is(text_result):
    result, _ = text_result
    data = _summary(result)
    assert data["suspicion"].startswith("estimated probability that the given label is wrong")
    assert 0 < data["health"]["model_temperature"] < 1  # ComplementNB's squashed probabilities


def test_the_report_links_the_other_files_by_name(tmp_path, text_result):
    result, _ = text_result
    paths = write_outputs(result, tmp_path, _summary(result))
    page = paths["report"].read_text(encoding="utf-8")
    for key in ("issues", "predictions", "summary"):
        name = paths[key].name
        assert f'<a href="{name}">{name}</a>' in page
        assert (paths["report"].parent / name).is_file()  # the link resolves beside the report


def test_the_cli_reports_the_whole_audit_time(tmp_path):
    from backend.cli import main

    export = Path(__file__).resolve().parents[2] / "examples" / "text" / "export.json"
    assert main(["audit", str(export), "--out", str(tmp_path), "--quiet", "--folds", "2"]) == 0
    data = json.loads((tmp_path / "summary.json").read_text())
    timings = data["timings_seconds"]
    assert list(timings) == [
        "read_tasks",
        "features",
        "cross_validation",
        "confident_learning",
        "evidence",
    ]
    assert timings["read_tasks"] > 0 and timings["cross_validation"] > 0
    assert data["title"] == "export.json"
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert f"<b>{sum(timings.values()):.1f} s</b><span>audit time</span>" in page
    assert "<title>labelaudit report — export.json</title>" in page
    for name in timings:
        assert f"<td>{html.escape(STEPS[name])}</td><td><code>{name}</code>" in page
