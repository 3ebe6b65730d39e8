"""The simulator's working table: one numpy column per transaction attribute."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from fraudsim.simulate.geography import Floats, Ints


@dataclass(slots=True)
class Rows:
    """Transactions as parallel columns; ids and strings are made only at the very end."""

    customer: Ints
    merchant: Ints
    ts_ms: Ints
    cents: Ints
    lat: Floats
    lon: Floats
    device: Ints  # index into the device table, -1 when no device took part
    scenario: Ints  # 0 genuine, else an index into SCENARIOS

    def __len__(self) -> int:
        return len(self.ts_ms)

    def take(self, index: Ints) -> Rows:
        return Rows(*(getattr(self, f.name)[index] for f in fields(self)))

    @staticmethod
    def concat(parts: list[Rows]) -> Rows:
        return Rows(*(np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(Rows)))
