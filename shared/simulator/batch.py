"""`SimulatedBatchPredictor`: Vertex AI batch inference played on one machine.

A job moves PENDING -> RUNNING -> SUCCEEDED over `batch_seconds` (SIM_BATCH_SECONDS), a pure
function of its stored record and the clock, as the simulated tuning jobs do, so any process
on the same root sees the same job. When it is first seen finished, the simulated models answer
every request line and the output is written where Vertex AI writes it:
`<output prefix>/prediction-model-<timestamp>/predictions.jsonl`, one
`{"status", "processed_time", "request", "response"}` line per request, each response
labelled simulated. `fail_jobs` (a display-name glob) makes a job fail like Vertex's do.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from shared import errors
from shared.ports import BatchJob, BatchJobSpec
from shared.simulator.config import SimConfig
from shared.simulator.jobs import rfc3339
from shared.simulator.models import SimulatedModels
from shared.simulator.text import estimate_tokens
from shared.simulator.tuner import SimulatedTuner, check_dataset_uri, check_labels, local_path

#: Share of a job's time spent PENDING before it runs.
PENDING_SHARE = 0.2
_TUNED_MODEL = re.compile(r"(projects/[^/]+/locations/[^/]+)/models/(sim-\d+)(@\d+)?")


class SimulatedBatchPredictor:
    """Implements `ports.BatchPredictor`; every job and answer says `simulated`."""

    def __init__(
        self,
        models: SimulatedModels,
        state_dir: Path,
        *,
        project: str = "local-project",
        location: str = "us-central1",
        config: Callable[[], SimConfig] = SimConfig,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._models = models
        self._dir = state_dir / "batch_jobs"
        self._config = config
        self._clock = clock
        self.parent = f"projects/{project}/locations/{location}"

    @classmethod
    def for_tuner(cls, tuner: SimulatedTuner, models: SimulatedModels) -> SimulatedBatchPredictor:
        """Beside `tuner`: its state folder, clock, live settings, project and location."""
        project, location = tuner.parent.split("/")[1], tuner.parent.split("/")[3]
        return cls(
            models, tuner.state_dir, project=project, location=location,
            config=tuner.current_config, clock=tuner.now,
        )  # fmt: skip

    # ---- the port ------------------------------------------------------------------------

    def create_job(self, spec: BatchJobSpec) -> BatchJob:
        labels = {**spec.labels, "run_id": spec.run_id}
        check_labels(labels)
        check_dataset_uri(spec.input_uri, "Batch input")
        if local_path(spec.output_uri_prefix) is None:
            raise errors.PermanentError(
                f"400 output_uri_prefix {spec.output_uri_prefix!r} is not a file:// URI of the "
                "local backend."
            )
        probe = [{"role": "user", "parts": [{"text": "?"}]}]
        self._models.count_tokens(self._answering(spec.model), probe)  # unknown model: a 404
        self._dir.mkdir(parents=True, exist_ok=True)
        job_id = 8_000_000_000_000_000_000 + int.from_bytes(os.urandom(6), "big")
        cfg = self._config()
        record = {
            "name": f"{self.parent}/batchPredictionJobs/{job_id}",
            "display_name": spec.display_name,
            "model": spec.model,
            "labels": labels,
            "input_uri": spec.input_uri,
            "output_uri_prefix": spec.output_uri_prefix.rstrip("/"),
            "created_at": self._clock(),
            "seconds": cfg.batch_seconds,
            "fails": cfg.fails(spec.display_name),
        }
        self._save(job_id, record)
        return self._view(record)

    def get_job(self, name: str) -> BatchJob:
        record = self._load(name)
        if record is None:
            raise errors.NotFound(f"404 BatchPredictionJob {name} does not exist.")
        return self._view(record)

    def find_jobs(self, run_id: str) -> list[BatchJob]:
        if not self._dir.is_dir():
            return []
        found = []
        for path in sorted(self._dir.glob("*.json")):
            record = json.loads(path.read_text(encoding="utf-8"))
            if record["labels"].get("run_id") == run_id:
                found.append(self._view(record))
        return found

    # ---- the play ---------------------------------------------------------------------------

    def _answering(self, model: str) -> str:
        """What answers for `model`: a simulated tuned model's default endpoint, or the base."""
        m = _TUNED_MODEL.fullmatch(model)
        return f"{m.group(1)}/endpoints/{m.group(2)}" if m else model

    def _state(self, record: Mapping[str, Any], now: float) -> str:
        start = record["created_at"]
        if now < start + PENDING_SHARE * record["seconds"]:
            return "PENDING"
        if now < start + record["seconds"]:
            return "RUNNING"
        return "FAILED" if record["fails"] else "SUCCEEDED"

    def _view(self, record: dict[str, Any]) -> BatchJob:
        state = self._state(record, self._clock())
        out_dir = None
        counts: tuple[int | None, int | None] = (None, None)
        if state == "SUCCEEDED":
            out_dir, counts = self._ensure_output(record)
        return BatchJob(
            name=record["name"],
            state=state,
            model=record["model"],
            display_name=record["display_name"],
            labels=dict(record["labels"]),
            output_dir=out_dir,
            error_message=(
                "Internal error occurred (simulated batch job failure)."
                if state == "FAILED"
                else None
            ),
            succeeded=counts[0],
            failed=counts[1],
            create_time=rfc3339(record["created_at"]),
            end_time=(
                rfc3339(record["created_at"] + record["seconds"])
                if state in ("SUCCEEDED", "FAILED")
                else None
            ),
            simulated=True,
        )

    def _ensure_output(self, record: dict[str, Any]) -> tuple[str, tuple[int, int]]:
        """Write the answers once (a later look reads the same folder)."""
        if "output_dir" in record:
            return record["output_dir"], (record["succeeded"], record["failed"])
        stamp = rfc3339(record["created_at"] + record["seconds"]) or "0"
        folder = f"{record['output_uri_prefix']}/prediction-model-{stamp.replace(':', '')}"
        path = local_path(folder)
        assert path is not None
        path.mkdir(parents=True, exist_ok=True)
        source = check_dataset_uri(record["input_uri"], "Batch input")
        model = self._answering(record["model"])
        ok = failed = 0
        tmp = path / ".predictions.jsonl.tmp"
        with source.open("rb") as src, tmp.open("wb") as out:
            for raw in src:
                if not raw.strip():
                    continue
                row = self._answer(model, json.loads(raw)["request"], stamp)
                ok, failed = (ok, failed + 1) if row["status"] else (ok + 1, failed)
                out.write(json.dumps(row, ensure_ascii=False).encode() + b"\n")
        tmp.replace(path / "predictions.jsonl")
        record.update(output_dir=folder, succeeded=ok, failed=failed)
        self._save(int(record["name"].rsplit("/", 1)[-1]), record)
        return folder, (ok, failed)

    def _answer(self, model: str, request: Mapping[str, Any], stamp: str) -> dict[str, Any]:
        base = {"processed_time": stamp, "request": request}
        try:
            gen = self._models.generate(
                model,
                request.get("contents") or [],
                system_instruction=request.get("systemInstruction"),
            )
        except errors.PipelineError as e:
            return {**base, "status": e.message, "response": None}
        answer = {"role": "model", "parts": [{"text": gen.text}]}
        return {
            **base,
            "status": "",
            "response": {
                "candidates": [{"content": answer, "finishReason": "STOP"}],
                "usageMetadata": {
                    "promptTokenCount": gen.input_tokens
                    or estimate_tokens(request.get("contents") or []),
                    "candidatesTokenCount": gen.output_tokens or estimate_tokens([answer]),
                },
                "simulated": True,
            },
        }

    # ---- storage ----------------------------------------------------------------------------

    def _save(self, job_id: int, record: Mapping[str, Any]) -> None:
        tmp = self._dir / f".{job_id}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(record), encoding="utf-8")
        tmp.replace(self._dir / f"{job_id}.json")

    def _load(self, name: str) -> dict[str, Any] | None:
        job_id = name.rsplit("/", 1)[-1]
        if not job_id.isdigit():
            return None
        try:
            data: dict[str, Any] = json.loads(
                (self._dir / f"{job_id}.json").read_text(encoding="utf-8")
            )
        except FileNotFoundError:
            return None
        return data
