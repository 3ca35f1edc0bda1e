"""A real OpenAI-compatible HTTP server on loopback that streams its reply slowly, a word every
`delay` seconds, so a browser test has time to type during a stream and to press Stop. It
records whether the client went away before the reply was complete (the Stop reached the
server)."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType

REPLY = ("According to the reports the meeting was held as planned and went on for several "
         "hours before the two sides spoke to the press [1]. ") * 3


class SlowLLM:
    def __init__(self, delay: float = 0.35) -> None:
        self.delay = delay
        self.streams_started = 0
        self.streams_completed = 0
        self.streams_abandoned = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # /v1/models
                body = json.dumps({"object": "list", "data": [
                    {"id": "slow", "object": "model", "owned_by": "test"}]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                request = json.loads(self.rfile.read(length) or b"{}")
                if not request.get("stream"):
                    body = json.dumps({
                        "id": "c1", "object": "chat.completion", "created": 0, "model": "slow",
                        "choices": [{"index": 0, "finish_reason": "stop", "message": {
                            "role": "assistant", "content": REPLY}}]}).encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                owner.streams_started += 1
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                try:
                    for word in REPLY.split(" "):
                        chunk = {"id": "c1", "object": "chat.completion.chunk", "created": 0,
                                 "model": "slow", "choices": [{"index": 0, "delta": {
                                     "content": word + " "}, "finish_reason": None}]}
                        self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                        self.wfile.flush()
                        time.sleep(owner.delay)
                    self.wfile.write(b"data: [DONE]\n\n")
                    self.wfile.flush()
                    owner.streams_completed += 1
                except (BrokenPipeError, ConnectionResetError):
                    owner.streams_abandoned += 1

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> SlowLLM:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()
