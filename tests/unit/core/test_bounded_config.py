"""Bounded parsing of `tuning.yaml`: alias bombs, recursion and huge values are refused while
the document is composed, messages quote at most a few dozen characters, and the run document
a hostile upload leaves behind stays small (issue 17)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from shared.bounds import FIRESTORE_MAX_DOCUMENT_BYTES
from shared.errors import ConfigError
from shared.pipeline import validation
from shared.runs import RunStatus
from shared.tuning_config import MAX_TUNING_YAML_BYTES, TuningConfig, parse_tuning_yaml
from tests.unit.pipeline.conftest import make_world

REPO = Path(__file__).resolve().parents[3]


def bomb(levels: int = 9, under: str = "evaluation: {metrics: *l8}") -> str:
    """The issue's reproduction: nine anchors of nine items each, the last under a known key."""
    rows = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels):
        rows.append(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]")
    return "\n".join([*rows, under]) + "\n"


def _parse(text: str) -> TuningConfig:
    return parse_tuning_yaml(text.encode(), source="tuning.yaml", base=TuningConfig())


def test_a_yaml_bomb_is_refused_quickly_with_a_short_message() -> None:
    started = time.perf_counter()
    with pytest.raises(ConfigError) as e:
        _parse(bomb())
    assert time.perf_counter() - started < 1.0
    assert "aliases expand to more than" in e.value.message
    assert len(e.value.message) < 600


def test_a_yaml_bomb_is_refused_by_the_cli_with_one_short_line(tmp_path: Path) -> None:
    """`validate --config`: exit 1 and one short line (it printed 312 MB before)."""
    cfg = tmp_path / "tuning.yaml"
    cfg.write_text(bomb())
    train = next((REPO / "examples").rglob("train.jsonl"))
    proc = subprocess.run(
        [sys.executable, "-m", "shared.cli", "validate", str(train), "--config", str(cfg)],
        capture_output=True,
        cwd=REPO,
        timeout=60,
    )
    assert proc.returncode == 1, proc.stderr
    assert b"aliases expand" in proc.stderr and len(proc.stderr) < 2000, proc.stderr[:2000]


def test_the_bomb_is_refused_in_under_100_mb_of_memory(tmp_path: Path) -> None:
    """Peak RSS (VmHWM) read by the child itself: the parent's getrusage would count the
    memory of the pytest process it was spawned from."""
    cfg = tmp_path / "tuning.yaml"
    cfg.write_text(bomb())
    code = (
        "import sys\n"
        "from shared.tuning_config import parse_tuning_yaml, TuningConfig\n"
        "try:\n"
        "    parse_tuning_yaml(open(sys.argv[1], 'rb').read(), source='t', base=TuningConfig())\n"
        "except Exception as e:\n"
        "    print(type(e).__name__)\n"
        "print(next(x for x in open('/proc/self/status') if x.startswith('VmHWM')).split()[1])\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(cfg)], capture_output=True, cwd=REPO, timeout=60
    )
    kind, peak_kib = proc.stdout.split()
    assert kind == b"ConfigError", proc.stderr
    assert int(peak_kib) * 1024 < 100 * 1024 * 1024


def test_a_recursive_anchor_is_refused() -> None:
    with pytest.raises(ConfigError, match="recursive anchor"):
        _parse("evaluation: &a {gates: *a}\n")


def test_a_reused_anchor_within_the_bound_still_works() -> None:
    cfg = _parse("evaluation:\n  metrics: [chrf, bleu]\n  gates: {chrf: &g {min: 0.1}, bleu: *g}\n")
    assert cfg.evaluation.metrics == ("chrf", "bleu")
    assert cfg.evaluation.gates["bleu"].min == 0.1


def test_echoed_values_are_cut() -> None:
    huge = "x" * 50_000
    with pytest.raises(ConfigError) as e:
        _parse(f"epoch: {huge}\n{huge[:30000]}: 1\n")
    assert len(e.value.message) < 1500


def test_every_problem_of_one_section_is_reported() -> None:
    with pytest.raises(ConfigError) as e:
        _parse("evaluation:\n  max_concurrency: 10000\n  metrics: chrf\n")
    assert "2 problems" in e.value.message
    assert "max_concurrency" in e.value.message and "evaluation.metrics" in e.value.message


def test_a_number_yaml_reads_as_text_is_explained() -> None:
    with pytest.raises(ConfigError) as e:
        _parse("learning_rate_multiplier: 1e308\n")
    assert "read as text" in e.value.message and "decimal point" in e.value.message
    assert "expected a number" not in e.value.message


def _doc_bytes(world: object, rid: str) -> int:
    return len(json.dumps(world.run(rid).to_dict(), ensure_ascii=False).encode())  # type: ignore[attr-defined]


def test_the_bomb_dropped_as_tuning_yaml_leaves_a_small_run_document(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    started = time.perf_counter()
    out = validation.handle_upload(world.deps, world.drop_dataset("bomb", tuning_yaml=bomb()))
    assert time.perf_counter() - started < 5.0
    assert out.run_id is not None
    run = world.run(out.run_id)
    assert run.status == RunStatus.REJECTED and run.error is not None
    assert "aliases expand" in run.error.message
    assert _doc_bytes(world, out.run_id) < 64 * 1024


def _line(key: str) -> str:
    return json.dumps(
        {
            key: 1,
            "contents": [
                {"role": "user", "parts": [{"text": "q"}]},
                {"role": "model", "parts": [{"text": "answer"}]},
            ],
        }
    )


def test_the_largest_hostile_run_document_stays_under_firestores_limit(tmp_path: Path) -> None:
    """Every text a hostile dataset can put on the run at its largest: findings quoting
    megabyte keys, the most patterns a tuning.yaml can hold (its byte and alias bounds), a
    long file name."""
    world = make_world(tmp_path)
    pattern = "a" * 1000
    anchors = f"privacy:\n  policy: warn\n  patterns:\n    p0: &p '{pattern}'\n"
    rows = [f"    p{i}: *p\n" for i in range(1, 10_000)]
    body = anchors
    for row in rows:
        if len(body) + len(row) > MAX_TUNING_YAML_BYTES - 10:
            break
        body += row
    key = "k" * 1_000_000
    train = "\n".join(_line(f"{key}{i}") for i in range(40)) + "\n"
    folder = "f" * 200
    world.drop(f"incoming/{folder}/tuning.yaml", body.encode())
    out = validation.handle_upload(
        world.deps, world.drop(f"incoming/{folder}/train.jsonl", train.encode())
    )
    assert out.run_id is not None
    run = world.run(out.run_id)
    assert run.status == RunStatus.REJECTED and run.error is not None
    size = _doc_bytes(world, out.run_id)
    assert size < FIRESTORE_MAX_DOCUMENT_BYTES, size


def test_findings_quoting_huge_keys_are_cut_on_the_run(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    train = "\n".join(_line("k" * 100_000 + str(i)) for i in range(40)) + "\n"
    out = validation.handle_upload(
        world.deps, world.drop("incoming/keys/train.jsonl", train.encode())
    )
    assert out.run_id is not None
    run = world.run(out.run_id)
    assert run.validation.findings and all(
        len(f["message"]) <= 1000 for f in run.validation.findings
    )
    assert _doc_bytes(world, out.run_id) < 64 * 1024
