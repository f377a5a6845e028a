"""A real HTTP server on loopback that serves saved pages and feeds, for the fetching tests.

Routes answer with a body and content type, or a status; they can fail a number of times first (503),
answer late, or send their body without a Content-Length. Every request is recorded (path and
User-Agent), so tests can check what was asked for, and how. Nothing leaves the machine.
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

PAGES = Path(__file__).resolve().parent / "index" / "pages"


@dataclass
class Route:
    body: bytes = b""
    content_type: str | None = "text/html; charset=utf-8"
    status: int = 200
    fail_first: int = 0  # answer 503 this many times before answering properly
    delay: float = 0.0  # seconds before answering
    chunked: bool = False  # no Content-Length: the body ends when the connection closes


@dataclass
class Site:
    server: ThreadingHTTPServer
    routes: dict[str, Route] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)  # (path, User-Agent)

    @property
    def base(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def url(self, path: str) -> str:
        return self.base + path

    def add(self, path: str, body: bytes | str = b"", **route: object) -> str:
        """Serve `body` at `path` ("{base}" in a str body becomes the site's address); returns its URL."""
        data = body.replace("{base}", self.base).encode() if isinstance(body, str) else body
        self.routes[path] = Route(body=data, **route)  # type: ignore[arg-type]
        return self.url(path)

    def page(self, path: str, name: str, **route: object) -> str:
        """Serve the saved page `tests/index/pages/NAME` at `path`."""
        return self.add(path, (PAGES / name).read_text(encoding="utf-8"), **route)

    def asked(self, path: str) -> int:
        return sum(1 for asked, _ in self.requests if asked == path)


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        return  # a client that hung up (a test's timeout or size limit) is expected


def start_site() -> Site:
    site: Site

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            site.requests.append((self.path, self.headers.get("User-Agent", "")))
            route = site.routes.get(self.path)
            if route is None:
                self._send(404, b"not here", "text/plain")
                return
            if route.fail_first > 0:
                route.fail_first -= 1
                self._send(503, b"try again", "text/plain")
                return
            time.sleep(route.delay)
            self._send(route.status, route.body, route.content_type, route.chunked)

        def _send(self, status: int, body: bytes, content_type: str | None, chunked: bool = False) -> None:
            self.send_response(status)
            if content_type:
                self.send_header("Content-Type", content_type)
            if chunked:
                self.send_header("Connection", "close")
                self.close_connection = True
            else:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            # the client may have given up (too large, timed out): that is what some tests check
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - quiet
            return

    server = _QuietServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    site = Site(server)
    threading.Thread(target=server.serve_forever, name="local-site", daemon=True).start()
    return site
