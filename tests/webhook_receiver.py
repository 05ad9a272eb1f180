"""A real HTTP server on loopback that receives webhooks and verifies their signatures."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body)

    def verified(self, secret: str) -> dict:
        """The payload, if the Standard Webhooks signature checks out; raises otherwise."""
        return Webhook(secret).verify(self.body, self.headers)


@dataclass
class WebhookReceiver:
    """Records every POST; ``fail_first[(path, type)] = n`` answers 500 to the first n events of that type."""

    received: list[Received] = field(default_factory=list)
    fail_first: dict[tuple[str, str], int] = field(default_factory=dict)
    attempts: dict[tuple[str, str], int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                key = (self.path, json.loads(body).get("type", ""))
                with receiver.lock:
                    receiver.attempts[key] = receiver.attempts.get(key, 0) + 1
                    failing = receiver.attempts[key] <= receiver.fail_first.get(key, 0)
                    if not failing:
                        receiver.received.append(Received(self.path, {k.lower(): v for k, v in
                                                                      self.headers.items()}, body))
                self.send_response(500 if failing else 204)
                self.end_headers()

            def log_message(self, *_args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def for_path(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path == path]

    def wait_for(self, path: str, event_type: str, timeout: float = 30) -> Received:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for item in self.for_path(path):
                if item.json().get("type") == event_type:
                    return item
            time.sleep(0.05)
        got = [r.json().get("type") for r in self.for_path(path)]
        raise TimeoutError(f"no {event_type} webhook on {path}; got {got}")

    def stop(self) -> None:
        self.server.shutdown()
