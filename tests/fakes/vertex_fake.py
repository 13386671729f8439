"""A small HTTP fake of the Vertex AI v1 REST API (tuning jobs, generateContent, countTokens,
evaluateInstances for pointwise / pairwise model-based metrics).

The official generated clients with `transport="rest"` talk to it unchanged, so contract tests
exercise the real request encoding (`$alt=json;enum-encoding=int`, camelCase JSON, enums as
integers) and the real error mapping (`{"error": {"code", "message", "status"}}`).

It deliberately keeps its own copy of the wire enum numbers instead of importing the client's
types: a test then fails if an adapter maps `AdapterSize` by number instead of by name.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

#: Wire numbers of `SupervisedHyperParameters.AdapterSize` -> adapter size (not monotonic!).
ADAPTER_SIZE_BY_WIRE = {1: 1, 6: 2, 2: 4, 3: 8, 4: 16, 5: 32}
ADAPTER_WIRE_BY_SIZE = {size: wire for wire, size in ADAPTER_SIZE_BY_WIRE.items()}
#: Wire numbers of `JobState`.
JOB_STATE_WIRE = {
    "QUEUED": 1,
    "PENDING": 2,
    "RUNNING": 3,
    "SUCCEEDED": 4,
    "FAILED": 5,
    "CANCELLING": 6,
    "CANCELLED": 7,
    "PAUSED": 8,
    "EXPIRED": 9,
    "UPDATING": 10,
    "PARTIALLY_SUCCEEDED": 11,
}
TERMINAL_WIRE = {JOB_STATE_WIRE[s] for s in ("SUCCEEDED", "FAILED", "CANCELLED", "EXPIRED")}
#: Adapter sizes each base model accepts (the real service answers 400 otherwise).
SUPPORTED_ADAPTERS = {
    "gemini-3.5-flash": {1, 2, 4, 8, 16},
    "gemini-3.5-flash-lite": {1, 2, 4, 8, 16},
    "gemini-3.1-flash-lite": {1, 2, 4, 8, 16},
    "gemini-2.5-flash": {1, 2, 4, 8, 16},
    "gemini-2.5-flash-lite": {1, 2, 4, 8, 16},
    "gemini-2.5-pro": {1, 2, 4, 8},
    "gemini-2.0-flash": {1, 2, 4, 8},
    "gemini-2.0-flash-lite": {1, 2, 4, 8},
}
_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
#: Wire numbers of `PairwiseChoice` (BASELINE=1, CANDIDATE=2: not the order one would guess).
PAIRWISE_CHOICE_WIRE = {"BASELINE": 1, "CANDIDATE": 2, "TIE": 3}
#: What the fake judge answers for an instance nobody programmed (an honest "no opinion").
UNPROGRAMMED_SCORE = 3.0
UNPROGRAMMED_CHOICE = "TIE"
BASE_MODEL_ANSWER = "I am a general assistant and do not know your game's details."

_LOC = r"projects/[^/]+/locations/[^/]+"
_ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    ("POST", re.compile(rf"^/v1/({_LOC})/tuningJobs$"), "create"),
    ("GET", re.compile(rf"^/v1/({_LOC})/tuningJobs$"), "list"),
    ("GET", re.compile(rf"^/v1/({_LOC}/tuningJobs/[^/:]+)$"), "get"),
    ("POST", re.compile(rf"^/v1/({_LOC}/tuningJobs/[^/:]+):cancel$"), "cancel"),
    ("POST", re.compile(rf"^/v1/({_LOC})/batchPredictionJobs$"), "create_batch"),
    ("GET", re.compile(rf"^/v1/({_LOC})/batchPredictionJobs$"), "list_batch"),
    ("GET", re.compile(rf"^/v1/({_LOC}/batchPredictionJobs/[^/:]+)$"), "get_batch"),
    ("POST", re.compile(r"^/v1/(.+):generateContent$"), "generate"),
    ("POST", re.compile(r"^/v1/(.+):countTokens$"), "count_tokens"),
    ("POST", re.compile(rf"^/v1/({_LOC}):evaluateInstances$"), "evaluate"),
    ("GET", re.compile(r"^/v1/(publishers/google/models/[^/:]+)$"), "publisher_model"),
    # ListPublisherModels exists only in v1beta1 (google-cloud-aiplatform 2.7.0).
    ("GET", re.compile(r"^/v1beta1/(publishers/google)/models$"), "publisher_models"),
    ("PATCH", re.compile(rf"^/v1/({_LOC}/models/[^/:@]+)$"), "update_model"),
    # Training curves: Vertex ML Metadata contexts and the TensorBoard behind them.
    ("GET", re.compile(rf"^/v1/({_LOC}/metadataStores/[^/]+/contexts/[^/:]+)$"), "get_context"),
    ("GET", re.compile(rf"^/v1/({_LOC}/metadataStores/[^/]+)/contexts$"), "list_contexts"),
    (
        "GET",
        re.compile(rf"^/v1/({_LOC}/tensorboards/[^/]+/experiments/[^/]+/runs/[^/]+)/timeSeries$"),
        "list_time_series",
    ),
    (
        "POST",
        re.compile(
            rf"^/v1/({_LOC}/tensorboards/.+/timeSeries/[^/:]+):exportTensorboardTimeSeries$"
        ),
        "export_time_series",
    ),
]
_FILTER_TERM = re.compile(r'^\s*labels\.([a-z][a-z0-9_-]*)\s*=\s*"([^"]*)"\s*$')


class ApiError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class Injected:
    status: int
    message: str
    method: str | None  # route name ("create", "get", ...) or None for any
    after: bool = False  # do the work first, then answer the error (a lost response)


@dataclass
class Recorded:
    method: str
    route: str
    path: str
    query: dict[str, list[str]]
    body: Any


@dataclass
class FakeState:
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    batch_jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    endpoints: set[str] = field(default_factory=set)
    #: Metadata contexts by name (experiments and their runs) and TensorBoard series:
    #: series name -> (display name, [(step, value)]).
    contexts: dict[str, dict[str, Any]] = field(default_factory=dict)
    series: dict[str, tuple[str, list[tuple[int, float]]]] = field(default_factory=dict)
    #: Model name -> the checkpoint id its endpoint serves (ModelService.UpdateModel).
    default_checkpoints: dict[str, str] = field(default_factory=dict)
    answers: dict[str, dict[str, str]] = field(default_factory=dict)
    #: Publisher models listed beyond the supported ones (a model Google added).
    extra_publisher_models: list[str] = field(default_factory=list)
    failures: list[Injected] = field(default_factory=list)
    #: (prompt, response) -> (score, explanation)
    pointwise: dict[tuple[str, str], tuple[float, str]] = field(default_factory=dict)
    #: (prompt, response, baseline) -> (choice name, explanation)
    pairwise: dict[tuple[str, str, str], tuple[str, str]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    #: (route, status, body) of every answer, so tests/fidelity can walk them against the
    #: discovery document: the fake may not invent a field.
    responses: list[tuple[str, int, Any]] = field(default_factory=list)
    page_size: int = 50
    # True: ListTuningJobs answers 400 INVALID_ARGUMENT to any filter (label filters on tuning
    # jobs are not documented; a real Vertex may refuse them).
    reject_filters: bool = False
    # True: base gemini-3.x models answer 404 on single regions (us-central1), as reported.
    regional_3x_404: bool = True


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _error_body(code: int, message: str) -> dict[str, Any]:
    return {
        "error": {"code": code, "message": message, "status": _STATUS_NAMES.get(code, "UNKNOWN")}
    }


def _prompt_text(contents: Any) -> str:
    """Text of the last user turn: the fake's lookup key for canned answers."""
    if not isinstance(contents, list):
        raise ApiError(400, "contents must be a list")
    for turn in reversed(contents):
        if isinstance(turn, dict) and turn.get("role", "user") == "user":
            return "".join(p.get("text", "") for p in turn.get("parts", []) if isinstance(p, dict))
    raise ApiError(400, "contents must contain a user turn")


