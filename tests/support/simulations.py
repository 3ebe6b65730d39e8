"""Small simulations the fraudsim tests share: sizes chosen for what each test needs."""

from __future__ import annotations

from fraudsim.simulate import SimConfig

# About 116,000 transactions: big enough for stable statistics, generated in well under 1 s.
STATS_CONFIG = SimConfig(customers=1_000, terminals=2_000, days=60, seed=11)
# About 1,800 transactions over three weeks: for replaying through the live pipeline.
PARITY_CONFIG = SimConfig(customers=40, terminals=120, days=21, seed=5)
# About 34,000 transactions over two months: the smallest data the protocol runs on.
TRAIN_CONFIG = SimConfig(customers=300, terminals=600, days=60, seed=2)
