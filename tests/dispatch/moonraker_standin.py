"""A stand-in for Moonraker, kept only for a fault the real stack cannot produce.

Everything else is tested against a real Klipper + Moonraker (``moonraker_stack``).
What remains here: **bytes damaged on the way**. The connector sends a SHA-256
``checksum`` with each upload and Moonraker answers 422 when the bytes it got do
not match; on loopback nothing damages them, so this stand-in flips the last byte
of the next upload when ``damage_next_upload`` is set. It answers like the real
Moonraker v0.10 (error bodies with ``code``, ``message``, ``traceback``; the upload
answer not wrapped in ``result``; an idle ``print_stats``; no job queue).
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
    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.damage_next_upload = False
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

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

            def error(self, status: int, reason: str, words: str) -> None:
                # Moonraker's shape: the reason phrase as message, the words in the traceback.
                traceback = (
                    "Traceback (most recent call last):\n\n"
                    '  File "file_manager.py", line 1, in finalize_upload\n'
                    "    raise self.server.error(words)\n\n"
                    f"tornado.web.HTTPError: HTTP {status}: {reason} ({words})\n"
                )
                self.reply(
                    status, {"error": {"code": status, "message": reason, "traceback": traceback}}
                )

            def do_GET(self) -> None:
                if urlsplit(self.path).path != "/printer/objects/query":
                    return self.error(404, "Not Found", "Not Found")
                status = {
                    "webhooks": {"state": "ready", "state_message": "Printer is ready"},
                    "print_stats": {"filename": "", "state": "standby", "message": ""},
                    "pause_resume": {"is_paused": False},
                }
                self.reply(200, {"result": {"eventtime": time.monotonic(), "status": status}})

            def do_POST(self) -> None:
                if urlsplit(self.path).path != "/server/files/upload":
                    return self.error(404, "Not Found", "Not Found")
                length = int(self.headers.get("Content-Length", 0))
                head = f"Content-Type: {self.headers['Content-Type']}\r\n\r\n".encode()
                message = BytesParser(policy=HTTP).parsebytes(head + self.rfile.read(length))
                fields: dict[str, str] = {}
                data, filename = None, None
                for part in message.iter_parts():
                    name = part.get_param("name", header="content-disposition")
                    if name == "file":
                        data, filename = part.get_payload(decode=True), part.get_filename()
                    else:
                        fields[name] = part.get_content().strip()
                if data is None or not filename:
                    return self.error(400, "Bad Request", "No file uploaded")
                with standin.lock:
                    if standin.damage_next_upload:
                        standin.damage_next_upload = False
                        data = data[:-1] + bytes([data[-1] ^ 0xFF])
                if hashlib.sha256(data).hexdigest() != fields.get("checksum"):
                    return self.error(422, "Unprocessable Entity", "File checksum mismatch")
                with standin.lock:
                    standin.files[filename] = data
                self.reply(
                    201,
                    {
                        "item": {"path": filename, "root": "gcodes", "size": len(data)},
                        "print_started": False,
                        "print_queued": False,
                        "action": "create_file",
                    },
                )

        return Handler
