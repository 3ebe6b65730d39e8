"""The Models and Lists pages on the real PostgreSQL, Kafka and Redis: versions and card
metrics from a registry folder, roles from the module's models topic, figures served from
inside the registry only, promotion published on the module's models topic (audited);
list members added and removed reach the lists table and the module's lists topic."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from fraudsim.announce import announced
from ledger_sink.testing import decision, transaction
from schemas.codec import decode_named_list
from schemas.connections import KafkaConnection
from schemas.records import NamedList, Outcome
from schemas.topics import LISTS
from tests.integration.ledger_sink.support import read_all
from tests.support.console import page_token, sign_in, write_ledger
from tests.support.models import (
    announce_model,
    card_like_training,
    draw_pr_curve,
    train_tiny_model,
)

pytestmark = pytest.mark.integration
VERSIONS = ("tiny-1", "tiny-2")


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("registry")
    for seed, version in enumerate(VERSIONS, start=1):
        train_tiny_model(root, version, rounds=10 + seed, card=card_like_training(seed))
        draw_pr_curve(root / version, seed)
    (root / "tiny-1" / "leak.png").symlink_to("/etc/hostname")
    return root


@pytest.fixture(scope="module")
def console_env(console_env: dict[str, str], registry: Path) -> dict[str, str]:
    return {**console_env, "SENTINEL_CONSOLE_MODEL_REGISTRY": str(registry)}


def client_of(console_url: str, make_user: Callable[[str], str], role: str) -> httpx.Client:
    client = httpx.Client(base_url=console_url, follow_redirects=False, timeout=60)
    assert sign_in(client, make_user(role)).status_code == 303
    return client


@pytest.fixture(scope="module")
def admin(console_url: str, make_user: Callable[[str], str]) -> Iterator[httpx.Client]:
    client = client_of(console_url, make_user, "admin")
    yield client
    client.close()


@pytest.fixture(scope="module")
def analyst(console_url: str, make_user: Callable[[str], str]) -> Iterator[httpx.Client]:
    client = client_of(console_url, make_user, "analyst")
    yield client
    client.close()


@pytest.fixture(scope="module")
def viewer(console_url: str, make_user: Callable[[str], str]) -> Iterator[httpx.Client]:
    client = client_of(console_url, make_user, "viewer")
    yield client
    client.close()


def audit_rows(dsn: str, action: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT actor, target, detail FROM console_audit WHERE action = %s ORDER BY audit_id",
            (action,),
        ).fetchall()


def roles_on_topic(prefix: str) -> dict[str, tuple[str, str]]:
    return {
        role: (a.version, a.announced_by)
        for role, a in announced(KafkaConnection(topic_prefix=prefix)).items()
    }


def test_the_models_page_shows_versions_metrics_and_the_announced_roles(
    viewer: httpx.Client, topic_prefix: str
) -> None:
    announce_model(topic_prefix, "tiny-1")
    announce_model(topic_prefix, "tiny-2", role="challenger")
    page = viewer.get("/console/models")
    assert page.status_code == 200, page.text
    assert 'id="md-champion"><a href="/console/models/tiny-1">tiny-1</a>' in page.text
    assert 'id="md-challenger"><a href="/console/models/tiny-2">tiny-2</a>' in page.text
    assert "0.890 <small>± 0.004</small>" in page.text  # tiny-1's AUC, mean ± sd
    assert "0.720 <small>± 0.030</small>" in page.text  # tiny-2's AP
    detail = viewer.get("/console/models/tiny-2")
    assert detail.status_code == 200
    assert 'id="md-review-precision">95.0 %' in detail.text
    assert "/console/models/tiny-2/figures/pr_curve.png" in detail.text
    assert "md-promote" not in detail.text  # promoting is an admin's
    assert viewer.get("/console/models/nope").status_code == 404


def test_figures_are_served_from_inside_the_registry_only(viewer: httpx.Client) -> None:
    figure = viewer.get("/console/models/tiny-1/figures/pr_curve.png")
    assert figure.status_code == 200 and figure.headers["content-type"] == "image/png"
    assert figure.content.startswith(b"\x89PNG")
    for path in (
        "/console/models/tiny-1/figures/model.ubj",
        "/console/models/tiny-1/figures/card.json",
        "/console/models/tiny-1/figures/leak.png",  # a link out of the registry
        "/console/models/..%2F..%2F..%2Fetc/figures/pr_curve.png",
        "/console/models/%2Fetc/figures/pr_curve.png",
        "/console/models/.staging/figures/pr_curve.png",
    ):
        assert viewer.get(path).status_code == 404, path


def test_an_admin_promotes_through_the_clis_code_and_it_is_audited(
    admin: httpx.Client,
    analyst: httpx.Client,
    api_db: str,
    topic_prefix: str,
    registry: Path,
) -> None:
    announce_model(topic_prefix, "tiny-1")
    announce_model(topic_prefix, "tiny-2", role="challenger")
    token = page_token(analyst, "/console/models/tiny-2")
    refused = analyst.post(
        "/console/models/tiny-2/announce", data={"csrf_token": token, "role": "champion"}
    )
    assert refused.status_code == 403
    token = page_token(admin, "/console/models/tiny-2")
    no_token = admin.post("/console/models/tiny-2/announce", data={"role": "champion"})
    assert no_token.status_code == 403
    done = admin.post(
        "/console/models/tiny-2/announce", data={"csrf_token": token, "role": "champion"}
    )
    assert done.status_code == 200, done.text
    assert "tiny-2 no longer shadows as challenger" in done.text
    roles = roles_on_topic(topic_prefix)
    assert set(roles) == {"champion"}  # the challenger of the same version cleared
    version, by = roles["champion"]
    assert version == "tiny-2" and by.startswith("console:")
    assert (registry / "CURRENT").read_text() == "tiny-2"
    (actor, target, detail), *_ = audit_rows(api_db, "model.announced")[-1:]
    assert target == "tiny-2" and by == f"console:{actor}"
    assert detail["role"] == "champion" and detail["result"] == "announced"
    assert detail["challenger_cleared"] is True
    unknown = admin.post(
        "/console/models/nope/announce", data={"csrf_token": token, "role": "challenger"}
    )
    assert unknown.status_code == 409
    assert audit_rows(api_db, "model.announced")[-1][2]["result"] == "refused"


def test_the_live_comparison_reads_the_challengers_scores_from_the_ledger(
    viewer: httpx.Client, api_db: str, topic_prefix: str
) -> None:
    announce_model(topic_prefix, "tiny-1")
    at = datetime.now(UTC) - timedelta(minutes=5)
    made = []
    for n, (champion, challenger) in enumerate([(0.9, 0.2), (0.7, 0.8), (0.1, 0.1)]):
        tx = transaction(f"acct-cmp-{uuid.uuid4().hex[:6]}", at=at + timedelta(seconds=n))
        made.append(
            replace(
                decision(tx, Outcome.APPROVE, risk_score=champion),
                model_version="cmp-champion",
                challenger_model_version="cmp-challenger",
                challenger_score=challenger,
            )
        )
    write_ledger(api_db, made)
    page = viewer.get("/console/models")
    row = page.text.split("<td>cmp-champion</td><td>cmp-challenger</td>", 1)[1].split("</tr>")[0]
    # tiny-1's card: review at 0.6; flagged 2 and 1; they disagree on one (0.9 / 0.2).
    assert '<td class="num">3</td>' in row
    assert '<td class="num">2 / 1</td>' in row and '<td class="num">1</td>' in row


def lists_on_topic(prefix: str, name: str) -> list[NamedList]:
    """Every record of the list ``name`` on the module's lists topic, in order."""
    records = read_all(f"{prefix}{LISTS.name}")
    return [decode_named_list(r.value) for r in records if r.key == name.encode()]


