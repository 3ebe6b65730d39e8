"""The one Kafka edge: how every service's Kafka clients are configured and built, how
their deliveries are awaited, and what a consumed record is.

Security (TLS, SASL/SCRAM) reaches every client from one ``KafkaConnection`` through the
functions here: ``client_config`` for librdkafka (confluent-kafka producers, consumers and
the admin client) and ``faust_credentials`` for the agents' faust app (aiokafka).
No other module sets ``bootstrap.servers`` or a security option, and no other module
constructs a ``Producer``, ``Consumer`` or ``AdminClient``
(``tests/unit/schemas/test_kafka_edge.py`` scans the repository for them).

- ``producer``, ``consumer``, ``admin``: the clients, with the project's standard settings
  (``PRODUCER_DEFAULTS``, ``CONSUMER_DEFAULTS``) under each call site's own overrides;
- ``AsyncProducer`` (asyncio callers) and ``deliver_all`` (synchronous callers): the one
  way to wait for the broker's acknowledgement, raising ``DeliveryFailed``;
- ``ClientErrors``, the one ``error_cb``: librdkafka's client-level errors logged, and a
  refusal of the client's credentials or of its TLS trust (``Refusal``) logged once at
  error level, naming the principal and the bootstrap address, and kept for the service
  (the API's readiness, a consumer's ``raise_if_refused``);
- ``decode_headers``, ``RawRecord``, ``raw_record``: a consumed message as data.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Protocol

import structlog
from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer
from confluent_kafka.admin import AdminClient

from schemas.connections import KafkaConnection

if TYPE_CHECKING:
    from faust.types.auth import CredentialsT

log = structlog.get_logger("schemas.kafka")


def client_config(kafka: KafkaConnection) -> dict[str, Any]:
    """librdkafka's connection settings: where the brokers are and how to authenticate."""
    config: dict[str, Any] = {
        "bootstrap.servers": kafka.bootstrap_servers,
        "security.protocol": kafka.security_protocol.lower(),
    }
    if kafka.uses_sasl:
        config["sasl.mechanism"] = kafka.sasl_mechanism
        config["sasl.username"] = kafka.sasl_username
        config["sasl.password"] = kafka.sasl_password.get_secret_value()
    if kafka.uses_tls and kafka.ssl_ca_file is not None:
        config["ssl.ca.location"] = str(kafka.ssl_ca_file)
    return config


def ssl_context(kafka: KafkaConnection) -> ssl.SSLContext | None:
    """A TLS context that verifies the brokers against ``ssl_ca_file`` (None without TLS)."""
    if not kafka.uses_tls:
        return None
    cafile = str(kafka.ssl_ca_file) if kafka.ssl_ca_file is not None else None
    return ssl.create_default_context(purpose=ssl.Purpose.SERVER_AUTH, cafile=cafile)


def faust_credentials(kafka: KafkaConnection) -> CredentialsT | None:
    """faust's ``broker_credentials`` (its public API) for the same settings as
    ``client_config``; None for PLAINTEXT. faust hands them to aiokafka."""
    import faust  # only the agents use faust; other services need not import it

    context = ssl_context(kafka)
    if kafka.uses_sasl:
        return faust.SASLCredentials(
            username=kafka.sasl_username,
            password=kafka.sasl_password.get_secret_value(),
            ssl_context=context,
            mechanism=kafka.sasl_mechanism,
        )
    if context is not None:
        return faust.SSLCredentials(context)
    return None


# --- clients ---------------------------------------------------------------------------


# librdkafka's codes for a broker that will not have this client: its SASL credentials
# (the broker's own code arrives as _AUTHENTICATION; both kept), or its TLS trust.
_AUTHENTICATION_CODES = frozenset(
    {KafkaError._AUTHENTICATION, KafkaError.SASL_AUTHENTICATION_FAILED}
)
# A write or a read the ACLs do not grant: the broker's answer to a request, not a client error.
AUTHORIZATION_CODES = frozenset(
    {
        KafkaError.TOPIC_AUTHORIZATION_FAILED,
        KafkaError.GROUP_AUTHORIZATION_FAILED,
        KafkaError.CLUSTER_AUTHORIZATION_FAILED,
        KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
    }
)


