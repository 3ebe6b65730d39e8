"""The console against the real PostgreSQL and Redis: users CLI, sign-in, CSRF, roles,
lock-out, audit, sign-out. Each test creates its own users (unique names)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import psycopg
import pytest
import redis

from console.cli import EXIT_USER_EXISTS
from schemas.connections import RedisConnection
from tests.support.console import (
    PASSWORD,
    USER_FAILURES,
    page_token,
    run_users,
    sign_in,
    write_decisions,
)

pytestmark = pytest.mark.integration
SESSION_COOKIE = "sentinel_console_session"


@pytest.fixture
def client(console_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=console_url, follow_redirects=False, timeout=10) as c:
        yield c


def audit_rows(dsn: str, actor: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT action, target, detail FROM console_audit WHERE actor = %s ORDER BY audit_id",
            (actor,),
        ).fetchall()


def test_users_cli_reads_the_password_from_stdin_and_never_lists_hashes(
    console_env: dict[str, str], api_db: str, make_user: Callable[[str], str]
) -> None:
    name = make_user("analyst")
    listed = run_users(console_env, "list")
    assert listed.returncode == 0
    assert name in listed.stdout and "argon2" not in listed.stdout
    weak = run_users(console_env, "create", name + "x", "--role", "viewer", stdin="short\n")
    assert weak.returncode == 1 and "12 characters" in weak.stderr
    again = run_users(console_env, "create", name, "--role", "viewer", stdin=PASSWORD + "\n")
    assert again.returncode == EXIT_USER_EXISTS and "exists already" in again.stderr
    with psycopg.connect(api_db) as conn:
        stored = conn.execute(
            "SELECT role::text, password_hash, disabled FROM console_users WHERE username = %s",
            (name,),
        ).fetchone()
    assert stored is not None
    assert stored[0] == "analyst" and stored[1].startswith("$argon2id$") and not stored[2]
    import getpass

    actor = f"cli:{getpass.getuser()}"
    assert ("user.created", name, {"role": "analyst"}) in audit_rows(api_db, actor)


def test_sign_in_sets_a_strict_httponly_cookie_and_shows_the_overview(
    client: httpx.Client, api_db: str, make_user: Callable[[str], str]
) -> None:
    name = make_user("viewer")
    signed = sign_in(client, name)
    assert signed.status_code == 303 and signed.headers["location"] == "/console/"
    cookie = next(h for h in signed.headers.get_list("set-cookie") if h.startswith(SESSION_COOKIE))
    attributes = cookie.lower()
    assert "httponly" in attributes and "samesite=strict" in attributes
    assert "path=/console" in attributes and "secure" not in attributes  # loopback: http
    page = client.get("/console/")
    assert page.status_code == 200
    assert "Decisions/s" in page.text and "APPROVE" in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    figures = client.get("/console/overview/figures", headers={"HX-Request": "true"})
    assert figures.status_code == 200 and 'id="rate"' in figures.text
    actions = [row[0] for row in audit_rows(api_db, name)]
    assert actions == ["signin"]


def test_the_overview_shows_the_ledgers_own_figures(
    client: httpx.Client, api_db: str, make_user: Callable[[str], str]
) -> None:
    write_decisions(api_db, {"APPROVE": 8, "REVIEW": 1, "DECLINE": 3})
    assert sign_in(client, make_user("viewer")).status_code == 303
    figures = client.get("/console/overview/figures", headers={"HX-Request": "true"}).text
    assert '<dd id="total">12</dd>' in figures
    assert '<dd id="rate">0.04</dd>' in figures  # 12 in 5 minutes
    rows = re.findall(r"<td>(APPROVE|REVIEW|DECLINE)</td><td>(\d+)</td>", figures)
    assert rows == [("APPROVE", "8"), ("REVIEW", "1"), ("DECLINE", "3")]
    assert "12 ms" in figures  # the writer's decisions take 12 ms each


def test_a_malformed_sign_in_form_gets_a_page_not_json(client: httpx.Client) -> None:
    client.get("/console/signin")
    answer = client.post("/console/signin", data={"username": "x" * 300, "password": "p"})
    assert answer.status_code == 400
    assert answer.headers["content-type"].startswith("text/html")
    assert "username" in answer.text


def test_pages_redirect_to_sign_in_without_a_session(client: httpx.Client) -> None:
    page = client.get("/console/")
    assert page.status_code == 303 and page.headers["location"] == "/console/signin"
    partial = client.get("/console/overview/figures", headers={"HX-Request": "true"})
    assert partial.status_code == 401 and partial.headers["hx-redirect"] == "/console/signin"


def test_a_post_without_its_csrf_token_is_refused(
    client: httpx.Client, make_user: Callable[[str], str]
) -> None:
    name = make_user("analyst")
    # Sign-in itself: the form's token must match its cookie.
    client.get("/console/signin")
    forged = client.post(
        "/console/signin", data={"username": name, "password": PASSWORD, "csrf_token": "x"}
    )
    assert forged.status_code == 403
    assert sign_in(client, name).status_code == 303
    assert client.post("/console/signout").status_code == 403
    assert client.post("/console/signout", data={"csrf_token": "wrong"}).status_code == 403
    assert client.get("/console/").status_code == 200  # the session survived both
    token = page_token(client)
    assert client.post("/console/signout", headers={"X-CSRF-Token": token}).status_code == 303


def test_a_viewer_is_refused_what_needs_an_analyst(
    console_url: str, make_user: Callable[[str], str]
) -> None:
    viewer, analyst = make_user("viewer"), make_user("analyst")
    with httpx.Client(base_url=console_url, timeout=10) as as_viewer:
        assert sign_in(as_viewer, viewer).status_code == 303
        refused = as_viewer.get("/console/audit")
        assert refused.status_code == 403 and "analyst" in refused.text
        assert 'href="/console/audit"' not in as_viewer.get("/console/").text
    with httpx.Client(base_url=console_url, timeout=10) as as_analyst:
        assert sign_in(as_analyst, analyst).status_code == 303
        shown = as_analyst.get("/console/audit")
        assert shown.status_code == 200 and viewer in shown.text


def test_lock_out_after_repeated_failures_even_with_the_right_password(
    client: httpx.Client, api_db: str, make_user: Callable[[str], str]
) -> None:
    name = make_user("analyst")
    for _ in range(USER_FAILURES):
        wrong = sign_in(client, name, "not the password at all")
        assert wrong.status_code == 401 and "wrong user name or password" in wrong.text
    locked = sign_in(client, name)
    assert locked.status_code == 429 and "too many failed sign-ins" in locked.text
    assert SESSION_COOKIE not in client.cookies
    rows = audit_rows(api_db, name)
    whys = [(action, detail["why"]) for action, _, detail in rows]
    assert whys == [("signin.failed", "wrong password")] * USER_FAILURES + [
        ("signin.failed", "locked")
    ]
    assert all(detail["address"] == "127.0.0.1" for _, _, detail in rows)


def test_unknown_and_disabled_users_are_refused_alike(
    client: httpx.Client,
    console_env: dict[str, str],
    api_db: str,
    make_user: Callable[[str], str],
) -> None:
    name = make_user("viewer")
    assert run_users(console_env, "disable", name).returncode == 0
    disabled = sign_in(client, name)
    ghost = sign_in(client, name + "-ghost")
    assert disabled.status_code == ghost.status_code == 401
    assert [r[2]["why"] for r in audit_rows(api_db, name)] == ["disabled"]
    assert run_users(console_env, "disable", name + "-ghost").returncode == 1


def test_signing_in_again_ends_the_session_before(
    console_url: str, make_user: Callable[[str], str]
) -> None:
    name = make_user("viewer")
    with httpx.Client(base_url=console_url, timeout=10, follow_redirects=False) as c:
        assert sign_in(c, name).status_code == 303
        first = c.cookies[SESSION_COOKIE]
        assert sign_in(c, name).status_code == 303
        assert c.cookies[SESSION_COOKIE] != first
    with httpx.Client(base_url=console_url, timeout=10, cookies={SESSION_COOKIE: first}) as old:
        assert old.get("/console/", follow_redirects=False).status_code == 303


def test_sign_out_ends_the_session_server_side(
    console_url: str,
    console_env: dict[str, str],
    api_db: str,
    make_user: Callable[[str], str],
) -> None:
    name = make_user("analyst")
    store = redis.Redis.from_url(RedisConnection().url.get_secret_value())
    prefix = console_env["SENTINEL_CONSOLE_REDIS_PREFIX"]
    with httpx.Client(base_url=console_url, timeout=10, follow_redirects=False) as c:
        assert sign_in(c, name).status_code == 303
        session_id = c.cookies[SESSION_COOKIE]
        from console.sessions import storage_key

        key = storage_key(prefix, session_id)
        ttl = store.pttl(key)
        assert 0 < ttl <= 30 * 60 * 1000  # the idle expiry, set in Redis too
        token = page_token(c)
        out = c.post("/console/signout", data={"csrf_token": token})
        assert out.status_code == 303 and out.headers["location"] == "/console/signin"
        assert store.exists(key) == 0
    # Replaying the old cookie (as a stolen copy would) finds no session.
    with httpx.Client(
        base_url=console_url, timeout=10, cookies={SESSION_COOKIE: session_id}
    ) as replay:
        assert replay.get("/console/", follow_redirects=False).status_code == 303
    assert [r[0] for r in audit_rows(api_db, name)] == ["signin", "signout"]


def test_disabling_a_user_ends_their_open_session(
    console_url: str, console_env: dict[str, str], make_user: Callable[[str], str]
) -> None:
    name = make_user("admin")
    with httpx.Client(base_url=console_url, timeout=10, follow_redirects=False) as c:
        assert sign_in(c, name).status_code == 303
        assert c.get("/console/audit").status_code == 200
        assert run_users(console_env, "disable", name).returncode == 0
        assert c.get("/console/audit").status_code == 303


def test_the_audit_trail_is_append_only(api_db: str, make_user: Callable[[str], str]) -> None:
    make_user("viewer")
    with psycopg.connect(api_db, autocommit=True) as conn:
        for statement in (
            "UPDATE console_audit SET actor = 'someone else'",
            "DELETE FROM console_audit",
            "TRUNCATE console_audit",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
