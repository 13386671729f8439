"""Contract of the `ProductionStore` port (shared/ports.py), run against every backend.

Fixtures: `production` (an empty store) and `production_factory` (a picklable zero-argument
callable that opens the same empty store, `<backend>_production_factory`), used to race
promotions across processes. The compare-and-set here is a create-if-absent of the next record
number, which the npm Firestore fake enforces too, so the races run on every backend.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import pytest

from shared.ports import ProductionStore, Promotion
from tests.contract.conftest import BACKENDS


def _promotion(run_id: str, **kw: Any) -> Promotion:
    fields: dict[str, Any] = {
        "tuned_model_name": f"projects/p/locations/l/models/{run_id}",
        "endpoint": f"projects/p/locations/l/endpoints/{run_id}",
        "base_model": "gemini-3.5-flash",
        "promoted_at": "2030-01-01T00:00:00.000Z",
        "promoted_by": "alice",
        **kw,
    }
    return Promotion(run_id=run_id, **fields)


@pytest.fixture(params=BACKENDS)
def production_factory(request: pytest.FixtureRequest) -> Any:
    return request.getfixturevalue(f"{request.param}_production_factory")  # missing: an error


def test_empty_store_has_no_production_model(production: Any) -> None:
    assert isinstance(production, ProductionStore)
    assert production.current() is None
    assert production.history(limit=5) == []
    assert production.get(1) is None


def test_promote_numbers_records_and_round_trips_every_field(production: Any) -> None:
    first = production.promote(
        _promotion("run-a", reason="胜率更高 vs base", checkpoint_id="2", simulated=True),
        expected_current=None,
    )
    assert first is not None and first.sequence == 1
    assert production.current() == first
    assert production.get(1) == first
    second = production.promote(
        _promotion("run-b", previous="run-a", rollback_to=1), expected_current=1
    )
    assert second is not None and second.sequence == 2
    assert second.previous == "run-a" and second.rollback_to == 1 and second.checkpoint_id is None
    assert production.current() == second
    assert production.get(1) == first  # records are never rewritten


def test_promote_from_a_stale_or_impossible_view_is_refused(production: Any) -> None:
    assert production.promote(_promotion("run-a"), expected_current=None) is not None
    assert production.promote(_promotion("run-b"), expected_current=1) is not None
    assert production.promote(_promotion("stale"), expected_current=1) is None
    assert production.promote(_promotion("first-again"), expected_current=None) is None
    assert production.promote(_promotion("ahead"), expected_current=7) is None  # leaves no gap
    current = production.current()
    assert current is not None and current.run_id == "run-b" and current.sequence == 2
    assert [p.sequence for p in production.history(limit=10)] == [2, 1]


def test_history_is_newest_first_with_limit(production: Any) -> None:
    expected: int | None = None
    for i in range(5):
        stored = production.promote(_promotion(f"run-{i}"), expected_current=expected)
        assert stored is not None
        expected = stored.sequence
    history = production.history(limit=3)
    assert [(p.sequence, p.run_id) for p in history] == [(5, "run-4"), (4, "run-3"), (3, "run-2")]
    assert production.history(limit=0) == []


def test_concurrent_threads_one_promotion_wins(production: Any) -> None:
    start = threading.Barrier(16)

    def attempt(i: int) -> Promotion | None:
        start.wait()
        stored: Promotion | None = production.promote(_promotion(f"run-{i}"), expected_current=None)
        return stored

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(attempt, range(16)))
    winners = [r for r in results if r is not None]
    assert len(winners) == 1, results
    assert production.current() == winners[0]
    assert len(production.history(limit=20)) == 1


def _race(factory: Callable[[], Any], run_id: str, start: Any, out: Any) -> None:
    """One contender promoting from the view "record 1 is current"; reports its outcome."""
    try:
        store = factory()
        start.wait()
        stored = store.promote(_promotion(run_id, previous="first"), expected_current=1)
        out.put(None if stored is None else (stored.run_id, stored.sequence))
    except BaseException as exc:
        out.put(f"{type(exc).__name__}: {exc}")


def test_concurrent_processes_one_promotion_wins(production_factory: Any) -> None:
    assert production_factory().promote(_promotion("first"), expected_current=None) is not None
    methods = multiprocessing.get_all_start_methods()
    ctx: Any = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    n = 4
    start, out = ctx.Barrier(n), ctx.Queue()
    procs = [
        ctx.Process(target=_race, args=(production_factory, f"proc-{i}", start, out))
        for i in range(n)
    ]
    for p in procs:
        p.start()
    results = [out.get(timeout=20) for _ in range(n)]
    for p in procs:
        p.join(timeout=20)
    won = [r for r in results if r is not None]
    assert len(won) == 1 and isinstance(won[0], tuple) and won[0][1] == 2, results
    current = production_factory().current()
    assert current is not None and (current.run_id, current.sequence) == won[0]
    assert [p.sequence for p in production_factory().history(limit=10)] == [2, 1]


def test_a_record_is_a_value() -> None:
    p = _promotion("run-a", sequence=3)
    assert Promotion.from_dict(p.to_dict()) == p
    assert replace(p, rolled_back=True) != p
