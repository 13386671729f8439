"""The catalog at validation, Vertex's recommended hyperparameters, what the job reports, and
continued tuning — through the real steps on the local adapters and the simulator."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from urllib.request import url2pathname

from shared.composition import LazyDeps
from shared.pipeline import launch, poll, validation
from shared.ports import GenerationSettings
from shared.runs import RunStatus

from .conftest import ZH_EXAMPLES, World, dataset_bytes

S = RunStatus
VAL_SET = dataset_bytes([("验证问题一？", "验证回答一。"), ("验证问题二？", "验证回答二。")])


def finish(world: World) -> None:
    world.advance_clock(1000)
    poll.poll_once(world.deps)
    world.pump()


def test_a_retired_or_shut_down_model_is_rejected_before_any_job(world: World) -> None:
    for folder, model, replacement in (
        ("old20", "gemini-2.0-flash", "gemini-3.5-flash"),
        ("old25", "gemini-2.5-flash", "gemini-3.5-flash"),  # retired 2026-10-16
    ):
        obj = world.drop_dataset(folder, tuning_yaml=f"source_model_name: {model}\n")
        out = validation.handle_upload(world.deps, obj)
        assert out.action == "rejected", out
        run = world.run(out.run_id or "")
        assert run.status == S.REJECTED and run.error is not None
        assert run.error.code == "model_retired" and replacement in run.error.message
        assert run.validation.findings[0]["file"] == f"incoming/{folder}/tuning.yaml"
        world.pump()
        assert world.tuner.find_jobs(run.run_id) == []


def test_unset_hyperparameters_are_left_to_vertex_and_read_back(world: World) -> None:
    obj = world.drop("incoming/ds/validation.jsonl", VAL_SET)
    obj = world.drop_dataset()
    rid = validation.handle_upload(world.deps, obj).run_id or ""
    run = world.run(rid)
    spec = launch.job_spec(run)
    assert (spec.epoch_count, spec.learning_rate_multiplier, spec.adapter_size) == (None,) * 3
    assert spec.export_last_checkpoint_only is False
    world.pump()
    world.advance_clock(50)  # half way: curves so far
    poll.poll_once(world.deps)
    mid = world.run(rid).job
    assert mid.state == "RUNNING" and mid.curves["train_total_loss"]
    finish(world)
    job = world.run(rid).job
    # The simulator recommends 5 epochs for a small dataset; the run shows what the job used.
    assert (job.hyperparameters.epoch_count, job.hyperparameters.adapter_size) == (5, 4)
    assert [c.epoch for c in job.checkpoints] == [1, 2, 3, 4, 5]
    assert all(c.endpoint and "-ckpt-" in c.endpoint for c in job.checkpoints)
    assert job.stats is not None and job.stats.examples == len(ZH_EXAMPLES)
    # The validator's estimate at the job's epochs beside the job's own count (the simulator
    # counts with the same estimator, so here they agree: not a measurement of Gemini).
    assert job.stats.billable_tokens == job.stats.estimated_billable_tokens
    assert job.stats.estimate_error == 0.0
    assert job.experiment and job.base_model == "gemini-3.5-flash"
    loss = [v for _, v in job.curves["train_total_loss"]]
    assert loss[0] > loss[-1]  # training loss falls
    assert len(job.curves["train_total_loss"]) > len(mid.curves["train_total_loss"])
    eval_loss = [v for _, v in job.curves["eval_total_loss"]]
    assert min(eval_loss) < eval_loss[-1]  # a small dataset over-fits: validation loss turns up


def test_continue_tuning_from_a_previous_run(world: World) -> None:
    first = validation.handle_upload(world.deps, world.drop_dataset("v1")).run_id or ""
    world.pump()
    finish(world)
    done = world.run(first)
    assert done.status == S.SUCCEEDED and done.job.tuned_model_name
    obj = world.drop_dataset("v2", tuning_yaml=f"continue_from: {{run: {first}}}\n")
    rid = validation.handle_upload(world.deps, obj).run_id or ""
    run = world.run(rid)
    assert run.status == S.VALIDATED
    assert run.tuning.continue_from is not None
    assert run.tuning.continue_from.model == done.job.tuned_model_name
    world.pump()
    [job] = world.tuner.find_jobs(rid)
    assert job.base_model == "gemini-3.5-flash"
    spec = launch.job_spec(world.run(rid))
    assert spec.pre_tuned_model == done.job.tuned_model_name


def test_continue_from_a_run_of_another_base_model_is_rejected(world: World) -> None:
    first = validation.handle_upload(world.deps, world.drop_dataset("v1")).run_id or ""
    world.pump()
    finish(world)
    yaml = f"source_model_name: gemini-3.1-flash-lite\ncontinue_from: {{run: {first}}}\n"
    out = validation.handle_upload(world.deps, world.drop_dataset("v2", tuning_yaml=yaml))
    run = world.run(out.run_id or "")
    assert run.status == S.REJECTED and run.error is not None
    assert "source_model_name: gemini-3.5-flash" in run.error.message
    missing = world.drop_dataset("v3", tuning_yaml="continue_from: {run: no-such-run}\n")
    out = validation.handle_upload(world.deps, missing)
    assert world.run(out.run_id or "").status == S.REJECTED


class RecordingModels:
    """Passes every call to the simulator and keeps the settings each model was called with."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.settings: dict[str, set[Any]] = {}

    def generate(self, model: str, contents: Any, **kw: Any) -> Any:
        self.settings.setdefault("tuned" if "/endpoints/" in model else "base", set()).add(
            kw.get("settings")
        )
        return self.inner.generate(model, contents, **kw)

    def count_tokens(self, model: str, contents: Any) -> int:
        return int(self.inner.count_tokens(model, contents))


