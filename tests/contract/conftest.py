"""One contract suite per port, run against every backend.

Each backend supplies fixtures named `<backend>_<port>` in its own plugin module:
`tests/contract/backend_local.py` (the embedded default) and `tests/contract/backend_gcp.py`
(official clients against emulators / wire fakes). The parametrised fixtures below pick them up;
a backend that cannot run here (e.g. no emulator installed) skips with the reason.

Ports and fixture shapes:
- `blobs`      -> (Blobs, bucket_name): an empty bucket ready for writes.
- `store`      -> RunStore, empty.
- `production` -> ProductionStore, empty (and `<backend>_production_factory`, a picklable
                  zero-argument callable opening the same one, for races across processes).
- `bus_probe`  -> BusProbe: `.bus` (the Bus) and `.received(topic) -> list[(bytes, dict)]`.
- `tuner_probe`-> TunerProbe: `.tuner`, `.finish(job_name, state)` drives a job to an end state.
- `models`     -> (Models, tuned_model_name, base_model_name) with a known training example.
- `judge`      -> JudgeProbe: `.judge`, a known `.case` (prompt, reference, good, bad answers)
                  and `.simulated` (what every verdict must say).
- `batch_probe`-> BatchProbe: `.batch` (BatchPredictor), `.input_uri` (a request file it
                  accepts), `.output_prefix` and `.finish(job_name)` (the job ends SUCCEEDED).
"""

from __future__ import annotations

import pytest

# The backend plugin modules are registered in the top-level conftest.py (pytest requires
# `pytest_plugins` there).
BACKENDS = ("local", "gcp")


def _backend_fixture(request: pytest.FixtureRequest, port: str) -> object:
    """Every backend provides every port's fixture: a missing one is an error, not a skip."""
    return request.getfixturevalue(f"{request.param}_{port}")


@pytest.fixture(params=BACKENDS)
def blobs(request: pytest.FixtureRequest) -> object:
    return _backend_fixture(request, "blobs")


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest) -> object:
    return _backend_fixture(request, "store")


@pytest.fixture(params=BACKENDS)
def production(request: pytest.FixtureRequest) -> object:
    return _backend_fixture(request, "production")


@pytest.fixture(params=BACKENDS)
def bus_probe(request: pytest.FixtureRequest) -> object:
    return _backend_fixture(request, "bus_probe")


@pytest.fixture(params=BACKENDS)
def tuner_probe(request: pytest.FixtureRequest) -> object:
    return _backend_fixture(request, "tuner_probe")


@pytest.fixture(params=BACKENDS)
def models(request: pytest.FixtureRequest) -> object:
    return _backend_fixture(request, "models")


@pytest.fixture(params=BACKENDS)
def judge(request: pytest.FixtureRequest) -> object:
    return _backend_fixture(request, "judge")


@pytest.fixture(params=BACKENDS)
def batch_probe(request: pytest.FixtureRequest) -> object:
    return _backend_fixture(request, "batch_probe")
