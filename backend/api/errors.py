"""Every error the API answers is JSON ``{"error": ...}``: never HTML, a traceback or a secret."""

from __future__ import annotations

import json
import logging
import traceback
from typing import Any

from flask import Flask, Response, current_app
from werkzeug.exceptions import HTTPException

logger = logging.getLogger("labelaudit.api")

#: Short messages for the HTTP errors werkzeug raises (its descriptions are prose for HTML).
MESSAGES = {
    400: "bad request",
    401: "authentication required (HTTP Basic)",
    404: "not found",
    405: "method not allowed",
    413: "request body too large",
}


class ApiError(Exception):
    """An error the client caused (or may act on), answered with ``status``."""

    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.extra = extra


def json_error(status: int, message: str, **extra: Any) -> Response:
    """Return the JSON error response every failing route answers."""
    body = json.dumps({"error": message, **extra})
    return Response(body, status=status, mimetype="application/json")


def _api_error(err: ApiError) -> Response:
    return json_error(err.status, err.message, **err.extra)


def _http_error(err: HTTPException) -> Response:
    status = err.code or 500
    message = MESSAGES.get(status, err.name.lower())
    if status == 413:
        limit = current_app.config.get("MAX_CONTENT_LENGTH")
        message = f"request body too large (limit {limit} bytes)"
    response = json_error(status, message)
    for name, value in err.get_headers():
        if name.lower() not in {"content-type", "content-length"}:
            response.headers[name] = value
    return response


def _unexpected(err: Exception) -> Response:
    service = current_app.extensions["labelaudit"]
    trace = "".join(traceback.format_exception(type(err), err, err.__traceback__))
    logger.error("unhandled %s: %s", type(err).__name__, service.scrub(trace))
    return json_error(500, "internal error (logged on the server)")


def register(app: Flask) -> None:
    """Install the JSON error handlers."""
    app.register_error_handler(ApiError, _api_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
