"""The run record and its state machine."""

from __future__ import annotations

import itertools
import re

import pytest

from shared.runs import (
    TERMINAL,
    TRANSITIONS,
    DatasetInfo,
    Run,
    RunStatus,
    apply_change,
    make_run_id,
    transition_doc,
)
from shared.tuning_config import EvaluationConfig, Gate, TuningConfig
from tests import changes

S = RunStatus


def new_run() -> Run:
    return Run.new("ds-1", DatasetInfo("b", "incoming/ds/train.jsonl", "7", "gs://b/x"))


def test_run_id_is_deterministic_readable_and_label_safe() -> None:
    a = make_run_id("bucket", "incoming/Game CS 客服/train.jsonl", "1700000000000001")
    assert a == make_run_id("bucket", "incoming/Game CS 客服/train.jsonl", "1700000000000001")
    assert a != make_run_id("bucket", "incoming/Game CS 客服/train.jsonl", "1700000000000002")
    assert a.startswith("game-cs-")
    assert re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,62}", a)
    assert make_run_id("b", "incoming/single.jsonl", 1).startswith("single-")
    assert make_run_id("b", "incoming/客服.jsonl", 1).startswith("dataset-")


def test_the_happy_path_is_allowed_and_terminal_states_are_final() -> None:
    path = [
        S.RECEIVED,
        S.VALIDATING,
        S.VALIDATED,
        S.QUEUED,
        S.TRAINING,
        S.TRAINED,
        S.EVALUATING,
        S.SUCCEEDED,
    ]
    for a, b in itertools.pairwise(path):
        assert b in TRANSITIONS[a]
    assert {S.REJECTED, S.SUCCEEDED, S.FAILED, S.CANCELLED} == TERMINAL


def test_transition_doc_appends_history_and_rejects_illegal_moves() -> None:
    doc = new_run().to_dict()
    doc2 = transition_doc(doc, S.VALIDATING, note="go", change=changes.validation(started_at="t"))
    assert doc2["status"] == "VALIDATING"
    assert [h["status"] for h in doc2["history"]] == ["RECEIVED", "VALIDATING"]
    assert doc2["validation"]["started_at"] == "t"
    assert doc["status"] == "RECEIVED"  # the input document is not modified
    with pytest.raises(ValueError, match="illegal transition"):
        transition_doc(doc, S.SUCCEEDED)


def test_a_change_keeps_other_fields_and_refreshes_updated_at() -> None:
    doc = new_run().to_dict()
    doc["updated_at"] = "2000-01-01T00:00:00.000Z"
    doc = apply_change(doc, changes.job(name="j1", state="RUNNING"))
    doc = apply_change(doc, changes.job(state="SUCCEEDED"))
    assert doc["job"]["name"] == "j1" and doc["job"]["state"] == "SUCCEEDED"
    assert doc["status"] == "RECEIVED" and doc["updated_at"] > "2000-01-01T00:00:00.000Z"


def test_the_stored_config_is_the_typed_config_and_absent_before_validation() -> None:
    run = new_run()
    assert run.to_dict()["config"] == {} and Run.from_dict(run.to_dict()).config is None
    with pytest.raises(ValueError, match="no resolved config"):
        _ = run.tuning
    run.config = TuningConfig(evaluation=EvaluationConfig(gates={"bleu": Gate(min=0.3)}))
    doc = run.to_dict()
    assert doc["config"]["evaluation"]["metrics"] == list(run.config.evaluation.metrics)
    assert Run.from_dict(doc).tuning == run.config


def test_round_trip_through_a_plain_document() -> None:
    run = new_run()
    doc = transition_doc(run.to_dict(), S.VALIDATING)
    back = Run.from_dict(doc)
    assert back.status is S.VALIDATING
    assert back.dataset.generation == "7"
    assert back.to_dict() == doc
