"""Uploads beyond the limit are answered by the application, whatever their size."""

from __future__ import annotations

import json
import socket
import threading

import pytest
from web_helpers import make_app

from fabserver.web.server import BODY_SLACK_BYTES, make_server

LIMIT_MB = 1


@pytest.fixture
def server(tmp_path):
    app = make_app(tmp_path, MAX_UPLOAD_MB=LIMIT_MB)
    srv = make_server(app, "127.0.0.1", 0, threads=2, max_upload_mb=LIMIT_MB)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    yield srv
    srv.close()
    thread.join(timeout=10)
    app.extensions["fabserver"].close()


def _exchange(server, head: str, body: bytes = b"") -> tuple[int, dict[str, str], str]:
    """Send a request head and the start of its body, then read the whole answer."""
    with socket.create_connection(("127.0.0.1", server.effective_port), timeout=30) as sock:
        sock.sendall(head.encode("latin-1") + body)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    raw = b"".join(chunks)
    header, _, payload = raw.partition(b"\r\n\r\n")
    lines = header.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return status, headers, payload.decode("utf-8", "replace")


def _head(path: str, length: int | None, content_type: str, **extra: str) -> str:
    lines = [f"POST {path} HTTP/1.1", "Host: localhost", f"Content-Type: {content_type}"]
    lines.append(
        f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked"
    )
    lines += [f"{k.replace('_', '-')}: {v}" for k, v in extra.items()]
    return "\r\n".join(lines) + "\r\n\r\n"


@pytest.mark.parametrize("size", [50 * 1024**2, 10 * 1024**4])
def test_a_huge_upload_gets_the_french_413_page(server, size):
    head = _head("/", size, "multipart/form-data; boundary=xyz")
    status, headers, html = _exchange(server, head, b"--xyz\r\n" + b"x" * 4096)
    assert status == 413
    assert headers["content-type"].startswith("text/html")
    assert "Fichier trop gros" in html and f"{LIMIT_MB} Mo" in html
    assert "Request Entity Too Large" not in html  # not waitress's own text


def test_the_413_page_speaks_english_when_asked(server):
    from fabserver.web.i18n import COOKIE

    head = _head("/", 50 * 1024**2, "multipart/form-data; boundary=xyz", Cookie=f"{COOKIE}=en")
    status, _, html = _exchange(server, head, b"--xyz\r\n")
    assert status == 413
    assert "File too large" in html


def test_a_huge_api_upload_gets_json(server):
    status, headers, body = _exchange(
        server, _head("/api/v1/jobs", 3 * 1024**3, "multipart/form-data; boundary=xyz")
    )
    assert status == 413
    assert headers["content-type"] == "application/json"
    error = json.loads(body)["error"]
    assert "Fichier trop gros" in error["fr"] and "File too large" in error["en"]


def _chunked_body(total: int) -> bytes:
    """A chunked body of exactly ``total`` bytes on the wire (framing included), so the
    server has read every byte sent when it stops at the limit (no reset on close)."""
    parts, left = [], total
    while left:
        size = min(65536, left - 9)  # 9: "10000\r\n" and "\r\n" for a full chunk
        frame = b"%x\r\n" % size
        size = left - len(frame) - 2 if left - len(frame) - 2 < 65536 else size
        parts.append(frame + b"y" * size + b"\r\n")
        left -= len(parts[-1])
    return b"".join(parts)


def test_a_chunked_upload_past_the_limit_gets_the_page(server):
    body = _chunked_body(LIMIT_MB * 1024**2 + BODY_SLACK_BYTES)
    assert len(body) == LIMIT_MB * 1024**2 + BODY_SLACK_BYTES
    status, _, html = _exchange(server, _head("/", None, "multipart/form-data; boundary=xyz"), body)
    assert status == 413
    assert "Fichier trop gros" in html


def test_pages_are_served_as_before(server):
    with socket.create_connection(("127.0.0.1", server.effective_port), timeout=30) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200")
