"""Cleaned exports (backend.cleaning): what each mode does to each annotation, and the CLI."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from backend.cleaning import Decision, Plan, clean
from backend.labelstudio.dataset import TaskKind

KIND = TaskKind("label", "text", "text", ("text",), ("cat", "dog", "owl"))
EXPORT = Path(__file__).resolve().parents[2] / "examples" / "text" / "export.json"


def choice(label: str, *, control: str = "label") -> dict:
    return {"from_name": control, "to_name": "text", "type": "choices",
            "value": {"choices": [label]}}  # fmt: skip


def annotation(annotation_id: int | None, label: str, *extra: dict) -> dict:
    return {"id": annotation_id, "completed_by": 3, "result": [choice(label), *extra]}


def plan_of(**decisions: Decision) -> Plan:
    return Plan(KIND, 0.9, {int(k[1:]): d for k, d in decisions.items()})


RELABEL_TO_DOG = Decision(task=1, given="cat", suggested="dog", confidence=0.97,
                          result=[choice("dog")])  # fmt: skip
UNSURE = Decision(task=2, given="owl", suggested="cat", confidence=0.6, result=None)


def test_remove_leaves_out_every_flagged_annotation_and_keeps_the_rest():
    other = choice("x", control="mood")
    tasks = [
        {"id": 1, "data": {"text": "a"}, "annotations": [annotation(11, "cat", other),
                                                          annotation(12, "cat")]},
        {"id": 2, "data": {"text": "b"}, "annotations": [annotation(21, "owl")],
         "predictions": [{"x": 1}]},
    ]  # fmt: skip
    cleaned, counts = clean(tasks, plan_of(a11=RELABEL_TO_DOG, a21=UNSURE), "remove")
    out = list(cleaned)
    assert [a["id"] for a in out[0]["annotations"]] == [12]
    assert out[1]["annotations"] == [] and out[1]["predictions"] == [{"x": 1}]
    assert out[1]["data"] == {"text": "b"}
    assert (counts.tasks, counts.left_out, counts.relabelled) == (2, 2, 0)
    assert [a["id"] for a in tasks[0]["annotations"]] == [11, 12]  # the input is not changed


def test_relabel_replaces_only_the_audited_controls_result_of_confident_suggestions():
    other = choice("x", control="mood")
    tasks = [
        {"id": 1, "annotations": [annotation(11, "cat", other)]},
        {"id": 2, "annotations": [annotation(21, "owl")]},
    ]
    cleaned, counts = clean(tasks, plan_of(a11=RELABEL_TO_DOG, a21=UNSURE), "relabel")
    out = list(cleaned)
    (relabelled,) = out[0]["annotations"]
    assert relabelled["result"] == [other, choice("dog")]
    assert relabelled["completed_by"] == 3 and relabelled["id"] == 11
    assert out[1]["annotations"] == []  # not sure enough: left out
    assert (counts.left_out, counts.relabelled) == (1, 1)


def test_a_label_changed_since_or_a_closed_flag_stays_as_it_is_now():
    tasks = [
        {"id": 1, "annotations": [annotation(11, "owl")]},  # flagged as cat, fixed since
        {"id": 2, "annotations": [annotation(21, "owl")]},  # confirmed by a reviewer
        {"id": 3, "annotations": [annotation(None, "cat"), {"broken": True}, "junk"]},
    ]
    made = plan_of(a11=RELABEL_TO_DOG, a21=UNSURE)
    cleaned, counts = clean(tasks, made, "relabel", still_open=lambda a: a != 21)
    out = list(cleaned)
    assert out[0]["annotations"] == tasks[0]["annotations"]
    assert out[1]["annotations"] == tasks[1]["annotations"]
    assert out[2]["annotations"] == tasks[2]["annotations"]  # no id: nothing to match
    assert (counts.changed_since, counts.closed, counts.left_out) == (1, 1, 0)


def test_items_that_are_not_tasks_pass_through_and_a_bad_mode_is_refused():
    cleaned, counts = clean([7, {"id": 1, "annotations": None}], plan_of(), "remove")
    assert list(cleaned) == [7, {"id": 1, "annotations": None}] and counts.tasks == 2
    with pytest.raises(ValueError, match="mode must be one of"):
        clean([], plan_of(), "fix")


def test_a_plan_survives_json():
    made = Plan(KIND, 0.8, {11: RELABEL_TO_DOG, 21: UNSURE}, unmatched=2)
    again = Plan.from_json(made.to_json())
    assert again == made
    assert made.preview()["modes"] == {
        "remove": {"left_out": 2, "relabelled": 0},
        "relabel": {"left_out": 1, "relabelled": 1},
    }
    assert made.preview()["flagged_annotations"] == 4


def test_the_cli_writes_the_cleaned_export_it_counts(tmp_path, capsys):
    from backend.cli import main

    out = tmp_path / "out"
    argv = ["audit", str(EXPORT), "--out", str(out), "--quiet", "--folds", "3"]
    assert main([*argv, "--clean", "relabel"]) == 0
    assert "relabelled:" in capsys.readouterr().out
    export = json.loads(EXPORT.read_text())
    cleaned = json.loads((out / "cleaned.json").read_text())
    summary = json.loads((out / "summary.json").read_text())
    plan = json.loads((out / "cleaning.json").read_text())
    with (out / "issues.csv").open(encoding="utf-8") as handle:
        flagged = {int(r["annotation_id"]): r for r in csv.DictReader(handle)
                   if r["is_label_issue"] == "True"}  # fmt: skip
    assert set(map(int, plan["decisions"])) == set(flagged)

    assert [t["id"] for t in cleaned] == [t["id"] for t in export]
    relabelled = 0
    for before, after in zip(export, cleaned, strict=True):
        assert after["data"] == before["data"]
        ids_after = {a["id"] for a in after["annotations"]}
        for annotation in before["annotations"]:
            decision = plan["decisions"].get(str(annotation["id"]))
            if decision is None:
                assert annotation in after["annotations"]
            elif decision["result"] is None:
                assert annotation["id"] not in ids_after
            else:
                assert decision["confidence"] >= summary["cleaned"]["relabel_min_confidence"]
                (now,) = [a for a in after["annotations"] if a["id"] == annotation["id"]]
                label = flagged[annotation["id"]]["suggested_label"]
                assert [r["value"]["choices"] for r in now["result"]] == [[label]]
                relabelled += 1
    assert relabelled == summary["cleaned"]["relabelled"] > 0
    assert summary["cleaned"]["left_out"] == len(flagged) - relabelled > 0
    assert summary["cleaning"]["modes"]["relabel"]["relabelled"] == relabelled

    # Each flag says why, in issues.csv, the report's table and the prediction's region meta.
    flagged_tasks = set(summary["flagged_task_ids"])
    predictions = json.loads((out / "predictions.json").read_text())
    for prediction in predictions:
        meta = prediction["result"][0].get("meta")
        if prediction["task"] in flagged_tasks:
            assert meta["text"][0].startswith("labelaudit: model: ")
        else:
            assert meta is None
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "<th>why: the model's top labels; similar tasks</th>" in page
    assert "<td class='why'>model: " in page
