"""A real HTTP endpoint for channel tests: a threaded server on 127.0.0.1.

It records every request. Paths choose its behaviour:
- `/slow/...` holds the request until the test releases it (at the latest
  when the server stops), like a service that hangs;
- `/status/<code>/...` answers with that status and a short body;
- anything else answers 200.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

from scheduling.tests.processes import wait_until

HOLD_AT_MOST_SECONDS = 30


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> dict:
        return json.loads(self.body)

    @property
    def form(self) -> dict[str, str]:
        return {key: values[0] for key, values in parse_qs(self.body.decode()).items()}


@dataclass
class Endpoint:
    port: int = 0
    requests: list[Request] = field(default_factory=list)
    answered: list[str] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    arrived: threading.Event = field(default_factory=threading.Event)

    def url(self, scheme: str, path: str, userinfo: str = "") -> str:
        return f"{scheme}://{userinfo}127.0.0.1:{self.port}/{path.lstrip('/')}"

    def wait_for(self, count: int = 1, timeout: float = 10) -> list[Request]:
        wait_until(lambda: len(self.requests) >= count, timeout, f"{count} request(s)")
        return self.requests


def _handler(endpoint: Endpoint) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            endpoint.requests.append(Request(self.path, dict(self.headers), body))
            endpoint.arrived.set()
            if self.path.startswith("/slow/"):
                endpoint.release.wait(HOLD_AT_MOST_SECONDS)
            status = int(self.path.split("/")[2]) if self.path.startswith("/status/") else 200
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"ok" if status == 200 else b"the server refused it")
            endpoint.answered.append(self.path)

        def log_message(self, *args) -> None:  # keep test output quiet
            pass

    return Handler


@contextmanager
def running_endpoint() -> Iterator[Endpoint]:
    endpoint = Endpoint()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(endpoint))
    server.daemon_threads = True
    endpoint.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, name="test-endpoint", daemon=True)
    thread.start()
    try:
        yield endpoint
    finally:
        endpoint.release.set()
        server.shutdown()
        server.server_close()
