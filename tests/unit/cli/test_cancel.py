"""`gemini-tuning cancel`: refuses what cannot be cancelled with a reason, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.cli import main

from .runs import S, _new, _walk, rejected_run, store_for


def test_cancel_a_queued_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = store_for(tmp_path)
    rid = _new(store, "waiting")
    _walk(store, rid, [(S.VALIDATING, None), (S.VALIDATED, None), (S.QUEUED, None)])
    assert main(["cancel", rid, "--root", str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    assert "cancelled" in out and len(out.splitlines()) == 1
    assert err == "", err  # one clear line, no internal log entries
    run = store.get(rid)
    assert run is not None and run.status == S.CANCELLED


def test_cancel_refuses_finished_and_unknown_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = store_for(tmp_path)
    done = rejected_run(store)
    assert main(["cancel", done.run_id, "--root", str(tmp_path)]) == 1
    assert "already ended REJECTED" in capsys.readouterr().err
    assert main(["cancel", "nope", "--root", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "no run 'nope'" in err and "Traceback" not in err
