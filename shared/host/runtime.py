"""`LocalRuntime`: the pipeline's Cloud Functions hosted on one machine, wired like Eventarc +
Pub/Sub + Cloud Scheduler, over the durable `SqliteBus`.

The host sits *above* the functions, as the cloud does: it loads `functions/<name>/main.py`
(the same files Terraform deploys, chosen by `shared.routes`), gives them their ports by
`shared.composition.install()` (explicit settings, never the process environment) and delivers
events to them. The bucket watcher publishes uploads to an internal topic that is delivered as
the exact `storage.object.v1.finalized` CloudEvent; pipeline topics are delivered as
`pubsub.topic.v1.messagePublished` CloudEvents; the ticker feeds the poller. Handler returns ->
ack; raises -> nack with backoff; the last failed attempt -> dead letter, and the dead-letter
step tells the run why. Routes are plain data, so tests plug in stubs.
"""

from __future__ import annotations

import importlib.util
import logging
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from shared import composition
from shared.events import pubsub_published_event
from shared.host.sources import POLL_TOPIC, STORAGE_TOPIC, BucketWatcher, Ticker, Trouble
from shared.local.blobs import FolderBlobs
from shared.local.bus import DeadLetter, Leased, SqliteBus, SubscriptionPolicy
from shared.local.paths import DATASETS_BUCKET, LocalLayout
from shared.ports import Deps
from shared.routes import ROUTES, topic_name
from shared.settings import Settings

log = logging.getLogger("gemini_tuning.local")

Handler = Callable[[Any], object]
DeadLetterHook = Callable[[DeadLetter], None]


@dataclass(frozen=True)
class Route:
    """Deliver every message of `topic` to `handler` (one subscription per route)."""

    name: str
    topic: str
    handler: Handler
    storage: bool = False  #: the message carries a storage event built by the watcher
    policy: SubscriptionPolicy | None = None  #: overrides RuntimeOptions.policy

    @property
    def subscription(self) -> str:
        return f"local-{self.name}"


@dataclass(frozen=True)
class RuntimeOptions:
    tick: float = 2.0  #: seconds between poll ticks; 0 turns the ticker off
    workers: int = 3
    settle: float = 0.3  #: a file must be unchanged this long before it fires
    rescan: float = 5.0  #: safety-net rescan of the bucket folder
    use_watchdog: bool = True
    idle_poll: float = 0.05  #: dispatcher wait when nothing is due
    project: str = "local-project"
    policy: SubscriptionPolicy = field(
        default_factory=lambda: SubscriptionPolicy(
            ack_deadline=600.0, max_attempts=5, min_backoff=1.0, max_backoff=60.0
        )
    )


def runtime_running(layout: LocalLayout) -> bool:
    """Whether a `gemini-tuning local` (any process) holds the root's runtime lock."""
    import fcntl

    try:
        f = layout.runtime_lock.open("a")
    except OSError:
        return False
    with f:
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return True
        fcntl.flock(f.fileno(), fcntl.LOCK_UN)
    return False


def functions_dir() -> Path:
    """`functions/` of the checkout this package was installed from (editable install)."""
    return Path(__file__).resolve().parents[2] / "functions"


