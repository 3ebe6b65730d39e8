"""`sentinel rules load|sync`: seed rules as data, and republishing the reference topics.

Both commit rules to PostgreSQL and then run one pass of the outbox relay
(``reference_store.relay``) under its lock, as the operator's admin principal: `load` so the
seed rules reach the topic without waiting for a running relay, `sync` to republish every
rule's current version (a repair). A relay running meanwhile takes turns with them.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated

import psycopg
import typer
from rich.console import Console
from rich.table import Table

from ingest_api.publisher import KafkaPublisher
from ingest_api.reference_publish import list_publisher
from ingest_api.settings import ApiSettings
from reference_store import reference_repo, rules_repo
from reference_store.relay.relay import KafkaSend, publish_pending
from rule_engine import RuleSpec, compile_rule, load_seed_lists, load_seed_rules
from schemas.secrets import refuse_default_secrets

rules_app = typer.Typer(help="Analysts' rules: seed them, republish them.")
console = Console()
AUTHOR = "sentinel rules load"


def _specs(path: Path | None) -> list[RuleSpec]:
    if path is None:
        return load_seed_rules()
    return [RuleSpec.from_dict(rule) for rule in json.loads(path.read_text())["rules"]]


async def _load(settings: ApiSettings, specs: list[RuleSpec]) -> list[tuple[str, str]]:
    refuse_default_secrets(settings.kafka, settings.postgres)
    publisher = KafkaPublisher(settings.kafka, 1.0, settings.produce_timeout_ms)
    publish_list = list_publisher(publisher, settings.kafka)
    send = KafkaSend(settings.kafka, settings.produce_timeout_ms / 1000)
    results = []
    try:
        dsn = settings.postgres.dsn.get_secret_value()
        async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
            for named in load_seed_lists().values():
                if await reference_repo.get_list(conn, named.name) is None:
                    await reference_repo.create_list(
                        conn, named.name, named.kind.value, "", named.values, AUTHOR, publish_list
                    )
            for spec in specs:
                results.append((spec.name, await _load_one(conn, spec)))
            await publish_pending(conn, send)
    finally:
        publisher.close()
        send.close()
    return results


async def _load_one(conn: psycopg.AsyncConnection, spec: RuleSpec) -> str:
    if await rules_repo.by_name(conn, spec.name) is not None:
        return "exists"
    compile_rule(spec.expression)
    draft = rules_repo.draft(
        name=spec.name,
        description=spec.description,
        expression=spec.expression,
        action=str(spec.action),
        priority=spec.priority,
        mode=spec.mode.value,
        author=AUTHOR,
    )
    await rules_repo.create(conn, draft)
    return "created"


@rules_app.command("load")
def load(
    file: Annotated[
        Path | None, typer.Option(help="A rules JSON file (default: the seed rules).")
    ] = None,
) -> None:
    """Create every rule of the file that does not exist yet (by name); idempotent."""
    results = asyncio.run(_load(ApiSettings(), _specs(file)))
    table = Table(title="rules")
    table.add_column("rule")
    table.add_column("result")
    for name, result in results:
        table.add_row(name, result)
    console.print(table)


async def _sync(settings: ApiSettings) -> tuple[int, int]:
    refuse_default_secrets(settings.kafka, settings.postgres)
    publisher = KafkaPublisher(settings.kafka, 1.0, settings.produce_timeout_ms)
    send = KafkaSend(settings.kafka, settings.produce_timeout_ms / 1000)
    try:
        dsn = settings.postgres.dsn.get_secret_value()
        async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
            rules = (await publish_pending(conn, send, everything=True)).publish
            lists = await reference_repo.lists(conn)
            publish_list = list_publisher(publisher, settings.kafka)
            for name in lists:
                named = await reference_repo.get_list(conn, name)
                if named is not None:
                    await publish_list(named)
    finally:
        publisher.close()
        send.close()
    return len(rules), len(lists)


@rules_app.command("sync")
def sync() -> None:
    """Republish every rule's current version and every list from PostgreSQL (repair)."""
    rules, lists = asyncio.run(_sync(ApiSettings()))
    console.print(f"republished {rules} rules and {lists} lists")
