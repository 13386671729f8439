"""Cold start per function: what one new instance pays before its first request.

For each `functions/<name>/main.py`, in a fresh interpreter with `BACKEND=gcp` (so production
adapters would be chosen), measure (1) importing the entry module by path and (2) then building
the ports that function uses (each adapter imports its client lazily, so this is where the
google-cloud imports land). Median of 5 processes each. No network: emulator host variables give
the Storage / Firestore / Pub/Sub clients anonymous credentials, and the Vertex clients get an
`http://127.0.0.1` endpoint; nothing is called.

Targets (entry-module import) on the 2-core dev machine: validator, status and deadletter
<= 0.6 s, the others <= 1.3 s. Port construction is printed beside it: it is paid on the first
request.
Run: `.venv/bin/python -m bench cold_start`
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RUNS = 5
#: function -> (ports its requests touch, target seconds for import + ports)
FUNCTIONS: dict[str, tuple[tuple[str, ...], float]] = {
    "validator": (("store", "blobs", "bus"), 0.6),
    "status": (("store",), 0.6),
    "launcher": (("store", "tuner", "bus"), 1.3),
    "poller": (("store", "tuner", "bus"), 1.3),
    "evaluator": (("store", "models", "blobs", "bus"), 1.3),
    "deadletter": (("store", "bus"), 0.6),
}

CHILD = r"""
import importlib.util, json, sys, time
t0 = time.perf_counter()
spec = importlib.util.spec_from_file_location("fn_main", sys.argv[1])
mod = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mod)
t1 = time.perf_counter()
from shared.settings import Settings
s = Settings.from_env()
marks = []
for port in sys.argv[2].split(","):
    if port == "store":
        from shared.gcp.firestore import FirestoreRunStore
        FirestoreRunStore(project=s.project, database=s.firestore_database,
                          collection=s.runs_collection)
    elif port == "blobs":
        from shared.gcp.storage import GcsBlobs
        GcsBlobs(project=s.project)
    elif port == "bus":
        from shared.gcp.pubsub import PubSubBus
        PubSubBus(project=s.project)
    elif port == "tuner":
        from shared.gcp.vertex import VertexTuner
        VertexTuner(s.project, s.location, api_endpoint="http://127.0.0.1:9")
    elif port == "models":
        from shared.gcp.vertex import VertexModels
        VertexModels(s.project, s.location, api_endpoint="http://127.0.0.1:9").connect(
            s.defaults.source_model_name
        )
    marks.append(time.perf_counter())
print(json.dumps({"import": t1 - t0, "first": marks[0] - t1, "ports": marks[-1] - t1}))
"""


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        BACKEND="gcp",
        GCP_PROJECT="bench-project",
        STORAGE_EMULATOR_HOST="http://127.0.0.1:9",
        FIRESTORE_EMULATOR_HOST="127.0.0.1:9",
        PUBSUB_EMULATOR_HOST="127.0.0.1:9",
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")])),
        PYTHONDONTWRITEBYTECODE="0",
    )
    return env


def measure(name: str, ports: tuple[str, ...]) -> tuple[float, float, float]:
    """Median (import, first port, all ports) seconds over RUNS fresh processes."""
    source = REPO / "functions" / name / "main.py"
    imports, firsts, builds = [], [], []
    for _ in range(RUNS):
        out = subprocess.run(
            [sys.executable, "-c", CHILD, str(source), ",".join(ports)],
            env=_env(),
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if out.returncode != 0:
            raise SystemExit(f"{name}: the cold-start probe failed:\n{out.stderr[-2000:]}")
        got = json.loads(out.stdout.strip().splitlines()[-1])
        imports.append(got["import"])
        firsts.append(got["first"])
        builds.append(got["ports"])
    return statistics.median(imports), statistics.median(firsts), statistics.median(builds)


def main() -> None:
    print(f"cold start, median of {RUNS} fresh processes, BACKEND=gcp (seconds)")
    print("import = entry module only (the target applies to it); first = + the first port the")
    print("handler touches (the run store); all = + every port its requests use")
    print(f"{'function':<10} {'import':>7} {'target':>7} {'first':>7} {'all':>7}  ports (in order)")
    for name, (ports, target) in FUNCTIONS.items():
        if not (REPO / "functions" / name / "main.py").exists():
            print(f"{name:<10} (no functions/{name}/main.py yet)")
            continue
        imp, first, build = measure(name, ports)
        verdict = "ok" if imp <= target else "OVER"
        print(
            f"{name:<10} {imp:7.3f} {target:7.1f} {first:7.3f} {build:7.3f}  "
            f"{','.join(ports)}  import {verdict}"
        )


if __name__ == "__main__":
    main()
