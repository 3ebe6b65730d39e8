"""Each service's runtime role does its job and nothing else: connected as each, the sink
writes the ledger, the labels sink its labels, and every one of them is refused UPDATE,
DELETE and TRUNCATE of the ledger, DROP TABLE and ALTER TABLE ... DISABLE TRIGGER. The
decided facts (transactions, decisions, rule hits) are append-only even for their owner."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo
from typer.testing import CliRunner

from ingest_api import keys, readside
from ledger_sink import roles
from ledger_sink.kafka_io import DurableProducer
from ledger_sink.labels import LabelWriter
from ledger_sink.reviews import ReviewWriter
from ledger_sink.testing import decision, transaction
from ledger_sink.verify import verify_ledger
from ledger_sink.webhooks.stats import DeliveryStats, StatsFlusher
from ledger_sink.writer import LedgerWriter
from reference_store import reference_repo, rules_repo
from reference_store.relay.relay import publish_pending
from schemas.connections import KafkaConnection, PostgresConnection
from schemas.records import AccountProfile, Label, Outcome, ReviewResolution, RuleHit
from schemas.topics import TopicSpec
from sentinel_cli.main import app
from tests.integration.ledger_sink.support import migrated_database

pytestmark = pytest.mark.integration

ACCOUNT = "acct-roles"


@pytest.fixture(scope="module")
def owner_dsn() -> Iterator[str]:
    """A migrated database (owned by the migration role), with three approved decisions."""
    with migrated_database() as dsn:
        yield dsn


@pytest.fixture(scope="module")
def logins(owner_dsn: str) -> Iterator[dict[str, str]]:
    """A throwaway login role in each group, as the stack's `sentinel db roles` makes them:
    group -> DSN of `owner_dsn`'s database as that role."""
    admin = PostgresConnection().admin_dsn.get_secret_value()
    made = {
        group: roles.Login(group, f"t_{group}_{uuid.uuid4().hex[:8]}", secrets.token_hex(16))
        for group in roles.GROUPS
    }
    with psycopg.connect(admin, autocommit=True) as conn:
        for login in made.values():
            roles.ensure_login(conn, login)
    try:
        yield {
            group: make_conninfo(owner_dsn, user=login.user, password=login.password)
            for group, login in made.items()
        }
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            for login in made.values():
                conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(login.user)))


@pytest.fixture(scope="module")
def written(logins: dict[str, str]) -> str:
    """The sink, connected as its runtime role, writes decisions (with rule hits)."""
    writer = LedgerWriter(logins[roles.SINK])
    hit = RuleHit(rule_id="r-1", version=1, action="REVIEW")
    try:
        for n in range(3):
            tx = transaction(ACCOUNT, f"{n + 1}.25")
            assert writer.write([decision(tx, rules=(hit,))]).written == 1
    finally:
        writer.close()
    return logins[roles.SINK]


def refused(dsn: str, statement: str) -> psycopg.Error:
    with psycopg.connect(dsn, autocommit=True) as conn, pytest.raises(psycopg.Error) as caught:
        conn.execute(statement)
    return caught.value


def test_the_sink_role_writes_the_ledger_and_its_balance(written: str) -> None:
    with psycopg.connect(written) as conn:
        seqs = conn.execute(
            "SELECT max(seq) FROM ledger_entries WHERE account_id = %s", (ACCOUNT,)
        ).fetchone()
        balance = conn.execute(
            "SELECT balance FROM balances WHERE account_id = %s", (ACCOUNT,)
        ).fetchone()
    assert seqs == (3,)
    assert balance == (Decimal("-6.7500"),)


def test_the_labels_role_writes_labels(logins: dict[str, str]) -> None:
    now = datetime.now(UTC)
    label = Label(
        transaction_id="tx-roles", account_id=ACCOUNT, merchant_id="m-1", is_fraud=True,
        scenario="chargeback", labelled_at=now, transaction_timestamp=now, reason="10.4",
    )  # fmt: skip
    writer = LabelWriter(logins[roles.LABELS])
    try:
        assert writer.write([label]).written == 1
    finally:
        writer.close()


