"""Benchmark: CPU µs per transaction of the shared decision code, without any service.

Run from the repository root: .venv/bin/python -m bench.bench_decide   (or make bench-decide)

Simulated transactions (``fraudsim``, seeded) of the first ``--warm-days`` only build the
accounts' feature state (``DecisionPipeline.warm``); the next ``--count`` are decided under
the seed rules and lists and a small XGBoost model, in the two shapes the code runs in:

- **agent**: ``DecisionPipeline.process`` over batches of 500, each touched account's state
  loaded from bytes and written back as bytes per batch, Decision and WebhookEvent encoded,
  with the agent's partition check between screening and deciding (what one agent worker
  does between consuming and publishing);
- **replay**: ``DecisionPipeline.decide_screened`` over batches of 5,000 with the states
  kept as objects, nothing encoded, with the same partition check between screening and
  deciding (what ``sentinel replay`` does per worker).

Each figure is CPU time (``time.process_time``: other work on a shared machine moves it
less than wall time, but still moves it: compare figures of one run) divided by
transactions, the median over ``--repeat`` runs, every run starting from the same warmed
state. ``placement`` is the partition check alone (``decision_core.placement``:
the records sit on the home partition of their key among the transactions topic's 12, as
the contract puts them; its per-key cache emptied before each run, so each account's first
record pays the hash), and ``murmur2`` the hash alone, uncached, per record.
``model_score`` is the champion's ``score`` alone on the same rows (XGBoost's
``pred_contribs`` and the reason codes), the model's share of both shapes: it grows fast
with the model's size (``--depth``, ``--rounds``). ``--digest`` prints a SHA-256 of every
output (encoded records and states, decisions) to check that two versions of the code
decide identically.
Writes bench/results/decide.json.
"""

from __future__ import annotations

import hashlib
import statistics
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import typer
import xgboost as xgb
from rich.console import Console

from bench.common import measures_table, run_bench, write_results
from decision_core.collector import tune_for_deciding
from decision_core.features import AccountFeatures
from decision_core.pipeline import DecisionPipeline
from decision_core.placement import place
from decision_core.records import BatchResult, SourceRecord
from decision_core.scoring import publish
from decision_core.transaction_features import FEATURE_CONFIG
from fraudsim.simulate.config import SimConfig
from fraudsim.simulate.dataset import simulate
from fraudsim.tables import TransactionColumns, transactions_table
from replay.candidate import Candidate, build_pipeline
from rule_engine import load_seed_lists, load_seed_rules
from schemas.codec import encode_transaction
from schemas.features import FEATURE_NAMES
from schemas.partitioning import home_partition
from schemas.topics import TRANSACTIONS

RESULTS = Path(__file__).with_name("results") / "decide.json"
NOW = datetime(2030, 1, 1, tzinfo=UTC)  # decided_at: fixed, so outputs can be compared
AGENT_BATCH = 500
REPLAY_BATCH = 5000
console = Console()


def source_records(cfg: SimConfig) -> list[SourceRecord]:
    """The simulated transactions in time order, encoded as the topic holds them."""
    columns = TransactionColumns.from_table(transactions_table(simulate(cfg)))
    order = sorted(range(len(columns)), key=columns.ts_ms.__getitem__)
    out = []
    for offset, i in enumerate(order):
        tx = columns.record(i)
        key = tx.account_id.encode()
        out.append(
            SourceRecord(
                "transactions",
                home_partition(key, TRANSACTIONS.partitions),
                offset,
                columns.ts_ms[i],
                key,
                encode_transaction(tx),
            )
        )
    return out


def train_model(registry: Path, depth: int, rounds: int) -> Path:
    """A model over the per-account features whose trees use many of them (random labels
    from a few features), so that reason codes come from real contributions."""
    rng = np.random.default_rng(11)
    rows = 20_000
    matrix = rng.gamma(2.0, 5.0, size=(rows, len(FEATURE_NAMES))).astype(np.float32)
    matrix[rng.random(matrix.shape) < 0.05] = np.nan
    weights = rng.normal(0, 1, len(FEATURE_NAMES))
    logits = np.nan_to_num(matrix) @ weights / 40 + rng.normal(0, 1, rows)
    labels = (logits > np.quantile(logits, 0.97)).astype(np.float32)
    data = xgb.DMatrix(matrix, label=labels, feature_names=list(FEATURE_NAMES))
    params = {"objective": "binary:logistic", "max_depth": depth, "eta": 0.3, "nthread": 1}
    booster = xgb.train(params, data, num_boost_round=rounds)
    version = f"bench-d{depth}-r{rounds}"
    return publish(registry, booster, version, {"feature_names": list(FEATURE_NAMES)})


