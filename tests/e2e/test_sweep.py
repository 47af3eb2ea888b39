"""The sweep's check on a real Label Studio (1.23.2): its first look is two small requests
(the state digest), and the project is read whole only when that digest moved; every
change an audit reads moves it."""

from __future__ import annotations

from typing import Any

import pytest

from backend.labelstudio.client import sdk_request
from backend.labelstudio.reading import project_state
from backend.publish import LabelStudioIO
from backend.service import Service
from backend.settings import load_settings
from backend.store import Artifacts, MemoryStore
from tests.backend.test_service import NullRunner, run_ticket

pytestmark = pytest.mark.e2e

CONFIG = """<View>
  <Text name="text" value="$text"/>
  <Choices name="sentiment" toName="text" choice="single">
    <Choice value="pos"/><Choice value="neg"/>
  </Choices>
</View>"""


def _choice(label: str) -> list[dict[str, Any]]:
    return [
        {"from_name": "sentiment", "to_name": "text", "type": "choices",
         "value": {"choices": [label]}}
    ]  # fmt: skip


def _project(ls: Any, title: str, n: int = 40) -> tuple[int, list[int]]:
    project = ls.projects.create(title=title, label_config=CONFIG)
    tasks = [
        {
            "data": {"text": f"{'good fine great' if i % 2 else 'bad awful poor'} review {i}"},
            "annotations": [{"result": _choice("pos" if i % 2 else "neg")}],
        }
        for i in range(n)
    ]
    found = ls.projects.import_tasks(id=project.id, return_task_ids=True, request=tasks)
    return int(project.id), [int(t) for t in found.task_ids]


def _annotation(ls: Any, task: int) -> int:
    return int(ls.tasks.get(id=task).annotations[0]["id"])


def test_every_change_an_audit_reads_moves_the_state_digest(ls):
    project, ids = _project(ls, "e2e sweep state")
    before = project_state(ls, project)
    assert project_state(ls, project) == before  # nothing changed: the same digest
    steps = {
        "an annotation changed": lambda: sdk_request(
            ls, "PATCH", f"api/annotations/{_annotation(ls, ids[3])}/",
            json={"result": _choice("pos")},
        ),
        "an annotation added": lambda: ls.annotations.create(id=ids[4], result=_choice("pos")),
        "an annotation deleted": lambda: ls.annotations.delete(id=_annotation(ls, ids[5])),
        "a task's data edited": lambda: ls.tasks.update(id=ids[6], data={"text": "edited"}),
        "a task deleted": lambda: ls.tasks.delete(id=ids[7]),
        "the label config changed": lambda: ls.projects.update(
            id=project, label_config=CONFIG.replace('"neg"/>', '"neg"/><Choice value="mixed"/>')
        ),
    }  # fmt: skip
    for what, step in steps.items():
        step()
        after = project_state(ls, project)
        assert after != before, what
        before = after


class CountingIO(LabelStudioIO):
    """The real reader, counting whole-project reads."""

    def __init__(self) -> None:
        super().__init__()
        self.loads = 0

    def load(self, *args: Any, **kwargs: Any) -> Any:
        self.loads += 1
        return super().load(*args, **kwargs)


def test_the_sweep_reads_a_project_whole_only_when_label_studio_changed(ls, label_studio, tmp_path):
    project, ids = _project(ls, "e2e sweep check")
    io = CountingIO()
    settings = load_settings(
        {
            "model_dir": str(tmp_path),
            "folds": 3,
            "label_studio_url": label_studio.url,
            "label_studio_api_key": label_studio.token,
            "sweep_seconds": 0,
        },
        environ={},
    )
    service = Service(
        settings, MemoryStore(), Artifacts(tmp_path), NullRunner(), io=io, retry_delays=(0, 0)
    )
    ticket = service.trigger(project, immediate=True, reason="test")
    run_ticket(service, project, ticket)
    assert service.store.current_version(project) is not None and io.loads == 1
    # The audit's push stamped tasks: the first check reads whole, finds the same annotations.
    assert not service.scheduler.check_project(project)
    assert io.loads == 2
    assert not service.scheduler.check_project(project)  # nothing since: two small requests
    assert io.loads == 2
    sdk_request(
        ls, "PATCH", f"api/annotations/{_annotation(ls, ids[0])}/", json={"result": _choice("pos")}
    )  # a save that sent no webhook
    assert service.scheduler.check_project(project)
    assert io.loads == 3