def test_the_sink_role_applies_a_review_resolution(
    logins: dict[str, str], project_topics: dict[str, TopicSpec]
) -> None:
    """`sentinel reviews sink` runs as the sink's role: it records the resolution and
    appends the approval's ledger entry."""
    review = decision(transaction("acct-roles-review", "9.50"), Outcome.REVIEW)
    writer = LedgerWriter(logins[roles.SINK])
    try:
        writer.write([review])
    finally:
        writer.close()
    kafka = KafkaConnection(topic_prefix=project_topics["reviews"].name.removesuffix("reviews"))
    webhooks = DurableProducer(kafka, project_topics["webhooks"].name)
    labels = DurableProducer(kafka, project_topics["labels"].name)
    resolver = ReviewWriter(logins[roles.SINK], webhooks, labels)
    approval = ReviewResolution(
        resolution_id=str(uuid.uuid4()), transaction_id=review.transaction_id,
        account_id=review.account_id, decision_id=review.decision_id, verdict=Outcome.APPROVE,
        confirmed_fraud=False, note="", analyst="ana", resolved_at=datetime.now(UTC),
    )  # fmt: skip
    try:
        assert resolver.write([approval]).written == 1
    finally:
        resolver.close()
        webhooks.close()
        labels.close()
    with psycopg.connect(logins[roles.READER]) as conn:
        balance = conn.execute(
            "SELECT balance FROM balances WHERE account_id = 'acct-roles-review'"
        ).fetchone()
    assert balance == (Decimal("-9.5000"),)


ATTACKS = [
    "UPDATE ledger_entries SET amount = 0",
    "DELETE FROM ledger_entries",
    "TRUNCATE ledger_entries CASCADE",
    "DROP TABLE ledger_entries CASCADE",
    "ALTER TABLE ledger_entries DISABLE TRIGGER ALL",
    "ALTER TABLE ledger_entries DISABLE TRIGGER ledger_entries_append_only",
    "DROP TRIGGER ledger_entries_append_only ON ledger_entries",
    "UPDATE transactions SET amount = 0",
    "DELETE FROM decisions",
    "ALTER TABLE balances OWNER TO CURRENT_USER",
]


@pytest.mark.parametrize("statement", ATTACKS)
@pytest.mark.parametrize("group", roles.GROUPS)
def test_every_runtime_role_is_refused_what_only_an_owner_could_do(
    written: str, logins: dict[str, str], group: str, statement: str
) -> None:
    error = refused(logins[group], statement)
    # Refused by the grants (42501 "permission denied" / 42501 "must be owner"), not by luck.
    assert error.sqlstate == "42501", error
    assert "append-only" not in str(error), "refused by the trigger, not by the grants"


@pytest.mark.parametrize("group", [g for g in roles.GROUPS if g != roles.SINK])
def test_only_the_sink_writes_balances_and_the_ledger(
    written: str, logins: dict[str, str], group: str
) -> None:
    for statement in (
        "UPDATE balances SET balance = 1000000",
        "INSERT INTO balances (account_id, currency) VALUES ('acct-x', 'EUR')",
        "INSERT INTO ledger_entries (account_id) VALUES ('acct-x')",
        "INSERT INTO review_resolutions (transaction_id) VALUES ('tx-x')",
    ):
        assert refused(logins[group], statement).sqlstate == "42501", statement


def test_the_reader_reads_and_writes_nothing(written: str, logins: dict[str, str]) -> None:
    with psycopg.connect(logins[roles.READER]) as conn:
        assert conn.execute(
            "SELECT count(*) FROM ledger_entries WHERE account_id = %s", (ACCOUNT,)
        ).fetchone() == (3,)
    assert refused(logins[roles.READER], "INSERT INTO labels DEFAULT VALUES").sqlstate == "42501"


@pytest.mark.parametrize("group", [g for g in roles.GROUPS if g != roles.CONSOLE])
def test_only_the_console_reads_its_users(logins: dict[str, str], group: str) -> None:
    error = refused(logins[group], "SELECT password_hash FROM console_users")
    assert error.sqlstate == "42501", error