def pipeline_for(model_dir: Path) -> DecisionPipeline:
    candidate = Candidate(
        rules=tuple(load_seed_rules()),
        lists=tuple(load_seed_lists().values()),
        model_dir=model_dir,
    )
    pipeline = build_pipeline(candidate)
    pipeline.clock = lambda: NOW
    return pipeline


def batches(records: Sequence[SourceRecord], size: int) -> Iterable[Sequence[SourceRecord]]:
    return (records[i : i + size] for i in range(0, len(records), size))


def agent_run(
    pipeline: DecisionPipeline,
    warm: dict[str, bytes],
    records: Sequence[SourceRecord],
    sink: Any,
    size: int = AGENT_BATCH,
) -> float:
    """CPU seconds of ``process`` over the records in batches of ``size``, states through
    bytes as in the agent."""
    store = dict(warm)
    cpu = 0.0
    for batch in batches(records, size):
        began = time.process_time()
        result = BatchResult()
        screened = pipeline.screen(batch, result)
        placed = place(screened, TRANSACTIONS.partitions, result, home_partition).kept
        pipeline.process_screened(placed, store.get, result)
        cpu += time.process_time() - began
        store.update({account: state for account, (_p, state) in result.states.items()})
        if sink is not None:
            for out in result.outgoing:
                sink.update(out.role.encode() + out.key + out.value + repr(out.headers).encode())
            for account in sorted(result.states):
                sink.update(account.encode() + result.states[account][1])
    return cpu


def replay_run(
    pipeline: DecisionPipeline, warm: dict[str, bytes], records: Sequence[SourceRecord], sink: Any
) -> float:
    """CPU seconds of screening, placing and deciding the records, states kept as objects
    as in replay."""
    accounts = {a: AccountFeatures.from_bytes(s, FEATURE_CONFIG) for a, s in warm.items()}
    cpu = 0.0
    for batch in batches(records, REPLAY_BATCH):
        began = time.process_time()
        result = BatchResult()
        screened = pipeline.screen(batch, result)
        placed = place(screened, TRANSACTIONS.partitions, result, home_partition).kept
        decided = pipeline.decide_screened(placed, accounts, lambda _a: None, result)
        cpu += time.process_time() - began
        if sink is not None:
            for _record, decision in decided:
                sink.update(repr(decision).encode())
    return cpu


def placement_run(
    pipeline: DecisionPipeline, _warm: dict[str, bytes], records: Sequence[SourceRecord], _s: Any
) -> float:
    """CPU seconds of the agent's partition check alone over the screened records, in
    batches of 500, its per-key cache empty at the start."""
    screened = pipeline.screen(records, BatchResult())
    home_partition.cache_clear()
    began = time.process_time()
    for i in range(0, len(screened), AGENT_BATCH):
        place(screened[i : i + AGENT_BATCH], TRANSACTIONS.partitions, BatchResult(), home_partition)
    return time.process_time() - began


def murmur2_run(
    _pipeline: DecisionPipeline, _warm: dict[str, bytes], records: Sequence[SourceRecord], _s: Any
) -> float:
    """CPU seconds of the home partition of every record's key, uncached."""
    uncached = home_partition.__wrapped__
    began = time.process_time()
    for record in records:
        uncached(record.key or b"", TRANSACTIONS.partitions)
    return time.process_time() - began


def model_run(
    pipeline: DecisionPipeline, warm: dict[str, bytes], records: Sequence[SourceRecord], _sink: Any
) -> float:
    """CPU seconds of the champion's ``score`` alone (``pred_contribs`` and reasons) over the
    records' features, in batches of 500: the model's share of the figures above."""
    accounts = {a: AccountFeatures.from_bytes(s, FEATURE_CONFIG) for a, s in warm.items()}
    decided = pipeline.decide(records, accounts, lambda _a: None, BatchResult())
    rows = [decision.features for _record, decision in decided]
    model = pipeline.models.live().champion
    if model is None:
        raise typer.BadParameter("the benchmark's pipeline has no model")
    began = time.process_time()
    for i in range(0, len(rows), AGENT_BATCH):
        model.score(rows[i : i + AGENT_BATCH])
    return time.process_time() - began


