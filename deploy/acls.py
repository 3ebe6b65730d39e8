"""The Kafka ACL table as code: which principal may read and write which topics, join which
consumer groups and hold which transactional ids; applied idempotently with ``create_acls``.

Topic names come from ``schemas.topics`` and carry the topic prefix, so an environment (or a
test) under a prefix gets ACLs for its own topics only. Patterns: a declared topic is
LITERAL (``<prefix>transactions``); what a service names at run time is PREFIXED: its
consumer groups (``<prefix>ledger-sink`` and the ``…-<instance>`` or ``…-<uuid>`` variants),
the agents' own faust topics (``<prefix>sentinel-agents-``), replay's output topics
(``replay.``), the dead-letter re-drive's transactional ids. Groups that the code names
without the topic prefix (throwaway readers, ``sentinel-dlq-<uuid>``) are granted without it.

Operations: READ and WRITE imply DESCRIBE in Kafka; idempotent producers need only WRITE on
a topic (Kafka 3.0+, KIP-679). The admin principal is a super user and needs no row here.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from schemas.stages import STAGES
from schemas.topics import (
    ACCOUNTS,
    AGENTS_APP_ID,
    DEAD_LETTER,
    DEAD_LETTER_REDRIVES,
    DECISION_REPLIES,
    DECISIONS,
    LABELS,
    LEDGER_HEADS,
    LISTS,
    MERCHANT_RISK,
    MODELS,
    REVIEWS,
    RULES,
    TRANSACTIONS,
    WEBHOOKS,
    WEBHOOKS_DEAD_LETTER,
    WEBHOOKS_RETRY,
    TopicSpec,
)

if TYPE_CHECKING:
    from confluent_kafka.admin import AclBinding, AdminClient

ADMIN = "admin"
Resource = Literal["topic", "group", "transactional_id"]
Pattern = Literal["literal", "prefixed"]
Operation = Literal["read", "write", "create", "describe"]


@dataclass(frozen=True, slots=True)
class Grant:
    """One ACL: ``principal`` may ``operation`` on the resource ``name`` (by ``pattern``)."""

    principal: str
    resource: Resource
    name: str
    pattern: Pattern
    operation: Operation


@dataclass(frozen=True, slots=True)
class Access:
    """What one service's principal may do. Topics are declared (unprefixed) specs; groups
    and ``own_topics`` are name prefixes; ``global_groups`` are named without the topic prefix."""

    reads: tuple[TopicSpec, ...] = ()
    writes: tuple[TopicSpec, ...] = ()
    describes: tuple[TopicSpec, ...] = ()
    groups: tuple[str, ...] = ()
    global_groups: tuple[str, ...] = ()
    describe_groups: tuple[str, ...] = ()
    # Topics the service creates and uses itself, by name prefix (with the topic prefix).
    own_topics: tuple[str, ...] = ()
    # Same, without the topic prefix (replay's output topics are named by the analyst).
    global_own_topics: tuple[str, ...] = ()
    transactional_ids: tuple[str, ...] = field(default=())


REFERENCE = (RULES, LISTS, ACCOUNTS, MERCHANT_RISK, MODELS)
REPLAY_READS = (TRANSACTIONS, LABELS, DECISIONS, *REFERENCE)
# Where a re-driven dead letter goes back to: every topic whose consumer dead-letters.
REDRIVE_ORIGINS = (TRANSACTIONS, DECISIONS, WEBHOOKS, WEBHOOKS_RETRY, LABELS, REVIEWS)
DLQ = Access(
    reads=(DEAD_LETTER, WEBHOOKS_DEAD_LETTER, DEAD_LETTER_REDRIVES),
    writes=(*REDRIVE_ORIGINS, DEAD_LETTER_REDRIVES),
    global_groups=("sentinel-dlq-",),
    transactional_ids=("sentinel-dlq-redrive.",),
)
REPLAY = Access(
    reads=REPLAY_READS,
    global_groups=("sentinel-replay-", "sentinel-reference-"),
    global_own_topics=("replay.",),
)

ACCESS: dict[str, Access] = {
    # HTTP ingest, labels, the admin routes' lists and account profiles; reads the
    # decisions' replies for authorize. Not rules: the admin routes commit a rule to
    # PostgreSQL only, and the rules relay publishes it; the internet-facing process never
    # writes that topic.
    "api": Access(
        reads=(DECISION_REPLIES,),
        writes=(TRANSACTIONS, LABELS, LISTS, ACCOUNTS),
        global_groups=("ingest-api-waiter-",),
    ),
    # A gateway producing straight to Kafka (the demo's simulated traffic plays one).
    "gateway": Access(writes=(TRANSACTIONS, LABELS)),
    "agents": Access(
        reads=(TRANSACTIONS, *REFERENCE),
        # transactions too: one off its key's partition is forwarded home (partitioning.md).
        writes=(TRANSACTIONS, DECISIONS, DECISION_REPLIES, WEBHOOKS, DEAD_LETTER),
        groups=(AGENTS_APP_ID,),
        global_groups=("sentinel-reference-", "sentinel-models-"),
        # faust's changelog and its assignor's leader topic: <app id>-…
        own_topics=(f"{AGENTS_APP_ID}-",),
    ),
    # The ledger sink, the labels sink, the reviews sink and `ledger verify`.
    "sink": Access(
        reads=(DECISIONS, LABELS, REVIEWS, LEDGER_HEADS),
        writes=(DEAD_LETTER, LEDGER_HEADS, LABELS, WEBHOOKS),
        groups=("ledger-sink", "ledger-verify", "labels-sink", "reviews-sink"),
    ),
    "dispatcher": Access(
        reads=(WEBHOOKS, WEBHOOKS_RETRY),
        writes=(WEBHOOKS_RETRY, WEBHOOKS_DEAD_LETTER, DEAD_LETTER),
        groups=("webhook-dispatcher", "webhook-retry"),
    ),
    "merchant-risk": Access(
        reads=(MERCHANT_RISK,),
        writes=(MERCHANT_RISK,),
        global_groups=("sentinel-merchant-risk-reader",),
    ),
    # The outbox relay (`sentinel rules relay`): committed rule versions, the one writer of
    # the rules topic (the API, the console and `rules load` commit to PostgreSQL only).
    "rules-relay": Access(writes=(RULES,)),
    # Lists, review resolutions, model promotions (its rules go through the relay); its
    # dead-letter pages re-drive like `sentinel dlq`, its backtests read like replay, its
    # operations page reads every stage's lag.
    "console": Access(
        reads=(*REPLAY_READS, *DLQ.reads),
        writes=(LISTS, REVIEWS, MODELS, *DLQ.writes),
        global_groups=(*DLQ.global_groups, *REPLAY.global_groups, "sentinel-models-cli-"),
        describe_groups=tuple(group for group, _ in STAGES.values()),
        transactional_ids=DLQ.transactional_ids,
    ),
    "replay": REPLAY,
    "dlq": DLQ,
}
PRINCIPALS: tuple[str, ...] = (*ACCESS, ADMIN)


def grants(principal: str, access: Access, prefix: str = "") -> list[Grant]:
    """The ACLs that give ``principal`` exactly ``access`` under the topic prefix ``prefix``."""

    def topic(specs: Iterable[TopicSpec], op: Operation) -> list[Grant]:
        return [Grant(principal, "topic", prefix + s.name, "literal", op) for s in specs]

    def prefixed(kind: Resource, names: Iterable[str], op: Operation, pre: str) -> list[Grant]:
        return [Grant(principal, kind, pre + name, "prefixed", op) for name in names]

    found = [*topic(access.reads, "read"), *topic(access.writes, "write")]
    found += topic(access.describes, "describe")
    found += prefixed("group", access.groups, "read", prefix)
    found += prefixed("group", access.global_groups, "read", "")
    found += prefixed("group", access.describe_groups, "describe", prefix)
    for op in ("read", "write", "create"):
        found += prefixed("topic", access.own_topics, op, prefix)
        found += prefixed("topic", access.global_own_topics, op, "")
    found += prefixed("transactional_id", access.transactional_ids, "write", "")
    return list(dict.fromkeys(found))


def table(prefix: str = "", principals: Sequence[str] = tuple(ACCESS)) -> list[Grant]:
    """Every service's ACLs under ``prefix``."""
    return [g for name in principals for g in grants(name, ACCESS[name], prefix)]


