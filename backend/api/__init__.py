"""The labelaudit web service: ``create_app(config=None)`` builds one Flask app.

``config`` may hold Flask settings (``TESTING``, ...) and, for tests and embedding:

* ``SETTINGS``: a :class:`~backend.settings.Settings`, or a mapping of overrides for
  :func:`~backend.settings.load_settings` (default: the environment);
* ``SERVICE``: a ready :class:`~backend.service.Service`; or its parts ``STORE``,
  ``RUNNER``, ``IO`` (a :class:`~backend.publish.LabelStudioIO`).

Without them the app runs embedded (memory store; audits in a child process when it reads a
real Label Studio, in a background thread with an injected ``IO``) when
``REDIS_URL`` is empty, and with Redis and Celery workers otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from backend.api import auth, errors
from backend.service import build_service
from backend.settings import Settings, load_settings

_PARTS = ("SETTINGS", "SERVICE", "STORE", "RUNNER", "IO")


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the Flask app (nothing starts until a request needs it)."""
    options = dict(config or {})
    parts = {name: options.pop(name, None) for name in _PARTS}
    settings = parts["SETTINGS"]
    if not isinstance(settings, Settings):
        settings = load_settings(settings)
    service = parts["SERVICE"] or build_service(
        settings, store=parts["STORE"], runner=parts["RUNNER"], io=parts["IO"]
    )
    app = Flask("labelaudit")
    app.config.update(MAX_CONTENT_LENGTH=settings.max_body_bytes, JSON_SORT_KEYS=False)
    app.config.update(options)
    app.extensions["labelaudit"] = service
    errors.register(app)
    auth.install(app, service.settings)

    from backend.api.routes import bp

    app.register_blueprint(bp)
    return app
