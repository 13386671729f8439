"""A chat webhook on 127.0.0.1 for the notifier tests: records what was posted, answers what
the test says (a status and a body), started and stopped by the test."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Webhook:
    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        self.content_types: list[str] = []
        self.status = 200
        self.reply = b'{"errcode": 0, "errmsg": "ok"}'
        self.url = ""
        self.arrived = threading.Event()


@contextmanager
def webhook() -> Iterator[Webhook]:
    hook = Webhook()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            hook.posts.append(json.loads(self.rfile.read(length)))
            hook.content_types.append(self.headers.get("Content-Type", ""))
            self.send_response(hook.status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(hook.reply)
            hook.arrived.set()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    hook.url = f"http://127.0.0.1:{server.server_address[1]}/hook?key=test"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hook
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