def may(
    found: Iterable[Grant], principal: str, operation: Operation, resource: Resource, name: str
) -> bool:
    """Whether the grants let ``principal`` do ``operation`` on ``name`` (READ and WRITE
    imply DESCRIBE, as in Kafka)."""
    implied = {operation, *(("read", "write") if operation == "describe" else ())}
    return any(
        g.principal == principal
        and g.resource == resource
        and g.operation in implied
        and (g.name == name if g.pattern == "literal" else name.startswith(g.name))
        for g in found
    )


def bindings(found: Iterable[Grant]) -> list[AclBinding]:
    """The grants as confluent-kafka's ALLOW bindings, from any host."""
    from confluent_kafka.admin import (
        AclBinding,
        AclOperation,
        AclPermissionType,
        ResourcePatternType,
        ResourceType,
    )

    kinds = {
        "topic": ResourceType.TOPIC,
        "group": ResourceType.GROUP,
        "transactional_id": ResourceType.TRANSACTIONAL_ID,
    }
    return [
        AclBinding(
            kinds[g.resource],
            g.name,
            ResourcePatternType[g.pattern.upper()],
            f"User:{g.principal}",
            "*",
            AclOperation[g.operation.upper()],
            AclPermissionType.ALLOW,
        )
        for g in found
    ]