def test_tuned_and_base_are_asked_with_the_same_lowest_thinking(world: World) -> None:
    recording = RecordingModels(world.deps.models)
    d = world.deps
    world.deps = LazyDeps(
        d.settings, blobs=d.blobs, bus=d.bus, store=d.store, tuner=d.tuner, models=recording
    )
    world.drop("incoming/ds/test.jsonl", VAL_SET)
    rid = validation.handle_upload(world.deps, world.drop_dataset()).run_id or ""
    world.pump()
    finish(world)
    assert world.run(rid).status == S.SUCCEEDED
    # gemini-3.5-flash: thinking_level MINIMAL (the catalog), identical for both models.
    want = {GenerationSettings(thinking_level="MINIMAL")}
    assert recording.settings == {"tuned": want, "base": want}


ITEMS = ["金币", "钻石", "体力", "皮肤", "坐骑", "宠物", "公会", "副本", "装备", "称号"]
PAIRS = [
    (f"我的{item}第{i}次充值没有到账怎么办？", f"请提供订单号{i}，我们会在24小时内为您补发{item}。")
    for item in ITEMS
    for i in range(1, 5)
]


def test_every_checkpoint_is_screened_and_the_best_is_evaluated_and_served(world: World) -> None:
    world.drop("incoming/ds/validation.jsonl", VAL_SET)
    # Asked with a preamble training never had: not leaked, so auto-promotion may go ahead.
    paraphrased = [("你好客服，我是新玩家，有个问题想请教一下：" + q, a) for q, a in PAIRS]
    world.drop("incoming/ds/test.jsonl", dataset_bytes(paraphrased))
    obj = world.drop_dataset(train=dataset_bytes(PAIRS), tuning_yaml=LARGE_SCREEN)
    rid = validation.handle_upload(world.deps, obj).run_id or ""
    world.pump()
    finish(world)
    run = world.run(rid)
    assert run.status == S.SUCCEEDED
    ev = run.evaluation
    assert [c["checkpoint_id"] for c in ev.checkpoints] == ["1", "2", "3", "4", "5"]
    best = max(ev.checkpoints, key=lambda c: (c["chrf"], int(c["checkpoint_id"])))
    assert ev.chosen_checkpoint == best["checkpoint_id"]
    # The simulated validation loss turns up after epoch 2, so an earlier checkpoint wins here,
    # becomes the model's default, and the full evaluation scored that checkpoint's endpoint.
    assert ev.chosen_checkpoint != "5"
    job = world.tuner.find_jobs(rid)[0]
    assert world.tuner.default_checkpoint(job.name) == ev.chosen_checkpoint
    assert ev.checkpoint_note and "now the tuned model's default" in ev.checkpoint_note


LARGE_SCREEN = "evaluation: {checkpoint_sample_size: 40, sample_size: 40}\n"


def test_checkpoint_choice_can_be_switched_off(world: World) -> None:
    world.drop("incoming/ds/test.jsonl", VAL_SET)
    yaml = "evaluation: {choose_checkpoint: false}\n"
    rid = validation.handle_upload(world.deps, world.drop_dataset(tuning_yaml=yaml)).run_id or ""
    world.pump()
    finish(world)
    run = world.run(rid)
    assert run.status == S.SUCCEEDED
    assert run.evaluation.checkpoints == [] and run.evaluation.chosen_checkpoint is None


