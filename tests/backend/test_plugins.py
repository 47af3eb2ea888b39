"""Input types are plug-ins: one registered here, inside the test, audits end to end.

The toy type reads a ``*_toy`` text field and counts its words; nothing outside this file
knows it exists. The label config picks it, the export reads it, the pipeline featurizes
and models with it, the report shows it and the predictions are built for it.
"""

from __future__ import annotations

import html
import json

import numpy as np
import pytest

from backend import inputs, tasktypes
from backend.inputs import Features, InputType
from backend.labelstudio.config import parse_label_config
from backend.labelstudio.dataset import Malformed
from backend.labelstudio.export import dataset_from_tasks
from backend.pipeline import run_audit
from backend.report import predictions, summary, write_outputs
from backend.settings import load_settings

CONFIG = (
    '<View><Text name="t" value="$words_toy"/><Choices name="size" toName="t">'
    '<Choice value="short"/><Choice value="long"/></Choices></View>'
)


@pytest.fixture
def toy(monkeypatch):
    """Register the toy input type for this test only."""
    monkeypatch.setattr(inputs, "REGISTRY", dict(inputs.REGISTRY))

    @inputs.register
    class WordCount(InputType):
        name = "toy"
        priority = 5  # before text, which would read the same object

        def claim(self, tag, value, attrs):
            field = value[1:] if value.startswith("$") else ""
            return (field,) if tag == "text" and field.endswith("_toy") else None

        def reader(self, data_keys):
            def read(data):
                value = data.get(data_keys[0])
                if not isinstance(value, str):
                    raise Malformed(f"{data_keys[0]!r} must be words")
                return value

            return read

        def featurize(self, values, settings, *, fetch=None, progress=None):
            X = np.array([[len(v.split())] for v in values], dtype=float)
            return Features(X, np.ones(len(values), dtype=bool), [])

        def default_model(self, settings, *, n_samples):
            from sklearn.linear_model import LogisticRegression

            return LogisticRegression()

        def cell(self, value, fetch):
            return f"<b class='toy'>{len(value.split())} words</b>"

    return WordCount


def tasks(flipped: set[int]) -> list[dict]:
    rng = np.random.default_rng(0)
    out = []
    for task in range(1, 121):
        long = task % 2 == 0
        words = int(rng.integers(12, 20) if long else rng.integers(1, 6))
        label = "long" if long != (task in flipped) else "short"
        out.append(
            {
                "id": task,
                "data": {"words_toy": " ".join(["w"] * words)},
                "annotations": [
                    {
                        "id": 1000 + task,
                        "completed_by": 1,
                        "result": [
                            {
                                "from_name": "size",
                                "to_name": "t",
                                "type": "choices",
                                "value": {"choices": [label]},
                            }
                        ],
                    }
                ],
            }
        )
    out.append({"id": 500, "data": {"words_toy": 7}, "annotations": []})  # malformed
    return out


def test_a_toy_input_type_registered_in_a_test_audits_end_to_end(toy, tmp_path):
    kind = parse_label_config(CONFIG)
    assert kind.input_type == "toy" and kind.task_type == "single_choice"

    flipped = {7, 20, 33, 64, 101}
    dataset = dataset_from_tasks(tasks(flipped), kind, source="toy")
    assert [s.reason for s in dataset.skipped] == ["'words_toy' must be words"]
    result = run_audit(dataset, load_settings({}, environ={}))

    found = set(np.asarray(result.task_ids)[result.is_label_issue].tolist())
    assert found == flipped
    paths = write_outputs(
        result,
        tmp_path,
        summary(
            result, settings={"filter_by": "prune_by_noise_rate"}, source="toy", model_version="v"
        ),
    )
    page = paths["report"].read_text()
    assert "<b class='toy'>" in page and html.escape("'words_toy' must be words") in page
    pushed = json.loads(paths["predictions"].read_text())
    by_task = {p["task"]: p["result"][0]["value"]["choices"] for p in pushed}
    assert all(by_task[t] == ["long" if t % 2 == 0 else "short"] for t in flipped)
    assert predictions(result, "v") == pushed


def test_the_registries_name_what_they_hold(toy):
    assert "toy" in inputs.names()
    assert tasktypes.names() == ["multi_annotator", "multi_choice", "single_choice", "spans"]
    with pytest.raises(
        ValueError, match="unknown task type 'boxes'; known: multi_annotator, multi_choice, single"
    ):
        tasktypes.get("boxes")


def test_the_toy_type_is_gone_after_its_test():
    assert "toy" not in inputs.names()
