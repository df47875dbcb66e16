"""A scripted HTTP server standing in for the gateway on the paths the real one cannot be made
to take on demand (503 then 200, 429 with Retry-After, silence, a proxy's HTML page)."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Optional, Tuple

# (status, JSON body or raw bytes, headers, seconds to stall before answering)
Answer = Tuple[int, Any, Dict[str, str], float]


def answer(status: int, body: Any, headers: Optional[Dict[str, str]] = None, stall: float = 0.0) -> Answer:
    return (status, body, headers or {}, stall)


def gateway_error(status: int, code: str, message: str = "refused", **extra: Any) -> Answer:
    return answer(status, {"error": {"code": code, "message": message, **extra}})


class StubGateway:
    def __init__(self, answers: List[Answer]) -> None:
        self.answers = list(answers)
        self.requests: List[Dict[str, Any]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                stub.requests.append(
                    {"method": self.command, "path": self.path, "headers": dict(self.headers), "body": body}
                )
                status, payload, headers, stall = stub.answers.pop(0) if stub.answers else answer(500, b"")
                if stall:
                    time.sleep(stall)
                raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    for key, value in headers.items():
                        self.send_header(key, value)
                    self.send_header("Content-Length", str(len(raw)))
                    self.end_headers()
                    self.wfile.write(raw)
                except OSError:
                    pass  # the client gave up (timeout tests)

            do_GET = _serve
            do_POST = _serve

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> "StubGateway":
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()
