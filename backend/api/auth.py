"""HTTP Basic on every route when BASIC_AUTH_USER and BASIC_AUTH_PASS are set."""

from __future__ import annotations

import base64
import binascii
import hmac

from flask import Flask, Response, request

from backend.api.errors import json_error
from backend.settings import Settings

#: The realm sent with a 401.
REALM = "labelaudit"


def check_config(settings: Settings) -> None:
    """Refuse half-configured auth: both or neither of user and password."""
    if bool(settings.basic_auth_user) != bool(settings.basic_auth_pass):
        raise ValueError("set both BASIC_AUTH_USER and BASIC_AUTH_PASS, or neither")


def credentials_match(header: str | None, user: str, password: str) -> bool:
    """Whether an Authorization header carries exactly ``user``:``password`` (constant time)."""
    scheme, _, token = (header or "").partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        decoded = base64.b64decode(token.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    given_user, sep, given_pass = decoded.partition(b":")
    # Both comparisons always run, so the time taken does not tell which part was wrong.
    user_ok = hmac.compare_digest(given_user, user.encode("utf-8"))
    pass_ok = hmac.compare_digest(given_pass, password.encode("utf-8"))
    return bool(sep) and user_ok and pass_ok


def install(app: Flask, settings: Settings) -> None:
    """Require HTTP Basic on every request when auth is configured."""
    check_config(settings)
    if not settings.basic_auth_user:
        return
    user, password = settings.basic_auth_user, settings.basic_auth_pass

    @app.before_request
    def require_basic_auth() -> Response | None:
        if credentials_match(request.headers.get("Authorization"), user, password):
            return None
        response = json_error(401, "authentication required (HTTP Basic)")
        response.headers["WWW-Authenticate"] = f'Basic realm="{REALM}", charset="UTF-8"'
        return response
