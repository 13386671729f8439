"""`gemini-tuning retry`: a new attempt of an ended run, said in one line; clear refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shared.cli import main
from shared.local.paths import LocalLayout

from .runs import S, _new, _walk, store_for

TRAIN = json.dumps(
    {
        "contents": [
            {"role": "user", "parts": [{"text": "hello"}]},
            {"role": "model", "parts": [{"text": "hi there"}]},
        ]
    }
)


def _rejected_upload(root: Path) -> str:
    """A dataset in the bucket whose run was rejected for its tuning.yaml."""
    from shared.composition import local_deps
    from shared.pipeline import validation

    deps = local_deps(root)
    deps.blobs.write_bytes("bucket", "incoming/ds/tuning.yaml", b"epoch: 0\n")
    info = deps.blobs.write_bytes("bucket", "incoming/ds/train.jsonl", (TRAIN + "\n").encode())
    from shared.events import StorageObject

    obj = StorageObject(info.bucket, info.name, info.generation, info.size, info.md5)
    rid = validation.handle_upload(deps, obj).run_id
    assert rid
    return rid


def test_retry_prints_the_new_run_and_a_second_call_finds_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    LocalLayout(tmp_path).create()
    rid = _rejected_upload(tmp_path)
    capsys.readouterr()
    (tmp_path / "bucket" / "incoming" / "ds" / "tuning.yaml").write_text("epoch: 2\n")
    assert main(["retry", rid, "--root", str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    assert out.startswith(f"retrying {rid} as ") and out.rstrip().endswith("VALIDATED"), out
    assert err == ""
    new_id = out.split(" as ")[1].split(":")[0]
    assert main(["retry", rid, "--root", str(tmp_path)]) == 0
    assert f"already retried as {new_id}" in capsys.readouterr().out
    assert main(["status", new_id, "--root", str(tmp_path), "--json"]) in (0, 1)
    view = json.loads(capsys.readouterr().out)
    assert view["retry_of"] == rid


def test_retry_refuses_unknown_and_working_runs_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = store_for(tmp_path)
    assert main(["retry", "nope", "--root", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "no run 'nope'" in err and "Traceback" not in err
    rid = _new(store, "busy")
    _walk(store, rid, [(S.VALIDATING, None)])
    assert main(["retry", rid, "--root", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "is still VALIDATING" in err and f"gemini-tuning cancel {rid}" in err
