"""Judge call cost: the simulated judge, and the Vertex adapter over REST to the local fake.

    python -m bench judge

The fake's figure is the real REST client's local round trip plus the adapter; it shows the
adapter's own overhead, not what the real service costs (seconds per call there).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

from shared.evaluation.judging import DEFAULT_PAIRWISE_TEMPLATE
from shared.gcp.vertex_judge import VertexJudge
from shared.simulator.judge import SimulatedJudge
from tests.fakes.vertex_fake import VertexFake

PROMPT = "我充值了648元宝但是一直没到账，怎么办？"
REFERENCE = "非常抱歉给您带来困扰。请提供订单号和角色ID，我们会在24小时内核实并为您补发元宝。"
TUNED = "抱歉给您带来不便，请提供订单号和角色ID，我们核实后会在24小时内补发元宝。"
BASE = "您好，感谢您的反馈。请问还有什么可以帮您？"


def _median_ms(fn: Callable[[], object], n: int) -> float:
    fn()
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return statistics.median(samples)


def main() -> None:
    sim = SimulatedJudge()
    args = dict(
        prompt=PROMPT,
        response=TUNED,
        baseline_response=BASE,
        reference=REFERENCE,
        metric_prompt_template=DEFAULT_PAIRWISE_TEMPLATE,
    )
    sim_ms = _median_ms(lambda: sim.pairwise(**args), 500)
    print(f"SimulatedJudge.pairwise (zh, ~40 chars): {sim_ms:.2f} ms")
    fake = VertexFake()
    fake.start()
    try:
        t0 = time.perf_counter()
        judge = VertexJudge("test-project", "us-central1", api_endpoint=fake.endpoint)
        build = (time.perf_counter() - t0) * 1000
        ms = _median_ms(lambda: judge.pairwise(**args), 200)
    finally:
        fake.stop()
    print(f"VertexJudge construction (imports aiplatform_v1 once): {build:.0f} ms")
    print(f"VertexJudge.pairwise over REST to the local fake: {ms:.1f} ms median of 200")


if __name__ == "__main__":
    main()