def test_the_console_role_writes_users_and_audit_but_never_changes_the_audit(
    logins: dict[str, str],
) -> None:
    name = f"t-roles-{uuid.uuid4().hex[:8]}"
    with psycopg.connect(logins[roles.CONSOLE], autocommit=True) as conn:
        conn.execute(
            "INSERT INTO console_users (username, role, password_hash)"
            " VALUES (%s, 'viewer', '$argon2id$v=19$m=65536,t=3,p=4$x$y')",
            (name,),
        )
        conn.execute("UPDATE console_users SET disabled = true WHERE username = %s", (name,))
        conn.execute("INSERT INTO console_audit (actor, action) VALUES (%s, 'test')", (name,))
        assert conn.execute("SELECT count(*) FROM decisions").fetchone() is not None
        # Rules, as the API saves them (reference_store.rules_repo): rows, never changes.
        rule_id = conn.execute(
            "INSERT INTO rules (name, created_by) VALUES (%s, %s) RETURNING rule_id", (name, name)
        ).fetchone()
        assert rule_id is not None
        conn.execute("SELECT 1 FROM rules WHERE rule_id = %s FOR UPDATE", rule_id)
        conn.execute(
            "INSERT INTO rule_versions (rule_id, version, name, expression, action, priority,"
            " mode, author) VALUES (%s, 1, %s, 'amount > 1.0', 'REVIEW', 0, 'shadow', %s)",
            (rule_id[0], name, name),
        )
    for statement in (
        "UPDATE console_audit SET actor = 'x'",
        "DELETE FROM console_audit",
        "TRUNCATE console_audit",
        "DELETE FROM console_users",
        "INSERT INTO labels DEFAULT VALUES",
        "UPDATE rule_versions SET expression = 'true'",
        "DELETE FROM rule_audit",
    ):
        assert refused(logins[roles.CONSOLE], statement).sqlstate == "42501", statement


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE transactions SET amount = amount + 1",
        "DELETE FROM transactions",
        "TRUNCATE transactions CASCADE",
        "UPDATE decisions SET outcome = 'DECLINE'",
        "DELETE FROM decisions",
        "TRUNCATE decisions CASCADE",
        "UPDATE decision_rule_hits SET action = 'APPROVE'",
        "DELETE FROM decision_rule_hits",
        "TRUNCATE decision_rule_hits",
    ],
)
def test_decided_facts_are_append_only_even_for_their_owner(
    written: str, owner_dsn: str, statement: str
) -> None:
    error = refused(owner_dsn, statement)
    assert error.sqlstate == "42501"
    assert "append-only" in str(error)


async def test_the_rules_relay_role_runs_a_pass_and_may_not_touch_the_rules(
    written: str, logins: dict[str, str]
) -> None:
    """A relay pass (its SQL, the lock, the publication rows) as sentinel_rules_relay; the
    versions it reads it may not write. The pass's records are collected, not produced:
    what is under test is the database's grants."""
    sent: list[tuple[str, int]] = []

    async def collect(versions: Sequence[rules_repo.RuleVersion]) -> None:
        sent.extend((v.rule_id, v.version) for v in versions)

    async with await psycopg.AsyncConnection.connect(logins[roles.API], autocommit=True) as conn:
        rule = await rules_repo.create(
            conn,
            rules_repo.draft(
                name=f"relayed-{uuid.uuid4().hex[:6]}", description="", expression="amount > 1",
                action="REVIEW", priority=1, mode="active", author="t",
            ),
        )  # fmt: skip
    relay_dsn = logins[roles.RULES_RELAY]
    async with await psycopg.AsyncConnection.connect(relay_dsn, autocommit=True) as conn:
        await publish_pending(conn, collect)
        assert (rule.rule_id, 1) in sent
        assert (await publish_pending(conn, collect)).publish == ()
    for statement in (
        "INSERT INTO rules (name, created_by) VALUES ('x', 'relay')",
        "UPDATE rule_publications SET published_at = now()",
        "SELECT * FROM transactions",
    ):
        assert refused(relay_dsn, statement).sqlstate == "42501", statement


async def test_the_api_role_runs_the_apis_own_admin_writes_and_reads(
    written: str, logins: dict[str, str]
) -> None:
    """The API's repository functions, connected as sentinel_api: its grants are enough."""
    published: list[object] = []

    async def publish(item: object) -> None:
        published.append(item)

    async with await psycopg.AsyncConnection.connect(logins[roles.API], autocommit=True) as conn:
        key, _ = await keys.create_key(conn, "roles-test", {keys.Scope.READ}, "p" * 32)
        await keys.mark_used(conn, [key.key_id])
        assert await keys.revoke_key(conn, key.key_id)
        rule = await rules_repo.create(
            conn,
            rules_repo.draft(
                name=f"r-{uuid.uuid4().hex[:6]}", description="", expression="amount > 1",
                action="REVIEW", priority=1, mode="active", author="t",
            ),
        )  # fmt: skip
        changed = await rules_repo.change(conn, rule.rule_id, {"priority": 2}, "t", "update")
        assert changed is not None and changed.version == 2
        await reference_repo.create_list(conn, "roles_test", "merchants", "", ["m-1"], "t", publish)
        assert await reference_repo.add_items(conn, "roles_test", ["m-2"], "t", publish)
        assert await reference_repo.remove_item(conn, "roles_test", "m-1", publish)
        profile = AccountProfile(
            account_id=ACCOUNT, home_country="FR", updated_at=datetime.now(UTC), home_lat=48.8
        )
        await reference_repo.upsert_profile(conn, profile, publish)
        await conn.execute(
            "INSERT INTO webhook_subscriptions (url, secret, event_types)"
            " VALUES ('https://example.com/h', %s, ARRAY['*'])",
            (secrets.token_hex(16),),
        )
        await conn.execute("UPDATE webhook_subscriptions SET active = false")
        assert await readside.balance(conn, ACCOUNT) is not None
        # POST /v1/labels: a key of the labels scope, and the labelled transaction's look-up.
        labels_key, _ = await keys.create_key(conn, "labels", {keys.Scope.LABELS}, "p" * 32)
        assert labels_key.scopes == {keys.Scope.LABELS}
        cur = await conn.execute(
            "SELECT transaction_id FROM transactions WHERE account_id = %s LIMIT 1", (ACCOUNT,)
        )
        (tid,) = await cur.fetchone() or ("?",)
        found = await readside.labelled_transactions(conn, [tid, "tx-none"])
        assert [(t, tx.account_id) for t, tx in found.items()] == [(tid, ACCOUNT)]
    assert published