@dataclass(frozen=True, slots=True)
class Refusal:
    """The brokers refuse this client: who it is, where it knocked, and why (no secret)."""

    principal: str | None
    address: str
    why: str

    def __str__(self) -> str:
        who = f"principal {self.principal!r}" if self.principal else "this client"
        return f"Kafka refused {who} at {self.address}: {self.why}"


class KafkaRefused(Exception):
    """The brokers refuse this client's credentials or TLS trust: retrying will not help
    until an operator fixes its ``SENTINEL_KAFKA_*`` (or the principal on the brokers)."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(str(refusal))
        self.refusal = refusal


def refusal(kafka: KafkaConnection, error: KafkaError) -> Refusal | None:
    """What ``error`` (an ``error_cb``'s) says about this client's credentials or TLS trust;
    None when it says nothing of them (brokers down, a timeout...)."""
    text = error.str()
    if error.code() in _AUTHENTICATION_CODES:
        why = f"SASL authentication failed: {text}"
        if "invalid credentials" in text:
            mechanism = kafka.sasl_mechanism.split("-")[0]  # SCRAM, PLAIN
            why = f"{mechanism} authentication failed (wrong password?)"
    # Only a certificate librdkafka could not verify: a handshake cut short by a broker
    # going down is a transient _SSL too, and must not stop a service.
    elif error.code() == KafkaError._SSL and "certificate verify failed" in text:
        ca = kafka.ssl_ca_file or "the system's trust store"
        why = f"the brokers' TLS certificate is not signed by the trusted CA ({ca})"
    else:
        return None
    principal = kafka.sasl_username if kafka.uses_sasl else None
    return Refusal(principal, kafka.bootstrap_servers, why)


class ClientErrors:
    """The one ``error_cb`` (every client built here gets one unless its call site passes
    its own): librdkafka's client-level errors as a structured warning (the client retries
    by itself), except a refusal, logged once at error level and kept in ``refused``.

    librdkafka calls it on the thread that serves the client (poll, consume, flush)."""

    def __init__(
        self, kafka: KafkaConnection, also: Callable[[KafkaError], None] | None = None
    ) -> None:
        self._kafka = kafka
        self._also = also
        self.refused: Refusal | None = None

    def __call__(self, error: KafkaError) -> None:
        found = refusal(self._kafka, error)
        if found is None:
            log.warning("kafka client error", error=error.str(), code=error.code())
        elif found != self.refused:  # librdkafka reports it at every reconnection: once
            self.refused = found
            log.error(str(found), code=error.name(), detail=error.str())
        if self._also is not None:
            self._also(error)

    def raise_if_refused(self) -> None:
        """Raise ``KafkaRefused`` once the brokers have refused this client."""
        if self.refused is not None:
            raise KafkaRefused(self.refused)

    def clear(self) -> None:
        """Forget a refusal: the client has since been served (a password fixed in time)."""
        self.refused = None


# Every producer is idempotent and waits for all in-sync replicas; its keys are placed by
# Java's murmur2, as aiokafka (faust) and every JVM client do, so one account lands on one
# partition whoever produced it (librdkafka's default, consistent_random, is CRC32).
PRODUCER_DEFAULTS: Mapping[str, Any] = MappingProxyType(
    {
        "enable.idempotence": True,
        "acks": "all",
        "partitioner": "murmur2_random",
    }
)
# librdkafka's own default partitioner, kept by the producers of keyed topics that have
# always been written with it (compacted ones above all: a key moved to another partition
# would leave its old value live there).
LIBRDKAFKA_PARTITIONER: Mapping[str, Any] = MappingProxyType({"partitioner": "consistent_random"})
# Offsets are committed by hand, after the work they stand for, or never (assigned readers).
CONSUMER_DEFAULTS: Mapping[str, Any] = MappingProxyType({"enable.auto.commit": False})
# For readers of topics written in Kafka transactions: an aborted record is never seen.
READ_COMMITTED: Mapping[str, Any] = MappingProxyType({"isolation.level": "read_committed"})

_CONNECTION_KEYS = ("bootstrap.servers", "security.protocol", "sasl.", "ssl.")


def _config(kafka: KafkaConnection, *layers: Mapping[str, Any]) -> dict[str, Any]:
    """``client_config`` under the given settings, later layers winning; a layer may not
    set the connection or its security (they come from ``KafkaConnection`` only)."""
    config = client_config(kafka)
    for layer in layers:
        clashing = sorted(k for k in layer if k.startswith(_CONNECTION_KEYS))
        if clashing:
            raise ValueError(f"{clashing} come from KafkaConnection (SENTINEL_KAFKA_*) only")
        config.update(layer)
    config.setdefault("error_cb", ClientErrors(kafka))
    return config


def producer(kafka: KafkaConnection, **overrides: Any) -> Producer:
    """A librdkafka producer: ``PRODUCER_DEFAULTS`` under ``overrides`` (librdkafka names,
    e.g. ``**{"linger.ms": 5}``)."""
    return Producer(_config(kafka, PRODUCER_DEFAULTS, overrides))


def consumer(kafka: KafkaConnection, group: str, **overrides: Any) -> Consumer:
    """A librdkafka consumer of ``group`` (required by librdkafka even when the consumer is
    only assigned and never joins it): ``CONSUMER_DEFAULTS`` under ``overrides``."""
    return Consumer(_config(kafka, CONSUMER_DEFAULTS, {"group.id": group}, overrides))


def admin(kafka: KafkaConnection, **overrides: Any) -> AdminClient:
    """Kafka's admin client (``deploy.topics.TopicAdmin`` creates and inspects topics)."""
    return AdminClient(_config(kafka, overrides))


