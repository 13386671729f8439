"""Evaluation people can trust and afford, through the whole local pipeline (real local
adapters and the simulator): an honest verdict, leakage called out, each tuned answer paid
once, and the evaluation's own cost on the run."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from shared.pipeline import poll, promote, validation
from shared.ports import Generation, GenerationSettings, Models
from shared.runs import RunStatus
from shared.status import summary_line

from .conftest import ZH_EXAMPLES, World, dataset_bytes

S = RunStatus
HELD_OUT = dataset_bytes(
    [
        ("新赛季什么时候开始？", "新赛季将于下周一上午十点开启，届时排位分会重置。"),
        ("公会怎么解散？", "会长在公会设置里点击解散，确认后公会将在24小时后解散。"),
        ("游戏支持手柄吗？", "支持，连接手柄后在设置-操作里切换为手柄模式即可。"),
    ]
)


def finish(world: World) -> None:
    world.advance_clock(1000)
    poll.poll_once(world.deps)
    world.pump()


@dataclass
class CountingModels:
    """Wraps the simulator's models and counts every generate call by (model, last text)."""

    inner: Models
    calls: Counter[tuple[str, str]] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def generate(
        self,
        model: str,
        contents: Sequence[Mapping[str, Any]],
        *,
        system_instruction: Mapping[str, Any] | None = None,
        settings: GenerationSettings | None = None,
    ) -> Generation:
        text = str(contents[-1]["parts"][0]["text"])
        with self._lock:
            self.calls[(model, text)] += 1
        return self.inner.generate(
            model, contents, system_instruction=system_instruction, settings=settings
        )

    def count_tokens(self, model: str, contents: Sequence[Mapping[str, Any]]) -> int:
        return self.inner.count_tokens(model, contents)


def test_a_run_without_gates_is_not_gated_everywhere(world: World) -> None:
    world.drop("incoming/ds/test.jsonl", HELD_OUT)
    rid = validation.handle_upload(world.deps, world.drop_dataset()).run_id or ""
    world.pump()
    finish(world)
    run = world.run(rid)
    assert run.status == S.SUCCEEDED
    assert run.evaluation.passed is None and run.evaluation.verdict == "NOT GATED"
    assert "NOT GATED" in summary_line(run) and "PASSED" not in summary_line(run)
    assert "NOT GATED" in run.history[-1].note
    chrf = run.evaluation.per_metric["chrf"]
    assert chrf["gate"] is None and len(chrf["delta_ci"]) == 2 and len(chrf["tuned_ci"]) == 2


def test_a_test_set_copied_from_training_is_called_out_and_not_auto_promoted(
    world: World,
) -> None:
    yaml = "evaluation: {auto_promote: true, gates: {chrf: {min_delta: 0.05}}}\n"
    copied = dataset_bytes(ZH_EXAMPLES)
    rid = validation.handle_upload(
        world.deps, world.drop_dataset(test=copied, tuning_yaml=yaml)
    ).run_id
    world.pump()
    finish(world)
    run = world.run(rid or "")
    leak = run.evaluation.leakage
    assert leak is not None and leak["share"] == 1.0 and leak["exact"] == leak["checked"]
    assert leak["warning"] and "WARNING" in (run.evaluation.reason or "")
    # Nothing unleaked was scored, so the run cannot be promoted on its copied test set.
    assert run.evaluation.unleaked_metrics == {} and run.evaluation.promotable is False
    assert world.deps.production.current() is None


def test_leakage_on_part_of_the_set_scores_the_unleaked_part_again(world: World) -> None:
    mixed = dataset_bytes(ZH_EXAMPLES[:2]) + HELD_OUT
    rid = validation.handle_upload(world.deps, world.drop_dataset(test=mixed)).run_id or ""
    world.pump()
    finish(world)
    ev = world.run(rid).evaluation
    assert ev.leakage is not None and ev.leakage["leaked"] == 2 and ev.leakage["checked"] == 5
    unleaked = ev.unleaked_metrics["chrf"]["tuned"]
    assert ev.per_metric["chrf"]["unleaked"]["tuned"] == unleaked
    assert unleaked < ev.metrics["chrf"]["tuned"]  # type: ignore[operator]  # memorised answers flattered the score


def test_a_production_comparison_asks_the_tuned_model_once_per_example(world: World) -> None:
    yaml = "evaluation: {choose_checkpoint: false}\n"
    world.drop("incoming/v1/test.jsonl", HELD_OUT)
    first = validation.handle_upload(world.deps, world.drop_dataset("v1", tuning_yaml=yaml))
    world.pump()
    finish(world)
    promote.promote_run(world.deps, first.run_id or "", by="test")
    counting = CountingModels(world.deps.models)
    world.deps.models = counting
    world.drop("incoming/v2/test.jsonl", HELD_OUT)
    second = validation.handle_upload(world.deps, world.drop_dataset("v2", tuning_yaml=yaml))
    world.pump()
    finish(world)
    run = world.run(second.run_id or "")
    assert run.evaluation.vs_production is not None
    tuned = run.job.tuned_model_endpoint or ""
    prod = world.deps.production.current()
    assert prod is not None
    questions = ("新赛季什么时候开始？", "公会怎么解散？", "游戏支持手柄吗？")
    assert {q: counting.calls[(tuned, q)] for q in questions} == dict.fromkeys(questions, 1)
    assert counting.calls[(prod.endpoint, "公会怎么解散？")] == 1
    assert counting.calls[(run.tuning.source_model_name, "公会怎么解散？")] == 1
    assert run.evaluation.vs_production["reused_answers"] == 3


def test_the_evaluation_cost_is_estimated_first_and_replaced_by_the_actual(world: World) -> None:
    world.drop("incoming/ds/test.jsonl", HELD_OUT)
    rid = validation.handle_upload(world.deps, world.drop_dataset()).run_id or ""
    world.pump()
    finish(world)
    cost = world.run(rid).evaluation.cost
    assert cost is not None
    est, got = cost["estimate"], cost["actual"]
    assert est["basis"] == "estimate" and got["basis"] == "actual"
    assert est["input_tokens"] > 0 and got["prediction_calls"] == 3 * 2
    assert got["usd"] is None and "no online-prediction price" in got["note"]
