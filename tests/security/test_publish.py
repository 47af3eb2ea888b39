"""Nothing reaches Label Studio that is not saved here first (issue 9, points 4 and 7).

The real service runs the real pipeline; Label Studio is the fake LabelStudioIO of the
service tests, which records what was pushed.
"""

from __future__ import annotations

import csv
import json

from backend.labelstudio.config import parse_label_config
from backend.labelstudio.export import dataset_from_tasks
from backend.pipeline import run_audit
from backend.publish import publish
from backend.settings import load_settings
from tests.backend.test_service import audit, make_service
from tests.backend.test_service import ls as ls
from tests.worker.support import CONFIG, numeric_tasks

#: Class names a spreadsheet would run as formulas and matplotlib would parse as math.
TRICKY = {"a": "$\\foo{$", "b": '=HYPERLINK("http://x")', "c": "@SUM(1)"}


def tricky_tasks() -> tuple[str, list[dict]]:
    config = CONFIG
    tasks = numeric_tasks(60, seed=1, flip=0.15)
    for plain, tricky in TRICKY.items():
        config = config.replace(f'<Choice value="{plain}"/>', f"<Choice value='{tricky}'/>")
        for task in tasks:
            value = task["annotations"][0]["result"][0]["value"]
            value["choices"] = [tricky if c == plain else c for c in value["choices"]]
    return config, tasks


def test_labels_are_plain_text_in_the_plots_and_never_formulas_in_the_csv(tmp_path):
    config, tasks = tricky_tasks()
    kind = parse_label_config(config)
    assert set(kind.classes) == set(TRICKY.values())
    result = run_audit(dataset_from_tasks(tasks, kind, source="t"), load_settings({}, environ={}))
    published = publish(result, folder=lambda v: tmp_path, settings={"filter_by": "x"}, source="t")
    with published.paths["issues"].open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    given = {row["given_label"] for row in rows}
    assert given == {"$\\foo{$", '\'=HYPERLINK("http://x")', "'@SUM(1)"}
    assert "$\\foo{$" in published.paths["report"].read_text(encoding="utf-8")


def test_an_audit_whose_outputs_cannot_be_written_pushes_nothing(tmp_path, ls):
    service = make_service(tmp_path, ls)
    assert audit(service)["state"] == "succeeded"
    # The next version's folder cannot be made: a file is in its way (as a full disk would).
    blocked = service.artifacts.version_dir(1, "labelaudit-2")
    blocked.parent.mkdir(parents=True, exist_ok=True)
    blocked.write_text("not a folder")
    job = audit(service)
    assert job["state"] == "failed"
    assert len(ls.pushes) == 1  # Label Studio still shows labelaudit-1 ...
    assert service.store.current_version(1) == "labelaudit-1"  # ... and so does the backend
    summary = service.artifacts.version_dir(1, "labelaudit-1") / "summary.json"
    assert json.loads(summary.read_text())["model_version"] == "labelaudit-1"


def test_report_thumbnails_are_fetched_side_by_side(tmp_path):
    """30 slow images used to take 30 times one image; now they overlap (issue 9.7)."""
    import threading
    import time
    from pathlib import Path

    from backend.labelstudio.export import load_export
    from backend.report import render_html, summary

    example = Path(__file__).parents[2] / "examples" / "image" / "export.json"

    def read(ref: str) -> bytes:
        return (example.parent / ref).read_bytes()

    result = run_audit(load_export(example), load_settings({}, environ={}), fetch=read)
    flagged = int(result.is_label_issue.sum())
    assert flagged >= 20

    lock = threading.Lock()
    running, most = 0, 0

    def slow_fetch(ref: str) -> bytes:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.05)
        with lock:
            running -= 1
        return read(ref)

    data = summary(result, settings={"filter_by": "x"}, source="t", model_version="v")
    page = render_html(result, data, fetch=slow_fetch)
    assert page.count("<img src='data:image/png") >= 3  # the plots
    assert page.count('<img src="data:image/png') == min(flagged, 50)  # every thumbnail
    # Side by side: several fetches were under way at once (one after another: never 2).
    assert most >= 4, most
