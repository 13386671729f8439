"""The concurrency limit is atomic: the capacity check and the claim are one step of the
store, so parallel launcher deliveries never have more runs TRAINING (or jobs paid) than
MAX_CONCURRENT_JOBS (issue 17). The gcp store's race runs in tests/contract/test_run_store.py
against the official Firestore emulator."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

from shared.errors import TransientError
from shared.pipeline import launch, validation
from shared.runs import Run, RunStatus

from .conftest import make_world

S = RunStatus


class NetworkLatency:
    """The local store whose query answers arrive a few milliseconds late, as a Firestore
    query's do over the network: it widens the gap between reading who is TRAINING and
    claiming, where a check made apart from the claim lets parallel launchers in."""

    def __init__(self, store: Any) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def list_by_status(self, statuses: Iterable[RunStatus], **kw: Any) -> list[Run]:
        out: list[Run] = self._store.list_by_status(statuses, **kw)
        time.sleep(0.005)  # the answer travels back: the world may move meanwhile
        return out


def test_200_parallel_launch_attempts_with_a_limit_of_2_never_show_more_than_2_training(
    tmp_path: Path,
) -> None:
    world = make_world(tmp_path, max_jobs=2)
    rid = validation.handle_upload(world.deps, world.drop_dataset("ds")).run_id
    assert rid is not None
    template = world.run(rid)
    ids = [rid]
    for i in range(1, 40):  # 40 validated runs, five deliveries each
        doc = replace(template, run_id=f"{rid[:40]}-clone{i}").to_dict()
        world.store.create(Run.from_dict(doc))
        ids.append(doc["run_id"])
    world.deps.__dict__["store"] = NetworkLatency(world.store)
    seen: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(16)

    def deliver(i: int) -> str:
        if i < 16:
            start.wait()
        try:
            out = launch.handle_validated(world.deps, ids[i % len(ids)])
        except TransientError:
            out = "redelivered"
        training = len(world.store.list_by_status([S.TRAINING]))
        with lock:
            seen.append(training)
        return out

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(deliver, range(200)))
    assert max(seen) <= 2, max(seen)
    assert len(world.store.list_by_status([S.TRAINING])) == 2
    assert sum(len(world.tuner.find_jobs(r)) for r in ids) == 2, results
    assert len(world.store.list_by_status([S.QUEUED])) == 38


def test_a_duplicate_delivery_racing_the_claimer_never_creates_a_second_job(
    tmp_path: Path,
) -> None:
    """The claimer is still creating the job (Vertex takes its time; the label is not visible
    yet) when a duplicate delivery reads the run TRAINING without a job: it must leave the job
    to the claimer, not create (and pay for) another one."""
    world = make_world(tmp_path, max_jobs=2)
    rid = validation.handle_upload(world.deps, world.drop_dataset("ds")).run_id
    assert rid is not None
    tuner, creating, finish = world.tuner, threading.Event(), threading.Event()
    real_create = tuner.create_job

    def slow_create(spec: Any) -> Any:
        creating.set()
        finish.wait(5)
        return real_create(spec)

    tuner.create_job = slow_create  # type: ignore[method-assign]
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(launch.handle_validated, world.deps, rid)
        assert creating.wait(5)
        second = launch.handle_validated(world.deps, rid)
        finish.set()
        assert first.result() == "created"
    assert second == "claimed by another delivery"
    assert len(tuner.find_jobs(rid)) == 1


def test_a_redelivery_and_a_poller_tick_reconciling_one_stale_claim_create_one_job(
    tmp_path: Path,
) -> None:
    """After a restart both the redelivered launcher message and the poller's tick see the dead
    runtime's claim stale: one takes it over (compare-and-set), the other leaves it."""
    from shared.pipeline import poll

    world = make_world(tmp_path, max_jobs=2)
    rid = validation.handle_upload(world.deps, world.drop_dataset("ds")).run_id
    assert rid is not None
    claimed = world.store.transition(
        rid, [S.VALIDATED], S.TRAINING, change=lambda r: setattr(r.job, "claimed_at", None)
    )
    assert claimed is not None and not claimed.job.name  # a claim whose launcher died
    tuner, creating, finish = world.tuner, threading.Event(), threading.Event()
    real_create = tuner.create_job

    def slow_create(spec: Any) -> Any:
        creating.set()
        finish.wait(5)
        return real_create(spec)

    tuner.create_job = slow_create  # type: ignore[method-assign]
    with ThreadPoolExecutor(1) as pool:
        redelivery = pool.submit(launch.handle_validated, world.deps, rid)
        assert creating.wait(5)
        poll.poll_once(world.deps)  # the tick, while the redelivery's create is in flight
        finish.set()
        assert redelivery.result() == "created"
    assert len(tuner.find_jobs(rid)) == 1