def main(
    count: int = typer.Option(20_000, help="Transactions decided per run."),
    repeat: int = typer.Option(5, help="Runs per shape; the median is reported."),
    customers: int = typer.Option(2_000, help="Simulated accounts."),
    warm_days: int = typer.Option(30, help="Days of history applied before the decided ones."),
    depth: int = typer.Option(3, help="Model tree depth (training's default: 9)."),
    rounds: int = typer.Option(15, help="Model boosting rounds (training's default: 300)."),
    digest: bool = typer.Option(False, help="Print a SHA-256 of every output of one run."),
    write: bool = typer.Option(True, help="Write bench/results/decide.json."),
    agent_batch: int = typer.Option(
        AGENT_BATCH,
        help="The agent shape's batch size: 500 drains a backlog; a worker at a steady "
        "few hundred tx/s decides batches of a few to a few dozen.",
    ),
) -> None:
    result = measure(count, repeat, customers, warm_days, depth, rounds, agent_batch, digest)
    measures_table("decision code, CPU µs per transaction", result, digits=1)
    if write:
        write_results(RESULTS, result)


def measure(
    count: int = 20_000,
    repeat: int = 5,
    customers: int = 2_000,
    warm_days: int = 30,
    depth: int = 3,
    rounds: int = 15,
    agent_batch: int = AGENT_BATCH,
    digest: bool = False,
) -> dict[str, Any]:
    """CPU µs per transaction of each shape (medians of ``repeat`` runs); ``make bench``
    calls this too, so the agents' cost is compared with the decision code's in one run."""
    cfg = SimConfig(customers=customers, terminals=2 * customers, days=warm_days + 10, seed=5)
    records = source_records(cfg)
    horizon = cfg.start_ms + warm_days * 86_400_000
    cut = next(i for i, r in enumerate(records) if r.timestamp_ms >= horizon)
    decided = records[cut : cut + count]
    with tempfile.TemporaryDirectory(prefix="bench-decide-") as workdir:
        model_dir = train_model(Path(workdir), depth, rounds)
        accounts: dict[str, AccountFeatures] = {}
        for batch in batches(records[:cut], REPLAY_BATCH):
            pipeline_for(model_dir).warm(batch, accounts, BatchResult())
        warm = {account: state.to_bytes() for account, state in accounts.items()}
        accounts.clear()
        # As the agents and replay's workers do after start-up (decision_core.collector):
        # the set-up's objects out of the collector's sight, young collections rarer.
        tune_for_deciding()
        if digest:
            for name, run in (("agent", agent_run), ("replay", replay_run)):
                sink = hashlib.sha256()
                run(pipeline_for(model_dir), warm, decided, sink)
                console.print(f"digest {name}: {sink.hexdigest()}")
        shapes: dict[str, Callable[..., float]] = {
            "agent": partial(agent_run, size=agent_batch),
            "replay": replay_run,
            "model_score": model_run,
            "placement": placement_run,
            "murmur2": murmur2_run,
        }
        figures: dict[str, list[float]] = {name: [] for name in shapes}
        for _ in range(repeat):
            for name, shape in shapes.items():
                # A fresh pipeline per run: the breaker's window starts empty every time.
                figures[name].append(shape(pipeline_for(model_dir), warm, decided, None))
    result: dict[str, Any] = {
        "transactions": len(decided),
        "warmed_accounts": len(warm),
        "warmed_transactions": cut,
        "model": f"depth {depth}, {rounds} rounds",
        "agent_batch": agent_batch,
    }
    for name, runs in figures.items():
        per_tx = [cpu / len(decided) * 1e6 for cpu in runs]
        result[f"{name}_cpu_us_per_tx"] = round(statistics.median(per_tx), 1)
        result[f"{name}_cpu_us_per_tx_runs"] = [round(x, 1) for x in per_tx]
    return result


if __name__ == "__main__":
    run_bench(main)
