"""`make audit`'s decision: pip-audit runs only when the advisory data answers, skips (exit 0)
only when it does not, and a finding fails. End to end against a local OSV stand-in, never
the real service (these machines cannot reach it)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from deploy.audit import (
    CANARY,
    Action,
    Probe,
    Service,
    advisories_in,
    canary_request,
    decide,
)

ROOT = Path(__file__).resolve().parents[3]

UNREACHABLE = [
    Probe(Service.OSV, error="ConnectError: [Errno -2] Name or service not known"),
    Probe(Service.PYPI, error="ConnectTimeout: timed out"),
    Probe(Service.PYPI, status=404),  # what PyPI's per-release JSON answers here
    Probe(Service.PYPI, status=503),
    Probe(Service.PYPI, status=200, advisories=0),  # a mirror without the advisories
]


@pytest.mark.parametrize("probe", UNREACHABLE, ids=repr)
def test_unreachable_advisory_data_skips_with_exit_0_and_says_so(probe: Probe) -> None:
    verdict = decide(probe, required=False)
    assert (verdict.action, verdict.exit_code) == (Action.SKIP, 0)
    assert "unreachable" in verdict.message and "SKIPPED" in verdict.message


@pytest.mark.parametrize("probe", UNREACHABLE, ids=repr)
def test_unreachable_advisory_data_fails_when_the_audit_is_required(probe: Probe) -> None:
    verdict = decide(probe, required=True)
    assert (verdict.action, verdict.exit_code) == (Action.FAIL, 2)


@pytest.mark.parametrize("required", [False, True])
def test_advisory_data_that_answers_runs_the_audit(required: bool) -> None:
    verdict = decide(Probe(Service.PYPI, status=200, advisories=3), required)
    assert verdict.action is Action.RUN


def test_the_canary_is_asked_in_each_service_s_own_shape() -> None:
    name, version = CANARY
    assert canary_request(Service.PYPI) == (
        "GET",
        f"https://pypi.org/pypi/{name}/{version}/json",
        None,
    )
    method, url, body = canary_request(Service.OSV, "http://mirror/v1/query")
    assert (method, url) == ("POST", "http://mirror/v1/query")
    assert body == {"package": {"name": name, "ecosystem": "PyPI"}, "version": version}
    assert advisories_in(Service.PYPI, {"vulnerabilities": [{"id": "PYSEC-1"}]}) == 1
    assert advisories_in(Service.OSV, {"vulns": [{"id": "A"}, {"id": "B"}]}) == 2
    assert advisories_in(Service.OSV, {}) == 0  # OSV's answer for a clean release
    assert advisories_in(Service.PYPI, ["not", "an", "object"]) == 0


# --- end to end: the wrapper and the real pip-audit against a local OSV stand-in -------------

VULNERABLE = {("requests", "2.19.0"), ("urllib3", "1.26.0")}


def _osv_entry(name: str) -> dict[str, object]:
    return {
        "id": f"TEST-{name}",
        "summary": f"a test advisory for {name}",
        "affected": [
            {
                "package": {"name": name, "ecosystem": "PyPI"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "99"}]}],
            }
        ],
    }


class _Osv(BaseHTTPRequestHandler):
    with_advisories = True

    def do_POST(self) -> None:
        query = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        key = (query["package"]["name"], query["version"])
        hit = self.with_advisories and key in VULNERABLE
        body = json.dumps({"vulns": [_osv_entry(key[0])]} if hit else {}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


@contextmanager
def osv_stand_in(with_advisories: bool) -> Iterator[str]:
    """A local OSV API on a free port; its query URL."""
    handler = type("Osv", (_Osv,), {"with_advisories": with_advisories})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1/query"
    finally:
        server.shutdown()
        server.server_close()


def run_audit(osv_url: str, tmp_path: Path, *pins: str) -> subprocess.CompletedProcess[str]:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("".join(f"{pin}\n" for pin in pins))
    command = [
        sys.executable, "-m", "deploy.audit", "--service", "osv", "--osv-url", osv_url,
        "--timeout-s", "2", "--", "-r", str(requirements), "--no-deps", "--disable-pip",
        "--progress-spinner", "off", "--cache-dir", str(tmp_path / "cache"),
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=120, cwd=ROOT)


def test_a_finding_exits_non_zero(tmp_path: Path) -> None:
    with osv_stand_in(with_advisories=True) as url:
        done = run_audit(url, tmp_path, "urllib3==1.26.0", "idna==3.10")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "TEST-urllib3" in done.stdout
    assert "TEST-idna" not in done.stdout


def test_a_clean_audit_passes(tmp_path: Path) -> None:
    with osv_stand_in(with_advisories=True) as url:
        done = run_audit(url, tmp_path, "idna==3.10")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No known vulnerabilities found" in done.stdout + done.stderr


def test_a_service_without_the_canary_s_advisories_skips_without_auditing(
    tmp_path: Path,
) -> None:
    # Run anyway, pip-audit would say "No known vulnerabilities found" of urllib3 1.26.0.
    with osv_stand_in(with_advisories=False) as url:
        done = run_audit(url, tmp_path, "urllib3==1.26.0")
    assert done.returncode == 0, done.stderr
    assert "without the published advisories" in done.stderr and "SKIPPED" in done.stderr
    assert "No known vulnerabilities" not in done.stdout + done.stderr  # pip-audit never ran


def test_a_closed_port_is_unreachable_and_skips_quickly(tmp_path: Path) -> None:
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    done = run_audit(f"http://127.0.0.1:{port}/v1/query", tmp_path, "urllib3==1.26.0")
    assert done.returncode == 0, done.stderr
    assert "unreachable: no answer (ConnectError" in done.stderr
