"""The simulated job's console page is a page people read, not a raw JSON dump."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname

from tests.unit.simulator.helpers import dataset, make_spec, make_tuner


def test_the_job_page_shows_settings_checkpoints_and_a_loss_chart(tmp_path: Path) -> None:
    tuner = make_tuner(tmp_path, training_seconds=0)
    job = tuner.create_job(make_spec(dataset(tmp_path, [("问题一？", "回答一。")] * 3)))
    got = tuner.get_job(job.name)
    assert got.console_url
    page = Path(url2pathname(urlparse(got.console_url).path)).read_text(encoding="utf-8")
    assert "simulated by the local backend" in page
    assert "<table id='settings'>" in page and "<th>epoch_count</th>" in page
    assert "<table id='checkpoints'>" in page and "<figure id='curves'>" in page
    # The spec is still there for the curious, folded away below the tables.
    assert page.index("<details>") > page.index("<table id='settings'>")
    assert page.index("&quot;sim&quot;") > page.index("<details>")