# --- delivery --------------------------------------------------------------------------


class DeliveryFailed(Exception):
    """The broker did not acknowledge every record it was given (refused, or not in time)."""

    def __init__(self, message: str, error: KafkaError | None = None) -> None:
        super().__init__(message)
        self.error = error


class QueueFull(DeliveryFailed):
    """librdkafka's local queue is full: nothing more can be taken until it drains."""


@dataclass(frozen=True, slots=True)
class Outbound:
    """A record to produce; ``partition`` None lets the producer's partitioner choose."""

    topic: str
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()
    partition: int | None = None
    # None stamps the time of producing; a forwarded record keeps its original's.
    timestamp_ms: int | None = None


class Producible(Protocol):
    """What a record needs to be produced, its topic aside: ``Outbound`` names its topic,
    a caller with records of its own (the agents' ``Outgoing``, by role) passes
    ``topic_of`` to ``AsyncProducer.publish`` instead of copying each into an ``Outbound``."""

    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...
    @property
    def headers(self) -> tuple[tuple[str, bytes], ...]: ...
    @property
    def partition(self) -> int | None: ...
    @property
    def timestamp_ms(self) -> int | None: ...


Delivered = Callable[[KafkaError | None, Message], None]
Placed = dict[tuple[str, int], int]  # (topic, partition) -> highest offset acknowledged


def _error_of(exc: KafkaException) -> KafkaError | None:
    found = exc.args[0] if exc.args else None
    return found if isinstance(found, KafkaError) else None


def _own_topic(record: Any) -> str:
    return str(record.topic)


def _produce(client: Producer, topic: str, record: Producible, delivered: Delivered) -> None:
    client.produce(
        topic,
        record.value,
        record.key,
        # -1: librdkafka's "unassigned", its partitioner chooses.
        partition=-1 if record.partition is None else record.partition,
        # 0: librdkafka's "now".
        timestamp=0 if record.timestamp_ms is None else record.timestamp_ms,
        headers=list(record.headers),
        on_delivery=delivered,
    )


