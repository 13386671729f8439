"""The local status server against a hostile browser or a careless client (issue 17): DNS
rebinding (a foreign Host), a `%00` in a file path, a client that hangs up mid-answer."""

from __future__ import annotations

import http.client
import logging
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.host.statuspage import StatusServer
from shared.local.paths import LocalLayout

from .runs import rejected_run, store_for


@pytest.fixture
def server(tmp_path: Path) -> Iterator[StatusServer]:
    store = store_for(tmp_path)
    rejected_run(store)
    srv = StatusServer(LocalLayout(tmp_path), store).start()
    yield srv
    srv.stop()


def _get(srv: StatusServer, path: str, host: str | None = None) -> tuple[int, bytes]:
    port = srv.httpd.server_address[1]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.putrequest("GET", path, skip_host=host is not None)
    if host is not None:
        conn.putheader("Host", host)
    conn.endheaders()
    resp = conn.getresponse()
    out = resp.status, resp.read()
    conn.close()
    return out


def test_a_foreign_host_header_is_refused(server: StatusServer) -> None:
    port = server.httpd.server_address[1]
    status, body = _get(server, "/?format=json", host=f"evil.example:{port}")
    assert status == 421 and b"127.0.0.1" in body
    assert _get(server, "/?format=json", host=f"127.0.0.1:{port}")[0] == 200
    assert _get(server, "/?format=json", host=f"localhost:{port}")[0] == 200
    assert _get(server, "/?format=json", host="127.0.0.1:1")[0] == 421


def test_a_nul_byte_in_a_file_path_is_not_found(server: StatusServer) -> None:
    status, _ = _get(server, "/files/artifacts/x%00.json")
    assert status == 404


def test_a_client_that_hangs_up_leaves_no_traceback(
    server: StatusServer, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    port = server.httpd.server_address[1]
    caplog.set_level(logging.DEBUG)
    for _ in range(20):
        with socket.create_connection(("127.0.0.1", port)) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            s.sendall(f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
    assert _get(server, "/?format=json")[0] == 200  # still serving
    err = capfd.readouterr().err
    assert "Traceback" not in err and "BrokenPipe" not in err and "ConnectionReset" not in err
