"""The ``labelaudit`` command line."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, TextIO

from backend import serving
from backend.serving import DEFAULT_WEB_PROCESSES, DEFAULT_WEB_THREADS, fail


def _demo(args: argparse.Namespace) -> int:
    """Flip labels of a synthetic dataset at a known rate and see how many core finds."""
    import numpy as np
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression

    from backend import tasktypes
    from backend.settings import load_settings
    from core.benchmarking.noise import generate_noise_matrix_from_trace, generate_noisy_labels
    from core.count import estimate_cv_predicted_probabilities
    from core.filter import find_label_issues

    # --filter-by means what audit's does: the setting, checked before any work is done.
    # environ={}: the demo is self-contained and reads no LABELAUDIT_* variables.
    setting = load_settings({"filter_by": args.filter_by}, environ={}).filter_by
    filter_by = tasktypes.get("single_choice").filter_by(setting)
    started = time.perf_counter()
    features, true_labels = make_classification(
        n_samples=args.n,
        n_features=20,
        n_informative=10,
        n_classes=args.k,
        n_clusters_per_class=1,
        class_sep=1.5,
        random_state=args.seed,
    )
    priors = np.bincount(true_labels, minlength=args.k) / len(true_labels)
    noise_matrix = generate_noise_matrix_from_trace(
        args.k, args.k * (1 - args.noise), py=priors, valid_noise_matrix=True, seed=args.seed
    )
    if noise_matrix is None:
        return fail(f"no valid noise matrix for --k {args.k} and --noise {args.noise}")
    labels = generate_noisy_labels(true_labels, noise_matrix, random_state=args.seed)
    flipped = labels != true_labels
    pred_probs = estimate_cv_predicted_probabilities(
        features, labels, LogisticRegression(max_iter=1000), seed=args.seed
    )
    issues = find_label_issues(labels, pred_probs, filter_by=filter_by)
    found = int((issues & flipped).sum())
    precision = found / max(int(issues.sum()), 1)
    recall = found / max(int(flipped.sum()), 1)
    print(
        f"labelaudit demo: {args.n} synthetic examples, {args.k} classes, "
        f"{int(flipped.sum())} labels flipped ({flipped.mean():.1%}), seed {args.seed}"
    )
    print(f"flagged {int(issues.sum())} examples as label issues (filter_by={filter_by})")
    print(f"precision {precision:.3f}  recall {recall:.3f}  against the known flips")
    print(f"done in {time.perf_counter() - started:.1f} s")
    return 0


class _Bars:
    """Progress callback drawing one tqdm bar per step; silent when quiet.

    Each step counts its own things (:attr:`UNITS`), so a bar shows ``done/total <unit>``
    and the elapsed time, never a rate: progress arrives in jumps (a page of tasks, a fold,
    all the rows of a text featurization at once), which tqdm would turn into absurd
    per-second figures.
    """

    #: What ``done`` and ``total`` count in each step the audit reports.
    UNITS: ClassVar[Mapping[str, str]] = {
        "export": "tasks",  # reading a live project, page by page
        "features": "tasks",  # each annotated task's input is featurized once
        "cross-validation": "folds",
        "push": "predictions",
    }

    def __init__(self, quiet: bool, file: TextIO | None = None) -> None:
        self.quiet = quiet
        self.file = file  # None: sys.stderr at the time a bar is drawn (tqdm's default)
        self.bars: dict[str, Any] = {}

    @staticmethod
    def bar_format(unit: str, total: int | None) -> str:
        """tqdm's bar_format for a bar counting ``unit`` (``total`` None: not known yet)."""
        count = "{n_fmt}" if total is None else "{percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt}"
        return "{desc}: " + count + (f" {unit}" if unit else "") + " [{elapsed}]"

    def __call__(self, step: str, done: int, total: int | None) -> None:
        if self.quiet:
            return
        from tqdm import tqdm

        unit = self.UNITS.get(step, "")
        bar = self.bars.get(step)
        if bar is None:
            bar = self.bars[step] = tqdm(
                total=total,
                initial=done,
                desc=f"{step:>16}",
                unit=unit,
                bar_format=self.bar_format(unit, total),
                leave=True,
                file=self.file,
            )
        bar.total = total
        bar.bar_format = self.bar_format(unit, total)
        bar.n = done
        bar.refresh()
        if total is not None and done >= total:
            bar.close()

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()


