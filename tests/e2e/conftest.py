"""The scenario tests' fixtures: a real backend next to Label Studio, and a real browser."""

from tests.e2e.browser import browser, chromium  # noqa: F401
from tests.e2e.fixtures import _logs_on_failure, backend, e2e_redis_url, ls  # noqa: F401
