"""A real browser on the real Label Studio page: headless Chromium driven by Playwright.

An API that answers right can still leave the page broken (a tab the API lists exactly
once left the Data Manager on its loading animation), so the e2e tests also look at what
a lead sees. The browser is the system's Chromium (Debian's ``chromium``), never a
download of Playwright's: ``LABELAUDIT_CHROMIUM`` names another binary. When none is
found and the tests run as root on Debian, Chromium is installed with apt-get once (like
Label Studio itself is installed into .e2e/venv); otherwise the tests fail saying how to
get it. After a failing test the page's screenshot, HTML and browser console are saved
under ``.e2e/browser/`` and their paths printed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ADMIN_EMAIL, E2E_DIR, LabelStudioServer, _locked, _tail

ARTIFACTS = E2E_DIR / "browser"
#: Flags for a root, offline, headless machine (no sandbox, no background calls home).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: How long a page may take to show what a test waits for, ms.
PAGE_TIMEOUT_MS = 30_000
INSTALL_TIMEOUT = 900.0


APT_STEPS = (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "chromium"])


def _apt_install_chromium() -> None:
    """Install Debian's chromium (root only), logging to .e2e/chromium-install.log."""
    log = E2E_DIR / "chromium-install.log"
    started = time.perf_counter()
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    with log.open("w") as out:
        for step in APT_STEPS:
            done = subprocess.run(
                step, stdout=out, stderr=subprocess.STDOUT, timeout=INSTALL_TIMEOUT, env=env
            )
            if done.returncode != 0:
                raise RuntimeError(f"{' '.join(step)} failed; log tail:\n{_tail(log)}")
    print(f"\n[e2e] installed chromium in {time.perf_counter() - started:.0f} s")


def chromium_path() -> str:
    """Return the Chromium binary, installing Debian's package when possible."""
    named = os.environ.get("LABELAUDIT_CHROMIUM")
    if named:
        return named
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found and os.geteuid() == 0 and shutil.which("apt-get"):
        with _locked(E2E_DIR / "chromium.lock"):
            if not shutil.which("chromium"):
                _apt_install_chromium()
        found = shutil.which("chromium")
    if not found:
        raise RuntimeError(
            "the browser tests need Chromium: install Debian's `chromium` package, set "
            "LABELAUDIT_CHROMIUM to a Chromium binary, or skip e2e with LABELAUDIT_SKIP_E2E=1"
        )
    return found


@dataclass
class PageLog:
    """What the browser said while a test ran: console messages and uncaught page errors."""

    console: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def text(self) -> str:
        return "\n".join([*(f"pageerror: {e}" for e in self.errors), *self.console])


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """One headless Chromium for the session."""
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Browser:
    """A logged-in Label Studio tab, and what its console said."""

    page: Any
    log: PageLog
    ls_url: str

    def open(self, path: str) -> None:
        self.page.goto(self.ls_url + path)

    def mobx_errors(self) -> list[str]:
        """Errors of the page's state tree (the broken-tab symptom)."""
        return [e for e in [*self.log.errors, *self.log.console] if "mobx-state-tree" in e]


def _slug(nodeid: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid)[-120:]


@pytest.fixture
def browser(
    chromium: Any, label_studio: LabelStudioServer, request: pytest.FixtureRequest
) -> Iterator[Browser]:
    """A fresh browser context logged in to Label Studio as its admin."""
    context = chromium.new_context(viewport={"width": 1600, "height": 1000})
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    page = context.new_page()
    log = PageLog()
    page.on("console", lambda m: log.console.append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: log.errors.append(str(e)))
    failed_before = request.session.testsfailed
    try:
        page.goto(f"{label_studio.url}/user/login/")
        page.fill("input[name=email]", ADMIN_EMAIL)
        page.fill("input[name=password]", label_studio.password)
        page.click("button[type=submit]")
        page.wait_for_url(lambda url: "/user/login" not in url, wait_until="commit")
        yield Browser(page, log, label_studio.url)
    finally:
        if request.session.testsfailed > failed_before:
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            stem = ARTIFACTS / _slug(request.node.nodeid)
            try:
                page.screenshot(path=f"{stem}.png", full_page=True)
                Path(f"{stem}.html").write_text(page.content())
            except Exception as err:  # a dead page must not hide the test's own failure
                print(f"\n[browser] no screenshot: {err}")
            Path(f"{stem}.console.txt").write_text(log.text())
            print(f"\n[browser] {page.url}\n[browser] saved {stem}.png, .html, .console.txt")
            print(f"[browser] console:\n{log.text()[-4000:]}")
        context.close()


