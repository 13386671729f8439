"""The status page as a person sees it, in headless Chromium (Debian's `chromium`; `make test`
installs it where missing through mk/browser.mk): the runs table, a rejected run's findings with
line numbers and Chinese text, the link from a run to its evaluation report that opens."""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
from collections.abc import Iterator
from html import unescape
from pathlib import Path
from urllib.parse import urljoin

import pytest

from shared.host.statuspage import StatusServer
from shared.local.paths import LocalLayout
from shared.local.store import SqliteRunStore
from shared.runs import EvaluationInfo, Run, RunStatus
from tests import changes
from tests.browser import CHROMIUM, FLAGS
from tests.unit.cli.runs import METRICS, _both, _new, _walk

S = RunStatus

pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="SKIPPED: Debian's `chromium` is not installed (`make test` installs it with apt-get "
    "via mk/browser.mk; or run `apt-get install chromium`)",
)
ZH = "第 3 行不是合法的 JSON：请修正这一行"


def dom(url: str) -> str:
    """The page's DOM after Chromium loaded it, as a user's browser would."""
    assert CHROMIUM is not None
    with tempfile.TemporaryDirectory(prefix="gtp-chromium-") as profile:
        done = subprocess.run(
            [
                CHROMIUM,
                *FLAGS,
                f"--user-data-dir={profile}",
                "--dump-dom",
                url,
            ],
            capture_output=True,
            timeout=60,
            check=True,
        )
    return done.stdout.decode()


def text(html: str) -> str:
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)))


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[str, dict[str, Run]]]:
    layout = LocalLayout(tmp_path / "root").create()
    store = SqliteRunStore(layout.runs_db)
    finding = {
        "code": "invalid_json",
        "file": "incoming/客服/train.jsonl",
        "line": 3,
        "path": None,
        "message": ZH,
    }
    rejected = _walk(
        store,
        _new(store, "客服"),
        [
            (S.VALIDATING, None),
            (
                S.REJECTED,
                _both(
                    changes.validation(valid=False, findings=[finding]),
                    changes.error("validation", "invalid_json", ZH),
                ),
            ),
        ],
    )
    report = layout.artifacts / "runs" / "good" / "evaluation" / "report.json"
    report.parent.mkdir(parents=True)
    report.write_text(json.dumps({"verdict": "passed", "note": "通过"}, ensure_ascii=False))

    def evaluated(r: Run) -> None:
        r.evaluation = EvaluationInfo(
            passed=False,
            reason="failed: chrf 0.91 < min 0.95",
            metrics=METRICS,
            report_uri=report.as_uri(),
            checkpoints=[
                {"checkpoint_id": "1", "epoch": 1, "chrf": 0.41},
                {"checkpoint_id": "2", "epoch": 2, "chrf": 0.93},
            ],
            chosen_checkpoint="2",
        )
        r.job.curves = {
            "train_total_loss": [[1.0, 2.3], [10.0, 0.9], [20.0, 0.4]],
            "eval_total_loss": [[10.0, 1.1], [20.0, 1.3]],
        }

    done = _walk(
        store,
        _new(store, "good"),
        [
            (S.VALIDATING, None),
            (S.VALIDATED, changes.validation(valid=True)),
            (S.TRAINING, changes.job(name="projects/p/locations/l/tuningJobs/7", state="RUNNING")),
            (S.TRAINED, changes.job(state="SUCCEEDED")),
            (S.EVALUATING, None),
            (S.SUCCEEDED, evaluated),
        ],
    )
    server = StatusServer(layout, store).start()
    try:
        yield server.url, {"rejected": rejected, "done": done}
    finally:
        server.stop()


def test_what_a_person_sees_in_the_browser(site: tuple[str, dict[str, Run]]) -> None:
    url, runs = site
    table = dom(url)
    seen = text(table)
    assert "Gemini tuning runs" in seen
    for run in runs.values():
        assert run.run_id in seen
    assert "REJECTED" in seen and "SUCCEEDED" in seen
    assert "gates FAILED (chrf 0.91 < min 0.95)" in seen  # the gate that failed, named
    assert 'http-equiv="refresh"' not in table  # nothing is moving: the page stays still
    assert not re.search(r"<script|<link|\bsrc=|url\(", table)  # no script, no external asset

    rejected = dom(urljoin(url, f"?run_id={runs['rejected'].run_id}&format=html"))
    findings = re.search(r"<table id=\"findings\">.*?</table>", rejected, re.S)
    assert findings is not None, rejected
    row = text(findings.group(0))
    assert "invalid_json incoming/客服/train.jsonl 3" in row and ZH in row

    done = dom(urljoin(url, f"?run_id={runs['done'].run_id}&format=html"))
    href = re.search(r'<a href="([^"]+)">evaluation report</a>', done)
    assert href is not None, done
    seen_done = text(done)
    assert "train_total_loss" in seen_done and "<polyline" in done  # the curves, drawn
    chosen = re.search(r"<tr class=\"chosen\">.*?</tr>", done, re.S)
    assert chosen is not None and "evaluated, served" in text(chosen.group(0))
    assert text(chosen.group(0)).strip().startswith("2 2 0.93")
    report = dom(urljoin(url, unescape(href.group(1))))
    assert "通过" in text(report)  # the report opens, and its Chinese decodes