def _produce_waiting(
    client: Producer, topic: str, record: Producible, delivered: Delivered
) -> None:
    """Produce, letting deliveries drain librdkafka's queue while it is full."""
    while True:
        try:
            return _produce(client, topic, record, delivered)
        except BufferError:
            client.poll(0.05)


class AsyncProducer:
    """A producer for asyncio callers: each ``publish`` awaits one future, resolved on the
    caller's loop when the broker has acknowledged every record of it (or failed at the
    first refusal).

    librdkafka's delivery reports are served by a daemon thread of its own by default.
    With ``serve_on_loop_s`` they are served on the caller's event loop instead: a waiting
    ``publish`` polls every that many seconds, and ``serve`` polls between publishes (the
    client's error reports). For a caller that publishes batch after batch and waits for
    each (the agents), that spares a thread the GIL is handed to and from for every batch:
    one worker at 1,000 tx/s, 4 % less CPU a transaction and 13 % more drained from a
    backlog (docs/performance.md, "Delivery reports on the event loop").
    """

    def __init__(
        self,
        kafka: KafkaConnection,
        thread_name: str,
        config: Mapping[str, Any],
        poll_s: float = 0.05,
        on_poll: Callable[[Producer], None] | None = None,
        serve_on_loop_s: float | None = None,
    ) -> None:
        self.client = producer(kafka, **config)
        self._poll_s = poll_s
        self._on_poll = on_poll  # runs on the delivery thread after each poll, with the client
        self._stop = threading.Event()
        self._serve_on_loop_s = serve_on_loop_s
        self._thread: threading.Thread | None = None
        if serve_on_loop_s is None:
            self._thread = threading.Thread(target=self._serve, name=thread_name, daemon=True)
            self._thread.start()

    async def publish(
        self,
        records: Sequence[Producible],
        timeout_s: float | None = None,
        wait_when_full: bool = False,
        topic_of: Callable[[Any], str] = _own_topic,
    ) -> Placed:
        """Produce ``records`` (each to ``topic_of(record)``: an ``Outbound``'s own topic by
        default); return once the broker acknowledged all of them, with the highest offset
        acknowledged in each (topic, partition). Raises ``QueueFull`` (unless
        ``wait_when_full``) or ``DeliveryFailed``."""
        placed: Placed = {}
        if not records:
            return placed
        loop = asyncio.get_running_loop()
        # Served on this loop, a delivery report settles the batch there and then.
        on_loop = self._serve_on_loop_s
        settle = loop.call_soon_threadsafe if on_loop is None else _call_now
        done, delivered = _batch(loop, len(records), placed, settle)
        produce = _produce_waiting if wait_when_full else _produce
        try:
            for record in records:
                produce(self.client, topic_of(record), record, delivered)
        except BufferError as exc:
            raise QueueFull("the producer's queue is full") from exc
        except KafkaException as exc:
            raise DeliveryFailed(f"produce failed: {exc}", _error_of(exc)) from exc
        try:
            if on_loop is None:
                await asyncio.wait_for(done, timeout_s)
            else:
                await asyncio.wait_for(self._polled(done, on_loop), timeout_s)
        except TimeoutError as exc:
            raise DeliveryFailed(f"not acknowledged within {timeout_s} s") from exc
        return placed

    def serve(self) -> None:
        """Serve what librdkafka has queued for the client, without waiting (a producer
        served on the loop: its error reports between publishes)."""
        self.client.poll(0)

    async def _polled(self, done: asyncio.Future[None], pause: float) -> None:
        """``done``'s result, polling for it on this loop every ``pause`` seconds."""
        poll = self.client.poll
        while True:
            poll(0)
            if done.done():
                return done.result()
            await asyncio.sleep(pause)

    def close(self, flush_s: float) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.client.flush(flush_s)

    def _serve(self) -> None:
        while not self._stop.is_set():
            self.client.poll(self._poll_s)
            if self._on_poll is not None:
                self._on_poll(self.client)


