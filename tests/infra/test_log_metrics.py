"""The log-based metrics count the lines the pipeline really writes (defect: the stale-upload
line "dropping event older than ..." never matched the old filter `^dropping .* event`).

infra/log_metrics.json is the one definition monitoring.tf reads; here the pipeline emits each
line the metric must count, and the line is checked against that definition.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from shared.errors import PermanentError
from shared.events import Envelope
from shared.pipeline import entry, validation
from tests.infra.hcl import INFRA
from tests.unit.pipeline.conftest import make_world

CONTRACT = json.loads((INFRA / "log_metrics.json").read_text(encoding="utf-8"))
SEVERITIES = ["DEBUG", "INFO", "NOTICE", "WARNING", "ERROR", "CRITICAL"]


def _lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    out = capsys.readouterr().out
    return [json.loads(ln) for ln in out.splitlines() if ln.startswith("{")]


def _counted_as_dropped(line: dict[str, Any]) -> bool:
    rule = CONTRACT["messages_dropped"]
    severe = SEVERITIES.index(line["severity"]) >= SEVERITIES.index(rule["min_severity"])
    return severe and re.search(rule["message_regex"], line["message"]) is not None


@pytest.fixture
def old_envelope() -> Envelope:
    two_days_ago = (datetime.now(UTC) - timedelta(days=2)).isoformat()
    return Envelope(
        id="e1", type="google.cloud.storage.object.v1.finalized", source="s", time=two_days_ago
    )


@pytest.fixture(autouse=True)
def json_logs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOG_FORMAT", "json")


def test_stale_upload_line_is_counted(
    tmp_path: Path, old_envelope: Envelope, capsys: pytest.CaptureFixture[str]
) -> None:
    world = make_world(tmp_path)
    capsys.readouterr()
    outcome = validation.handle_upload(world.deps, world.drop_dataset(), old_envelope)
    assert outcome.action == "dropped"
    dropped = [ln for ln in _lines(capsys) if _counted_as_dropped(ln)]
    assert len(dropped) == 1, "the stale-upload line must be counted by messages_dropped"


def test_stale_event_line_is_counted(
    tmp_path: Path, old_envelope: Envelope, capsys: pytest.CaptureFixture[str]
) -> None:
    world = make_world(tmp_path)
    capsys.readouterr()
    assert entry.too_old(old_envelope, world.deps.settings)
    assert [ln for ln in _lines(capsys) if _counted_as_dropped(ln)]


def test_acknowledged_permanent_failure_is_counted(
    old_envelope: Envelope, capsys: pytest.CaptureFixture[str]
) -> None:
    with entry.guard("launcher", old_envelope):
        raise PermanentError("no run 'x'")
    assert [ln for ln in _lines(capsys) if _counted_as_dropped(ln)]


def test_ordinary_lines_are_not_counted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    world = make_world(tmp_path)
    capsys.readouterr()
    validation.handle_upload(world.deps, world.drop_dataset())
    lines = _lines(capsys)
    assert lines, "a validated upload logs its state changes"
    assert not [ln for ln in lines if _counted_as_dropped(ln)]


def test_definitions_paste_safely_into_a_filter_and_are_what_terraform_reads() -> None:
    regex = CONTRACT["messages_dropped"]["message_regex"]
    assert '"' not in regex and "\\" not in regex
    assert CONTRACT["messages_dropped"]["min_severity"] in SEVERITIES
    tf = (INFRA / "monitoring.tf").read_text(encoding="utf-8")
    assert 'jsondecode(file("${path.module}/log_metrics.json"))' in tf
    assert "dropping" not in tf.split("locals {", 1)[1], "monitoring.tf must not restate a line"
