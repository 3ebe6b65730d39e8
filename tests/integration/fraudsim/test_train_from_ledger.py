"""`sentinel train --since`: the ledger's transactions and labels (late chargebacks and
analysts' genuine verdicts among them) exported as a data set and trained on, on the real
PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import psycopg
import pytest
from typer.testing import CliRunner

from fraudsim.registry import current_version
from fraudsim.simulate import simulate
from fraudsim.tables import EPOCH, TransactionColumns, read_dataset, transactions_table
from sentinel_cli.main import app
from tests.support.api import api_db, module_id
from tests.support.models import QUICK_TRAINING
from tests.support.simulations import TRAIN_CONFIG

pytestmark = pytest.mark.integration
__all__ = ["api_db", "module_id"]  # fixtures: a database of this module's own
DAY_MS = 86_400_000
COLUMNS = ("transaction_id", "account_id", "card_token", "currency", "merchant_id", "mcc",
           "country", "city", "lat", "lon", "channel", "device_id", "type")  # fmt: skip


def at(ms: int) -> datetime:
    return EPOCH + timedelta(milliseconds=ms)


def fill_ledger(dsn: str) -> tuple[TransactionColumns, np.ndarray, np.ndarray]:  # type: ignore[type-arg]
    """The simulation's transactions and labels in the ledger: every third fraud's label a
    chargeback 40 days late, and a genuine verdict on every 500th genuine transaction."""
    data = simulate(TRAIN_CONFIG)
    sim = TransactionColumns.from_table(transactions_table(data))
    fraud = np.flatnonzero(data.is_fraud)
    labelled = data.labelled_at_ms.copy()
    labelled[fraud[::3]] = np.asarray(sim.ts_ms)[fraud[::3]] + 40 * DAY_MS
    genuine = np.flatnonzero(~data.is_fraud)[::500]
    v = sim.values
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        with cur.copy("COPY accounts (account_id) FROM STDIN") as copy:
            for account in sorted(set(v["account_id"])):
                copy.write_row((account,))
        names = ", ".join(COLUMNS)
        with cur.copy(f"COPY transactions ({names}, amount, event_ts) FROM STDIN") as copy:
            for i in range(len(sim)):
                amount = Decimal(sim.cents[i]).scaleb(-2)
                copy.write_row((*(v[c][i] for c in COLUMNS), amount, at(sim.ts_ms[i])))
        labels = "transaction_id, account_id, merchant_id, is_fraud, scenario, labelled_at, "
        with cur.copy(f"COPY labels ({labels} transaction_ts) FROM STDIN") as copy:
            for i, is_fraud in [(int(i), True) for i in fraud] + [(int(i), False) for i in genuine]:
                kind = "chargeback" if is_fraud else "confirmed_genuine"
                when = labelled[i] if is_fraud else sim.ts_ms[i] + DAY_MS
                copy.write_row((v["transaction_id"][i], v["account_id"][i], v["merchant_id"][i],
                                is_fraud, kind, at(int(when)), at(sim.ts_ms[i])))  # fmt: skip
    return sim, fraud, labelled


def test_train_since_exports_the_ledger_and_trains_on_its_labels(
    api_db: str, tmp_path: Path
) -> None:
    sim, fraud, labelled = fill_ledger(api_db)
    export, registry = tmp_path / "export", tmp_path / "registry"
    since, until = at(sim.ts_ms[0]), at(sim.ts_ms[-1] + 1)
    args = ["train", "--since", since.strftime("%Y-%m-%dT%H:%M:%S"), "--until",
            until.isoformat(), "--registry", str(registry), "--export-to", str(export),
            "--no-search", "--no-announce", "--workers", "1", "--version", "ledger-1",
            *QUICK_TRAINING]  # fmt: skip
    result = CliRunner().invoke(app, args, env={"SENTINEL_POSTGRES_DSN": api_db})
    assert result.exit_code == 0, result.output
    printed = " ".join(result.output.split())  # rich wraps lines to the terminal
    assert f"{len(sim):,} transactions, {len(fraud):,} fraud labels" in printed
    # The data set is the ledger's range, in canonical order, frauds only as labels.
    transactions, labels = read_dataset(export)
    exported = TransactionColumns.from_table(transactions)
    assert exported.values["transaction_id"] == sim.values["transaction_id"]
    assert exported.cents == sim.cents and exported.ts_ms == sim.ts_ms
    assert exported.values["device_id"] == sim.values["device_id"]
    ids = labels.column("transaction_id").to_pylist()
    assert sorted(ids) == sorted(sim.values["transaction_id"][i] for i in fraud)
    stamps = dict(zip(ids, labels.column("labelled_at").cast("int64").to_pylist(), strict=True))
    assert all(stamps[sim.values["transaction_id"][i]] == labelled[i] for i in fraud)
    assert json.loads((export / "export.json").read_text())["source"] == "ledger"
    # The model trained on it, the chargebacks counted as late and used from their arrival.
    card = json.loads((registry / "ledger-1" / "card.json").read_text())
    assert card["data"]["transactions"] == len(sim) and card["data"]["frauds"] == len(fraud)
    assert card["data"]["late_labels"] == len(fraud[::3])
    assert current_version(registry) == "ledger-1"


def test_an_empty_range_is_refused_with_a_clear_message(api_db: str, tmp_path: Path) -> None:
    since = datetime(1999, 1, 1, tzinfo=UTC)
    until = since + timedelta(days=1)
    args = ["train", "--since", since.isoformat(), "--until", until.isoformat(),
            "--registry", str(tmp_path), "--no-announce"]  # fmt: skip
    result = CliRunner().invoke(app, args, env={"SENTINEL_POSTGRES_DSN": api_db})
    assert result.exit_code == 1 and "the ledger holds no transaction" in result.output
