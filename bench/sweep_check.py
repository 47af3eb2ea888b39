"""What the sweep's check of an unchanged project costs Label Studio: the state digest
(``backend.labelstudio.reading.project_state``, the check's first look) against the whole
project read in task pages (what the check did every time before; still what it does once
the digest moved).

Starts a real Label Studio (``bench/scale.py``'s, from the e2e tests' install) on a fresh
data dir, imports ``--tasks`` annotated text tasks, then times each way ``--repeat`` times:
wall seconds and the CPU seconds of Label Studio's processes (``/proc``).

    .venv/bin/python bench/sweep_check.py --tasks 5000 20000
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.load import tree_cpu  # noqa: E402
from bench.scale import label_studio  # noqa: E402

CONFIG = """<View>
  <Text name="text" value="$text"/>
  <Choices name="label" toName="text"><Choice value="a"/><Choice value="b"/></Choices>
</View>"""
IMPORT_BATCH = 2000


def _choice(label: str) -> list[dict]:
    return [
        {"result": [{"from_name": "label", "to_name": "text", "type": "choices",
                     "value": {"choices": [label]}}]}
    ]  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, nargs="+", default=[5000, 20000])
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    from backend.labelstudio.client import close, connect, load_project
    from backend.labelstudio.reading import project_state

    rows = []
    with tempfile.TemporaryDirectory(prefix="labelaudit-sweep-") as root:
        with label_studio(Path(root)) as server:
            ls = connect(server.url, server.token)
            server_pid = _label_studio_pid(server.data_dir)
            for n in args.tasks:
                project = ls.projects.create(title=f"sweep check {n}", label_config=CONFIG)
                for start in range(0, n, IMPORT_BATCH):
                    ls.projects.import_tasks(
                        id=project.id,
                        request=[
                            {"data": {"text": f"task {i} " + "words " * 30},
                             "annotations": _choice("ab"[i % 2])}
                            for i in range(start, min(n, start + IMPORT_BATCH))
                        ],
                    )  # fmt: skip
                for _ in range(args.repeat):
                    for way, read in (
                        ("state digest", lambda p=project.id: project_state(ls, p)),
                        (
                            "task pages",
                            lambda p=project.id: load_project(
                                server.url, server.token, p, pages=True
                            ),
                        ),
                    ):
                        cpu, wall = tree_cpu(server_pid), time.perf_counter()
                        read()
                        rows.append(
                            (n, way, time.perf_counter() - wall, tree_cpu(server_pid) - cpu)
                        )
            close(ls)
    print(f"load average {os.getloadavg()[0]:.1f} at the end\n")
    print("| tasks | check's read | wall s | Label Studio CPU s |")
    print("|---:|---|---:|---:|")
    for n, way, wall, cpu in rows:
        print(f"| {n:,} | {way} | {wall:.2f} | {cpu:.2f} |")
    return 0


def _label_studio_pid(data_dir: Path) -> int:
    """The Label Studio server started on ``data_dir`` (its command line names it)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"start" in command and str(data_dir).encode() in command:
            return int(entry.name)
    raise SystemExit("Label Studio's process was not found")


if __name__ == "__main__":
    sys.exit(main())
