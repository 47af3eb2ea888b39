"""One settings object for the CLI, the service and the workers.

Defaults come from :data:`DEFAULTS`, then environment variables (``LABEL_STUDIO_URL``,
``LABEL_STUDIO_API_KEY``, ``REDIS_URL``, ``MODEL_DIR``, ``BASIC_AUTH_USER``,
``BASIC_AUTH_PASS``, and ``LABELAUDIT_<NAME>`` for the rest), then explicit overrides.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from core.constants import FILTER_BY

#: Environment variables read without the LABELAUDIT_ prefix (the names Label Studio's
#: ML-backend ecosystem already uses).
_UNPREFIXED = {
    "label_studio_url": "LABEL_STUDIO_URL",
    "label_studio_api_key": "LABEL_STUDIO_API_KEY",
    "redis_url": "REDIS_URL",
    "model_dir": "MODEL_DIR",
    "basic_auth_user": "BASIC_AUTH_USER",
    "basic_auth_pass": "BASIC_AUTH_PASS",
}
#: The largest niceness increment (at niceness 19 a process gets the least share of a busy core).
MAX_NICE = 19
_SECRETS = ("label_studio_api_key", "basic_auth_pass", "signing_key")
#: Settings holding URLs, whose user:password@ part is a secret too.
_URLS = ("label_studio_url", "redis_url")


@dataclass(frozen=True)
class Settings:
    """Every knob of labelaudit; build with :func:`load_settings`."""

    # Label Studio
    label_studio_url: str = ""
    label_studio_api_key: str = field(default="", repr=False)
    # The audit
    folds: int = 5
    seed: int = 0
    filter_by: str = "auto"  # "auto": the task type's measured default, or a core filter_by
    model: str = "auto"  # "auto" (defaults per input type) or a dotted path to an estimator
    model_params: Mapping[str, Any] = field(default_factory=dict)
    # Several annotators per task: a task whose consensus is right with a probability below
    # this needs another annotator (bench/multiannotator.py measured the default).
    consensus_min_probability: float = 0.9
    # --clean relabel: a flagged label is replaced by the suggestion when the suggestion is
    # the true label with at least this probability, else left out (bench/cleaning.py).
    relabel_min_confidence: float = 0.9
    image_size: int = 32
    image_timeout: float = 10.0
    #: Read a whole project with Label Studio's export API (one call, 2.5-5x cheaper for
    #: Label Studio than task pages; Label Studio 1.23 keeps a copy of each export in its
    #: data dir, ~1 KB a text task). False: task pages, which leave nothing there.
    read_with_export: bool = True
    #: Hosts (host or host:port, comma-separated) media may be fetched from besides Label
    #: Studio's own media routes (e.g. the S3/MinIO host presigned URLs point at).
    media_hosts: str = ""
    #: Project ids (comma-separated) that may be audited without connecting through /setup
    #: first; every other project must connect (Label Studio's /setup) before it is audited.
    projects: str = ""
    #: The key MODEL_DIR's pickles are signed with (set the same one for the web service and
    #: every worker; empty: a random key kept in MODEL_DIR).
    signing_key: str = field(default="", repr=False)
    # Service and workers
    redis_url: str = ""
    model_dir: str = "./labelaudit-data"
    basic_auth_user: str = ""
    basic_auth_pass: str = field(default="", repr=False)
    debounce_seconds: float = 5.0
    max_body_bytes: int = 50 * 2**20
    # --- Service and workers: scheduling and reliability (backend/service.py) ---
    #: A burst of events may postpone its audit by at most this long after its first event.
    debounce_max_seconds: float = 60.0
    #: Re-audit projects whose annotations changed without a webhook, this often (0: never).
    sweep_seconds: float = 1800.0
    #: An audit's per-project lock lives this long unless a step of the audit renews it.
    lock_seconds: float = 3600.0
    #: A running audit step renews its lease this often x3; a dead step is noticed after it.
    lease_seconds: float = 15.0
    #: How long an audit waits before looking again when its project is busy.
    poll_seconds: float = 2.0
    #: Redis broker: an unacknowledged task is handed to another worker after this long.
    visibility_timeout: float = 600.0
    #: Celery workers run this much lower in CPU priority than the web service (``os.nice``:
    #: added to the niceness of ``labelaudit worker``, its pool inherits it; 0: the same),
    #: so the web processes win the cores while an audit runs (bench/RESULTS.md, issue 16).
    audit_nice: int = 10
    #: Prefix of every Redis key and the name of the Celery queue (one per deployment).
    namespace: str = "labelaudit"

    def redacted(self) -> dict[str, Any]:
        """Return the settings as a dict with secrets replaced, for reports and logs."""
        out = dataclasses.asdict(self)
        for name in _SECRETS:
            if out[name]:
                out[name] = "***"
        for name in _URLS:
            out[name] = _without_userinfo(out[name])
        out["model_params"] = dict(self.model_params)
        return out


def _without_userinfo(url: str) -> str:
    """Return ``url`` with any user:password@ replaced by ***@."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "***"
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc="***@" + parts.netloc.rpartition("@")[2]))


def _coerce(name: str, raw: Any, default: Any) -> Any:
    if isinstance(default, Mapping):
        if isinstance(raw, Mapping):
            return dict(raw)
        try:
            value = json.loads(raw)
        except (TypeError, json.JSONDecodeError) as err:
            raise ValueError(f"setting {name} must be a JSON object; got {raw!r} ({err})") from None
        if not isinstance(value, dict):
            raise ValueError(f"setting {name} must be a JSON object; got {raw!r}")
        return value
    if isinstance(default, bool):
        if isinstance(raw, bool):
            return raw
        return str(raw).strip().lower() in {"1", "true", "yes", "on"}
    try:
        return type(default)(raw)
    except (TypeError, ValueError):
        raise ValueError(
            f"setting {name} must be of type {type(default).__name__}; got {raw!r}"
        ) from None


def load_settings(
    overrides: Mapping[str, Any] | None = None, *, environ: Mapping[str, str] | None = None
) -> Settings:
    """Build :class:`Settings` from defaults, the environment, then ``overrides``."""
    env = os.environ if environ is None else environ
    defaults = Settings()
    values: dict[str, Any] = {}
    for f in dataclasses.fields(Settings):
        var = _UNPREFIXED.get(f.name, f"LABELAUDIT_{f.name.upper()}")
        if var in env and env[var] != "":
            values[f.name] = _coerce(var, env[var], getattr(defaults, f.name))
    for name, raw in (overrides or {}).items():
        if name not in {f.name for f in dataclasses.fields(Settings)}:
            raise ValueError(f"unknown setting {name!r}")
        if raw is not None:
            values[name] = _coerce(name, raw, getattr(defaults, name))
    settings = dataclasses.replace(defaults, **values)
    if settings.folds < 2:
        raise ValueError(f"setting folds must be >= 2; got {settings.folds}")
    if settings.filter_by not in ("auto", *FILTER_BY):
        raise ValueError(
            f"setting filter_by must be 'auto' or one of {list(FILTER_BY)}; "
            f"got {settings.filter_by!r}"
        )
    if not 0 <= settings.audit_nice <= MAX_NICE:
        raise ValueError(
            f"setting audit_nice must be between 0 and {MAX_NICE}; got {settings.audit_nice}"
        )
    for name in ("consensus_min_probability", "relabel_min_confidence"):
        value = getattr(settings, name)
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"setting {name} must be between 0 and 1; got {value}")
    return settings
