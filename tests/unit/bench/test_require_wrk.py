"""The benchmarks that drive HTTP with wrk stop at once, saying how to get it, without it."""

from __future__ import annotations

import pytest

from bench.bench_ingest import require_wrk


def test_a_missing_wrk_stops_the_benchmark_with_the_way_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(SystemExit, match="make bench"):
        require_wrk()
