"""The routes: the Label Studio ML-backend protocol, then labelaudit's own job/report routes.

Routes validate, read or write small state, enqueue, and answer. The audit itself runs in
a worker (or the embedded thread); /predict computes only for tasks no audit has seen.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from werkzeug.http import dump_options_header

from backend.api import metrics as prometheus
from backend.api.errors import ApiError
from backend.api.payloads import (
    access_token,
    config_hash,
    http_url,
    json_object,
    label_config,
    optional_str,
    project_id,
    tasks_list,
    webhook_project,
)
from backend.service import MissingCredentials, Service
from backend.store import OUTPUT_FILES

bp = Blueprint("labelaudit", __name__)

#: Annotation events that schedule a debounced re-audit (and, for single choice, judge the
#: annotation again at once: backend.service.instant).
ANNOTATION_EVENTS = frozenset(
    {"ANNOTATION_CREATED", "ANNOTATIONS_CREATED", "ANNOTATION_UPDATED", "ANNOTATIONS_DELETED"}
)
#: Webhooks of tasks created or deleted: no audit of their own, but a kept copy of the
#: project's tasks no longer follows it (backend.service.changelog).
TASK_EVENTS = frozenset({"TASKS_CREATED", "TASKS_DELETED"})
_JOB_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def service() -> Service:
    """Return the app's service."""
    return current_app.extensions["labelaudit"]


#: Parse results of label configs, by hash (the configs themselves are not kept).
_CONFIG_PROBLEMS: OrderedDict[str, str | None] = OrderedDict()
_CONFIG_PROBLEMS_KEPT = 64
_config_lock = threading.Lock()


def _config_problem(config: str, key: str = "") -> str | None:
    """Return why labelaudit cannot audit a label config, or None (remembered by its hash,
    ``key``: computed here unless the caller has it)."""
    from backend.labelstudio.config import parse_label_config

    key = key or config_hash(config)
    with _config_lock:
        if key in _CONFIG_PROBLEMS:
            _CONFIG_PROBLEMS.move_to_end(key)
            return _CONFIG_PROBLEMS[key]
    try:
        parse_label_config(config)
        problem = None
    except ValueError as err:  # UnsupportedConfig, and configs that are not XML
        problem = str(err)
    with _config_lock:
        _CONFIG_PROBLEMS[key] = problem
        while len(_CONFIG_PROBLEMS) > _CONFIG_PROBLEMS_KEPT:
            _CONFIG_PROBLEMS.popitem(last=False)
    return problem


def connected(project: int) -> None:
    """Raise a 404 unless the project may be audited here (see Service.connected)."""
    if not service().connected(project):
        raise ApiError(
            404,
            f"project {project} is not connected to labelaudit: connect this backend to it in "
            "Label Studio (Settings -> Model), or list it in LABELAUDIT_PROJECTS",
        )


def warm_up() -> None:
    """Load the label-config parser now (~0.5 s), not in the first /setup of a process."""
    _config_problem('<View><Text name="t" value="$t"/><Choices name="c" toName="t"/></View>')


# ----------------------------------------------------------------- Label Studio protocol


@bp.get("/")
@bp.get("/health")
def health() -> Any:
    """Answer Label Studio's health check (and a state-store ping)."""
    svc = service()
    try:
        svc.ping()
    except PermissionError:
        return jsonify(status="DOWN", error="MODEL_DIR is not writable"), 503
    except Exception as err:
        return jsonify(status="DOWN", error=f"state store unreachable ({type(err).__name__})"), 503
    return jsonify(status="UP", model_class="labelaudit", mode=svc.mode)