def members(dsn: str, name: str) -> list[tuple[str, str]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT value, added_by FROM list_items WHERE list_name = %s ORDER BY value", (name,)
        ).fetchall()


def make_list(dsn: str, name: str, values: list[str]) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("INSERT INTO lists (list_name, kind) VALUES (%s, 'merchants')", (name,))
        for value in values:
            conn.execute(
                "INSERT INTO list_items (list_name, value, added_by) VALUES (%s, %s, 'api')",
                (name, value),
            )


def test_list_members_added_and_removed_reach_the_table_and_the_lists_topic(
    analyst: httpx.Client, viewer: httpx.Client, api_db: str, topic_prefix: str
) -> None:
    name = f"blocked_{uuid.uuid4().hex[:6]}"
    make_list(api_db, name, ["m-1"])
    assert name in viewer.get("/console/lists").text
    token = page_token(analyst, f"/console/lists/{name}")
    added = analyst.post(
        f"/console/lists/{name}/items",
        data={"csrf_token": token, "values": "m-2\n  m-3 \n\nm-2\nm/4"},
    )
    assert added.status_code == 303
    assert members(api_db, name) == [
        ("m-1", "api"),
        ("m-2", f"console:{analyst_name(analyst)}"),
        ("m-3", f"console:{analyst_name(analyst)}"),
        ("m/4", f"console:{analyst_name(analyst)}"),
    ]
    removed = analyst.post(
        f"/console/lists/{name}/items/remove", data={"csrf_token": token, "value": "m/4"}
    )
    assert removed.status_code == 303
    published = lists_on_topic(topic_prefix, name)
    assert [p.values for p in published] == [("m-1", "m-2", "m-3", "m/4"), ("m-1", "m-2", "m-3")]
    actions = [(a, t) for a, t, _d in audit_rows(api_db, "list.items_added")]
    assert actions[-1][1] == name
    assert audit_rows(api_db, "list.item_removed")[-1][2] == {"value": "m/4"}


def analyst_name(client: httpx.Client) -> str:
    page = client.get("/console/lists")
    return page.text.split('<span class="who">', 1)[1].split(" (", 1)[0]


def test_a_refused_value_adds_nothing_and_a_viewer_changes_nothing(
    analyst: httpx.Client, viewer: httpx.Client, api_db: str, topic_prefix: str
) -> None:
    name = f"allow_{uuid.uuid4().hex[:6]}"
    make_list(api_db, name, [])
    token = page_token(analyst, f"/console/lists/{name}")
    refused = analyst.post(
        f"/console/lists/{name}/items",
        data={"csrf_token": token, "values": "m-ok\n4111 1111 1111 1111\nm\u200bzw"},
    )
    assert refused.status_code == 422
    assert "line 2" in refused.text and "line 3" in refused.text
    assert "4111 1111 1111 1111" not in refused.text  # a card number is never echoed
    assert members(api_db, name) == [] and lists_on_topic(topic_prefix, name) == []
    token = page_token(viewer, f"/console/lists/{name}")
    assert (
        viewer.post(
            f"/console/lists/{name}/items", data={"csrf_token": token, "values": "m-1"}
        ).status_code
        == 403
    )
    assert analyst.get("/console/lists/no_such_list").status_code == 404