def test_auto_promotion_after_every_gate_passed_serves_the_chosen_checkpoint(world: World) -> None:
    world.drop("incoming/ds/validation.jsonl", VAL_SET)
    # Asked with a preamble training never had: not leaked, so auto-promotion may go ahead.
    paraphrased = [("你好客服，我是新玩家，有个问题想请教一下：" + q, a) for q, a in PAIRS]
    world.drop("incoming/ds/test.jsonl", dataset_bytes(paraphrased))
    yaml = (
        "evaluation: {checkpoint_sample_size: 40, sample_size: 40, auto_promote: true,\n"
        "             gates: {chrf: {min_delta: 0.2}}}\n"
    )
    obj = world.drop_dataset(train=dataset_bytes(PAIRS), tuning_yaml=yaml)
    rid = validation.handle_upload(world.deps, obj).run_id or ""
    world.pump()
    finish(world)
    run = world.run(rid)
    assert run.status == S.SUCCEEDED and run.evaluation.passed
    current = world.deps.production.current()
    assert current is not None and current.run_id == rid
    assert current.checkpoint_id == run.evaluation.chosen_checkpoint


def test_a_finished_run_is_evaluated_again_against_production_and_another_run(
    world: World,
) -> None:
    from shared.pipeline import promote
    from shared.pipeline.reevaluate import reevaluate

    world.drop("incoming/v1/test.jsonl", VAL_SET)
    first = validation.handle_upload(world.deps, world.drop_dataset("v1")).run_id or ""
    world.pump()
    finish(world)
    world.drop("incoming/v2/test.jsonl", VAL_SET)
    second = validation.handle_upload(world.deps, world.drop_dataset("v2")).run_id or ""
    world.pump()
    finish(world)
    assert world.run(first).status == world.run(second).status == S.SUCCEEDED
    promote.promote_run(world.deps, first, by="test")
    got = reevaluate(world.deps, second, against="production")
    prod = world.deps.production.current()
    assert prod is not None and got.baseline_model == prod.endpoint
    assert got.attempt == 1 and got.against == "production"
    again = reevaluate(world.deps, second, against=first, rubric=True)
    assert again.attempt == 2
    run = world.run(second)
    assert [a["against"] for a in run.evaluation_attempts] == ["production", first]
    assert run.status == S.SUCCEEDED and run.evaluation.verdict == "NOT GATED"  # unchanged
    html = Path(url2pathname(urlparse(again.report_html_uri).path))
    assert "id='rubric'" in html.read_text(encoding="utf-8")


def test_re_evaluation_refuses_what_it_cannot_do(world: World) -> None:
    import pytest

    from shared.errors import PipelineError
    from shared.pipeline.reevaluate import reevaluate

    rid = validation.handle_upload(world.deps, world.drop_dataset()).run_id or ""
    with pytest.raises(PipelineError, match="only a SUCCEEDED run"):
        reevaluate(world.deps, rid)
    with pytest.raises(PipelineError, match="no run"):
        reevaluate(world.deps, "nope")


def test_the_next_run_is_compared_with_production_and_gated_on_it(world: World) -> None:
    from shared.pipeline import promote

    world.drop("incoming/v1/test.jsonl", VAL_SET)
    first = validation.handle_upload(world.deps, world.drop_dataset("v1")).run_id or ""
    world.pump()
    finish(world)
    assert world.run(first).evaluation.vs_production is None  # nothing in production yet
    promote.promote_run(world.deps, first, by="test")
    world.drop("incoming/v2/test.jsonl", VAL_SET)
    yaml = "evaluation: {judge: true, production_gates: {win_rate: {min: 0.99}}}\n"
    second = validation.handle_upload(world.deps, world.drop_dataset("v2", tuning_yaml=yaml))
    world.pump()
    finish(world)
    run = world.run(second.run_id or "")
    vs = run.evaluation.vs_production
    assert vs is not None and vs["production_run"] == first
    assert vs["judge"]["pairwise"]["judged"] > 0 and vs["report_html_uri"]
    # Both models answer from the same data: a tie, so win rate 0.5 misses the 0.99 gate.
    assert vs["passed"] is False and "win_rate" in vs["reason"]
    assert run.status == S.SUCCEEDED and run.evaluation.passed is False
    assert "vs production" in (run.evaluation.reason or "")


def test_re_evaluation_on_a_new_test_set_is_validated_first(world: World) -> None:
    import pytest

    from shared.errors import ConfigError
    from shared.pipeline.reevaluate import reevaluate

    world.drop("incoming/ds/test.jsonl", VAL_SET)
    rid = validation.handle_upload(world.deps, world.drop_dataset()).run_id or ""
    world.pump()
    finish(world)
    new = dataset_bytes([(q.replace("？", "呀？"), a) for q, a in ZH_EXAMPLES])
    got = reevaluate(world.deps, rid, test_set=new, test_label="new-test.jsonl")
    attempt = world.run(rid).evaluation_attempts[-1]
    assert attempt["eval_set"].endswith("/test.jsonl") and "/attempts/" in attempt["eval_set"]
    assert got.metrics["chrf"]["tuned"] > got.metrics["chrf"]["base"]  # type: ignore[operator]
    with pytest.raises(ConfigError, match=r"new-test.jsonl is not a valid eval set"):
        reevaluate(world.deps, rid, test_set=b"{not json\n", test_label="new-test.jsonl")
