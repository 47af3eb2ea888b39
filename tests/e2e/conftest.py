"""The scenario tests' fixtures (tests/e2e/fixtures.py): a real backend next to Label Studio."""

from tests.e2e.fixtures import _logs_on_failure, backend, e2e_redis_url  # noqa: F401
