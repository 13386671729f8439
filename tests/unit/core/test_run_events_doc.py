"""docs/run-events.md lists exactly the fields a run event carries (body and attributes)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from shared.events import RUN_EVENT, PubSubMessage, decode_message
from shared.pipeline.transitions import publish_run_event
from shared.runs import DatasetInfo, Run, RunStatus

DOC = Path(__file__).resolve().parents[3] / "docs" / "run-events.md"


def _table(heading: str) -> set[str]:
    text = DOC.read_text(encoding="utf-8")
    section = text.split(f"## {heading}", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `(\w+)` \|", section, flags=re.M))


class _Bus:
    def __init__(self) -> None:
        self.sent: list[tuple[bytes, dict[str, str]]] = []

    def publish(self, topic: str, data: bytes, attributes: dict[str, str]) -> str:
        self.sent.append((data, dict(attributes)))
        return "1"


class _Deps:
    def __init__(self) -> None:
        from shared.settings import Settings

        self.settings = Settings()
        self.bus = _Bus()


def test_the_doc_lists_every_field_a_fully_populated_event_sends() -> None:
    run = Run.new("r-1", DatasetInfo("b", "incoming/r/train.jsonl", "1", "gs://b/r"))
    run.status = RunStatus.REJECTED
    run.fail("validation", "invalid_json", "line 1 is not valid JSON")
    run.validation.findings = [{"code": "invalid_json", "file": "f", "line": 1, "message": "m"}]
    run.evaluation.passed, run.evaluation.reason = False, "failed: chrf"
    run.job.console_url, run.job.state = "https://console", "FAILED"
    run.retry_of = "r-0"
    deps = _Deps()
    publish_run_event(deps, run, "dataset rejected")  # type: ignore[arg-type]
    [(data, attrs)] = deps.bus.sent
    assert set(json.loads(data)) == _table("Body (JSON, UTF-8)")
    assert set(attrs) == _table("Attributes")
    msg = decode_message(PubSubMessage(data, attrs, "1", None), expect=RUN_EVENT)
    assert msg.version == 1 and msg.body["kind"] == "transition"


def test_a_minimal_event_sends_only_the_always_fields() -> None:
    run = Run.new("r-2", DatasetInfo("b", "incoming/r/train.jsonl", "1", "gs://b/r"))
    deps = _Deps()
    publish_run_event(deps, run, "received")  # type: ignore[arg-type]
    body = json.loads(deps.bus.sent[0][0])
    text = DOC.read_text(encoding="utf-8")
    always = set(re.findall(r"^\| `(\w+)` \| \w+ \| always \|", text, flags=re.M))
    assert set(body) == always
