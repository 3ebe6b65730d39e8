"""A simulated history written as a bank of another shape would export it (the
`sentinel import` tests and the import -> train -> score end-to-end test).

docs/examples/bank-import.toml describes the shape: German column names, ';' between
fields, amounts like 1.234,56, local Berlin times with a comma before the milliseconds,
a 'J'/'N' fraud column with an ISO 8601 label time, no currency, channel, type or token.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from fraudsim.simulate import SimConfig, simulate
from fraudsim.simulate.config import SCENARIOS
from fraudsim.tables import TransactionColumns, transactions_table

MAPPING = Path(__file__).parents[2] / "docs" / "examples" / "bank-import.toml"
# About 4,500 transactions over a month; small as it is, a quarter of them are fraud.
FOREIGN_CONFIG = SimConfig(customers=60, terminals=1_000, days=30, seed=7)
# The same bank over 45 days (about 7,000 rows): long enough for training's four test folds.
CHAIN_CONFIG = SimConfig(customers=60, terminals=1_000, days=45, seed=7)
BERLIN = ZoneInfo("Europe/Berlin")
HEADER = ("Buchungs-ID", "Kunde", "Betrag", "Zeitpunkt", "Händler", "MCC", "Land", "Ort",
          "Breite", "Länge", "Gerät", "Betrug", "Gemeldet", "Art")  # fmt: skip
# Source row -> (how it is spoiled, the rejection's field)
BAD_ROWS = {
    5: ("zero amount", "amount"),
    17: ("unknown country", "country"),
    29: ("card number in the city", "city"),
    41: ("duplicate of row 3's id", "duplicate"),
    53: ("impossible date", "timestamp"),
    60: ("unknown fraud value", "is_fraud"),
}


@dataclass(frozen=True)
class Foreign:
    """The CSV, the simulated rows it was written from (row r = sim row r - 1), its frauds."""

    path: Path
    sim: TransactionColumns
    fraud: list[bool]
    labelled_at_ms: list[int]
    scenario: list[str | None]


def _money(cents: int) -> str:
    euros, rest = divmod(cents, 100)
    return f"{euros:,}".replace(",", ".") + f",{rest:02d}"


def _local(ms: int) -> str:
    moment = datetime.fromtimestamp(ms / 1000, UTC).astimezone(BERLIN)
    return moment.strftime("%d.%m.%Y %H:%M:%S,") + f"{ms % 1000:03d}"


def _number(value: float | None) -> str:
    return "" if value is None else repr(value).replace(".", ",")


def _line(c: TransactionColumns, i: int, fraud: bool, labelled: int, scenario: str) -> list[str]:
    v = c.values
    return [v["transaction_id"][i], v["account_id"][i], _money(c.cents[i]), _local(c.ts_ms[i]),
            v["merchant_id"][i], v["mcc"][i], v["country"][i], v["city"][i] or "",
            _number(v["lat"][i]), _number(v["lon"][i]), v["device_id"][i] or "",
            "J" if fraud else "N",
            datetime.fromtimestamp(labelled / 1000, UTC).isoformat() if fraud else "",
            scenario if fraud else ""]  # fmt: skip


def _spoil(lines: list[list[str]]) -> None:
    """The bad rows of BAD_ROWS (lines[0] is the header, lines[r] is row r)."""
    lines[5][2] = "0,00"
    lines[17][6] = "XX"
    lines[29][7] = "Berlin 4111 1111 1111 1111"
    lines[41][0] = lines[3][0]
    lines[53][3] = "31.02.2018 10:00:00,000"
    lines[60][11] = "?"


def write_foreign(config: SimConfig, path: Path, spoil: bool = True) -> Foreign:
    """The simulation of ``config`` as the bank's CSV at ``path``; BAD_ROWS spoiled unless
    ``spoil`` is False."""
    data = simulate(config)
    sim = TransactionColumns.from_table(transactions_table(data))
    fraud = data.is_fraud.tolist()
    labelled = data.labelled_at_ms.tolist()
    scenario = [SCENARIOS[s] if f else None for s, f in zip(data.rows.scenario, fraud, strict=True)]
    lines = [list(HEADER)]
    lines += [_line(sim, i, fraud[i], labelled[i], scenario[i] or "") for i in range(len(sim))]
    if spoil:
        _spoil(lines)
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, delimiter=";").writerows(lines)
    return Foreign(path, sim, fraud, labelled, scenario)
