"""docker-compose.yml and .env.example agree with the code (Docker does not run here)."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from backend.cli import build_parser
from backend.settings import _UNPREFIXED, Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]
#: Variables .env.example may set besides the settings: Label Studio's and compose's own.
NOT_SETTINGS = {
    "LABEL_STUDIO_USERNAME",
    "LABEL_STUDIO_PASSWORD",
    "LABEL_STUDIO_USER_TOKEN",
    "WORKER_ARGS",
}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def example() -> str:
    return (ROOT / ".env.example").read_text()


def setting_variables() -> set[str]:
    """Every environment variable load_settings reads."""
    return {
        _UNPREFIXED.get(f.name, f"LABELAUDIT_{f.name.upper()}")
        for f in dataclasses.fields(Settings)
    }


def assignments(example: str) -> dict[str, str]:
    """NAME=value lines of .env.example (commented ones too), value unparsed."""
    found = {}
    for line in example.splitlines():
        match = re.fullmatch(r"#?\s*([A-Z][A-Z0-9_]*)=(.*)", line.strip())
        if match:
            found[match.group(1)] = match.group(2)
    return found


def test_the_services_and_images(compose):
    services = compose["services"]
    assert set(services) == {"label-studio", "redis", "install", "backend", "worker"}
    assert services["label-studio"]["image"] == "heartexlabs/label-studio:1.23.2"
    ls_env = services["label-studio"]["environment"]
    assert ls_env["ML_BLOCK_LOCAL_IP"] == "false" and ls_env["SSRF_PROTECTION_ENABLED"] == "false"
    assert "constraints.txt" in " ".join(services["install"]["command"])


def test_backend_and_worker_run_the_cli_with_the_same_settings(compose):
    services = compose["services"]
    backend, worker = services["backend"], services["worker"]
    serve = backend["command"]
    assert serve[:2] == ["/venv/bin/labelaudit", "serve"]
    args = build_parser().parse_args(serve[1:])
    assert args.run.__name__ == "serve"
    assert backend["ports"] == [f"{args.port}:{args.port}"]
    assert "labelaudit worker" in " ".join(worker["command"])
    assert backend["environment"] == worker["environment"]
    environment = backend["environment"]
    redis_url = urlsplit(environment["REDIS_URL"])
    assert redis_url.scheme == "redis" and redis_url.hostname == "redis"
    assert "redis" in backend["depends_on"] and "install" in backend["depends_on"]
    settings = load_settings(environ={k: v for k, v in environment.items() if "${" not in str(v)})
    assert settings.redis_url == environment["REDIS_URL"]
    assert settings.model_dir == environment["MODEL_DIR"]


def test_backend_and_worker_share_the_model_volume(compose):
    model_dir = compose["services"]["backend"]["environment"]["MODEL_DIR"]
    for name in ("backend", "worker"):
        mounts = compose["services"][name]["volumes"]
        assert f"models:{model_dir}" in mounts
    assert "models" in compose["volumes"]
    for service in compose["services"].values():
        for mount in service.get("volumes", []):
            source = mount.split(":")[0]
            assert source == "." or source in compose["volumes"]


def test_every_setting_is_documented_in_the_env_example(example):
    documented = set(assignments(example))
    assert setting_variables() - documented == set()
    assert documented - setting_variables() - NOT_SETTINGS == set()


def test_the_env_example_values_load(example):
    values = {k: v for k, v in assignments(example).items() if k not in NOT_SETTINGS}
    settings = load_settings(environ=values)
    assert settings == load_settings(environ={})  # the example shows the defaults


def test_every_variable_compose_reads_is_documented(example):
    text = (ROOT / "docker-compose.yml").read_text()
    used = set(re.findall(r"(?<!\$)\$\{([A-Z][A-Z0-9_]*)", text))
    used |= set(re.findall(r"\$\$\{([A-Z][A-Z0-9_]*)", text))
    assert used and used - set(assignments(example)) == set()
