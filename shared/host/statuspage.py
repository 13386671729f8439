"""The status page served by `gemini-tuning local --port N` on 127.0.0.1: the same renderer as
the cloud status function (`shared.status.respond`), plus the run's reports and the simulator's
job pages under `/files/`, because a browser will not open `file://` links from an http page.

Only files under the root's artifacts folder and the simulator's job pages are served, read-only;
the server listens on the loopback interface only.
"""

from __future__ import annotations

import logging
import mimetypes
import threading
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from shared import status
from shared.local.paths import LocalLayout
from shared.ports import RunStore

log = logging.getLogger("gemini_tuning.local")
FILES = "/files/"


class StatusServer:
    """`start()` serves until `stop()`; `url` is where (port 0 picks a free one)."""

    def __init__(
        self,
        layout: LocalLayout,
        store: RunStore,
        port: int = 0,
        banners: Callable[[], Sequence[str]] = tuple,
    ) -> None:
        self.layout, self.store, self.banners = layout, store, banners
        self.roots = [layout.artifacts.resolve(), layout.simulator_pages.resolve()]
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.handle(self)

            def log_message(self, format: str, *args: object) -> None:
                log.debug("status   " + format, *args)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/"

    def start(self) -> StatusServer:
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, name="status-page", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def link(self, uri: str) -> str | None:
        """A `file://` URI under a served folder becomes a `/files/...` link."""
        if not uri.startswith("file://"):
            return status.public_link(uri)
        path = Path(unquote(urlsplit(uri).path)).resolve()
        for root in self.roots:
            if path.is_relative_to(root):
                rel = path.relative_to(self.layout.root.resolve()).as_posix()
                return FILES + quote(rel)
        return None

    def _file(self, rel: str) -> Path | None:
        name = unquote(rel)
        if "\x00" in name:  # `%00`: no file has that name (the OS call would raise)
            return None
        path = (self.layout.root / name).resolve()
        ok = any(path.is_relative_to(root) for root in self.roots)
        return path if ok and path.is_file() else None

    def host_allowed(self, host: str | None) -> bool:
        """DNS rebinding: a page on evil.example whose name is re-pointed at 127.0.0.1 reaches
        this server with its own name in `Host`. Only the loopback names, on this port, are
        this server's; a browser cannot forge the header."""
        port = self.httpd.server_address[1]
        return host in {f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}"}

    def handle(self, req: BaseHTTPRequestHandler) -> None:
        if not self.host_allowed(req.headers.get("Host")):
            self._send(
                req,
                421,
                "text/plain; charset=utf-8",
                f"this status page answers only to {self.url}".encode(),
            )
            return
        url = urlsplit(req.path)
        try:
            if url.path.startswith(FILES):
                path = self._file(url.path[len(FILES) :])
                if path is None:
                    self._send(req, 404, "text/plain; charset=utf-8", b"not found")
                    return
                kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
                if kind.startswith("text/") or kind == "application/json":
                    kind += "; charset=utf-8"
                self._send(req, 200, kind, path.read_bytes())
                return
            if url.path not in ("/", ""):
                self._send(req, 404, "text/plain; charset=utf-8", b"not found: try /")
                return
            page = status.respond(
                self.store,
                dict(parse_qsl(url.query)),
                accept=req.headers.get("Accept", ""),
                link=self.link,
                banners=self.banners,
            )
            self._send(req, page.status, page.content_type, page.body.encode())
        except Exception as e:  # the store: a locked or deleted database
            log.warning("status   page failed: %s: %s", type(e).__name__, e)
            self._send(req, 503, "text/plain; charset=utf-8", f"cannot read runs: {e}".encode())

    @staticmethod
    def _send(req: BaseHTTPRequestHandler, code: int, kind: str, body: bytes) -> None:
        try:
            req.send_response(code)
            req.send_header("Content-Type", kind)
            req.send_header("Content-Length", str(len(body)))
            req.send_header("Cache-Control", "no-store")
            req.end_headers()
            req.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):  # the browser went away: its business
            log.debug("status   client disconnected before the answer was sent")
