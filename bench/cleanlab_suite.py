"""cleanlab's own tests, run on cleanlab and then on core swapped in (issue 15).

    .venv/bin/python bench/cleanlab_suite.py PATH_TO_CLEANLAB_2.9.0_CHECKOUT

Runs the listed test files of a cleanlab checkout twice with pytest: once as they are, once
with ``cleanlab.count``, ``filter``, ``rank``, ``classification``, ``dataset``,
``benchmarking.noise_generation``, ``multilabel_classification`` (with its ``filter``,
``rank`` and ``dataset``), ``token_classification`` (with its ``filter``, ``rank`` and
``summary``), ``multiannotator``, ``internal.multiannotator_utils`` (the helpers the
multi-annotator tests import) and ``experimental.label_issues_batched`` replaced in
``sys.modules`` by core's modules before any test imports them (``-p bench.cleanlab_swap``).
cleanlab's other ``internal`` and ``experimental`` modules stay cleanlab's. Prints, per
file, how many tests pass on cleanlab, how many of those pass on core, and the names of the
difference. Nothing of cleanlab's is copied here: the tests are read from the checkout given.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: The test files of the modules core implements.
FILES = (
    "tests/test_filter_count.py",
    "tests/test_classification.py",
    "tests/test_dataset.py",
    "tests/test_rank.py",
    "tests/test_noise_generation.py",
    "tests/test_multilabel_classification.py",
    "tests/test_token_classification.py",
    "tests/test_multiannotator.py",
)


def run(checkout: Path, swap: bool, files: list[str], timeout: float) -> dict[str, str]:
    """Run the files; return test id -> outcome (passed, failed, error, skipped)."""
    report = Path(tempfile.mkdtemp(prefix="cleanlab-suite-")) / "junit.xml"
    command = [sys.executable, "-m", "pytest", *files, "-q", "-p", "no:cacheprovider"]
    command += ["--continue-on-collection-errors"]  # a module that cannot import fails alone
    command += ["--junitxml", str(report), "-o", "junit_family=xunit2"]
    env = dict(os.environ)
    if swap:
        command += ["-p", "bench.cleanlab_swap"]
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    subprocess.run(
        command, cwd=checkout, env=env, timeout=timeout, stdout=subprocess.DEVNULL, check=False
    )
    if not report.exists():  # pytest could not even start (a module failed to import)
        return {}
    outcomes: dict[str, str] = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        name = f"{case.get('classname')}::{case.get('name')}"
        kinds = {child.tag for child in case}
        outcome = next((k for k in ("failure", "error", "skipped") if k in kinds), "passed")
        outcomes[name] = {"failure": "failed"}.get(outcome, outcome)
    return outcomes


def _module(test_id: str) -> str:
    """The test module of a junit test id ("tests.test_x.TestClass::name" -> "tests.test_x")."""
    return ".".join(test_id.split("::")[0].split(".")[:2])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkout", type=Path, help="a cleanlab 2.9.0 source checkout")
    parser.add_argument("--files", nargs="*", default=list(FILES))
    parser.add_argument("--timeout", type=float, default=3600)
    args = parser.parse_args()
    checkout = args.checkout.resolve()
    on_cleanlab = run(checkout, False, args.files, args.timeout)
    on_core = run(checkout, True, args.files, args.timeout)
    per_file: dict[str, list[str]] = defaultdict(list)
    for name, outcome in on_cleanlab.items():
        if outcome == "passed":
            per_file[_module(name)].append(name)
    lines = ["| file | pass on cleanlab | pass on core |", "|---|---:|---:|"]
    missing: list[str] = []
    for module, names in sorted(per_file.items()):
        passed = [n for n in names if on_core.get(n) == "passed"]
        lines.append(f"| {module} | {len(names)} | {len(passed)} |")
        missing += [f"{n} ({on_core.get(n, 'not collected')})" for n in names if n not in passed]
    total = sum(len(n) for n in per_file.values())
    lines.append(f"| **all** | **{total}** | **{total - len(missing)}** |")
    print("\n".join(lines))
    if missing:
        print("\npassing on cleanlab, not on core:")
        print("\n".join(f"- {name}" for name in missing))
    return 0


if __name__ == "__main__":
    sys.exit(main())