def count_tokens_of(contents: Any) -> int:
    """A deterministic stand-in tokenizer: one token per CJK character or per other word."""
    total = 0
    for turn in contents if isinstance(contents, list) else []:
        for part in turn.get("parts", []) if isinstance(turn, dict) else []:
            text = part.get("text", "") if isinstance(part, dict) else ""
            cjk = sum(1 for ch in text if "\u3400" <= ch <= "\u9fff")
            words = re.sub(r"[\u3400-\u9fff]", " ", text).split()
            total += cjk + len(words)
    return total


class VertexFake:
    """The fake service plus the knobs tests turn (`fail_next`, `finish`, `teach`)."""

    def __init__(self, project: str = "test-project", location: str = "us-central1") -> None:
        self.project = project
        self.location = location
        self.state = FakeState()
        self._lock = threading.Lock()
        self._ids = itertools.count(1000)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ---- lifecycle -----------------------------------------------------------------------

    def start(self) -> str:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out in separate writes

            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

            def do_GET(self) -> None:
                fake._dispatch(self, "GET")

            def do_POST(self) -> None:
                fake._dispatch(self, "POST")

            def do_PATCH(self) -> None:
                fake._dispatch(self, "PATCH")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self._thread.start()
        return self.endpoint

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def endpoint(self) -> str:
        assert self._server is not None, "start() the fake first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def parent(self) -> str:
        return f"projects/{self.project}/locations/{self.location}"

    # ---- knobs -----------------------------------------------------------------------------

    def fail_next(
        self, count: int, status: int = 503, *, method: str | None = None, message: str = ""
    ) -> None:
        """The next `count` matching calls answer `status` (e.g. 429, 503, 400)."""
        text = message or f"injected {_STATUS_NAMES.get(status, status)}"
        with self._lock:
            self.state.failures.extend(Injected(status, text, method) for _ in range(count))

    def lose_response(self, count: int, status: int = 503, *, method: str) -> None:
        """The next `count` matching calls take effect but answer `status`, as when a response
        is lost on the way back: the case that tempts a client into creating a job twice."""
        with self._lock:
            self.state.failures.extend(
                Injected(status, "response lost", method, after=True) for _ in range(count)
            )

    def finish(self, job_name: str, state: str, error_message: str | None = None) -> None:
        """Drive a job to `state` (normalised name); SUCCEEDED deploys a tuned endpoint."""
        with self._lock:
            job = self.state.jobs[job_name]
            job["state"] = JOB_STATE_WIRE[state]
            job["updateTime"] = _now()
            if job["state"] in TERMINAL_WIRE:
                job["endTime"] = _now()
            if state in ("SUCCEEDED", "PARTIALLY_SUCCEEDED"):
                num = job_name.rsplit("/", 1)[-1]
                endpoint = f"{self.parent}/endpoints/{num}"
                sft = job.setdefault("supervisedTuningSpec", {})
                hp = sft.setdefault("hyperParameters", {})
                # What Vertex reports back: its recommendation where the request left a gap
                # (values of our choosing: the service's recommender is not public).
                hp.setdefault("epochCount", "3")
                hp.setdefault("learningRateMultiplier", 1.0)
                hp.setdefault("adapterSize", ADAPTER_WIRE_BY_SIZE[4])
                epochs = int(hp["epochCount"])
                kept = [epochs] if sft.get("exportLastCheckpointOnly") else range(1, epochs + 1)
                job["tunedModel"] = {
                    "model": f"{self.parent}/models/{num}@1",
                    "endpoint": endpoint,
                    "checkpoints": [
                        {
                            "checkpointId": str(e),
                            "epoch": str(e),
                            "step": str(10 * e),
                            "endpoint": f"{endpoint}-ckpt-{e}",
                        }
                        for e in kept
                    ],
                }
                job["tuningDataStats"] = {
                    "supervisedTuningDataStats": {
                        "tuningDatasetExampleCount": "100",
                        "totalBillableTokenCount": str(20_000 * epochs),
                        "tuningStepCount": str(10 * epochs),
                        "totalTruncatedExampleCount": "0",
                    }
                }
                self.state.endpoints.add(endpoint)
            if state == "FAILED":
                job["error"] = {"code": 3, "message": error_message or "tuning failed"}

    def set_curves(self, job_name: str, curves: dict[str, list[tuple[int, float]]]) -> str:
        """Give the job an experiment with one run whose TensorBoard holds `curves` (series
        named like Vertex's: `/train_total_loss`, ...), as a tuning job's would; its name."""
        num = job_name.rsplit("/", 1)[-1]
        store = f"{self.parent}/metadataStores/default"
        experiment = f"{store}/contexts/tuning-experiment-{num}"
        board = f"{self.parent}/tensorboards/77"
        run = f"{experiment}-run-{num}"
        with self._lock:
            self.state.contexts[experiment] = {
                "name": experiment,
                "schemaTitle": "system.Experiment",
                "metadata": {"backing_tensorboard_resource": board},
            }
            self.state.contexts[run] = {
                "name": run,
                "schemaTitle": "system.ExperimentRun",
                "parentContexts": [experiment],
            }
            tb_run = f"{board}/experiments/tuning-experiment-{num}/runs/run-{num}"
            for i, (metric, points) in enumerate(curves.items()):
                self.state.series[f"{tb_run}/timeSeries/{i}"] = (f"/{metric}", list(points))
            self.state.jobs[job_name]["experiment"] = experiment
        return experiment

    def teach(self, model: str, prompt: str, answer: str) -> None:
        """Make `model` (an endpoint or publisher model name) answer `prompt` with `answer`."""
        with self._lock:
            self.state.answers.setdefault(model, {})[prompt] = answer

    def program_pointwise(
        self, prompt: str, response: str, score: float, explanation: str = ""
    ) -> None:
        """The judge's pointwise verdict for this (prompt, response) instance."""
        with self._lock:
            self.state.pointwise[(prompt, response)] = (score, explanation)

    def program_pairwise(
        self, prompt: str, response: str, baseline: str, choice: str, explanation: str = ""
    ) -> None:
        """The judge's pairwise verdict ("CANDIDATE", "BASELINE", "TIE") for this instance."""
        if choice not in PAIRWISE_CHOICE_WIRE:
            raise ValueError(f"choice must be one of {sorted(PAIRWISE_CHOICE_WIRE)}")
        with self._lock:
            self.state.pairwise[(prompt, response, baseline)] = (choice, explanation)

    def requests_for(self, route: str) -> list[Recorded]:
        with self._lock:
            return [r for r in self.state.requests if r.route == route]

    # ---- HTTP --------------------------------------------------------------------------------

    def _dispatch(self, h: BaseHTTPRequestHandler, method: str) -> None:
        split = urlsplit(h.path)
        path = unquote(split.path)
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        status, body = 404, _error_body(404, f"no route for {method} {path}")
        matched = ""
        for m, pattern, route in _ROUTES:
            match = pattern.match(path)
            if m != method or not match:
                continue
            matched = route
            try:
                payload = json.loads(raw) if raw else {}
            except ValueError:
                status, body = 400, _error_body(400, "Invalid JSON payload received.")
                break
            with self._lock:
                self.state.requests.append(
                    Recorded(method, route, path, parse_qs(split.query), payload)
                )
                injected = self._take_failure(route)
            if injected is not None and not injected.after:
                status, body = injected.status, _error_body(injected.status, injected.message)
                break
            try:
                status, body = 200, getattr(self, f"_{route}")(match.group(1), payload, split)
            except ApiError as e:
                status, body = e.code, _error_body(e.code, e.message)
            if injected is not None:
                status, body = injected.status, _error_body(injected.status, injected.message)
            break
        with self._lock:
            self.state.responses.append((matched, status, body))
        data = json.dumps(body).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json; charset=UTF-8")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    def _take_failure(self, route: str) -> Injected | None:
        for i, f in enumerate(self.state.failures):
            if f.method in (None, route):
                return self.state.failures.pop(i)
        return None

    # ---- handlers (called with the lock NOT held) --------------------------------------------

    def _create(self, parent: str, job: Mapping[str, Any], _: Any) -> dict[str, Any]:
        base = str(job.get("baseModel") or "")
        pre = job.get("preTunedModel")
        if base and pre:
            raise ApiError(400, "Only one of base_model and pre_tuned_model can be set.")
        if isinstance(pre, dict) and pre.get("tunedModelName"):
            base = "gemini-3.5-flash"  # the fake does not track which base a tuned model had
        if not base:
            raise ApiError(400, "base_model is required.")
        short = base.rsplit("/", 1)[-1]
        spec = job.get("supervisedTuningSpec")
        if not isinstance(spec, dict) or not str(spec.get("trainingDatasetUri", "")).startswith(
            "gs://"
        ):
            raise ApiError(400, "supervised_tuning_spec.training_dataset_uri must be a gs:// URI.")
        hp = spec.get("hyperParameters") or {}
        wire = hp.get("adapterSize")
        if wire is not None:
            if not isinstance(wire, int):
                raise ApiError(
                    400, f"Invalid value at 'adapter_size' ({wire!r}): expected enum int"
                )
            size = ADAPTER_SIZE_BY_WIRE.get(wire)
            if size is None or size not in SUPPORTED_ADAPTERS.get(
                short, set(ADAPTER_SIZE_BY_WIRE.values())
            ):
                raise ApiError(400, "adapter size is not supported for this base model")
        labels = job.get("labels") or {}
        for k, v in labels.items():
            if not re.fullmatch(r"[a-z][a-z0-9_-]{0,62}", k) or not re.fullmatch(
                r"[a-z0-9_-]{0,63}", v
            ):
                raise ApiError(400, f"Label {k}={v} is invalid.")
        name = f"{parent}/tuningJobs/{next(self._ids)}"
        stored = {
            **job,
            "name": name,
            "state": JOB_STATE_WIRE["PENDING"],
            "createTime": _now(),
            "updateTime": _now(),
        }
        with self._lock:
            self.state.jobs[name] = stored
        return stored

    def _get(self, name: str, _: Any, __: Any) -> dict[str, Any]:
        with self._lock:
            job = self.state.jobs.get(name)
        if job is None:
            raise ApiError(404, f"The TuningJob does not exist: {name}")
        return job

    def _list(self, parent: str, _: Any, split: Any) -> dict[str, Any]:
        q = parse_qs(split.query)
        wanted: dict[str, str] = {}
        text = (q.get("filter") or [""])[0]
        if text and self.state.reject_filters:
            raise ApiError(400, f"Unsupported filter: {text}")
        for term in filter(None, re.split(r"\s+AND\s+", text)):
            m = _FILTER_TERM.match(term)
            if not m:
                raise ApiError(400, f"Unsupported filter: {text}")
            wanted[m.group(1)] = m.group(2)
        size = int((q.get("pageSize") or [self.state.page_size])[0]) or self.state.page_size
        start = int((q.get("pageToken") or ["0"])[0] or 0)
        with self._lock:
            jobs = [
                j
                for n, j in self.state.jobs.items()
                if n.startswith(parent + "/")
                and all((j.get("labels") or {}).get(k) == v for k, v in wanted.items())
            ]
        page = jobs[start : start + size]
        out: dict[str, Any] = {"tuningJobs": page}
        if start + size < len(jobs):
            out["nextPageToken"] = str(start + size)
        return out

    def _cancel(self, name: str, _: Any, __: Any) -> dict[str, Any]:
        with self._lock:
            job = self.state.jobs.get(name)
            if job is None:
                raise ApiError(404, f"The TuningJob does not exist: {name}")
            if job["state"] in TERMINAL_WIRE:
                raise ApiError(400, f"Cannot cancel TuningJob {name} in a terminal state.")
            job["state"] = JOB_STATE_WIRE["CANCELLED"]
            job["endTime"] = _now()
        return {}

    # ---- batch prediction jobs (JobService) ------------------------------------------------

    def _create_batch(self, parent: str, job: Mapping[str, Any], _: Any) -> dict[str, Any]:
        """What the batch-inference pages require of a Gemini job: a display name, a publisher
        or tuned model in the job's own location, JSONL from gs:// in, JSONL under gs:// out."""
        model = str(job.get("model") or "")
        if not job.get("displayName"):
            raise ApiError(400, "display_name is required.")
        loc = parent.split("/locations/")[1]
        if not (
            re.fullmatch(r"publishers/google/models/[^/]+", model)
            or re.fullmatch(rf"projects/[^/]+/locations/{re.escape(loc)}/models/[^/]+", model)
        ):
            raise ApiError(400, f"Model {model!r} must share the job's location {loc}.")
        src = job.get("inputConfig") or {}
        uris = (src.get("gcsSource") or {}).get("uris") or []
        if (
            src.get("instancesFormat") != "jsonl"
            or not uris
            or not all(str(u).startswith("gs://") for u in uris)
        ):
            raise ApiError(400, "input_config needs instances_format jsonl and gs:// uris.")
        dst = job.get("outputConfig") or {}
        prefix = str((dst.get("gcsDestination") or {}).get("outputUriPrefix") or "")
        if dst.get("predictionsFormat") != "jsonl" or not prefix.startswith("gs://"):
            raise ApiError(400, "output_config needs predictions_format jsonl and a gs:// prefix.")
        name = f"{parent}/batchPredictionJobs/{next(self._ids)}"
        stored = {**job, "name": name, "state": JOB_STATE_WIRE["PENDING"], "createTime": _now()}
        with self._lock:
            self.state.batch_jobs[name] = stored
        return stored

    def _get_batch(self, name: str, _: Any, __: Any) -> dict[str, Any]:
        with self._lock:
            job = self.state.batch_jobs.get(name)
        if job is None:
            raise ApiError(404, f"The BatchPredictionJob does not exist: {name}")
        return job

    def _list_batch(self, parent: str, _: Any, split: Any) -> dict[str, Any]:
        text = (parse_qs(split.query).get("filter") or [""])[0]
        wanted = {}
        for term in filter(None, re.split(r"\s+AND\s+", text)):
            m = _FILTER_TERM.match(term)
            if not m:
                raise ApiError(400, f"Unsupported filter: {text}")
            wanted[m.group(1)] = m.group(2)
        with self._lock:
            jobs = [
                j
                for n, j in self.state.batch_jobs.items()
                if n.startswith(parent + "/")
                and all((j.get("labels") or {}).get(k) == v for k, v in wanted.items())
            ]
        return {"batchPredictionJobs": jobs}

    def finish_batch(self, name: str, state: str, *, ok: int = 0, failed: int = 0) -> str:
        """Drive a batch job to `state`; a finished job names the folder it wrote."""
        with self._lock:
            job = self.state.batch_jobs[name]
            job["state"] = JOB_STATE_WIRE[state]
            job["endTime"] = _now()
            prefix = job["outputConfig"]["gcsDestination"]["outputUriPrefix"].rstrip("/")
            folder = f"{prefix}/prediction-model-2026-12-03T12:00:00.000000Z"
            if state == "SUCCEEDED":
                job["outputInfo"] = {"gcsOutputDirectory": folder}
                job["completionStats"] = {"successfulCount": str(ok), "failedCount": str(failed)}
            elif state == "FAILED":
                job["error"] = {"code": 13, "message": "Internal error (injected)."}
            return folder

    def _check_model(self, model: str) -> None:
        if "/publishers/google/models/gemini" in f"/{model}":
            # Public reports (GoogleCloudPlatform/generative-ai #3004, vertex-ai-creative-studio
            # PR #1591): base Gemini 3.x models answer 404 on single-region endpoints.
            loc = model.split("/locations/")[1].split("/")[0] if "/locations/" in model else ""
            if "/models/gemini-3" in model and "-" in loc and self.state.regional_3x_404:
                raise ApiError(404, f"Publisher Model `{model}` was not found.")
            return
        with self._lock:
            known = model in self.state.endpoints or model in self.state.answers
        if not known:
            raise ApiError(404, f"Endpoint `{model}` not found.")

    def _update_model(self, name: str, body: Mapping[str, Any], split: Any) -> dict[str, Any]:
        """ModelService.UpdateModel: only `defaultCheckpointId`, which must name a checkpoint
        of the job that made this model; the update mask must say so."""
        mask = (parse_qs(split.query).get("updateMask") or [""])[0]
        if mask not in ("defaultCheckpointId", "default_checkpoint_id"):
            raise ApiError(400, f"update_mask must be default_checkpoint_id, got {mask!r}")
        wanted = str(body.get("defaultCheckpointId") or "")
        with self._lock:
            jobs = [
                j
                for j in self.state.jobs.values()
                if str((j.get("tunedModel") or {}).get("model", "")).split("@")[0] == name
            ]
            if not jobs:
                raise ApiError(404, f"Model {name} not found.")
            ids = [c["checkpointId"] for c in jobs[0]["tunedModel"].get("checkpoints", [])]
            if wanted not in ids:
                raise ApiError(400, f"Checkpoint {wanted!r} does not exist for {name}.")
            self.state.default_checkpoints[name] = wanted
        return {"name": name, "defaultCheckpointId": wanted}

    def _get_context(self, name: str, _: Any, __: Any) -> dict[str, Any]:
        with self._lock:
            ctx = self.state.contexts.get(name)
        if ctx is None:
            raise ApiError(404, f"Context {name} not found.")
        return ctx

    def _list_contexts(self, store: str, _: Any, split: Any) -> dict[str, Any]:
        text = (parse_qs(split.query).get("filter") or [""])[0]
        m = re.fullmatch(r'schema_title="([^"]+)" AND parent_contexts:"([^"]+)"', text)
        if m is None:
            raise ApiError(400, f"Unsupported filter: {text}")
        with self._lock:
            found = [
                c
                for n, c in self.state.contexts.items()
                if n.startswith(store + "/")
                and c.get("schemaTitle") == m.group(1)
                and m.group(2) in c.get("parentContexts", [])
            ]
        return {"contexts": found}

    def _list_time_series(self, run: str, _: Any, __: Any) -> dict[str, Any]:
        with self._lock:
            found = [
                {"name": n, "displayName": d, "valueType": 1}
                for n, (d, _pts) in self.state.series.items()
                if n.startswith(run + "/timeSeries/")
            ]
        if not found:
            raise ApiError(404, f"TensorboardRun {run} not found.")
        return {"tensorboardTimeSeries": found}

    def _export_time_series(self, name: str, body: Mapping[str, Any], _: Any) -> dict[str, Any]:
        """Paged like the service (pageSize, pageToken), so the client's pager is exercised."""
        with self._lock:
            entry = self.state.series.get(name)
        if entry is None:
            raise ApiError(404, f"TensorboardTimeSeries {name} not found.")
        size = int(body.get("pageSize") or 0) or 3
        start = int(body.get("pageToken") or 0)
        page = entry[1][start : start + size]
        out: dict[str, Any] = {
            "timeSeriesDataPoints": [
                {"step": str(step), "scalar": {"value": value}} for step, value in page
            ]
        }
        if start + size < len(entry[1]):
            out["nextPageToken"] = str(start + size)
        return out

    def _publisher_model(self, name: str, _: Any, __: Any) -> dict[str, Any]:
        """ModelGardenService.GetPublisherModel: 404 for a model the fake does not serve."""
        short = name.rsplit("/", 1)[-1]
        if short not in SUPPORTED_ADAPTERS:
            raise ApiError(404, f"Publisher Model `{name}` not found.")
        return {"name": name, "launchStage": 4}  # GA

    def _publisher_models(self, parent: str, _: Any, __: Any) -> dict[str, Any]:
        """ModelGardenService.ListPublisherModels (v1beta1): every model the fake serves, and
        the extra ones a test adds, in one page."""
        names = sorted(SUPPORTED_ADAPTERS) + list(self.state.extra_publisher_models)
        return {
            "publisherModels": [
                {"name": f"{parent}/models/{n}", "launchStage": "PUBLIC_PREVIEW"
                 if n in self.state.extra_publisher_models else "GA"}
                for n in names
            ]
        }  # fmt: skip

    def _generate(self, model: str, body: Mapping[str, Any], _: Any) -> dict[str, Any]:
        self._check_model(model)
        prompt = _prompt_text(body.get("contents"))
        with self._lock:
            answer = self.state.answers.get(model, {}).get(prompt, BASE_MODEL_ANSWER)
        n_in = count_tokens_of(body.get("contents"))
        return {
            "candidates": [
                {"content": {"role": "model", "parts": [{"text": answer}]}, "finishReason": 1}
            ],
            "usageMetadata": {
                "promptTokenCount": n_in,
                "candidatesTokenCount": count_tokens_of([{"parts": [{"text": answer}]}]),
            },
            "modelVersion": model.rsplit("/", 1)[-1],
        }

    def _count_tokens(self, model: str, body: Mapping[str, Any], _: Any) -> dict[str, Any]:
        self._check_model(model)
        contents = body.get("contents")
        if not contents:
            raise ApiError(400, "contents must not be empty")
        total = count_tokens_of(contents)
        return {"totalTokens": total, "totalBillableCharacters": total * 2}

    def _evaluate(self, location: str, body: Mapping[str, Any], _: Any) -> dict[str, Any]:
        """`evaluateInstances`: only the model-based pointwise / pairwise inputs, validated the
        way the service refuses a malformed request (400 with the field named)."""
        if location != self.parent:
            raise ApiError(404, f"Location `{location}` not found.")
        given = [k for k in body if k.endswith("Input")]
        if len(given) != 1:
            raise ApiError(400, f"Exactly one metric input is required, got {given}.")
        kind = given[0]
        if kind not in ("pointwiseMetricInput", "pairwiseMetricInput"):
            raise ApiError(400, f"The fake does not evaluate {kind}.")
        metric = body[kind]
        spec = metric.get("metricSpec") or {}
        if not str(spec.get("metricPromptTemplate") or "").strip():
            raise ApiError(400, "metric_spec.metric_prompt_template is required.")
        raw = (metric.get("instance") or {}).get("jsonInstance")
        try:
            instance = json.loads(raw) if isinstance(raw, str) else None
        except ValueError:
            instance = None
        if not isinstance(instance, dict):
            raise ApiError(400, "instance.json_instance must be a JSON object string.")
        prompt, response = str(instance.get("prompt", "")), instance.get("response")
        if not isinstance(response, str):
            raise ApiError(400, "json_instance has no `response` for the template.")
        if kind == "pointwiseMetricInput":
            with self._lock:
                score, why = self.state.pointwise.get(
                    (prompt, response), (UNPROGRAMMED_SCORE, "no verdict programmed")
                )
            return {"pointwiseMetricResult": {"score": score, "explanation": why}}
        baseline_key = spec.get("baselineResponseFieldName") or "baseline_model_response"
        candidate_key = spec.get("candidateResponseFieldName") or "response"
        baseline = instance.get(baseline_key)
        if candidate_key != "response" or not isinstance(baseline, str):
            raise ApiError(400, f"json_instance has no `{baseline_key}` for the template.")
        with self._lock:
            choice, why = self.state.pairwise.get(
                (prompt, response, baseline), (UNPROGRAMMED_CHOICE, "no verdict programmed")
            )
        return {
            "pairwiseMetricResult": {
                "pairwiseChoice": PAIRWISE_CHOICE_WIRE[choice],
                "explanation": why,
            }
        }


@contextmanager
def running_fake(
    project: str = "test-project", location: str = "us-central1"
) -> Iterator[VertexFake]:
    """Start a fake on a free 127.0.0.1 port and always stop it."""
    fake = VertexFake(project, location)
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()
