"""The evaluator step past its time budget: progress on the run, chunks in the artifacts
bucket, a fresh message continues, and the finished run links its reports."""

from __future__ import annotations

import json
from pathlib import Path

from shared.pipeline import evaluate, poll, validation
from shared.runs import RunStatus

from .conftest import ZH_EXAMPLES, World, dataset_bytes

S = RunStatus
N = 130  # more than one chunk of 100


def test_an_evaluation_past_its_budget_continues_from_its_saved_chunks(world: World) -> None:
    pairs = [
        (f"{q}（第{i}次）", a) for i in range(N // len(ZH_EXAMPLES) + 1) for q, a in ZH_EXAMPLES
    ]
    test = dataset_bytes(pairs[:N])
    obj = world.drop_dataset(test=test, tuning_yaml=f"evaluation: {{sample_size: {N}}}\n")
    rid = validation.handle_upload(world.deps, obj).run_id
    assert rid
    world.pump()
    world.advance_clock(1000)
    poll.poll_once(world.deps)  # TRAINED, evaluation-requested published (not delivered yet)

    out = evaluate.handle_evaluation_request(world.deps, rid, time_budget=0)
    run = world.run(rid)
    assert out == f"continuing: 100/{N} examples evaluated"
    assert run.status == S.EVALUATING and run.evaluation.progress == {"done": 100, "total": N}
    chunks = list((world.root / "artifacts" / "runs" / rid / "evaluation" / "chunks").rglob("*"))
    assert [p.name for p in chunks if p.is_file()] == ["00000.jsonl"]

    world.pump()  # the poller's message and the continuation: one finishes, one finds it done
    run = world.run(rid)
    assert run.status == S.SUCCEEDED and run.evaluation.progress == {"done": N, "total": N}
    assert [s for s, r in world.delivered if r == rid].count("t-evaluator") == 2
    report = json.loads(Path(run.evaluation.report_uri[7:]).read_text())  # type: ignore[index]
    page = Path(run.evaluation.report_html_uri[7:]).read_text()  # type: ignore[index]
    assert "PASSED" in page and rid in page and "SIMULATED" in page
    assert report["summary"]["scored"] == N and report["chunks"] == {
        "total": 2,
        "predicted_now": 1,
    }