@bp.post("/setup")
def setup() -> Any:
    """Remember the project (and its Label Studio URL/token); answer its current version."""
    body = json_object()
    project = project_id(body.get("project"))
    schema = label_config(optional_str(body, "schema"), "schema")
    hostname = http_url(optional_str(body, "hostname"), "hostname")
    token = access_token(body)
    digest = config_hash(schema) if schema else ""
    if schema and (problem := _config_problem(schema, digest)):
        raise ApiError(400, f"labelaudit cannot audit this project's label config: {problem}")
    version = service().setup(project, url=hostname, token=token, config_hash=digest)
    return jsonify(model_version=version)


@bp.post("/predict")
def predict() -> Any:
    """One result per task, in order (see Service.predict); the stored answers' JSON is sent
    as stored, not decoded and encoded again."""
    body = json_object()
    tasks = tasks_list(body)
    project = project_id(body.get("project"))
    results = service().predict_json(project, tasks)
    return current_app.response_class(f'{{"results": {results}}}\n', mimetype="application/json")


@bp.post("/webhook")
def webhook() -> Any:
    """Schedule audits on Label Studio's events; 200 and ignored for anything else."""
    body = json_object()
    action = body.get("action")
    if not isinstance(action, str) or not action:
        raise ApiError(400, "action must be a non-empty string (a Label Studio webhook action)")
    if action in ANNOTATION_EVENTS:
        project, _ = webhook_project(body)
        connected(project)
        job = service().annotation_changed(project, action, body)
        return jsonify(status="scheduled", job=job)
    if action == "START_TRAINING":
        project, _ = webhook_project(body)
        connected(project)
        job = service().trigger(project, immediate=True, reason=action)
        return jsonify(status="scheduled", job=job)
    if action == "PROJECT_UPDATED":
        return _project_updated(body)
    if action in TASK_EVENTS:  # no audit; the next one reads the whole project
        known = _known_project(body)
        if known is not None:
            service().tasks_changed(known, action)
    return jsonify(status="ignored", action=action)


def _known_project(body: dict[str, Any]) -> int | None:
    """The connected project a webhook names, or None (the webhook is still answered)."""
    try:
        project, _ = webhook_project(body)
    except ApiError:
        return None
    return project if service().connected(project) else None


def _project_updated(body: dict[str, Any]) -> Any:
    """Re-audit when the label config changed."""
    project, payload = webhook_project(body)
    config = payload.get("label_config")
    if not isinstance(config, str) or not config:
        return jsonify(status="ignored", action="PROJECT_UPDATED")
    config = label_config(config, "project.label_config")
    connected(project)
    job = service().config_changed(project, config_hash(config))
    if job is None:
        return jsonify(status="ignored", action="PROJECT_UPDATED")
    return jsonify(status="scheduled", job=job)


@bp.get("/versions")
def versions() -> Any:
    """Model versions: one project's (``?project=``), else each project's current one."""
    raw = request.args.get("project")
    project = project_id(raw) if raw is not None else None
    return jsonify(versions=service().versions(project))


@bp.get("/metrics")
def metrics() -> Response:
    """Prometheus text: audits run/failed, durations, tasks flagged, queue depth."""
    counters, queue_depth, running = service().metrics()
    text = prometheus.render(counters, queue_depth=queue_depth, running=running)
    return Response(text, mimetype="text/plain; version=0.0.4")


# ----------------------------------------------------------------- jobs and reports


@bp.get("/jobs/<job_id>")
def job(job_id: str) -> Any:
    """State, progress and error of one audit job."""
    record = service().job(job_id) if _JOB_ID.fullmatch(job_id) else None
    if record is None:
        raise ApiError(404, f"no job {job_id[:64]!r}")
    return jsonify(record)


@bp.get("/projects/<int:project>/audit")
def latest_audit(project: int) -> Any:
    """The latest audit's summary (as of now: flags judged again at once since, verdicts),
    and what is scheduled or running now."""
    record, activity = service().latest_audit(project)
    if record is None:
        raise ApiError(404, f"project {project} has not been audited yet", activity=activity)
    return jsonify({"project": project, **record, "activity": activity})


