"""A real HTTP listener on 127.0.0.1 that records what reaches it (tokens, fetches)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass
class Listener:
    """What a listener answers (path -> (status, headers, body)) and what it was asked."""

    url: str = ""
    routes: dict[str, tuple[int, dict[str, str], bytes]] = field(default_factory=dict)
    seen: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)

    def authorizations(self) -> list[str]:
        """Every Authorization header that reached this listener."""
        return [h["authorization"] for _, _, h in self.seen if "authorization" in h]


def _serve(listener: Listener) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            headers = {k.lower(): v for k, v in self.headers.items()}
            listener.seen.append(("GET", self.path, headers))
            status, extra, body = listener.routes.get(
                self.path.split("?")[0], (404, {}, b'{"detail": "nothing here"}')
            )
            self.send_response(status)
            for name, value in extra.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_POST = do_GET
        do_PATCH = do_GET

        def log_message(self, format: str, *args: object) -> None:
            """Quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    listener.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def listeners() -> Iterator[list[Listener]]:
    """Two independent listeners: Label Studio A and another host B."""
    made = [Listener(), Listener()]
    servers = [_serve(listener) for listener in made]
    yield made
    for server in servers:
        server.shutdown()
        server.server_close()