def _audit(args: argparse.Namespace) -> int:
    """Audit an export file or a live project; write issues, predictions, summary, report."""
    from pathlib import Path

    from backend.labelstudio.client import task_page
    from backend.labelstudio.media import fetch_bytes, local_path
    from backend.pipeline import NothingToAudit, run_audit, timed
    from backend.publish import LabelStudioIO, Target, publish
    from backend.settings import load_settings

    settings = load_settings(
        {
            "folds": args.folds,
            "seed": args.seed,
            "filter_by": args.filter_by,
            "model": args.model,
            "model_params": args.model_params,
            "label_studio_url": args.url,
            "label_studio_api_key": args.api_key,
        }
    )
    bars = _Bars(args.quiet)
    started = time.perf_counter()
    base_dir: Path | None = None
    task_url: Callable[[int], str] | None = None  # a task's page in Label Studio
    timings: dict[str, float] = {}
    try:
        if args.export is not None:
            from backend.labelstudio.export import load_export

            if args.push:
                return fail("--push needs a live project (--url, --api-key, --project)")
            config = Path(args.config).read_text(encoding="utf-8") if args.config else None
            with timed(timings, "read_tasks"):
                dataset = load_export(args.export, label_config=config)
            base_dir = Path(args.export).resolve().parent
            source = f"file:{args.export}"
        else:
            if not (settings.label_studio_url and settings.label_studio_api_key and args.project):
                return fail(
                    "give an export file, or --url, --api-key (or LABEL_STUDIO_URL, "
                    "LABEL_STUDIO_API_KEY) and --project"
                )
            with timed(timings, "read_tasks"):
                dataset = LabelStudioIO(export=settings.read_with_export).load(
                    settings.label_studio_url, settings.label_studio_api_key, args.project, bars
                )
            source = dataset.source  # the URL without credentials
            task_url = task_page(settings.label_studio_url, args.project)

        def fetch(ref: str) -> bytes:
            path = local_path(ref)
            if path is not None:
                if base_dir is not None and not path.is_absolute():
                    path = base_dir / path
                inside = base_dir is not None and path.resolve().is_relative_to(base_dir)
                if not inside and not args.allow_local_media:
                    raise ValueError(
                        f"refused to read {str(path)[:200]}: media files are read from the "
                        "export's folder only (pass --allow-local-media to read others)"
                    )
                ref = str(path)
            return fetch_bytes(
                ref,
                base_url=settings.label_studio_url,
                api_key=settings.label_studio_api_key,
                timeout=settings.image_timeout,
            )

        result = run_audit(dataset, settings, fetch=fetch, progress=bars)
        result.timings = timings | result.timings
        result.notes.extend(f"tasks: {note}" for note in dataset.read_notes)
        if args.clean:
            with timed(result.timings, "clean"):
                result.cleaned = _write_cleaned(args, settings, result)
        published = publish(
            result,
            folder=lambda version: Path(args.out),
            settings=settings.redacted(),
            source=source,
            title=dataset.title,
            target=(
                Target(settings.label_studio_url, settings.label_studio_api_key, args.project)
                if args.push
                else None
            ),
            fetch=fetch,
            task_url=task_url,
            progress=bars,
        )
    except NothingToAudit as err:
        bars.close()
        return fail(f"nothing to audit: {err}")
    except (ValueError, OSError) as err:
        bars.close()
        return fail(str(err))
    bars.close()
    counts = result.counts
    print(
        f"audited {counts['audited_annotations']} annotations on {counts['annotated_tasks']} "
        f"tasks in {time.perf_counter() - started:.1f} s: {counts['flagged_annotations']} "
        f"flagged on {counts['flagged_tasks']} tasks, {counts['skipped']} skipped"
        + (f"; pushed as {published.version}" if args.push else "")
    )
    if result.cleaned is not None:
        done = result.cleaned
        print(
            f"cleaned ({args.clean}): {done['left_out']} annotations left out, "
            f"{done['relabelled']} relabelled: {Path(args.out) / done['file']}"
        )
    print(f"report: {published.paths['report']}")
    return 0


def _write_cleaned(args: argparse.Namespace, settings: Any, result: Any) -> dict[str, Any]:
    """Write ``--out``/cleaned.json: the audited tasks, read again (the export file, or the
    project page by page), cleaned in mode ``--clean``; return what summary.json says of it."""
    from pathlib import Path

    from backend import cleaning
    from backend.labelstudio.export import read_export
    from backend.publish import LabelStudioIO

    made = result.cleaning_plan or cleaning.plan(result, settings.relabel_min_confidence)
    tasks = (
        read_export(args.export)
        if args.export is not None
        else LabelStudioIO(export=settings.read_with_export).export_tasks(
            settings.label_studio_url, settings.label_studio_api_key, args.project
        )
    )
    cleaned, counts = cleaning.clean(tasks, made, args.clean)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cleaning.write_json_list(out / cleaning.CLEANED_FILE, cleaned)
    return {
        **counts.summary(),
        "file": cleaning.CLEANED_FILE,
        "relabel_min_confidence": made.min_confidence,
    }


#: The levels --log-level takes (any case), as gunicorn, Celery and logging all know them.
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
#: The help of --filter-by, which demo and audit share.
FILTER_BY_HELP = (
    "how the flagged labels are picked: a filter_by of core.filter.find_label_issues, or "
    "auto (default): the best measured for the project's task type (single choice: "
    "prune_by_noise_rate; multi-label: confident_learning)"
)


