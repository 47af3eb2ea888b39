"""`labelaudit audit --push` against a real Label Studio: the whole CLI path, as a user runs it."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from backend.labelstudio.client import close, connect
from backend.labelstudio.inplace import SCORE_TOLERANCE

pytestmark = pytest.mark.e2e

CONFIG = """<View>
  <Text name="text" value="$text"/>
  <Choices name="topic" toName="text" choice="single">
    <Choice value="sport"/><Choice value="food"/><Choice value="tech"/>
  </Choices>
</View>"""
VOCABULARY = {
    "sport": "goal match team referee striker league score stadium coach season",
    "food": "recipe oven garlic butter dinner spicy sauce bake flavour kitchen",
    "tech": "laptop server software python chip cloud network code battery app",
}


def noisy_tasks(n: int, seed: int) -> tuple[list[dict], set[int]]:
    """Short topical texts; every 12th task's label is flipped. Returns tasks and flip rows."""
    rng = np.random.default_rng(seed)
    topics = list(VOCABULARY)
    tasks, flipped = [], set()
    for i in range(n):
        topic = topics[i % 3]
        words = rng.choice(VOCABULARY[topic].split(), size=6).tolist()
        noise = rng.choice(" ".join(VOCABULARY.values()).split(), size=2).tolist()
        given = topic
        if i % 12 == 5:
            given = topics[(i + 1) % 3]
            flipped.add(i)
        result = [{"from_name": "topic", "to_name": "text", "type": "choices",
                   "value": {"choices": [given]}}]  # fmt: skip
        tasks.append(
            {
                "data": {"text": " ".join(words + noise)},
                # Imported annotations are ground truth unless told otherwise (LS 1.23).
                "annotations": [{"result": result, "ground_truth": False}],
            }
        )
    return tasks, flipped


def field(item: object, name: str) -> object:
    """A field of an SDK object or of a plain dict (task predictions come as either)."""
    return item[name] if isinstance(item, dict) else getattr(item, name)


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "backend.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )


def test_audit_and_push_a_live_project(label_studio, tmp_path: Path):
    ls = connect(label_studio.url, label_studio.token)
    try:
        project = ls.projects.create(title="cli audit", label_config=CONFIG)
        tasks, flipped = noisy_tasks(240, seed=1)
        imported = ls.projects.import_tasks(id=project.id, request=tasks, return_task_ids=True)
        task_ids = list(imported.task_ids)
        flipped_ids = {task_ids[i] for i in flipped}

        out = tmp_path / "out"
        args = ["audit", "--url", label_studio.url, "--api-key", label_studio.token,
                "--project", str(project.id), "--out", str(out), "--push", "--quiet"]  # fmt: skip
        done = run_cli(*args)
        assert done.returncode == 0, done.stderr
        assert label_studio.token not in done.stdout + done.stderr
        summary = json.loads((out / "summary.json").read_text())
        version = summary["model_version"]
        assert version == "labelaudit-1"
        flagged = summary["flagged_task_ids"]
        assert len(set(flagged) & flipped_ids) >= 0.7 * len(flipped_ids)

        # Every audited task carries exactly one prediction of the project's version.
        assert ls.projects.get(id=project.id).model_version == version
        predictions = {}
        for task in ls.tasks.list(project=project.id, fields="all"):
            ours = [p for p in task.predictions if field(p, "model_version") == version]
            assert len(ours) == 1, task.id
            predictions[task.id] = ours[0]
        with (out / "issues.csv").open(encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        for row in rows:
            prediction = predictions[int(row["task_id"])]
            assert 0.0 <= field(prediction, "score") <= 1.0
            region = field(prediction, "result")[0]
            assert region["value"]["choices"][0] in VOCABULARY
            if int(row["task_id"]) in flagged:  # why, kept by Label Studio as region meta
                assert region["meta"]["text"][0].startswith("labelaudit: model: ")

        # The tab holds exactly the flagged tasks, most suspicious first.
        (view,) = [
            v for v in ls.views.list(project=project.id) if v.data["title"] == "Needs re-review"
        ]
        in_tab = [t.id for t in ls.tasks.list(project=project.id, view=view.id)]
        assert sorted(in_tab) == sorted(flagged)
        scores = [field(predictions[t], "score") for t in in_tab]
        assert scores == sorted(scores, reverse=True)

        # A second audit is written in place: a version of its own, while the project
        # keeps showing the first's, its predictions changed where the audit changed them.
        # (with --clean: the project read again, page by page, into cleaned.json)
        again = run_cli(*args, "--clean", "remove")
        assert again.returncode == 0, again.stderr
        summary = json.loads((out / "summary.json").read_text())
        assert summary["model_version"] == "labelaudit-2"
        cleaned = json.loads((out / "cleaned.json").read_text())
        assert sorted(t["id"] for t in cleaned) == sorted(task_ids)
        left = {t["id"] for t in cleaned if not t["annotations"]}
        assert left == set(summary["flagged_task_ids"])
        assert summary["cleaned"]["left_out"] == summary["counts"]["flagged_annotations"]
        assert ls.projects.get(id=project.id).model_version == version
        pushed = {p["task"]: p for p in json.loads((out / "predictions.json").read_text())}
        for task in ls.tasks.list(project=project.id, fields="all"):
            versions = [field(p, "model_version") for p in task.predictions]
            assert versions == [version], (task.id, versions)
            (prediction,) = task.predictions
            shown, audited = field(prediction, "result")[0], pushed[task.id]["result"][0]
            assert shown["value"] == audited["value"], task.id  # the second audit's suggestion
            assert ("meta" in shown) == ("meta" in audited), task.id  # and flag
            assert abs(field(prediction, "score") - pushed[task.id]["score"]) <= SCORE_TOLERANCE
    finally:
        close(ls)


def test_a_project_with_nothing_to_audit_exits_non_zero_with_one_line(label_studio, tmp_path):
    ls = connect(label_studio.url, label_studio.token)
    try:
        project = ls.projects.create(title="empty project", label_config=CONFIG)
    finally:
        close(ls)
    done = run_cli("audit", "--url", label_studio.url, "--api-key", label_studio.token,
                   "--project", str(project.id), "--out", str(tmp_path), "--quiet")  # fmt: skip
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "nothing to audit" in lines[0]