def apply(admin: AdminClient, prefix: str = "", timeout_s: float = 30.0) -> int:
    """Create every ACL of the table under ``prefix`` (one that exists already is left as
    it is: create_acls is idempotent); returns how many bindings were asked for."""
    wanted = bindings(table(prefix))
    for future in admin.create_acls(wanted, request_timeout=timeout_s).values():
        future.result(timeout=timeout_s)
    _await_visible(admin, wanted, timeout_s)
    return len(wanted)


def _await_visible(admin: AdminClient, wanted: list[AclBinding], timeout_s: float) -> None:
    """Wait until the broker's authorizer holds ``wanted``: CreateAcls returns once the
    controller has them, a moment before the broker's metadata does."""
    from confluent_kafka.admin import (
        AclBindingFilter,
        AclOperation,
        AclPermissionType,
        ResourcePatternType,
        ResourceType,
    )

    # None matches any name, principal and host (confluent-kafka's documented filter; its
    # type stubs say str).
    everything = AclBindingFilter(
        ResourceType.ANY, None, ResourcePatternType.ANY, None, None,  # type: ignore[arg-type]
        AclOperation.ANY, AclPermissionType.ANY,
    )  # fmt: skip
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        held = set(admin.describe_acls(everything, request_timeout=timeout_s).result(timeout_s))
        if held.issuperset(wanted):
            return
        time.sleep(0.1)
    raise TimeoutError(f"the broker did not show the new ACLs within {timeout_s} s")


def remove(admin: AdminClient, prefix: str, timeout_s: float = 30.0) -> None:
    """Delete the table's ACLs under ``prefix`` (a test's, when it tears its topics down)."""
    from confluent_kafka.admin import AclBindingFilter

    filters = [
        AclBindingFilter(
            b.restype,
            b.name,
            b.resource_pattern_type,
            b.principal,
            b.host,
            b.operation,
            b.permission_type,
        )
        for b in bindings(g for g in table(prefix) if g.name.startswith(prefix))
    ]
    if not filters:
        return
    for future in admin.delete_acls(filters, request_timeout=timeout_s).values():
        future.result(timeout=timeout_s)
