"""Runs written to a real local store along the state machine's own transitions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from shared.local.paths import LocalLayout
from shared.local.store import SqliteRunStore
from shared.runs import Change, DatasetInfo, EvaluationInfo, Run, RunStatus, make_run_id
from tests import changes

S = RunStatus
FINDING: dict[str, Any] = {
    "code": "invalid_json",
    "file": "incoming/broken/train.jsonl",
    "line": 3,
    "path": None,
    "message": "line 3 is not valid JSON (Expecting ',' delimiter at column 80). Fix the line.",
}
METRICS: dict[str, dict[str, float | None]] = {
    "chrf": {"tuned": 0.91, "base": 0.12},
    "rouge_l": {"tuned": 0.88, "base": 0.1},
}


def store_for(root: Path) -> SqliteRunStore:
    return SqliteRunStore(LocalLayout(root).create().runs_db)


def _new(store: SqliteRunStore, dataset: str) -> str:
    name = f"incoming/{dataset}/train.jsonl"
    run_id = make_run_id("bucket", name, 1)
    info = DatasetInfo("bucket", name, "1", f"file:///bucket/{name}", size=10)
    assert store.create(Run.new(run_id, info, simulated=True))
    return run_id


def _walk(store: SqliteRunStore, run_id: str, steps: list[tuple[RunStatus, Change | None]]) -> Run:
    run = store.get(run_id)
    assert run is not None
    for dst, change in steps:
        moved = store.transition(run_id, [run.status], dst, note=f"to {dst}", change=change)
        assert moved is not None, f"{run.status} -> {dst}"
        run = moved
    return run


def _both(*parts: Change) -> Change:
    def change(r: Run) -> None:
        for part in parts:
            part(r)

    return change


def _evaluated(r: Run) -> None:
    r.evaluation = EvaluationInfo(
        passed=True,
        reason="gates passed",
        metrics=METRICS,
        report_uri="file:///artifacts/runs/x/evaluation.json",
        simulated=True,
    )


def rejected_run(store: SqliteRunStore, dataset: str = "broken") -> Run:
    return _walk(
        store,
        _new(store, dataset),
        [
            (S.VALIDATING, None),
            (
                S.REJECTED,
                _both(
                    changes.validation(valid=False, findings=[FINDING]),
                    changes.error("validation", "invalid_json", FINDING["message"]),
                ),
            ),
        ],
    )


def succeeded_run(store: SqliteRunStore, dataset: str = "good") -> Run:
    return _walk(
        store,
        _new(store, dataset),
        [
            (S.VALIDATING, None),
            (S.VALIDATED, changes.validation(valid=True)),
            (S.TRAINING, changes.job(name="projects/p/locations/l/tuningJobs/7", state="RUNNING")),
            (S.TRAINED, changes.job(state="SUCCEEDED")),
            (S.EVALUATING, None),
            (S.SUCCEEDED, _evaluated),
        ],
    )
