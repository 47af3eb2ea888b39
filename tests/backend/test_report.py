"""The audit's outputs: issues.csv, predictions.json, summary.json, report.html."""

from __future__ import annotations

import csv
import json
import re

import numpy as np
import pytest

from backend.audit import run_audit
from backend.labelstudio.dataset import AuditDataset, TaskKind
from backend.report import ISSUES_COLUMNS, write_outputs
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


def test_outputs_are_complete_and_consistent(tmp_path, text_result):
    result, flipped_tasks = text_result
    settings = load_settings({"label_studio_api_key": "very-secret-key"}, environ={})
    paths = write_outputs(
        result,
        tmp_path,
        settings=settings.redacted(),
        source="file:x.json",
        model_version="labelaudit-3",
    )
    with paths["issues"].open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0]) == ISSUES_COLUMNS
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

    summary = json.loads(paths["summary"].read_text())
    assert summary["counts"] == result.counts
    assert summary["flagged_task_ids"] == result.flagged_task_ids()
    assert summary["model_version"] == "labelaudit-3"
    assert len(summary["noise_matrix"]["matrix"]) == 3
    assert 0 <= summary["health"]["overall_label_health_score"] <= 1

    for path in paths.values():
        assert "very-secret-key" not in path.read_text(encoding="utf-8")


def test_report_is_self_contained_and_escapes_content(tmp_path, text_result):
    result, _ = text_result
    paths = write_outputs(
        result,
        tmp_path,
        settings=load_settings(environ={}).redacted(),
        source="file:<b>x</b>.json",
        model_version="labelaudit-file",
    )
    page = paths["report"].read_text(encoding="utf-8")
    assert "<script>" not in page  # annotated text is escaped, never executed
    assert "&lt;script&gt;alert(" in page
    assert "&lt;b&gt;x&lt;/b&gt;" in page
    assert len(re.findall(r"src=.data:image/png;base64,", page)) >= 3  # plots are inlined
    assert not re.search(r"src=.https?://", page)  # nothing loaded from elsewhere
    assert f"{result.counts['flagged_annotations']:,}" in page
