"""The ``labelaudit`` command line: flags, --version, progress bars (no servers started)."""

from __future__ import annotations

import argparse
import io
from importlib import metadata

import pytest

from backend.cli import _Bars, build_parser, main


def test_version_prints_the_package_version(capsys):
    with pytest.raises(SystemExit) as caught:
        main(["--version"])
    assert caught.value.code == 0
    assert capsys.readouterr().out == f"labelaudit {metadata.version('labelaudit')}\n"


def test_version_without_package_metadata(capsys, monkeypatch):
    def missing(name: str) -> str:
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "version", missing)
    with pytest.raises(SystemExit) as caught:
        main(["--version"])
    assert caught.value.code == 0
    assert capsys.readouterr().out == "labelaudit (version unknown)\n"


@pytest.mark.parametrize("command", ["serve", "worker"])
def test_serve_and_worker_take_the_same_log_level_flag(command, capsys):
    parser = build_parser()
    assert parser.parse_args([command]).log_level == "info"
    assert parser.parse_args([command, "--log-level", "WARNING"]).log_level == "warning"
    for wrong in (["--log-level", "loud"], ["--loglevel", "info"]):
        with pytest.raises(SystemExit) as caught:
            parser.parse_args([command, *wrong])
        assert caught.value.code == 2
    capsys.readouterr()


def test_the_worker_becomes_celery_on_the_worker_app_with_its_log_level(monkeypatch):
    import os

    argvs: list[list[str]] = []

    def execv(path: str, argv: list[str]) -> None:  # the process would become Celery here
        argvs.append(argv)
        raise SystemExit(0)

    monkeypatch.setattr(os, "execv", execv)
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/15")
    with pytest.raises(SystemExit):
        main(["worker", "--log-level", "debug", "--concurrency", "1", "--no-beat"])
    [argv] = argvs
    # The app is found by name: the backend never imports the worker package.
    assert argv[1:6] == ["-m", "celery", "--app", "worker.celery_app", "worker"]
    assert argv[argv.index("--loglevel") + 1] == "DEBUG"  # Celery's own flag
    # The audits' queue, and the instant updates' own (never behind queued audit steps).
    assert argv[argv.index("--queues") + 1] == "labelaudit,labelaudit.instant"
    assert "--beat" not in argv


def test_demo_and_audit_share_filter_by():
    parser = build_parser()
    demo = parser.parse_args(["demo"])
    audit = parser.parse_args(["audit", "x.json", "--out", "o"])
    assert demo.filter_by is None and audit.filter_by is None  # both: the settings' default
    [commands] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    helps = {
        name: action.help
        for name, sub in commands.choices.items()
        for action in sub._actions
        if "--filter-by" in action.option_strings
    }
    assert set(helps) == {"demo", "audit"} and helps["demo"] == helps["audit"]


def test_demo_refuses_an_unknown_filter_by_before_working(capsys):
    assert main(["demo", "--filter-by", "nope"]) == 2
    assert "filter_by must be 'auto' or one of" in capsys.readouterr().err


def test_demo_runs_with_the_default_and_a_chosen_filter_by(capsys):
    assert main(["demo", "--n", "300", "--k", "3"]) == 0
    assert "(filter_by=prune_by_noise_rate)" in capsys.readouterr().out
    assert main(["demo", "--n", "300", "--k", "3", "--filter-by", "both"]) == 0
    assert "(filter_by=both)" in capsys.readouterr().out


def test_bars_count_each_steps_own_things_and_show_no_rate():
    out = io.StringIO()
    bars = _Bars(quiet=False, file=out)
    for done in range(6):
        bars("cross-validation", done, 5)
        if done == 3:
            assert "3/5 folds" in out.getvalue()
    bars("features", 480, 480)
    bars("export", 100, None)  # Label Studio did not say how many tasks
    bars("export", 250, 250)
    bars("push", 250, 250)
    bars("something new", 1, 2)
    bars.close()
    text = out.getvalue()
    for shown in (
        "5/5 folds",
        "480/480 tasks",
        "100 tasks",
        "250/250 tasks",
        "250/250 predictions",
        "1/2 [",  # an unknown step: no unit
    ):
        assert shown in text
    assert "/s" not in text and "it/s" not in text and "s/it" not in text
    assert "[00:00]" in text  # the elapsed time stays


def test_bars_are_silent_when_quiet():
    out = io.StringIO()
    bars = _Bars(quiet=True, file=out)
    bars("cross-validation", 3, 5)
    bars.close()
    assert out.getvalue() == ""
