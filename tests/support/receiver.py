"""A real webhook receiver on a free local port, in a thread: it checks every signature,
answers as told (fail the first N tries of each event, or hang), and — as the docs ask of
receivers — counts an event as accepted only once however often it is delivered. The tests
and the benchmarks (bench/bench_sink.py, bench/bench_webhooks.py) share it."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from ledger_sink.webhooks import signing
from schemas.webhook_targets import LOOPBACK_NETWORKS, WebhookTargetPolicy

# The receivers here listen on loopback over plain http: what the target policy refuses
# unless told, as the local stack tells it (deploy.local.envfile).
LOCAL_POLICY = WebhookTargetPolicy(allow_http=True, allowed_networks=LOOPBACK_NETWORKS)
LOCAL_ENV = {
    "SENTINEL_WEBHOOKS_ALLOW_HTTP": "true",
    "SENTINEL_WEBHOOKS_ALLOWED_NETWORKS": LOOPBACK_NETWORKS,
}


class Receiver:
    def __init__(
        self,
        secret: str,
        *,
        fail_first: int = 0,
        always_fail: bool = False,
        hang: bool = False,
        keep_alive: bool = False,
    ) -> None:
        """`keep_alive`: HTTP/1.1 persistent connections, as a production receiver (the
        benchmarks); off, every delivery gets a connection of its own."""
        self.secret = secret
        self.fail_first, self.always_fail, self.hang = fail_first, always_fail, hang
        self.keep_alive = keep_alive
        self.lock = threading.Lock()
        self.attempts: Counter[str] = Counter()
        self.accepted: Counter[str] = Counter()  # first 2xx per event: 1 each, or a bug
        self.duplicates = 0
        self.bad_signatures = 0
        self.bodies: dict[str, bytes] = {}
        self.arrived: dict[str, float] = {}  # epoch seconds of each event's first 2xx
        self.release = threading.Event()  # lets hanging handlers go at shutdown
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def count(self) -> int:
        """Events accepted so far (each once)."""
        with self.lock:
            return len(self.accepted)

    def total_attempts(self) -> int:
        with self.lock:
            return sum(self.attempts.values())

    def answer(self, event_id: str, body: bytes, headers: Mapping[str, str]) -> int:
        """The status for one request; the decision and its bookkeeping under one lock."""
        # As the docs tell receivers: the documented helper, then dedupe on the event id.
        good = signing.verify_headers(self.secret, headers, body, time.time())
        with self.lock:
            self.attempts[event_id] += 1
            if not good:
                self.bad_signatures += 1
                return 401
            if self.always_fail or self.attempts[event_id] <= self.fail_first:
                return 503
            if self.accepted[event_id]:
                self.duplicates += 1  # dropped by event id; 2xx so the sender stops
            else:
                self.accepted[event_id] += 1
                self.bodies[event_id] = body
                self.arrived[event_id] = time.time()
            return 204

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1" if receiver.keep_alive else "HTTP/1.0"

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                if len(body) < length:
                    # The sender died mid-request (a SIGKILL test): nothing was delivered,
                    # as a real server would drop it; verifying the torn body would count a
                    # bad signature that no sender produced.
                    self.close_connection = True
                    return
                if receiver.hang:
                    receiver.release.wait(60)
                    self.close_connection = True  # no answer: the connection is done
                    return
                status = receiver.answer(self.headers.get(signing.EVENT_ID, ""), body, self.headers)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: object) -> None:
                return  # quiet

        return Handler