def _version() -> str:
    """``labelaudit <version>`` from the installed package's metadata."""
    from importlib import metadata

    try:
        return f"labelaudit {metadata.version('labelaudit')}"
    except metadata.PackageNotFoundError:  # run from a checkout that was never installed
        return "labelaudit (version unknown)"


def _add_log_level(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--log-level",
        type=str.lower,
        choices=LOG_LEVELS,
        default="info",
        help="log level (default info)",
    )


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``labelaudit`` command."""
    parser = argparse.ArgumentParser(
        prog="labelaudit", description="Find wrong labels with confident learning."
    )
    parser.add_argument("--version", action="version", version=_version())
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser(
        "demo", help="find known label flips in a synthetic dataset (no servers needed)"
    )
    demo.add_argument("--n", type=int, default=3000, help="number of examples")
    demo.add_argument("--k", type=int, default=5, help="number of classes")
    demo.add_argument("--noise", type=float, default=0.2, help="fraction of labels flipped")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    demo.add_argument("--filter-by", help=FILTER_BY_HELP)
    demo.set_defaults(run=_demo)

    audit = commands.add_parser(
        "audit",
        help="audit a Label Studio JSON export or a live project",
        description="Find the annotations that are probably wrong. Writes issues.csv, "
        "predictions.json, summary.json and report.html into --out.",
    )
    audit.add_argument("export", nargs="?", help="a Label Studio JSON export file")
    audit.add_argument("--config", help="the project's label config XML (else inferred)")
    audit.add_argument("--url", help="Label Studio URL (or LABEL_STUDIO_URL)")
    audit.add_argument("--api-key", help="Label Studio API key (or LABEL_STUDIO_API_KEY)")
    audit.add_argument("--project", type=int, help="project id, to audit a live project")
    audit.add_argument("--out", required=True, help="output directory")
    audit.add_argument(
        "--push", action="store_true", help="push predictions and the re-review tab back"
    )
    audit.add_argument("--quiet", action="store_true", help="no progress bars")
    audit.add_argument(
        "--allow-local-media",
        action="store_true",
        help="read media files outside the export's folder (absolute paths, file:// URLs)",
    )
    audit.add_argument("--folds", type=int, help="cross-validation folds (default 5)")
    audit.add_argument("--seed", type=int, help="random seed (default 0)")
    audit.add_argument("--filter-by", help=FILTER_BY_HELP)
    audit.add_argument("--model", help="'auto' or a dotted path to a scikit-learn classifier")
    audit.add_argument("--model-params", help="JSON object of parameters for --model")
    audit.add_argument(
        "--clean",
        choices=("remove", "relabel"),
        help="also write cleaned.json, a Label Studio export with the flagged annotations left "
        "out (remove), or relabelled to the suggestion where it is confident, else left out "
        "(relabel; threshold LABELAUDIT_RELABEL_MIN_CONFIDENCE)",
    )
    audit.set_defaults(run=_audit)

    serve = commands.add_parser(
        "serve",
        help="run the Label Studio ML backend (gunicorn)",
        description="Serve the ML-backend protocol and labelaudit's job/report routes. Without "
        "REDIS_URL state lives in this one process and audits run in a child process it "
        "starts; with it, audits go "
        "to `labelaudit worker` processes through Redis.",
    )
    serve.add_argument("--host", default="0.0.0.0", help="address to bind (default 0.0.0.0)")
    serve.add_argument("--port", type=int, default=9090, help="port (default 9090)")
    serve.add_argument(
        "--workers",
        type=int,
        help=f"gunicorn processes (default {DEFAULT_WEB_PROCESSES} with REDIS_URL, 1 without)",
    )
    serve.add_argument(
        "--threads", type=int, default=DEFAULT_WEB_THREADS, help="threads per process"
    )
    serve.add_argument("--timeout", type=int, default=120, help="gunicorn worker timeout, s")
    _add_log_level(serve)
    serve.add_argument("--access-log", action="store_true", help="log every request")
    serve.set_defaults(run=serving.serve)

    worker = commands.add_parser(
        "worker",
        help="run a Celery worker for audits (needs REDIS_URL)",
        description="Run audits, their cross-validation folds and the periodic sweep.",
    )
    worker.add_argument("--concurrency", type=int, help="pool processes (default: CPU count)")
    _add_log_level(worker)
    worker.add_argument(
        "--no-beat",
        dest="beat",
        action="store_false",
        help="do not run the sweep's scheduler in this worker (run it in exactly one)",
    )
    worker.set_defaults(run=serving.worker)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``labelaudit`` command line; return its exit code."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except ValueError as err:
        print(f"labelaudit: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
