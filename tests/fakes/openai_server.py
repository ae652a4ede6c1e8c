"""An OpenAI-compatible chat server for benchmarks: answers every synthesis prompt (see
:func:`tests.fakes.synth.reply`) after a fixed latency, many calls at once, and counts them.

Run as its own process: ``python tests/fakes/openai_server.py --latency 1.0``; it prints
``port <n>`` once it listens on 127.0.0.1 and ``GET /stats`` answers ``{"calls": n, "spans":
[[arrived, answered], ...]}`` (wall-clock seconds of every answered call).

A call is answered ``latency`` seconds after its request arrived: reading the body and writing
the answer happen within that time (as a real server's work does), so the benchmark's ideal,
which counts ``latency`` per call, is what the server takes, however busy the CPU it shares.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.fakes.synth import reply


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256

    def __init__(self, latency: float) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.latency = latency
        self.calls = 0
        self.spans: list[tuple[float, float]] = []  # (arrived, answered), wall-clock seconds
        self.lock = threading.Lock()


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"  # keep-alive: the client reuses its connections
    disable_nagle_algorithm = True  # as real servers do: no 40 ms delayed-ACK stall per answer

    def do_POST(self) -> None:
        arrived = time.time()
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        answer = _encode(
            {
                "id": "bench",
                "object": "chat.completion",
                "created": 0,
                "model": body.get("model", "bench"),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": reply(body["messages"])},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
            }
        )
        time.sleep(max(0.0, arrived + self.server.latency - time.time()))
        with self.server.lock:
            self.server.calls += 1
            self.server.spans.append((arrived, time.time()))
        self._send(answer)

    def do_GET(self) -> None:
        with self.server.lock:
            answer = _encode({"calls": self.server.calls, "spans": self.server.spans})
        self._send(answer)

    def _send(self, data: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        return


def _encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload).encode()


def main() -> None:
    """Serve until killed."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency", type=float, default=1.0)
    args = parser.parse_args()
    server = _Server(args.latency)
    print(f"port {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
