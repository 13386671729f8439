"""Contract of the `RunStore` port (shared/ports.py), run against every backend.

Fixtures: `store` (an empty RunStore) and `store_factory` (a picklable zero-argument callable
that opens the same empty store, `<backend>_store_factory`), used to race compare-and-set
across processes. A backend may expose `.reads` (documents read so far) on its store: the
suite then checks that `list_by_status` reads only matching runs.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import queue
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from shared.errors import QuotaExceeded, TransientError
from shared.ports import RunStore
from shared.runs import Change, DatasetInfo, Run, RunStatus, make_run_id
from shared.tuning_config import EvaluationConfig, Gate, TuningConfig
from tests.contract.conftest import BACKENDS

S = RunStatus


def _run(i: int, *, created_at: str | None = None) -> Run:
    name = f"incoming/ds{i}/train.jsonl"
    run = Run.new(
        make_run_id("bucket", name, i),
        DatasetInfo(bucket="bucket", name=name, generation=str(i), uri=f"gs://bucket/{name}"),
    )
    if created_at:
        run.created_at = created_at
    return run


@pytest.fixture(params=BACKENDS)
def store_factory(request: pytest.FixtureRequest) -> Any:
    return request.getfixturevalue(f"{request.param}_store_factory")  # missing: an error


def test_create_is_create_if_absent(store: Any) -> None:
    assert isinstance(store, RunStore)
    run = _run(1)
    assert store.create(run) is True
    assert store.create(_run(1)) is False
    got = store.get(run.run_id)
    assert got is not None and got.to_dict() == run.to_dict()
    assert store.get("no-such-run") is None


def test_create_under_50_threads_gives_exactly_one_true(store: Any) -> None:
    run = _run(7)
    start = threading.Barrier(50)

    def attempt(_: int) -> bool:
        start.wait()
        return bool(store.create(_run(7)))

    with ThreadPoolExecutor(50) as pool:
        results = list(pool.map(attempt, range(50)))
    assert results.count(True) == 1
    assert store.get(run.run_id) is not None


def _set_config(r: Run) -> None:
    r.config = TuningConfig(epoch=5, evaluation=EvaluationConfig(gates={"chrf": Gate(min=0.2)}))


def test_transition_is_compare_and_set_with_history_and_change(store: Any) -> None:
    run = _run(2)
    store.create(run)
    moved = store.transition(
        run.run_id, [S.RECEIVED], S.VALIDATING, note="validating", change=_set_config
    )
    assert moved is not None and moved.status == S.VALIDATING
    # The typed config survives the store's round trip as the same typed value.
    assert moved.config == TuningConfig(
        epoch=5, evaluation=EvaluationConfig(gates={"chrf": Gate(min=0.2)})
    )
    assert [h.status for h in moved.history] == [S.RECEIVED, S.VALIDATING]
    assert moved.history[-1].note == "validating"
    assert store.transition(run.run_id, [S.RECEIVED], S.VALIDATING) is None  # already done
    got = store.get(run.run_id)
    assert got is not None and got.status == S.VALIDATING and len(got.history) == 2


def test_illegal_transition_is_refused(store: Any) -> None:
    run = _run(3)
    store.create(run)
    with pytest.raises(ValueError):
        store.transition(run.run_id, [S.RECEIVED], S.SUCCEEDED)
    got = store.get(run.run_id)
    assert got is not None and got.status == S.RECEIVED


def test_transition_or_update_of_missing_run_returns_none(store: Any) -> None:
    assert store.transition("no-such-run", [S.RECEIVED], S.VALIDATING) is None
    assert store.update("no-such-run", _job_state("RUNNING")) is None
    assert store.get("no-such-run") is None


def _job_state(state: str) -> Change:
    def change(r: Run) -> None:
        r.job.state = state

    return change


def _job_name(r: Run) -> None:
    r.job.name = "jobs/1"


def test_update_changes_fields_and_honours_expected(store: Any) -> None:
    run = _run(4)
    store.create(run)
    store.update(run.run_id, _job_name)
    upd = store.update(run.run_id, _job_state("RUNNING"), expected=[S.RECEIVED])
    assert upd is not None and upd.job.name == "jobs/1" and upd.job.state == "RUNNING"
    assert upd.status == S.RECEIVED
    assert store.update(run.run_id, _job_state("X"), expected=[S.TRAINING]) is None
    got = store.get(run.run_id)
    assert got is not None and got.job.state == "RUNNING"


def test_concurrent_threads_one_cas_winner(store: Any) -> None:
    # Each thread redelivers on the TransientError the contract allows, so every race must end
    # with one winner and n-1 plain losers. Six threads, well below where the official Firestore
    # emulator stalls with about ten transactions waiting on one document (measured 2026-12-04:
    # 8 threads 3/3 races decided in 2.1 s; 10 threads 1 of 2 and 12 threads 0 of 2 undecided
    # after 60 s of redeliveries). One upload event never has that many concurrent deliveries.
    run = _run(5)
    store.create(run)
    n = 6
    start = threading.Barrier(n)
    out: queue.Queue[object] = queue.Queue()
    with ThreadPoolExecutor(n) as pool:
        for _ in range(n):
            pool.submit(_race, lambda: store, run.run_id, start, out)
    results = [out.get(timeout=60) for _ in range(n)]
    assert results.count(True) == 1, results
    assert results.count(False) == n - 1, results
    got = store.get(run.run_id)
    assert got is not None and len(got.history) == 2


RACE_REDELIVERIES = 20


def _race(factory: Callable[[], Any], run_id: str, start: Any, out: Any) -> None:
    """One contender: a TransientError is allowed by the contract under contention (the
    platform redelivers), so it is retried here as a redelivery would; any other outcome is
    reported, never left to hang the parent on the queue."""
    try:
        store = factory()
        start.wait()
        for _ in range(RACE_REDELIVERIES):
            try:
                out.put(store.transition(run_id, [S.RECEIVED], S.VALIDATING) is not None)
                return
            except TransientError:
                time.sleep(random.uniform(0.02, 0.2))  # jitter, as redeliveries spread out
        out.put("still transient after redeliveries")
    except BaseException as exc:
        out.put(f"{type(exc).__name__}: {exc}")


def test_concurrent_processes_one_cas_winner(store_factory: Any) -> None:
    run = _run(6)
    store_factory().create(run)
    methods = multiprocessing.get_all_start_methods()
    ctx: Any = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    n = 4
    start, out = ctx.Barrier(n), ctx.Queue()
    procs = [
        ctx.Process(target=_race, args=(store_factory, run.run_id, start, out)) for _ in range(n)
    ]
    for p in procs:
        p.start()
    results = [out.get(timeout=20) for _ in range(n)]
    for p in procs:
        p.join(timeout=20)
    assert results.count(True) == 1, results
    assert results.count(False) == n - 1, results
    got = store_factory().get(run.run_id)
    assert got is not None and got.status == S.VALIDATING and len(got.history) == 2


class _ContendedStore:
    """A store whose first transition meets contention (the emulator's ABORTED)."""

    calls = 0

    def transition(self, *_: Any, **__: Any) -> object:
        _ContendedStore.calls += 1
        if _ContendedStore.calls == 1:
            raise TransientError("contention", code="aborted")
        return object()


def test_race_helper_treats_the_allowed_transient_error_as_a_redelivery() -> None:
    # The process race above failed about 1 run in 4 against the official Firestore emulator:
    # its child raised this TransientError, which the contract allows, instead of retrying.
    out: queue.Queue[object] = queue.Queue()
    _race(_ContendedStore, "r", threading.Barrier(1), out)
    assert out.get_nowait() is True
    assert _ContendedStore.calls == 2


def test_list_by_status_oldest_first_with_limit(store: Any) -> None:
    for i, st in enumerate([S.QUEUED, S.TRAINING, S.SUCCEEDED, S.QUEUED]):
        run = _run(10 + i, created_at=f"2030-01-0{4 - i}T00:00:00.000Z")
        run.status = st
        store.create(run)
    active = store.list_by_status([S.QUEUED, S.TRAINING])
    assert [r.status for r in active] == [S.QUEUED, S.TRAINING, S.QUEUED]
    assert [r.created_at for r in active] == sorted(r.created_at for r in active)
    assert len(store.list_by_status([S.QUEUED, S.TRAINING], limit=2)) == 2
    assert store.list_by_status([S.FAILED]) == []


def test_list_by_status_reads_only_matching_runs(store: Any) -> None:
    if not hasattr(store, "reads"):
        pytest.skip("this backend exposes no read counter")
    for i in range(30):
        run = _run(100 + i)
        run.status = S.TRAINING if i % 10 == 0 else S.SUCCEEDED
        store.create(run)
    before = store.reads
    active = store.list_by_status([S.TRAINING])
    assert len(active) == 3
    assert store.reads - before == 3


def test_list_created_since_reads_only_runs_from_that_time_oldest_first(store: Any) -> None:
    for i, day in enumerate(
        [
            "2030-03-31T23:59:59.999Z",
            "2030-04-02T00:00:00.000Z",
            "2030-04-01T00:00:00.000Z",
            "2030-05-01T00:00:00.000Z",
        ]
    ):
        store.create(_run(300 + i, created_at=day))
    before = getattr(store, "reads", None)
    got = store.list_created_since("2030-04-01T00:00:00.000Z")
    assert [r.created_at[:10] for r in got] == ["2030-04-01", "2030-04-02", "2030-05-01"]
    if before is not None:
        assert store.reads - before == 3
    assert store.list_created_since("2031-01-01T00:00:00.000Z") == []


def test_list_recent_newest_first(store: Any) -> None:
    for i in range(5):
        store.create(_run(200 + i, created_at=f"2030-02-0{i + 1}T00:00:00.000Z"))
    recent = store.list_recent(limit=3)
    assert [r.created_at[:10] for r in recent] == ["2030-02-05", "2030-02-04", "2030-02-03"]


# ---- the concurrency limit (issue 17) -------------------------------------------------------


def _validated(store: Any, i: int) -> Run:
    run = _run(100 + i)
    store.create(run)
    store.transition(run.run_id, [S.RECEIVED], S.VALIDATING)
    store.transition(run.run_id, [S.VALIDATING], S.VALIDATED)
    return run


def _training(store: Any, runs: list[Run]) -> int:
    ids = {r.run_id for r in runs}
    return sum(1 for r in store.list_by_status([S.TRAINING]) if r.run_id in ids)


def test_claim_training_slot_honours_the_limit_and_frees_a_slot_on_leaving(store: Any) -> None:
    runs = [_validated(store, i) for i in range(3)]
    for r in runs[:2]:
        got = store.claim_training_slot(r.run_id, [S.VALIDATED], limit=2, note="start")
        assert got is not None and got.status == S.TRAINING and got.history[-1].note == "start"
    with pytest.raises(QuotaExceeded):
        store.claim_training_slot(runs[2].run_id, [S.VALIDATED], limit=2)
    left = store.get(runs[2].run_id)
    assert left is not None and left.status == S.VALIDATED  # nothing written
    assert store.claim_training_slot(runs[2].run_id, [S.QUEUED], limit=2) is None  # wrong status
    store.transition(runs[0].run_id, [S.TRAINING], S.TRAINED)  # leaves TRAINING: slot free
    got = store.claim_training_slot(runs[2].run_id, [S.VALIDATED], limit=2)
    assert got is not None and got.status == S.TRAINING
    assert _training(store, runs) == 2


def test_parallel_launchers_never_exceed_the_limit(store: Any) -> None:
    """200 launch attempts (20 runs, 10 deliveries each) race for 2 slots."""
    runs = [_validated(store, i) for i in range(20)]
    start = threading.Barrier(16)
    seen: list[int] = []

    def attempt(i: int) -> str:
        if i < 16:
            start.wait()
        run = runs[i % len(runs)]
        try:
            got = store.claim_training_slot(run.run_id, [S.VALIDATED, S.QUEUED], limit=2)
        except QuotaExceeded:
            return "full"
        except TransientError:
            return "retry"  # allowed under contention: the platform redelivers
        finally:
            seen.append(_training(store, runs))
        return "claimed" if got is not None else "moved"

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(attempt, range(200)))
    # Safety holds under any contention: never more than the limit, at any moment.
    assert results.count("claimed") <= 2, results
    assert max(seen) <= 2 and _training(store, runs) <= 2
    # Liveness is the platform's redelivery: a run that lost its transactions ("retry") is
    # delivered again; once the storm is over the free slots fill and the limit still holds.
    # (On a loaded 2-core machine the emulator can abort every attempt of one slot's racers.)
    for _ in range(3):
        for run in runs:
            with contextlib.suppress(QuotaExceeded, TransientError):
                store.claim_training_slot(run.run_id, [S.VALIDATED, S.QUEUED], limit=2)
    assert _training(store, runs) == 2
