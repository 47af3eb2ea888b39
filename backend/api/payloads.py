"""Validation of request bodies: the shapes Label Studio sends, or a 400 that says why."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any
from urllib.parse import urlsplit

from flask import current_app, request

from backend.api.errors import ApiError
from backend.labelstudio.client import is_one_word

_PROJECT_REF = re.compile(r"\s*(\d{1,18})(?:\.\d+)?\s*")
#: Longest excerpt of a bad value quoted back in an error message.
QUOTE = 60
#: Largest label config accepted (Label Studio's templates are 1-10 KB).
MAX_CONFIG_BYTES = 1 << 20


def _quote(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= QUOTE else text[: QUOTE - 3] + "..."


def json_object() -> dict[str, Any]:
    """Return the request body as a JSON object, or raise a 400 (413 past the size limit)."""
    raw = _body()
    if not raw.strip():
        raise ApiError(400, "request body is empty; expected a JSON object")
    try:
        body = json.loads(raw)
    except UnicodeDecodeError:
        raise ApiError(400, "request body is not UTF-8 JSON") from None
    except json.JSONDecodeError as err:
        raise ApiError(
            400,
            f"request body is not valid JSON: {err.msg} at line {err.lineno} column {err.colno}",
        ) from None
    except RecursionError:
        raise ApiError(400, "request body is nested too deeply") from None
    if not isinstance(body, dict):
        raise ApiError(400, f"request body must be a JSON object; got a JSON {_json_type(body)}")
    return body


def _body() -> bytes:
    """Return the raw body; 413 past MAX_CONTENT_LENGTH, chunked bodies included.

    Werkzeug raises 413 itself for a declared Content-Length, but cuts a chunked body (no
    length) short at the limit, which would read as broken JSON; it is counted here.
    """
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if request.content_length is not None or limit is None:
        return request.get_data(cache=False)
    raw = request.environ["wsgi.input"].read(limit + 1)
    if len(raw) > limit:
        raise ApiError(413, f"request body is larger than {limit} bytes")
    return raw


def _json_type(value: Any) -> str:
    names = {
        dict: "object",
        list: "array",
        str: "string",
        bool: "boolean",
        int: "number",
        float: "number",
    }
    return "null" if value is None else names.get(type(value), type(value).__name__)


def project_id(value: Any, field: str = "project") -> int:
    """Parse Label Studio's project reference: ``"<id>.<created timestamp>"`` or an id."""
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and (match := _PROJECT_REF.fullmatch(value)):
        number = int(match.group(1))
    else:
        raise ApiError(
            400, f"{field} must be a project id like 12 or '12.1700000000'; got {_quote(value)}"
        )
    if number < 1:
        raise ApiError(400, f"{field} must be a positive project id; got {number}")
    return number


def optional_str(body: dict[str, Any], field: str) -> str:
    """Return ``body[field]`` if it is a string, '' if absent or null; else a 400."""
    value = body.get(field)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ApiError(400, f"{field} must be a string; got a JSON {_json_type(value)}")
    return value


def http_url(value: str, field: str) -> str:
    """Return ``value`` if it is an http(s) URL with a host (or empty); else a 400."""
    if not value:
        return ""
    problem = f"{field} must be an http(s) URL like http://localhost:8080"
    try:
        parts = urlsplit(value.strip())
        parts.port  # noqa: B018 (raises ValueError for a port that is not a number)
    except ValueError:
        raise ApiError(400, problem) from None
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ApiError(400, problem)
    return value.strip()


def access_token(body: dict[str, Any]) -> str:
    """Return /setup's ``access_token`` (or ''); one word of printable characters."""
    token = optional_str(body, "access_token")
    if not is_one_word(token.strip()):
        raise ApiError(400, "access_token must be one word, without spaces or control characters")
    return token.strip()


def label_config(value: str, field: str) -> str:
    """Return a label config, or a 413 past MAX_CONFIG_BYTES (real ones are a few KB)."""
    if len(value.encode("utf-8")) > MAX_CONFIG_BYTES:
        raise ApiError(
            413, f"{field} is larger than {MAX_CONFIG_BYTES} bytes; a label config is a few KB"
        )
    return value


def tasks_list(body: dict[str, Any]) -> list[dict[str, Any]]:
    """Return /predict's ``tasks``: a list of task objects."""
    tasks = body.get("tasks")
    if not isinstance(tasks, list):
        raise ApiError(400, f"tasks must be a list of task objects; got a JSON {_json_type(tasks)}")
    for index, task in enumerate(tasks):
        if not isinstance(task, dict):
            raise ApiError(
                400, f"tasks[{index}] must be a task object; got a JSON {_json_type(task)}"
            )
    return tasks


def webhook_project(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """Return the project id and object of a webhook payload."""
    project = body.get("project")
    if not isinstance(project, dict):
        raise ApiError(
            400, f"project must be an object with an id; got a JSON {_json_type(project)}"
        )
    return project_id(project.get("id"), "project.id"), project


def config_hash(config: str) -> str:
    """Return the hash a label config is remembered by."""
    return hashlib.sha256(config.encode("utf-8")).hexdigest()
