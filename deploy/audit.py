"""`make audit`: pip-audit over the pinned dependencies, run only where its advisory data is.

pip-audit asks an advisory service (PyPI's JSON API by default, or OSV) about each installed
distribution. Where that service is out of reach it does not always fail: against PyPI it
lists every package as "not found" and exits 0 with "No known vulnerabilities found", a pass
that checked nothing. So the audit first asks the same service about a canary, a release
with published advisories (requests 2.19.0, CVE-2018-18074), with a short timeout:

- no answer (DNS, connection, TLS, timeout), an error status, or an answer that lacks the
  canary's advisories: the advisory data is unreachable, and the audit is skipped with a
  message saying so (exit 0), or fails (exit 2) when it is required (``--required``: CI
  where the network allows);
- the canary's advisories come back: pip-audit runs, and its exit code is the audit's (1 for
  a finding, whatever the network does afterwards).

``decide`` (pure) makes that call from a ``Probe``; ``probe`` and ``main`` are the edges.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any

import httpx
import typer

CANARY = ("requests", "2.19.0")
OSV_URL = "https://api.osv.dev/v1/query"  # pip-audit's default
# Exit codes of the audit beyond pip-audit's own (0: clean, 1: vulnerabilities found).
SKIPPED, REQUIRED_BUT_UNREACHABLE = 0, 2


class Service(StrEnum):
    """pip-audit's advisory services that this probe knows how to ask."""

    PYPI = "pypi"
    OSV = "osv"


class Action(StrEnum):
    RUN = "run"
    SKIP = "skip"
    FAIL = "fail"


@dataclass(frozen=True, slots=True)
class Probe:
    """What the service answered about the canary: an HTTP status and the advisories it
    listed, or the transport error that stopped the question."""

    service: Service
    status: int | None = None
    advisories: int = 0
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Verdict:
    action: Action
    message: str
    exit_code: int = 0


def canary_request(
    service: Service, osv_url: str = OSV_URL
) -> tuple[str, str, dict[str, Any] | None]:
    """(method, url, json body) of the question about the canary."""
    name, version = CANARY
    if service is Service.OSV:
        body = {"package": {"name": name, "ecosystem": "PyPI"}, "version": version}
        return "POST", osv_url, body
    return "GET", f"https://pypi.org/pypi/{name}/{version}/json", None


def advisories_in(service: Service, document: object) -> int:
    """How many advisories `service`'s answer lists (PyPI: ``vulnerabilities``, OSV: ``vulns``)."""
    key = "vulns" if service is Service.OSV else "vulnerabilities"
    found = document.get(key) if isinstance(document, dict) else None
    return len(found) if isinstance(found, list) else 0


def unreachable_reason(probe: Probe) -> str | None:
    """Why `probe` shows no advisory data within reach, or None when it does."""
    name, version = CANARY
    if probe.error is not None:
        return f"no answer ({probe.error})"
    if probe.status != httpx.codes.OK:
        return f"it answered HTTP {probe.status} about {name} {version}"
    if probe.advisories == 0:
        # A mirror or proxy that serves package data without the advisories.
        return f"it answered without the published advisories of {name} {version}"
    return None


def decide(probe: Probe, required: bool) -> Verdict:
    """Run pip-audit, skip it (exit 0), or fail (exit 2): skip ONLY when unreachable."""
    reason = unreachable_reason(probe)
    if reason is None:
        return Verdict(Action.RUN, f"advisory service {probe.service} reachable: auditing")
    message = f"advisory service {probe.service} unreachable: {reason}"
    if required:
        return Verdict(Action.FAIL, f"{message}; the audit is required", REQUIRED_BUT_UNREACHABLE)
    return Verdict(Action.SKIP, f"{message}; dependency audit SKIPPED (nothing was checked)")


def probe(service: Service, timeout_s: float, osv_url: str = OSV_URL) -> Probe:
    """Ask `service` about the canary (the one network edge of the decision)."""
    method, url, body = canary_request(service, osv_url)
    try:
        response = httpx.request(method, url, json=body, timeout=timeout_s)
    except httpx.HTTPError as exc:  # DNS, refused, TLS, timeout, proxy: no answer
        return Probe(service, error=f"{type(exc).__name__}: {exc}")
    if response.status_code != httpx.codes.OK:
        return Probe(service, status=response.status_code)
    try:
        document = response.json()
    except ValueError:
        return Probe(service, status=response.status_code)
    return Probe(service, status=response.status_code, advisories=advisories_in(service, document))


def main(
    service: Annotated[Service, typer.Option(help="pip-audit's advisory service.")] = Service.PYPI,
    timeout_s: Annotated[float, typer.Option(help="Seconds for the reachability probe.")] = 5.0,
    osv_url: Annotated[str, typer.Option(help="The OSV API (a mirror), for --service osv.")] = (
        OSV_URL
    ),
    required: Annotated[
        bool, typer.Option("--required", help="Fail (exit 2) instead of skipping.")
    ] = False,
    pip_audit_args: Annotated[
        list[str] | None, typer.Argument(help="Passed on to pip-audit (after --).")
    ] = None,
) -> None:
    """Audit this interpreter's environment with pip-audit, if its advisory data is reachable."""
    verdict = decide(probe(service, timeout_s, osv_url), required)
    typer.echo(verdict.message, err=verdict.action is not Action.RUN)
    if verdict.action is not Action.RUN:
        raise typer.Exit(verdict.exit_code)
    command = [sys.executable, "-m", "pip_audit", "--vulnerability-service", service.value]
    if service is Service.OSV:
        command += ["--osv-url", osv_url]
    done = subprocess.run([*command, *(pip_audit_args or [])], check=False)  # noqa: S603
    raise typer.Exit(done.returncode)


if __name__ == "__main__":
    typer.run(main)
