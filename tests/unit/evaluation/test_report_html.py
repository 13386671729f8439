"""report.html as a reader sees it: rendered by headless Chromium, printed to PDF, read back as
text. The page must carry the verdict, a summary row and the Chinese answers, with no external
asset. `make test` installs Debian's chromium and poppler-utils where missing (mk/browser.mk)."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import replace
from pathlib import Path

import pytest

from shared.evaluation import evaluate
from shared.evaluation.report import EvaluationReport
from shared.evaluation.report_html import render
from shared.tuning_config import EvaluationConfig, Gate
from tests.browser import CHROMIUM
from tests.browser import FLAGS as CHROMIUM_FLAGS

from .fakes import FakeModels, example

TUNED, BASE = "projects/p/locations/l/endpoints/t", "gemini-2.5-flash"
QA = [(f"第{i}个问题：账号被盗了怎么找回？", f"请立即修改密码并提交申诉{i}。") for i in range(12)]


def _report(passed: bool) -> EvaluationReport:
    tuned = {q: a for q, a in QA}
    tuned[QA[3][0]] = "我不清楚。"  # one regression, which must come first
    fake = FakeModels(answers={TUNED: tuned, BASE: {q: "您好，请稍等。" for q, _ in QA}})
    gates = {"chrf": Gate(min_delta=0.2 if passed else 0.99, use_lower_bound=True)}
    res = evaluate(
        fake,
        [example(q, a) for q, a in QA],
        tuned_model=TUNED,
        base_model=BASE,
        config=EvaluationConfig(gates=gates),
        seed="run-html",
        resamples=100,
    )
    assert res.passed is passed
    return replace(res.report, run_id="run-html")


def test_the_page_is_self_contained_and_escaped() -> None:
    report = _report(True)
    report.highlights[0]["tuned"] = "<script>alert(1)</script>"
    page = render(report)
    assert not re.search(r"""(src|href)\s*=|<script|@import|url\(""", page)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert page.index("PASSED") < page.index("id='summary'") < page.index("<svg")
    assert page.index(QA[3][0]) < page.index(QA[0][0])  # the worst regression first


def test_no_gate_reads_not_gated_in_grey_and_leakage_and_cost_lead_the_page() -> None:
    distinct = [
        ("怎么领取每日奖励？", "登录游戏后在活动页面点击领取即可。"),
        ("账号被封了怎么办？", "请提交申诉表单，我们会在三个工作日内处理。"),
        ("充值没到账。", "请提供订单号，我们会为您核实。"),
        ("游戏闪退怎么办？", "请清除缓存并更新到最新版本后重试。"),
    ]
    fake = FakeModels(answers={TUNED: dict(distinct)})
    lines = [example(q, a) for q, a in distinct]
    res = evaluate(
        fake, lines, tuned_model=TUNED, base_model=BASE, config=EvaluationConfig(),
        seed="run-html", resamples=50, training=lines[:2],
    )  # fmt: skip
    cost = {"actual": {"basis": "actual", "prediction_calls": 24, "input_tokens": 1200,
                       "output_tokens": 800, "judge_calls": 0, "usd": None}}  # fmt: skip
    page = render(replace(res.report, cost=cost))
    assert "class='verdict grey'" in page and "NOT GATED" in page
    assert "<h1>PASSED" not in page and "class='verdict pass'" not in page
    assert page.index("id='verdict'") < page.index("id='leakage'") < page.index("id='summary'")
    assert "50%" in page and "2 exact" in page  # half the test set was training data
    assert "24 prediction calls" in page and "price unknown" in page
    assert "unleaked tuned / base" in page


def _chromium() -> str | None:
    return CHROMIUM


@pytest.mark.skipif(
    _chromium() is None or shutil.which("pdftotext") is None,
    reason="SKIPPED: Debian chromium / poppler-utils not installed (make test installs them)",
)
def test_a_reader_sees_the_verdict_the_summary_row_and_the_chinese_answers(
    tmp_path: Path,
) -> None:
    chromium = _chromium()
    assert chromium
    for passed, verdict in ((True, "PASSED"), (False, "FAILED")):
        page = tmp_path / f"report-{passed}.html"
        page.write_text(render(_report(passed)), encoding="utf-8")
        pdf = tmp_path / f"report-{passed}.pdf"
        with tempfile.TemporaryDirectory() as profile:
            subprocess.run(
                [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
                 "--no-pdf-header-footer", f"--print-to-pdf={pdf}", page.as_uri()],
                check=True, capture_output=True, timeout=60,
            )  # fmt: skip
        text = subprocess.run(
            ["pdftotext", str(pdf), "-"], check=True, capture_output=True, timeout=30
        ).stdout.decode()
        words = re.sub(r"\s+", " ", text).strip()
        assert words.startswith(f"{verdict}: ")  # the verdict comes first
        assert re.search(r"chrf \d\.\d{3} \[\d\.\d{3}, \d\.\d{3}\]", words)  # a summary row
        assert re.search(r"\b(pass|FAIL)\b", words).group(1) == ("pass" if passed else "FAIL")  # type: ignore[union-attr]
        assert "我不清楚。" in words and "第3个问题" in words  # Chinese, as text


def test_checkpoints_and_rubric_sections_show_when_the_report_has_them() -> None:
    report = _report(True)
    assert "id='checkpoints'" not in render(report) and "id='rubric'" not in render(report)
    report = replace(
        report,
        checkpoints=[
            {"checkpoint_id": "1", "epoch": 1, "endpoint": "e1", "chrf": 0.41, "scored": 20},
            {"checkpoint_id": "2", "epoch": 2, "endpoint": "e2", "chrf": 0.93, "scored": 20},
        ],
        chosen_checkpoint="2",
        rubric={
            "scores": {"tone": {"tuned": 4.5, "base": 3.0, "rated": 12}},
            "scale": "1 .. 5",
            "criteria": {"tone": "polite & calm"},
        },
    )
    page = render(report)
    rows = re.findall(r"<tr><td>(\d)</td><td>\d</td><td>([\d.]+)</td>.*?</tr>", page)
    assert rows == [("1", "0.410"), ("2", "0.930")]
    assert "<b>evaluated above, served</b></td></tr>" in page.split("<td>2</td>", 1)[1]
    assert "id='rubric'" in page and "polite &amp; calm" in page
    assert "id='checkpoint-curve'" in page  # the screening score drawn by epoch
    curves = {"train_total_loss": [[1.0, 2.0], [5.0, 0.5]]}
    assert "id='training-curves'" in render(replace(report, training_curves=curves))
