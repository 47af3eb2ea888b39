"""What the service does when something goes wrong: the errors it names, the one retry policy.

Retries are for transient I/O only (Label Studio 5xx, timeouts, refused connections:
``ConnectionError``/``TimeoutError``), with exponential backoff. The Celery tasks declare
:data:`RETRY` as their ``autoretry_for``/``retry_backoff`` options and the embedded thread
sleeps :meth:`RetryPolicy.delays`; any other error fails the audit at once.
"""

from __future__ import annotations

import sys
import uuid
from dataclasses import dataclass

#: Failures worth trying again: Label Studio 5xx, timeouts, refused connections.
TRANSIENT: tuple[type[Exception], ...] = (ConnectionError, TimeoutError)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry a step that failed on transient I/O."""

    #: Attempts after the first.
    max_retries: int = 5
    #: The first wait, seconds; each next one doubles.
    backoff: int = 1
    #: Longest wait between two attempts, seconds.
    backoff_max: float = 60.0

    def delays(self) -> tuple[float, ...]:
        """Return the wait before each retry, in order (1, 2, 4, 8, 16 by default)."""
        return tuple(
            min(self.backoff * 2**attempt, self.backoff_max) for attempt in range(self.max_retries)
        )


#: The policy of every audit step, in both modes.
RETRY = RetryPolicy()


class MissingCredentials(ValueError):
    """Neither the environment nor /setup gave a Label Studio URL and key for a project."""


class Superseded(RuntimeError):
    """A newer audit of the project took over; this one stops without pushing."""


def new_id() -> str:
    """Return a fresh ticket / lease id."""
    return uuid.uuid4().hex


def describe_error(err: BaseException) -> str:
    """Return a one-line message for a job record (the errors we raise already hold no secret)."""
    tasktypes = sys.modules.get("backend.tasktypes")  # loaded wherever NothingToAudit was raised
    if tasktypes is not None and isinstance(err, tasktypes.NothingToAudit):
        return f"nothing to audit: {err}"
    if isinstance(err, (ValueError, PermissionError, *TRANSIENT)):
        return str(err) or type(err).__name__
    return f"{type(err).__name__}: {err}"