def _call_now(function: Callable[..., None], *args: Any) -> None:
    function(*args)


def _batch(
    loop: asyncio.AbstractEventLoop,
    count: int,
    placed: Placed,
    settle: Callable[..., Any],
) -> tuple[asyncio.Future[None], Delivered]:
    """A future for ``count`` deliveries and the callback that counts them, which
    ``settle``s the future once per batch, or at the first failure (from the delivery
    thread: ``loop.call_soon_threadsafe``, woken once a batch)."""
    done: asyncio.Future[None] = loop.create_future()
    pending = [count]
    lock = threading.Lock()

    def delivered(error: KafkaError | None, msg: Message) -> None:
        with lock:
            pending[0] -= 1
            last = pending[0] == 0
            if error is None:
                where = (msg.topic() or "", msg.partition() or 0)
                placed[where] = max(placed.get(where, -1), msg.offset() or 0)
        if error is not None:
            failure = DeliveryFailed(f"not acknowledged: {error.str()}", error)
            settle(_settle, done, failure)
        elif last:
            settle(_settle, done, None)

    return done, delivered


def _settle(future: asyncio.Future[None], error: DeliveryFailed | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)


def send_all(client: Producer, records: Iterable[Outbound]) -> list[KafkaError]:
    """Produce every record, waiting out a full local queue; return the list the delivery
    reports fill with refusals as librdkafka serves them (``flush``, or a transactional
    producer's ``commit_transaction``). Raises ``DeliveryFailed`` if one cannot be produced."""
    failures: list[KafkaError] = []

    def delivered(error: KafkaError | None, _msg: Message) -> None:
        if error is not None:
            failures.append(error)

    produced = 0
    try:
        for record in records:
            _produce_waiting(client, record.topic, record, delivered)
            produced += 1
    except KafkaException as exc:
        why = f"produce failed after {produced} records: {exc}"
        raise DeliveryFailed(why, _error_of(exc)) from exc
    return failures


def deliver_all(client: Producer, records: Iterable[Outbound], timeout_s: float) -> None:
    """Produce every record and return once the broker acknowledged them all: the one
    synchronous "durable" produce. Raises ``DeliveryFailed`` naming the first refusals, or
    how many records were still unacknowledged after ``timeout_s``."""
    failures = send_all(client, records)
    left = client.flush(timeout_s)
    if failures:
        raise DeliveryFailed(f"refused: {[e.str() for e in failures[:3]]}", failures[0])
    if left:
        raise DeliveryFailed(f"{left} records not acknowledged within {timeout_s:g} s")


# --- consumed records ------------------------------------------------------------------


def decode_headers(found: object) -> dict[str, bytes]:
    """A message's headers, name -> bytes, whichever client read it: librdkafka's list of
    pairs, aiokafka's sequence of pairs, or a mapping; a header without a value is empty."""
    if not found:
        return {}
    pairs = found.items() if isinstance(found, Mapping) else found
    return {str(name): _header_bytes(value) for name, value in pairs}  # type: ignore[attr-defined]


def _header_bytes(value: str | bytes | None) -> bytes:
    return value.encode() if isinstance(value, str) else value or b""


@dataclass(frozen=True, slots=True)
class RawRecord:
    """What a consumer read: where from, and the bytes exactly as they arrived."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Mapping[str, bytes] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        raw = self.headers.get(name)
        return None if raw is None else raw.decode("utf-8", "replace")


def raw_record(message: Message) -> RawRecord:
    """A librdkafka message (one without an error) as a ``RawRecord``."""
    return RawRecord(
        topic=message.topic() or "",
        partition=message.partition() or 0,
        offset=message.offset() or 0,
        key=message.key(),
        value=message.value(),
        headers=decode_headers(message.headers()),
    )
