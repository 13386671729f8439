"""The simulator's batch inference jobs: PENDING -> RUNNING -> SUCCEEDED on its clock, the
output where Vertex AI writes it, every answer labelled simulated."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shared.errors import NotFound, PermanentError
from shared.ports import BatchJobSpec
from shared.simulator import SimConfig, SimulatedBatchPredictor, SimulatedModels, SimulatedTuner


def test_a_batch_job_plays_out_and_writes_its_answers(tmp_path: Path) -> None:
    clock = [100.0]
    tuner = SimulatedTuner(
        tmp_path / "sim.db", config=SimConfig(batch_seconds=10.0), clock=lambda: clock[0]
    )
    batch = SimulatedBatchPredictor.for_tuner(tuner, SimulatedModels(tuner))
    src = tmp_path / "input.jsonl"
    line = {
        "request": {
            "contents": [{"role": "user", "parts": [{"text": "你好"}]}],
            "labels": {"eval_key": "k"},
        }
    }
    src.write_text(json.dumps(line, ensure_ascii=False) + "\n", encoding="utf-8")
    spec = BatchJobSpec(
        "r1", "gtp-r1-eval-base", "gemini-2.5-flash", src.as_uri(), (tmp_path / "out").as_uri()
    )
    job = batch.create_job(spec)
    assert job.state == "PENDING" and job.simulated and job.output_dir is None
    clock[0] += 5
    assert batch.get_job(job.name).state == "RUNNING"
    clock[0] += 10
    done = batch.get_job(job.name)
    assert done.state == "SUCCEEDED" and done.succeeded == 1 and done.output_dir
    (out,) = (tmp_path / "out").glob("prediction-model-*/predictions.jsonl")
    row = json.loads(out.read_text(encoding="utf-8"))
    assert row["status"] == "" and row["request"]["labels"] == {"eval_key": "k"}
    assert row["response"]["simulated"] is True
    assert row["response"]["candidates"][0]["content"]["parts"][0]["text"]
    assert batch.get_job(job.name).output_dir == done.output_dir  # written once
    assert [j.name for j in batch.find_jobs("r1")] == [job.name]
    with pytest.raises(NotFound):
        batch.get_job(job.name[:-3] + "999")
    with pytest.raises(PermanentError, match="does not exist"):
        batch.create_job(
            BatchJobSpec(
                "r1", "x", "gemini-2.5-flash", (tmp_path / "no").as_uri(), spec.output_uri_prefix
            )
        )
