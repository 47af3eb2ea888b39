"""A big project's first audit, and the ways of reading it, on a real Label Studio (issue 14).

A project of ``--tasks`` generated text tasks (bench/scale.py's: four topics, 10% of the
labels flipped, one annotation each) is built once into a Label Studio data dir
(``build``), and every measurement starts a Label Studio on a fresh copy of that dir
(``cp -a``, ~4 s), so each first audit meets the same untouched project:

* ``reads``: every way Label Studio 1.23.2 offers to read a whole project, timed and
  sized: the export API in one call and in batches of ids, the snapshot export (create,
  then download), task pages (``api/tasks/`` with ``fields=all``, and the deprecated
  ``api/projects/<id>/tasks/``); each answer's dataset compared with the task pages'.
* ``first``: the CLI's own path (``LabelStudioIO.load`` -> ``run_audit`` -> ``publish``
  with a target), per phase: read, math, push (bench/scale.py's ``audit_once``).
* ``service``: Start Training to the pushed tab through a real ``labelaudit serve`` and
  ``labelaudit worker`` on Redis (``--embedded``: serve alone), bench/scale_service.py.

    PYTHONPATH=. .venv/bin/python bench/scale_read.py build --tasks 20000 --dir /tmp/big
    PYTHONPATH=. .venv/bin/python bench/scale_read.py reads --dir /tmp/big
    PYTHONPATH=. .venv/bin/python bench/scale_read.py first --dir /tmp/big [--profile]
    PYTHONPATH=. .venv/bin/python bench/scale_read.py service --dir /tmp/big [--embedded]

The machine is shared: the load average is printed beside every figure.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import contextlib  # noqa: E402
import json  # noqa: E402
import secrets  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import scale  # noqa: E402
from tests.conftest import _env  # noqa: E402

PRISTINE = "pristine"  # the built data dir, never started again
FACTS = "pristine.json"  # its token, password and project id


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


@contextlib.contextmanager
def started(folder: Path) -> Iterator[tuple[scale.Server, int]]:
    """A Label Studio on a fresh copy of the built data dir: (server, project id)."""
    facts = json.loads((folder / FACTS).read_text())
    copy = folder / f"run-{os.getpid()}-{int(time.time())}"
    shutil.copytree(folder / PRISTINE, copy, symlinks=True)
    env = _env(copy, facts["token"], facts["password"])
    log = (copy.parent / f"{copy.name}.log").open("w")
    try:
        with scale.started_label_studio(copy, env, log) as url:
            yield scale.Server(url, facts["token"], copy), int(facts["project"])
    finally:
        log.close()
        shutil.rmtree(copy, ignore_errors=True)


def build(folder: Path, n: int, seed: int) -> None:
    """Build the project once into ``folder/pristine`` and write its facts beside it."""
    from backend.labelstudio.client import close, connect

    folder.mkdir(parents=True, exist_ok=True)
    begun = time.perf_counter()
    password = secrets.token_urlsafe(16)
    with scale.label_studio(folder, password) as server:
        ls = connect(server.url, server.token)
        try:
            project = scale.make_project(ls, n, seed=seed, with_annotation_ids=False)
        finally:
            close(ls)
    (folder / "ls-data").rename(folder / PRISTINE)
    facts = {"token": server.token, "password": password, "project": project.id, "tasks": n}
    (folder / FACTS).write_text(json.dumps(facts))
    print(f"[{n}] project {project.id} built in {time.perf_counter() - begun:.0f} s; "
          f"load average {load()}", flush=True)  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("mode", choices=["build", "reads", "first", "service"])
    parser.add_argument("--dir", type=Path, required=True)
    parser.add_argument("--tasks", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--profile", action="store_true", help="first: cProfile the math")
    parser.add_argument("--no-pages", action="store_true", help="reads: not the task pages")
    parser.add_argument("--embedded", action="store_true", help="service: no Redis, no worker")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0", help="service")
    parser.add_argument(
        "--patches", type=int, default=0, help="first: then PATCH this many on 1/2/4 threads"
    )
    args = parser.parse_args(argv)
    print(f"load average at start: {load()}", flush=True)
    if args.mode == "build":
        build(args.dir, args.tasks, args.seed)
        return 0
    import logging

    from bench.scale_modes import first_audit, patch_threads, read_options

    logging.basicConfig(format="  [%(name)s] %(message)s", level=logging.WARNING)
    logging.getLogger("labelaudit.push").setLevel(logging.INFO)  # the import call's time

    tasks = int(json.loads((args.dir / FACTS).read_text())["tasks"])
    with started(args.dir) as (server, project):
        print(f"Label Studio on a copy of the built project {project}; load average {load()}",
              flush=True)  # fmt: skip
        if args.mode == "reads":
            read_options(server, project, pages_too=not args.no_pages)
        elif args.mode == "service":
            from bench.scale_service import service_first_audit

            mode = "embedded" if args.embedded else "redis"
            service_first_audit(server, project, tasks, mode=mode, redis_url=args.redis_url)
        else:
            first_audit(server, project, args.dir, tasks, profile=args.profile)
            if args.patches:
                patch_threads(server, project, args.patches, [1, 2, 4, 1])
    print(f"load average at end: {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