@bp.get("/projects/<int:project>/annotators")
def annotators(project: int) -> Any:
    """The latest audit's annotators (annotators.csv as JSON): several annotators per task."""
    record, activity = service().latest_audit(project)
    if record is None:
        raise ApiError(404, f"project {project} has not been audited yet", activity=activity)
    summary = record.get("summary") or {}
    if "annotators" not in summary:
        raise ApiError(
            404,
            f"project {project}'s latest audit has no annotator table: no task has two annotations",
        )
    return jsonify(
        project=project, model_version=record.get("model_version"), annotators=summary["annotators"]
    )


@bp.post("/projects/<int:project>/audit")
def start_audit(project: int) -> Any:
    """Start an audit now (after the one running, if any)."""
    connected(project)
    try:
        job_id = service().start_audit(project)
    except MissingCredentials as err:
        raise ApiError(409, str(err)) from None
    return jsonify(status="scheduled", job=job_id), 202


@bp.get("/projects/<int:project>/cleaned")
def cleaned(project: int) -> Response:
    """The project's tasks now, as a Label Studio JSON export, with the latest audit's open
    flags left out (``?mode=remove``, the default) or relabelled to a confident suggestion
    (``?mode=relabel``): backend.cleaning."""
    import json

    connected(project)
    mode = request.args.get("mode", "remove")
    if mode not in ("remove", "relabel"):
        raise ApiError(400, f"mode must be 'remove' or 'relabel'; got {mode[:40]!r}")
    try:
        found = service().cleaned(project, mode)
    except MissingCredentials as err:
        raise ApiError(409, str(err)) from None
    except (ValueError, PermissionError, ConnectionError, TimeoutError) as err:
        message = service().scrub(str(err), project)
        raise ApiError(
            502, f"could not read project {project} from Label Studio: {message}"
        ) from None
    if found is None:
        raise ApiError(404, f"project {project} has no audit to clean with yet")
    tasks, counts, version = found
    filename = {"filename": f"project-{project}-{version}-cleaned-{mode}.json"}
    headers = {
        "Content-Disposition": dump_options_header("attachment", filename),
        "X-Labelaudit-Cleaned": json.dumps(counts, separators=(",", ":")),
    }
    return Response(json.dumps(tasks), mimetype="application/json", headers=headers)


#: The latest audit's files, served at /projects/<id>/<route>: route -> (file name in the
#: version's directory, media type, sent as a download). Only these are ever served; no part
#: of a request becomes a path. The report links the others by bare name ("issues.csv"),
#: which a browser resolves beside /projects/<id>/report, as beside report.html on disk.
AUDIT_FILES = {
    "report": (OUTPUT_FILES["report"], "text/html", False),
    OUTPUT_FILES["issues"]: (OUTPUT_FILES["issues"], "text/csv", True),
    OUTPUT_FILES["predictions"]: (OUTPUT_FILES["predictions"], "application/json", False),
    OUTPUT_FILES["summary"]: (OUTPUT_FILES["summary"], "application/json", False),
    # Several annotators per task (the multi_annotator task type's tables).
    "tasks.csv": ("tasks.csv", "text/csv", True),
    "annotators.csv": ("annotators.csv", "text/csv", True),
}


def audit_file(project: int, route: str) -> Response:
    """One file of the latest audit (AUDIT_FILES)."""
    name, mimetype, download = AUDIT_FILES[route]
    found = service().audit_file(project, name)
    if found is None:
        raise ApiError(404, f"project {project} has no {route} yet")
    path, version = found
    headers = {}
    if download:
        filename = {"filename": f"project-{project}-{version}-{name}"}
        headers["Content-Disposition"] = dump_options_header("attachment", filename)
    return Response(path.read_bytes(), mimetype=mimetype, headers=headers)


for _route in AUDIT_FILES:
    bp.add_url_rule(
        f"/projects/<int:project>/{_route}", view_func=audit_file, defaults={"route": _route}
    )
