"""The web process stays light: what it imports, and the collector freeze after warm-up."""

from __future__ import annotations

import subprocess
import sys

#: Modules a web process must not load unless a route needs them (audits run elsewhere).
HEAVY = ("sklearn", "scipy", "pandas", "matplotlib", "celery")


def test_a_warmed_up_web_process_loads_no_heavy_module_and_freezes_its_heap(tmp_path):
    script = f"""
import gc, sys
from backend.api import create_app
from backend.serving import _warm_up
app = create_app({{"SETTINGS": {{"model_dir": {str(tmp_path)!r}, "redis_url": ""}}}})
_warm_up(None)
client = app.test_client()
assert client.get("/health").status_code == 200
assert client.post("/setup", json={{"project": 1}}).status_code == 200
assert client.post("/webhook", json={{"action": "PING"}}).status_code == 200
print(sorted(m for m in {HEAVY!r} if m in sys.modules))
print(gc.get_freeze_count())
"""
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    ).stdout.split("\n")
    assert out[0] == "[]", out
    assert int(out[1]) > 10_000  # the warm-up's objects are frozen
