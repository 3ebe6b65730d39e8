"""One measured replay for bench_replay, in a process of its own (run as a script).

Run by path with ``PYTHONPATH=<checkout>``, it measures that checkout's replay code on the
range bench_replay set up: its standard input is a JSON object (prefix, dsn, rules_file,
registry), its output one JSON line: wall and CPU seconds of ``replay()`` (this process and
its worker processes), the report's totals and a SHA-256 of the report and of every changed
transaction (timings left out), which must be the same for every checkout that should not
change replay's outputs.
"""

from __future__ import annotations

import hashlib
import json
import resource
import sys
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from replay.service import ReplayRequest, replay
from replay.settings import ReplaySettings
from replay.source import Selection
from schemas.connections import KafkaConnection, PostgresConnection

TIMINGS = ("elapsed_s", "replayed_per_s", "read_per_s")


def main(args: dict[str, Any]) -> dict[str, Any]:
    settings = ReplaySettings(
        workers=args["workers"],
        kafka=KafkaConnection(topic_prefix=args["prefix"]),
        postgres=PostgresConnection(dsn=SecretStr(args["dsn"])),
    )
    request = ReplayRequest(
        selection=Selection(warmup_ms=None),
        rules_file=Path(args["rules_file"]),
        registry=Path(args["registry"]),
    )
    before = cpu_s()
    outcome = replay(request, settings)
    cpu = cpu_s() - before
    report, run = outcome.report, outcome.report["run"]
    return {
        "transactions": report["totals"]["replayed"],
        "changed": report["totals"]["changed"],
        "in_ledger": report["totals"]["in_ledger"],
        "workers": run["workers"],
        "elapsed_s": run["elapsed_s"],
        "replayed_per_s": run["replayed_per_s"],
        "cpu_s": round(cpu, 2),
        "output_digest": digest(report, [c.row() for c in outcome.changes]),
    }


def digest(report: dict[str, Any], changes: list[dict[str, Any]]) -> str:
    """SHA-256 of the report without its timings and of the changed transactions."""
    untimed = {**report, "run": {k: v for k, v in report["run"].items() if k not in TIMINGS}}
    text = json.dumps([untimed, changes], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def cpu_s() -> float:
    """CPU seconds of this process and of its reaped children (the worker processes)."""
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


if __name__ == "__main__":
    sys.stdout.write(json.dumps(main(json.load(sys.stdin))) + "\n")
