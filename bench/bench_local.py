"""Local backend figures: run-store CAS and reads, bus round trips, file-drop-to-handler latency.

`python -m bench local`. Medians of several repetitions, measured in one process.
"""

from __future__ import annotations

import statistics
import tempfile
import threading
import time
from pathlib import Path

from shared.host.runtime import LocalRuntime, Route, RuntimeOptions
from shared.host.sources import STORAGE_TOPIC
from shared.local.bus import SqliteBus, SubscriptionPolicy
from shared.local.store import SqliteRunStore
from shared.runs import DatasetInfo, Run, RunStatus, make_run_id


def _run(i: int) -> Run:
    name = f"incoming/d{i}/train.jsonl"
    return Run.new(make_run_id("b", name, i), DatasetInfo("b", name, str(i), f"file:///{name}"))


def bench_store(tmp: Path) -> None:
    store = SqliteRunStore(tmp / "runs.sqlite")
    n = 10_000
    t0 = time.perf_counter()
    for i in range(n):
        r = _run(i)
        if i % 1000 == 0:
            r.status = RunStatus.TRAINING
        else:
            r.status = RunStatus.SUCCEEDED
        store.create(r)
    print(f"store: create {n} runs: {(time.perf_counter() - t0) / n * 1e6:.0f} us/run")
    times, reads = [], []
    for _ in range(7):
        before = store.reads
        t0 = time.perf_counter()
        active = store.list_by_status([RunStatus.QUEUED, RunStatus.TRAINING])
        times.append(time.perf_counter() - t0)
        reads.append(store.reads - before)
    print(
        f"store: list_by_status(active) over {n} runs ({len(active)} active): "
        f"median {statistics.median(times) * 1e3:.2f} ms, documents read {reads[0]}"
    )
    extra = _run(n + 1)
    store.create(extra)
    cas = []
    statuses = [RunStatus.VALIDATING, RunStatus.VALIDATED, RunStatus.QUEUED, RunStatus.TRAINING]
    src = RunStatus.RECEIVED
    for dst in statuses:
        t0 = time.perf_counter()
        store.transition(extra.run_id, [src], dst)
        cas.append(time.perf_counter() - t0)
        src = dst
    print(f"store: transition (CAS, BEGIN IMMEDIATE): median {statistics.median(cas) * 1e3:.2f} ms")
    store.close()


def bench_bus(tmp: Path) -> None:
    bus = SqliteBus(tmp / "bus.sqlite")
    bus.subscribe("t", "s", SubscriptionPolicy(ack_deadline=30))
    pubs, trips = [], []
    for i in range(200):
        t0 = time.perf_counter()
        bus.publish("t", str(i).encode(), {"i": str(i)})
        t1 = time.perf_counter()
        (m,) = bus.pull("s")
        bus.ack(m)
        t2 = time.perf_counter()
        pubs.append(t1 - t0)
        trips.append(t2 - t1)
    print(
        f"bus: publish (durable, synchronous=FULL): median {statistics.median(pubs) * 1e3:.2f} ms;"
        f" pull+ack: median {statistics.median(trips) * 1e3:.2f} ms"
    )
    bus.close()


def bench_drop_latency(tmp: Path) -> None:
    seen: dict[str, float] = {}
    done = threading.Event()

    def handler(event: object) -> None:
        seen[event.data["name"]] = time.perf_counter()  # type: ignore[attr-defined]
        done.set()

    opts = RuntimeOptions(tick=0, settle=0.3, idle_poll=0.05)
    rt = LocalRuntime(
        tmp / "rt", routes=[Route("v", STORAGE_TOPIC, handler, storage=True)], options=opts
    ).start()
    lat = []
    for i in range(7):
        done.clear()
        t0 = time.perf_counter()
        (rt.layout.incoming / f"f{i}.jsonl").write_bytes(b"{}\n")
        done.wait(10)
        lat.append(seen[f"incoming/f{i}.jsonl"] - t0)
    rt.stop()
    print(
        f"runtime: file written -> validator called (settle 0.3 s): "
        f"median {statistics.median(lat) * 1e3:.0f} ms"
    )


def main() -> None:
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        bench_store(tmp)
        bench_bus(tmp)
        bench_drop_latency(tmp)


if __name__ == "__main__":
    main()
