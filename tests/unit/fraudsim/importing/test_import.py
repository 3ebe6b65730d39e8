"""`sentinel import` on a CSV of a foreign shape: the data set row by row, the rejection
report, import.json, and training's own loader reading the result."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from fraudsim.importing.mapping import load_mapping
from fraudsim.importing.run import run_import
from fraudsim.tables import TRANSACTION_COLUMNS, TransactionColumns, read_dataset
from fraudsim.train.data import load
from sentinel_cli.main import app
from tests.support.foreign_csv import BAD_ROWS, MAPPING, Foreign


@pytest.fixture(scope="module")
def imported(foreign: Foreign, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("imported")
    result = CliRunner().invoke(
        app, ["import", str(foreign.path), "--mapping", str(MAPPING), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "rejected: duplicate" in result.output and "fraud labels" in result.output
    return out


def kept_rows(foreign: Foreign) -> list[int]:
    """Simulated rows the import must keep (row r of the CSV is simulated row r - 1)."""
    return [i for i in range(len(foreign.sim)) if i + 1 not in BAD_ROWS]


def test_every_good_row_is_written_as_it_was_simulated(foreign: Foreign, imported: Path) -> None:
    transactions, _ = read_dataset(imported)
    got = TransactionColumns.from_table(transactions)
    keep = kept_rows(foreign)
    assert len(got) == len(keep)
    # Already in canonical order in the source, so row for row.
    sim = foreign.sim
    for name in TRANSACTION_COLUMNS:
        if name in ("amount", "timestamp", "currency", "channel", "type", "card_token"):
            continue
        assert got.values[name] == [sim.values[name][i] for i in keep], name
    assert got.cents == [sim.cents[i] for i in keep]
    assert got.ts_ms == [sim.ts_ms[i] for i in keep]  # Berlin local time back to UTC, to the ms
    assert set(got.values["currency"]) == {"EUR"} and set(got.values["type"]) == {"debit"}
    assert got.values["card_token"] == [f"card-{sim.values['account_id'][i]}" for i in keep]


def test_labels_are_the_fraud_rows_with_their_label_time(foreign: Foreign, imported: Path) -> None:
    _, labels = read_dataset(imported)
    frauds = [i for i in kept_rows(foreign) if foreign.fraud[i]]
    assert labels.column("transaction_id").to_pylist() == [
        foreign.sim.values["transaction_id"][i] for i in frauds
    ]
    labelled = labels.column("labelled_at").cast("int64").to_pylist()
    assert labelled == [foreign.labelled_at_ms[i] for i in frauds]
    assert labels.column("scenario").to_pylist() == [foreign.scenario[i] for i in frauds]


def test_the_schema_is_the_simulators(imported: Path, train_dir: Path) -> None:
    for name in ("transactions.parquet", "labels.parquet"):
        ours, theirs = pq.read_schema(imported / name), pq.read_schema(train_dir / name)
        assert ours.equals(theirs), name


def test_the_rejection_report_names_each_bad_row(foreign: Foreign, imported: Path) -> None:
    with (imported / "rejected.csv").open(newline="", encoding="utf-8") as handle:
        report = list(csv.DictReader(handle))
    assert [(int(r["row"]), r["field"]) for r in report] == [
        (row, kind) for row, (_, kind) in BAD_ROWS.items()
    ]
    assert report[3]["reason"] == "duplicate transaction_id: row 3 has it (the first is kept)"
    assert "4111" not in json.dumps(report).replace("************1111", "")


def test_import_json_records_the_source_mapping_and_counts(
    foreign: Foreign, imported: Path
) -> None:
    record = json.loads((imported / "import.json").read_text(encoding="utf-8"))
    assert record["source"] == str(foreign.path.resolve())
    assert record["mapping"]["columns"]["amount"] == "Betrag"
    assert record["rows_read"] == len(foreign.sim)
    assert record["rows_written"] == len(foreign.sim) - len(BAD_ROWS)
    assert sum(record["rows_rejected"].values()) == len(BAD_ROWS)
    assert record["labelled_at"] == "from the source column 'Gemeldet'"
    metadata = pq.read_schema(imported / "labels.parquet").metadata
    assert json.loads(metadata[b"sentinel.import"])["rows_read"] == record["rows_read"]


def test_training_loads_the_imported_folder(foreign: Foreign, imported: Path) -> None:
    data = load(imported)
    keep = kept_rows(foreign)
    assert len(data) == len(keep)
    assert int(data.fraud.sum()) == sum(foreign.fraud[i] for i in keep)
    assert np.all(np.diff(data.ts_ms) >= 0)


def test_a_label_delay_assumption_is_written_down(foreign: Foreign, tmp_path: Path) -> None:
    text = MAPPING.read_text(encoding="utf-8")
    text = text.replace('time_column = "Gemeldet"', "label_delay_days = 3")
    text = text.replace('time_format = "iso8601"', "")
    mapping_file = tmp_path / "assumed.toml"
    mapping_file.write_text(text, encoding="utf-8")
    summary = run_import(foreign.path, load_mapping(mapping_file), tmp_path / "out")
    record = json.loads((tmp_path / "out" / "import.json").read_text(encoding="utf-8"))
    assert record["label_delay_days"] == 3 and record["labelled_at"].startswith("ASSUMED")
    _, labels = read_dataset(tmp_path / "out")
    delay = np.asarray(labels.column("labelled_at").cast("int64")) - np.asarray(
        labels.column("transaction_timestamp").cast("int64")
    )
    assert summary.labels == labels.num_rows > 0 and set(delay.tolist()) == {3 * 86_400_000}


def test_a_parquet_source_with_typed_columns(tmp_path: Path) -> None:
    import pyarrow as pa

    source = tmp_path / "bank.parquet"
    stamps = pa.array([1_530_000_000_000, 1_530_000_060_000], pa.timestamp("ms", tz="UTC"))
    pq.write_table(
        pa.table({"id": ["a", "b"], "acct": ["x", "x"], "amt": pa.array([12, -1], pa.int64()),
                  "at": stamps, "shop": ["m", "m"]}),
        source,
    )  # fmt: skip
    mapping_file = tmp_path / "m.toml"
    mapping_file.write_text(
        '[columns]\ntransaction_id = "id"\naccount_id = "acct"\namount = "amt"\n'
        'timestamp = "at"\nmerchant_id = "shop"\n[derived]\ncard_token = { column = "acct", '
        'prefix = "tok-" }\n[constants]\ncurrency = "USD"\ncountry = "US"\nchannel = "ECOM"\n'
        'type = "debit"\n'
    )
    summary = run_import(source, load_mapping(mapping_file), tmp_path / "out")
    assert (summary.read, summary.written, dict(summary.rejected)) == (2, 1, {"amount": 1})
    transactions, labels = read_dataset(tmp_path / "out")
    assert transactions.column("amount").to_pylist()[0] == 12 and labels.num_rows == 0


def test_a_line_with_the_wrong_number_of_fields_is_a_rejection(tmp_path: Path) -> None:
    lines = ["id,acct,amt,at,shop", "a,x,1.50,2018-07-01T10:00:00Z,m", "b,x,2.50,oops",
             "c,x,3.50,2018-07-01T10:01:00Z,m"]  # fmt: skip
    source = tmp_path / "bank.csv"
    source.write_text("\n".join(lines) + "\n")
    mapping_file = tmp_path / "m.toml"
    mapping_file.write_text(
        '[columns]\ntransaction_id = "id"\naccount_id = "acct"\namount = "amt"\n'
        'timestamp = "at"\nmerchant_id = "shop"\ncard_token = "acct"\n[constants]\n'
        'currency = "USD"\ncountry = "US"\nchannel = "ECOM"\ntype = "debit"\n'
    )
    out = tmp_path / "out"
    summary = run_import(source, load_mapping(mapping_file), out)
    assert (summary.read, summary.written) == (3, 2)
    report = (out / "rejected.csv").read_text().splitlines()
    assert report[1] == "2,,malformed,row has 4 fields; the header has 5"
    transactions, _ = read_dataset(out)
    assert transactions.column("transaction_id").to_pylist() == ["a", "c"]


def test_a_mapping_naming_a_missing_column_stops_before_any_row(
    foreign: Foreign, tmp_path: Path
) -> None:
    mapping_file = tmp_path / "m.toml"
    mapping_file.write_text(MAPPING.read_text(encoding="utf-8").replace('"Land"', '"Country"'))
    result = CliRunner().invoke(
        app, ["import", str(foreign.path), "--mapping", str(mapping_file), "--out",
              str(tmp_path / "out")],
    )  # fmt: skip
    assert result.exit_code == 1
    assert "has no column 'Country'" in " ".join(result.output.split())
    assert not (tmp_path / "out").exists()