async def test_the_console_role_reads_what_the_overview_shows(
    written: str, logins: dict[str, str]
) -> None:
    """The Overview's queries, connected as sentinel_console (20261205_0610's grant)."""
    from console import activity, overview
    from ledger_sink.testing import EPOCH

    window = overview.Window.last_minutes(EPOCH + timedelta(minutes=1), 5)
    async with await psycopg.AsyncConnection.connect(logins[roles.CONSOLE]) as conn:
        figures = await overview.figures(conn, window)
        rules = await activity.top_rules(conn, window)
        minutes = await activity.per_minute(conn, window)
        declined = await activity.latest_declines(conn, window)
    assert figures.decisions >= 3 and declined == []
    assert [(r.rule_id, r.name) for r in rules] == [("r-1", None)] and rules[0].hits >= 3
    assert sum(m.decisions for m in minutes) == figures.decisions


def test_db_roles_creates_the_login_roles_configured_and_the_reader_can_verify(
    written: str, owner_dsn: str
) -> None:
    user, password = f"t_reader_{uuid.uuid4().hex[:8]}", secrets.token_hex(16)
    dsn = make_conninfo(owner_dsn, user=user, password=password)
    admin = PostgresConnection().admin_dsn.get_secret_value()
    try:
        for _ in range(2):  # idempotent
            done = CliRunner().invoke(
                app, ["db", "roles"], env={"SENTINEL_POSTGRES_READER_DSN": dsn}
            )
            assert done.exit_code == 0, done.output
        assert user in done.output and password not in done.output
        with psycopg.connect(dsn, autocommit=True) as conn:
            report = verify_ledger(conn)
            # Every entry (other tests of the module may have added theirs) walked, none broken.
            stored = conn.execute("SELECT count(*) FROM ledger_entries").fetchone()
            assert report.broken is None and (report.entries,) == stored and report.entries >= 3
        assert refused(dsn, "DELETE FROM labels").sqlstate == "42501"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(user)))


async def test_the_dispatcher_role_upserts_delivery_stats_and_the_readers_read_them(
    logins: dict[str, str],
) -> None:
    sub_id = str(uuid.uuid4())
    stats = DeliveryStats(lambda: 1_800_000_000.0)
    flusher = StatsFlusher(stats, logins[roles.WEBHOOKS], interval_s=1)
    for status in (200, 503):
        stats.attempted(sub_id, status, status == 200, 0.02)
        assert await flusher.flush() == 1  # the second adds to the first's row
    await flusher.close()
    for group in (roles.CONSOLE, roles.READER, roles.API):
        with psycopg.connect(logins[group]) as conn:
            row = conn.execute(
                "SELECT deliveries, successes, failed_5xx, last_status, latency_buckets"
                " FROM webhook_delivery_stats WHERE subscription_id = %s",
                (sub_id,),
            ).fetchone()
        assert row is not None and row[:4] == (2, 1, 1, 503), group
        assert sum(row[4]) == 2
    for group in (roles.CONSOLE, roles.API, roles.READER, roles.SINK):
        statement = "DELETE FROM webhook_delivery_stats"
        assert refused(logins[group], statement).sqlstate == "42501", group


async def test_the_console_role_edits_lists_as_the_api_does(logins: dict[str, str]) -> None:
    published: list[str] = []

    async def publish(named: object) -> None:
        published.append(str(named))

    name = f"t_console_{uuid.uuid4().hex[:8]}"
    async with await psycopg.AsyncConnection.connect(logins[roles.API], autocommit=True) as conn:
        await reference_repo.create_list(conn, name, "merchants", "", ["m-1"], "api", publish)
    async with await psycopg.AsyncConnection.connect(
        logins[roles.CONSOLE], autocommit=True
    ) as conn:
        added = await reference_repo.add_items(conn, name, ["m-2"], "console:ana", publish)
        assert added is not None and added.values == ("m-1", "m-2")
        removed = await reference_repo.remove_item(conn, name, "m-1", publish)
        assert removed is not None and removed.values == ("m-2",)
    assert len(published) == 3