def load_entry_point(path: Path, attr: str) -> Handler:
    """Import a function's main.py by path (`functions/` is not a package) and get `attr`."""
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} not found: run from the project checkout (pip install -e .) so the "
            "functions/ folder is next to shared/"
        )
    mod_name = f"gtp_function_{path.parent.name}"
    spec = importlib.util.spec_from_file_location(mod_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = module
    spec.loader.exec_module(module)
    handler = getattr(module, attr, None)
    if not callable(handler):
        raise AttributeError(f"{path} has no function {attr}()")
    return handler  # type: ignore[no-any-return]


def pipeline_routes(settings: Settings, *, functions: Path | None = None) -> list[Route]:
    """The real pipeline: every event-driven function of `shared.routes` that the host plays
    (the dead-letter function is played by the host itself: its bus knows the last error)."""
    fdir = functions or functions_dir()
    out: list[Route] = []
    for r in ROUTES:
        if r.trigger == "http" or r.topic == "dead_letter":
            continue
        if r.optional and not settings.notify_url:  # as Terraform deploys no notifier without it
            continue
        if r.trigger == "storage":
            topic = STORAGE_TOPIC
        else:
            assert r.topic is not None
            topic = POLL_TOPIC if r.topic == "poll_tick" else topic_name(r.topic, settings)
        handler = load_entry_point(fdir / r.name / "main.py", r.entry_point)
        # Cloud Scheduler does not retry: a failed tick waits for the next one.
        policy = None if r.retries else SubscriptionPolicy(max_attempts=1)
        out.append(Route(r.name, topic, handler, r.trigger == "storage", policy))
    return out


class LocalRuntime:
    """Runs the routes until `stop()`; see the module docstring."""

    def __init__(
        self,
        root: Path,
        *,
        routes: Sequence[Route] | None = None,
        options: RuntimeOptions | None = None,
        on_dead_letter: DeadLetterHook | None = None,
        deps: Deps | None = None,
    ) -> None:
        """`deps`: the ports the hosted functions get (default: the local backend on `root`).
        Without `routes`, the real functions are loaded and dead letters fail their runs."""
        self.layout = LocalLayout(Path(root).absolute()).create()
        self.options = options or RuntimeOptions()
        self.deps: Deps = deps or composition.local_deps(self.layout.root)
        self._installed = routes is None
        if routes is None:
            composition.install(self.deps)
            routes = pipeline_routes(self.deps.settings)
            on_dead_letter = on_dead_letter or self.record_dead_letter
        self.routes = list(routes)
        self.on_dead_letter = on_dead_letter
        self.bus = SqliteBus(self.layout.bus_db)
        self.blobs = FolderBlobs(self.layout.root)
        self._by_sub = {r.subscription: r for r in self.routes}
        for r in self.routes:
            self.bus.subscribe(r.topic, r.subscription, r.policy or self.options.policy)
        self.watcher = BucketWatcher(
            self.blobs,
            DATASETS_BUCKET,
            self.bus,
            settle=self.options.settle,
            rescan=self.options.rescan,
            use_watchdog=self.options.use_watchdog,
        )
        poll = [r for r in self.routes if r.topic == POLL_TOPIC]
        self.ticker = (
            Ticker(self.bus, poll[0].subscription, self.options.tick)
            if poll and self.options.tick > 0
            else None
        )
        self._stop = threading.Event()
        #: Set when the runtime stopped itself; `failure` says why (the CLI prints it).
        self.stopped = threading.Event()
        self.failure: str | None = None
        self._state_at_start: dict[Path, tuple[int, int] | None] = {}
        self._lock_file: Any = None
        self._inflight = 0
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._thread: threading.Thread | None = None

    def record_dead_letter(self, dead: DeadLetter) -> None:
        """Tell the run why its message was dropped, naming the function that kept failing."""
        from shared.pipeline.deadletter import record_dead_letter

        data: Any = None
        if dead.topic == STORAGE_TOPIC:
            data = orjson.loads(dead.data).get("data")
        route = self._by_sub.get(dead.subscription)
        record_dead_letter(
            self.deps,
            dead.attributes,
            dead.last_error,
            data=data,
            attempts=dead.attempts,
            stage=route.name if route is not None else "delivery",
        )

    # ---- lifecycle ------------------------------------------------------------------------

    def start(self) -> LocalRuntime:
        self._hold_runtime_lock()
        if self._installed:
            self.deps.store.get("-")  # opens (creates) the run store, so its file is watched
        if self._lock_file is not None:
            self._release_dead_leases()
        self._state_at_start = self._state_files()
        self._pool = ThreadPoolExecutor(self.options.workers, thread_name_prefix="handler")
        self.watcher.start()
        if self.ticker is not None:
            self.ticker.start()
        self._thread = threading.Thread(target=self._dispatch, name="dispatcher", daemon=True)
        self._thread.start()
        log.info("runtime  started: %s", ", ".join(f"{r.topic} -> {r.name}" for r in self.routes))
        return self

    def stop(self) -> None:
        """Stop sources, finish handlers in flight (they ack or nack), close the bus."""
        self._stop.set()
        self.bus.notify()
        self.watcher.stop()
        if self.ticker is not None:
            self.ticker.stop()
        if self._thread is not None:
            self._thread.join(timeout=30)
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        self._report_dead_letters()
        self.bus.close()
        if self._lock_file is not None:
            self._lock_file.close()  # releases the flock
            self._lock_file = None
        if self._installed:
            composition.install(None)
        log.info("runtime  stopped")

    def _release_dead_leases(self) -> None:
        """Holding the root's runtime lock, this is the only runtime: every lease on the bus
        and every validation lease belonged to one that died (kill -9, a power cut). Release
        them so those runs go on within one tick instead of waiting out the ack deadline."""
        from shared.pipeline.launch import release_training_claims
        from shared.pipeline.validation import release_validation_leases

        n = self.bus.release_leases(r.subscription for r in self.routes)
        runs = release_validation_leases(self.deps, "the runtime that held it stopped")
        claims = release_training_claims(self.deps, "the runtime that held it stopped")
        if n or runs or claims:
            log.warning(
                "runtime  a previous runtime stopped mid-delivery: %d message(s) redelivered "
                "now, %d validation(s) resumed, %d job creation(s) reconciled",
                n,
                len(runs),
                len(claims),
            )

    def _hold_runtime_lock(self) -> None:
        """Tell `gemini-tuning status` that a runtime is advancing runs on this root."""
        import fcntl

        f = self.layout.runtime_lock.open("a")
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.close()
            return  # another runtime holds it (tests start two on one root on purpose)
        self._lock_file = f

    def __enter__(self) -> LocalRuntime:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def idle(self) -> bool:
        """Nothing waiting anywhere (ignoring the poll ticks, which never end)."""
        subs = [r.subscription for r in self.routes if r.topic != POLL_TOPIC]
        with self._lock:
            busy = self._inflight > 0
        return not busy and self.watcher.idle() and self.bus.pending(subs) == 0

    def run_until_idle(self, timeout: float) -> bool:
        """Block until idle twice in a row (or `timeout`); True when idle was reached."""
        deadline = time.monotonic() + timeout
        streak = 0
        while time.monotonic() < deadline:
            streak = streak + 1 if self.idle() else 0
            if streak >= 2:
                return True
            time.sleep(self.options.idle_poll)
        return False

    # ---- delivery -------------------------------------------------------------------------

    def _dispatch(self) -> None:
        next_report = 0.0
        trouble = Trouble("dispatcher")
        while not self._stop.is_set():
            try:
                if time.monotonic() >= next_report:
                    self._check_state()
                    self._report_dead_letters()
                    next_report = time.monotonic() + 0.5
                if not self._pull_some():
                    self._wait_for_work()
            except Exception as e:
                trouble.failed(e)
                self._stop.wait(0.5)
            else:
                trouble.ok()

    def _state_files(self) -> dict[Path, tuple[int, int] | None]:
        out: dict[Path, tuple[int, int] | None] = {}
        for path in (self.layout.runs_db, self.layout.bus_db):
            try:
                st = path.stat()
                out[path] = (st.st_dev, st.st_ino)
            except OSError:
                out[path] = None
        return out

    def _check_state(self) -> None:
        """A state database deleted (or replaced) under a running runtime would swallow every
        later change unseen: stop and say so instead of losing runs without a word."""
        if self.failure is not None:
            return
        for path, was in self._state_at_start.items():
            now = self._state_files()[path]
            if was is not None and now != was:
                self.failure = (
                    f"the state database {path} was deleted or replaced while the runtime was "
                    "running; stopping so no run is lost silently. Runs recorded in it are gone "
                    "unless you restore the file; start `gemini-tuning local` again to continue "
                    "with a new one."
                )
                log.error("STOPPED  %s", self.failure)
                self._stop.set()
                self.stopped.set()
                return

    def _pull_some(self) -> bool:
        got = False
        for route in self.routes:
            with self._lock:
                free = self.options.workers - self._inflight
            if free <= 0 or self._stop.is_set():
                break
            for msg in self.bus.pull(route.subscription, max_messages=free):
                with self._lock:
                    self._inflight += 1
                assert self._pool is not None
                self._pool.submit(self._deliver, route, msg)
                got = True
        return got

    def _wait_for_work(self) -> None:
        wait = self.options.idle_poll
        due = self.bus.next_due(self._by_sub)
        if due is not None:
            wait = max(0.0, min(wait, due - time.time()))
        self.bus.wait(wait)

    def event_for(self, route: Route, msg: Leased) -> Any:
        """The CloudEvent Eventarc would deliver for this message."""
        from cloudevents.http import CloudEvent

        if route.storage:
            doc = orjson.loads(msg.data)
            return CloudEvent(doc["attributes"], doc["data"])
        attrs, data = pubsub_published_event(
            project=self.options.project,
            topic=route.topic,
            data=msg.data,
            attributes=msg.attributes,
            message_id=msg.message_id,
            publish_time=msg.publish_time,
            subscription=f"projects/{self.options.project}/subscriptions/{route.subscription}",
        )
        return CloudEvent(attrs, data)

    def _deliver(self, route: Route, msg: Leased) -> None:
        what = msg.attributes.get("name") or msg.attributes.get("run_id") or msg.message_id
        started = time.monotonic()
        try:
            route.handler(self.event_for(route, msg))
        except Exception as e:
            error = f"{type(e).__name__}: {e}"
            result = self.bus.nack(msg, error)
            if result.dead:
                log.warning(
                    "DEAD     %-9s %s after %d attempts: %s", route.name, what, msg.attempt, error
                )
            else:
                log.info(
                    "retry    %-9s %s attempt %d failed (%s); next in %.1fs",
                    route.name,
                    what,
                    msg.attempt,
                    error,
                    result.delay,
                )
        else:
            self.bus.ack(msg)
            if route.topic != POLL_TOPIC:
                log.info("done     %-9s %s (%.2fs)", route.name, what, time.monotonic() - started)
        finally:
            with self._lock:
                self._inflight -= 1
            self.bus.notify()

    def _report_dead_letters(self) -> None:
        for dead in self.bus.dead_letters(unreported_only=True):
            if dead.subscription not in self._by_sub:
                continue
            if self.on_dead_letter is not None:
                try:
                    self.on_dead_letter(dead)
                except Exception:
                    log.exception("dead-letter hook failed for message %s", dead.message_id)
            self.bus.mark_reported(dead)
