"""A small stand-in for Moonraker, following its documented HTTP API.

Only what the connector uses: ``POST /server/files/upload`` (multipart ``file``,
``root``, ``path``, ``checksum`` checked as SHA-256 with 422 on mismatch,
``print="true"``; the answer is *not* wrapped in ``result``),
``GET /printer/objects/query`` (wrapped: ``{"result": {"eventtime", "status"}}``,
only the objects asked for) and ``POST /printer/print/{pause,resume,cancel}``.
An ``X-Api-Key`` is required when ``api_key`` is set (401 otherwise, as Moonraker
does when the request is not trusted). The print advances only when the test
calls ``advance``, so nothing depends on timing.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


class MoonrakerStandIn:
    def __init__(self, api_key: str | None = None) -> None:
        self.api_key = api_key
        self.files: dict[str, bytes] = {}
        self.uploads: list[dict[str, str]] = []  # form fields of each upload, for assertions
        self.commands: list[str] = []
        self.klippy_state = "ready"
        self.klippy_message = "Printer is ready"
        self.print_state = "standby"
        self.filename = ""
        self.progress = 0.0
        self.damage_next_upload = False
        self.fail_next_with: int | None = None
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def advance(self, fraction: float) -> None:
        with self.lock:
            if self.print_state == "printing":
                self.progress = min(1.0, self.progress + fraction)
                if self.progress >= 1.0:
                    self.print_state = "complete"

    def start_print(self, filename: str) -> bool:
        if self.klippy_state != "ready" or self.print_state in ("printing", "paused"):
            return False
        self.filename, self.print_state, self.progress = filename, "printing", 0.0
        return True

    def status(self, names: list[str]) -> dict:
        every = {
            "webhooks": {"state": self.klippy_state, "state_message": self.klippy_message},
            "virtual_sdcard": {
                "progress": self.progress,
                "is_active": self.print_state == "printing",
                "file_position": int(self.progress * len(self.files.get(self.filename, b""))),
            },
            "print_stats": {
                "filename": self.filename,
                "state": self.print_state,
                "print_duration": 100.0 * self.progress,
                "message": "",
            },
        }
        return {name: every[name] for name in names if name in every}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def reply(self, status: int, body) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def error(self, status: int, message: str) -> None:
                self.reply(status, {"error": {"code": status, "message": message}})

            def allowed(self) -> bool:
                if standin.fail_next_with is not None:
                    status, standin.fail_next_with = standin.fail_next_with, None
                    self.error(status, "Service Unavailable")
                    return False
                if standin.api_key and self.headers.get("X-Api-Key") != standin.api_key:
                    self.error(401, "Unauthorized")
                    return False
                return True

            def do_GET(self) -> None:
                if not self.allowed():
                    return
                parts = urlsplit(self.path)
                if parts.path != "/printer/objects/query":
                    return self.error(404, "Not Found")
                names = [n for n in parts.query.split("&") if n]
                with standin.lock:
                    status = standin.status([n.split("=")[0] for n in names])
                self.reply(200, {"result": {"eventtime": time.monotonic(), "status": status}})

            def do_POST(self) -> None:
                if not self.allowed():
                    return
                path = urlsplit(self.path).path
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                if path == "/server/files/upload":
                    return self.upload(body)
                verb = path.rsplit("/", 1)[-1]
                if path.startswith("/printer/print/") and verb in ("pause", "resume", "cancel"):
                    with standin.lock:
                        standin.commands.append(verb)
                        wanted = {"pause": "printing", "resume": "paused"}.get(verb)
                        if wanted and standin.print_state != wanted:
                            return self.error(
                                400, f"Cannot {verb}: printer is {standin.print_state}"
                            )
                        standin.print_state = {"pause": "paused", "resume": "printing"}.get(
                            verb, "cancelled"
                        )
                    return self.reply(200, {"result": "ok"})
                self.error(404, "Not Found")

            def upload(self, body: bytes) -> None:
                head = f"Content-Type: {self.headers['Content-Type']}\r\n\r\n".encode()
                message = BytesParser(policy=HTTP).parsebytes(head + body)
                fields: dict[str, str] = {}
                data, filename = None, None
                for part in message.iter_parts():
                    name = part.get_param("name", header="content-disposition")
                    if name == "file":
                        data, filename = part.get_payload(decode=True), part.get_filename()
                    else:
                        fields[name] = part.get_content().strip()
                if data is None or not filename:
                    return self.error(400, "No file uploaded")
                root = fields.get("root", "gcodes")
                if root != "gcodes":
                    return self.error(400, f"Root '{root}' is not writable")
                if standin.damage_next_upload:
                    standin.damage_next_upload = False
                    data = data[:-1] + bytes([data[-1] ^ 0xFF])
                if "checksum" in fields and hashlib.sha256(data).hexdigest() != fields["checksum"]:
                    return self.error(422, "File checksum mismatch")
                stored = "/".join(p for p in (fields.get("path", "").strip("/"), filename) if p)
                with standin.lock:
                    action = "modify_file" if stored in standin.files else "create_file"
                    standin.files[stored] = data
                    standin.uploads.append(fields)
                    started = fields.get("print") == "true" and standin.start_print(stored)
                self.reply(
                    201,
                    {
                        "item": {
                            "path": stored,
                            "root": root,
                            "modified": time.time(),
                            "size": len(data),
                            "permissions": "rw",
                        },
                        "print_started": started,
                        "print_queued": False,
                        "action": action,
                    },
                )

        return Handler