def table_task_ids(page: Any) -> list[int]:
    """The task ids in the Data Manager table's ID column, top to bottom, as rendered."""
    page.wait_for_selector(".lsf-table-row")
    cells = page.eval_on_selector_all(
        ".lsf-table-row",
        "rows => rows.map(r => (r.querySelectorAll('.lsf-table__cell')[1] || {}).innerText)",
    )
    return [int(text) for text in cells if text and text.strip().isdigit()]


def table_rows(page: Any) -> list[dict[str, str]]:
    """The Data Manager table's rendered rows, each as column title -> cell text (the
    title's first line: "text" for a data column shown as "text / str")."""
    page.wait_for_selector(".lsf-table-row")
    titles = page.eval_on_selector_all(
        ".lsf-table-head .lsf-table__cell", "cells => cells.map(c => c.innerText)"
    )
    cells = page.eval_on_selector_all(
        ".lsf-table-row",
        "rows => rows.map(r => [...r.querySelectorAll('.lsf-table__cell')].map(c => c.innerText))",
    )
    names = [t.strip().split("\n")[0] for t in titles]
    return [{n: c.strip() for n, c in zip(names, row, strict=False) if n} for row in cells]


def tab_titles(page: Any) -> list[str]:
    """The titles of the Data Manager's tabs, left to right."""
    page.wait_for_selector(".lsf-tabs-dm__item")
    return [t.strip() for t in page.locator(".lsf-tabs-dm__item").all_inner_texts()]


def checked_choices(page: Any) -> list[str]:
    """The labels of the checked choices in the labeling view (hotkey hints dropped)."""
    texts = page.eval_on_selector_all(
        "input[type=checkbox]:checked",
        "els => els.map(e => (e.closest('label') || e.parentElement).innerText)",
    )
    return [re.sub(r"\[\d+\]$", "", t.strip()) for t in texts]


def open_review_tab(browser: Browser, project_id: int, title: str) -> list[int]:
    """Open the project's Data Manager on the tab ``title``; return the task ids it renders.

    Fails if the page does not render (the mobx-state-tree error of a tab the page's filter
    model does not know leaves only the loading animation).
    """
    from playwright.sync_api import TimeoutError as PageTimeout

    page = browser.page
    browser.open(f"/projects/{project_id}/data")
    try:
        titles = tab_titles(page)
    except PageTimeout:
        raise AssertionError(
            f"the Data Manager page did not render its tabs; page errors: {browser.mobx_errors()}"
        ) from None
    assert title in titles, titles
    page.locator(".lsf-tabs-dm__item", has_text=title).first.click()
    page.wait_for_url(re.compile(r".*[?&]tab=\d+.*"))
    page.wait_for_timeout(500)  # the table re-renders for the chosen tab
    assert not browser.mobx_errors(), browser.mobx_errors()
    return table_task_ids(page)


def footer_counts(page: Any) -> tuple[int, int]:
    """The Data Manager footer's "Tasks: shown / total"."""
    text = page.locator("text=/Tasks: \\d+ \\/ \\d+/").first.inner_text()
    shown, total = re.findall(r"\d+", text)[:2]
    return int(shown), int(total)
