"""Runs a replay: partitions shared across worker processes, a progress bar, one report.

One core decides roughly 10,000 transactions a second, so a replay of many records runs
one worker process per core (spawned: each builds its own pipeline from the picklable
``Candidate``) with the partitions balanced by record count; a small replay runs in this
process. Workers report records read through a queue, which drives the progress bar.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import replace
from typing import Any

from decision_core.collector import tune_for_deciding
from decision_core.scoring import without_scikit_learn
from replay.engine import Job, run_job
from replay.plan import PartitionRange
from replay.report import ReportPart

# Below this many records a worker process costs more to start than it saves.
IN_PROCESS_BELOW = 20_000

_progress: Any = None  # the queue of a worker process, set by its initializer


def share(parts: Sequence[PartitionRange], workers: int) -> list[tuple[PartitionRange, ...]]:
    """Partitions into ``workers`` groups of similar record counts (largest first)."""
    groups: list[list[PartitionRange]] = [[] for _ in range(max(1, workers))]
    loads = [0] * len(groups)
    for part in sorted(parts, key=lambda p: (-p.records, p.partition)):
        least = loads.index(min(loads))
        groups[least].append(part)
        loads[least] += part.records
    return [tuple(sorted(g, key=lambda p: p.partition)) for g in groups if g]


def worker_count(requested: int, parts: Sequence[PartitionRange]) -> int:
    """``requested`` (0: one per core), at most one per partition with records."""
    busy = sum(1 for p in parts if p.records)
    if requested <= 0:
        total = sum(p.records for p in parts)
        requested = 1 if total < IN_PROCESS_BELOW else os.cpu_count() or 1
    return max(1, min(requested, busy))


def run(job: Job, workers: int, progress: Callable[[int], None]) -> ReportPart:
    """Replay ``job`` with ``workers`` processes (1: in this process); merged report part."""
    groups = share(job.parts, workers)
    if len(groups) <= 1:
        return run_job(job, progress)
    # spawn, not fork: a forked child of a process that has used XGBoost's OpenMP runtime
    # can hang in Booster.load_model (seen in the benchmark, which trains a model first).
    context = multiprocessing.get_context("spawn")
    counts: multiprocessing.Queue[int] = context.Queue()
    with ProcessPoolExecutor(
        len(groups), mp_context=context, initializer=_init, initargs=(counts,)
    ) as pool:
        futures = [pool.submit(_work, replace(job, parts=group)) for group in groups]
        _follow(futures, counts, progress)
        merged = ReportPart()
        for future in futures:
            merged.merge(future.result())
    return merged


def _follow(
    futures: list[Future[ReportPart]], counts: Any, progress: Callable[[int], None]
) -> None:
    while True:
        try:
            progress(counts.get(timeout=0.2))
        except queue.Empty:
            if all(f.done() for f in futures):
                break
    while True:  # what arrived after the last check
        try:
            progress(counts.get_nowait())
        except queue.Empty:
            return


def _init(counts: Any) -> None:
    global _progress
    # A worker only scores: xgboost need not import scikit-learn when the model loads (~1 s
    # of each worker's start).
    without_scikit_learn()
    _progress = counts
    # A worker process is the replay's alone: it may set its own collector.
    tune_for_deciding()


def _work(job: Job) -> ReportPart:
    return run_job(job, _progress.put)
