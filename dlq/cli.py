"""``sentinel dlq``: list, show and re-drive dead letters (settings from the environment)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from dlq import render
from dlq.kafka import DlqError
from dlq.letters import InvalidLetterId, Letter, LetterFilter, LetterId, Unreadable
from dlq.redrive import RedriveReport, redrive
from dlq.source import DlqTopics, load_letter, load_letters
from schemas.connections import KafkaConnection
from schemas.pan import mask_pans
from schemas.topics import DEAD_LETTER

dlq_app = typer.Typer(
    help="Dead letters: list them, show one, re-drive them after a fix.", no_args_is_help=True
)
console = Console()

Topic = Annotated[
    str,
    typer.Option(
        "--topic",
        help="dead-letter topic as declared (dead-letter, webhooks.dead-letter); "
        "SENTINEL_KAFKA_TOPIC_PREFIX is added",
    ),
]
Codes = Annotated[list[str] | None, typer.Option("--code", help="error code (repeatable)")]
Source = Annotated[
    str | None, typer.Option("--source-topic", help="the topic the letters came from")
]
Since = Annotated[
    str | None, typer.Option("--since", help="failed at or after (ISO 8601; UTC if naive)")
]
Until = Annotated[
    str | None, typer.Option("--until", help="failed before (ISO 8601; UTC if naive)")
]
AsJson = Annotated[bool, typer.Option("--json", help="JSON instead of a table")]


def _when(text: str | None, option: str) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise typer.BadParameter(f"{text!r} is not an ISO 8601 time", param_hint=option) from exc
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _ids(texts: list[str]) -> frozenset[LetterId]:
    try:
        return frozenset(LetterId.parse(text) for text in texts)
    except InvalidLetterId as exc:
        raise typer.BadParameter(str(exc), param_hint="ID") from exc


def _filter(
    conn: KafkaConnection,
    ids: list[str],
    codes: list[str] | None,
    source: str | None,
    since: str | None,
    until: str | None,
) -> LetterFilter:
    return LetterFilter(
        ids=_ids(ids),
        error_codes=frozenset(codes or ()),
        source_topics=frozenset({source, f"{conn.topic_prefix}{source}"} if source else ()),
        since=_when(since, "--since"),
        until=_when(until, "--until"),
    )


def _fail(exc: Exception) -> typer.Exit:
    console.print(f"[red]error:[/red] {mask_pans(str(exc))}")
    return typer.Exit(1)


@dlq_app.command("list")
def list_letters(
    topic: Topic = DEAD_LETTER.name,
    code: Codes = None,
    source_topic: Source = None,
    since: Since = None,
    until: Until = None,
    pending: Annotated[bool, typer.Option("--pending", help="only letters not re-driven")] = False,
    as_json: AsJson = False,
) -> None:
    """The letters of a dead-letter topic as it stands now, oldest first per partition."""
    conn = KafkaConnection()
    topics = DlqTopics.of(topic, conn.topic_prefix)
    chosen = replace(_filter(conn, [], code, source_topic, since, until), not_redriven=pending)
    try:
        loaded = load_letters(conn, topics)
    except DlqError as exc:
        raise _fail(exc) from exc
    letters = sorted(chosen.select(loaded.letters), key=lambda letter: letter.id)
    unreadable = loaded.unreadable if chosen.empty else []
    if as_json:
        rows = [render.summary(letter) for letter in letters]
        rows += [{"id": str(bad.id), "unreadable": bad.error} for bad in unreadable]
        typer.echo(render.to_json(rows))
        return
    console.print(render.letters_table(topics.name, letters, unreadable))


@dlq_app.command("show")
def show(
    letter_id: Annotated[str, typer.Argument(metavar="ID", help="PARTITION:OFFSET, from `list`")],
    topic: Topic = DEAD_LETTER.name,
    as_json: AsJson = False,
) -> None:
    """One letter in full: its metadata and the original record (decoded when possible)."""
    conn = KafkaConnection()
    topics = DlqTopics.of(topic, conn.topic_prefix)
    wanted = next(iter(_ids([letter_id])))
    try:
        found = load_letter(conn, topics, wanted)
    except DlqError as exc:
        raise _fail(exc) from exc
    if found is None:
        raise _fail(LookupError(f"no record at {wanted} on {topics.name}"))
    if isinstance(found, Unreadable):
        raise _fail(ValueError(f"{wanted} on {topics.name} is not a dead letter: {found.error}"))
    _show(found, as_json)


def _show(letter: Letter, as_json: bool) -> None:
    detail = render.detail(letter)
    if as_json:
        typer.echo(render.to_json(detail))
        return
    console.print(render.detail_table(detail))
    console.print("original record:", style="bold")
    # Markup off: the record is data, and may contain square brackets.
    console.print(render.to_json(detail["original"]), markup=False, highlight=False)


@dlq_app.command("redrive")
def redrive_letters(
    letter_ids: Annotated[
        list[str] | None, typer.Argument(metavar="[ID]...", help="letters to re-drive")
    ] = None,
    topic: Topic = DEAD_LETTER.name,
    code: Codes = None,
    source_topic: Source = None,
    since: Since = None,
    until: Until = None,
    everything: Annotated[
        bool, typer.Option("--all", help="every letter not yet re-driven (no ID or filter)")
    ] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="say what would be re-driven")] = False,
) -> None:
    """Re-produce letters' original records to their source topics, each at most once.

    Run it after the cause is fixed. A record that fails again is dead-lettered again, with
    a ``sentinel-redrive-of`` header naming this letter; nothing re-drives automatically.
    """
    conn = KafkaConnection()
    topics = DlqTopics.of(topic, conn.topic_prefix)
    chosen = _filter(conn, letter_ids or [], code, source_topic, since, until)
    if chosen.empty and not everything:
        raise typer.BadParameter("name letter ids, a filter, or --all", param_hint="ID")
    try:
        with console.status("re-driving…"):
            report = redrive(conn, topics, chosen, dry_run=dry_run)
    except DlqError as exc:
        raise _fail(exc) from exc
    console.print(_report_table(report))
    if report.missing:
        missing = ", ".join(str(letter_id) for letter_id in report.missing)
        raise _fail(LookupError(f"no letter at {missing} on {topics.name}"))


def _report_table(report: RedriveReport) -> Table:
    done = report.pending if report.dry_run else report.redriven
    verb = "would re-drive" if report.dry_run else "re-driven"
    table = Table(
        title=f"{verb}: {len(done)}, already re-driven: {len(report.already)}, "
        f"skipped: {len(report.skipped)}"
    )
    for column in ("id", "to", "error", "result"):
        table.add_column(column, overflow="fold")
    rows = [(letter, verb) for letter in done]
    rows += [(letter, "already re-driven") for letter in report.already]
    rows += report.skipped
    for letter, result in rows:
        dead = letter.letter
        table.add_row(str(letter.id), dead.source_topic, dead.error_code, result)
    return table
