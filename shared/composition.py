"""The composition root: the one place that chooses and builds adapters (`BACKEND=gcp|local`).

Everything else receives a `shared.ports.Deps` and never imports `shared.gcp`,
`shared.local` adapters or `shared.simulator` (tests/unit/test_architecture.py checks it).

- `LazyDeps` builds each port on first use, so a function that never touches Vertex AI never
  imports its client (cold starts are paid per function; see BENCHMARKS.md).
- `instance()` is the per-instance bundle the function entry points use: built once from the
  environment (Terraform sets it), or whatever the local host `install()`ed before it started
  delivering events. Clients are reused across requests, as Cloud Functions advises.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from shared.errors import ConfigError
from shared.ports import (
    BatchPredictor,
    Blobs,
    Bus,
    Deps,
    Judge,
    ModelDirectory,
    Models,
    ProductionStore,
    RunStore,
    Tuner,
)
from shared.settings import Settings

if TYPE_CHECKING:
    from shared.local.paths import LocalLayout
    from shared.simulator import SimConfig, SimulatedTuner


class LazyDeps:
    """The adapters of one deployment. Pass any port explicitly to override the default, and
    `simulator` to give the local Vertex AI simulator its knobs (else `SIM_*` from `env`)."""

    def __init__(
        self,
        settings: Settings,
        *,
        simulator: SimConfig | None = None,
        blobs: Blobs | None = None,
        bus: Bus | None = None,
        store: RunStore | None = None,
        tuner: Tuner | None = None,
        models: Models | None = None,
        judge: Judge | None = None,
        production: ProductionStore | None = None,
        batch: BatchPredictor | None = None,
    ) -> None:
        self.settings = settings
        self._simulator = simulator
        for name, value in (
            ("blobs", blobs),
            ("bus", bus),
            ("store", store),
            ("tuner", tuner),
            ("models", models),
            ("judge", judge),
            ("production", production),
            ("batch", batch),
        ):
            if value is not None:
                self.__dict__[name] = value  # pre-fills the cached_property

    @property
    def simulated(self) -> bool:
        """True when tuning and inference are played by the local simulator."""
        return self.settings.backend == "local"

    @cached_property
    def layout(self) -> LocalLayout:
        from shared.local.paths import LocalLayout

        if not self.settings.local_root:
            raise ConfigError("BACKEND=local needs LOCAL_ROOT (the local root folder).")
        return LocalLayout(Path(self.settings.local_root))

    @cached_property
    def blobs(self) -> Blobs:
        if self.settings.backend == "gcp":
            from shared.gcp.storage import GcsBlobs

            return GcsBlobs(project=self.settings.project)
        from shared.local.blobs import FolderBlobs

        return FolderBlobs(self.layout.root)

    @cached_property
    def bus(self) -> Bus:
        if self.settings.backend == "gcp":
            from shared.gcp.pubsub import PubSubBus

            return PubSubBus(project=self.settings.project)
        from shared.local.bus import SqliteBus

        return SqliteBus(self.layout.bus_db)

    @cached_property
    def store(self) -> RunStore:
        if self.settings.backend == "gcp":
            from shared.gcp.firestore import FirestoreRunStore

            return FirestoreRunStore(
                project=self.settings.project,
                database=self.settings.firestore_database,
                collection=self.settings.runs_collection,
            )
        from shared.local.store import SqliteRunStore

        return SqliteRunStore(self.layout.runs_db)

    @cached_property
    def production(self) -> ProductionStore:
        if self.settings.backend == "gcp":
            from shared.gcp.production import FirestoreProductionStore

            return FirestoreProductionStore(
                project=self.settings.project,
                database=self.settings.firestore_database,
                collection=self.settings.production_collection,
            )
        from shared.local.production import SqliteProductionStore

        # Beside the runs, in the same SQLite file: one local "database", as in the cloud.
        return SqliteProductionStore(self.layout.runs_db)

    def _simulated_tuner(self) -> SimulatedTuner:
        from shared.simulator import SimulatedTuner

        return SimulatedTuner.from_root(
            self.layout.root,
            config=self._simulator,
            env=self.settings.simulator_env,
            project=self.settings.project,
            location=self.settings.location,
            catalog=self.settings.catalog,
        )

    @cached_property
    def tuner(self) -> Tuner:
        if self.settings.backend == "gcp":
            from shared.gcp.vertex import VertexTuner

            return VertexTuner(
                project=self.settings.project,
                location=self.settings.location,
                service_account=self.settings.tuning_service_account,
            )
        return self._simulated_tuner()

    @cached_property
    def models(self) -> Models:
        if self.settings.backend == "gcp":
            from shared.gcp.vertex import VertexModels

            return VertexModels(
                project=self.settings.project,
                location=self.settings.location,
                catalog=self.settings.catalog,  # where each base model is served
            )
        from shared.simulator import SimulatedModels

        return SimulatedModels(self._simulated_tuner())

    @cached_property
    def batch(self) -> BatchPredictor:
        if self.settings.backend == "gcp":
            from shared.gcp.vertex_batch import VertexBatchPredictor

            return VertexBatchPredictor(
                project=self.settings.project,
                location=self.settings.location,
                catalog=self.settings.catalog,  # where each base model answers
            )
        from shared.simulator import SimulatedBatchPredictor, SimulatedModels, SimulatedTuner

        # The simulated models answer the batch requests: the deployment's own (one state).
        tuner, models = self.tuner, self.models
        if not (isinstance(tuner, SimulatedTuner) and isinstance(models, SimulatedModels)):
            tuner = self._simulated_tuner()
            models = SimulatedModels(tuner)
        return SimulatedBatchPredictor.for_tuner(tuner, models)

    @cached_property
    def directory(self) -> ModelDirectory:
        if self.settings.backend == "gcp":
            from shared.gcp.vertex_catalog import VertexModelDirectory

            return VertexModelDirectory(self.settings.project, self.settings.location)
        from shared.simulator.directory import SimulatedDirectory

        return SimulatedDirectory(self.settings.catalog, self.settings.simulator_env)

    @cached_property
    def judge(self) -> Judge:
        if self.settings.backend == "gcp":
            from shared.gcp.vertex import VertexJudge

            return VertexJudge(project=self.settings.project, location=self.settings.location)
        from shared.simulator import SimulatedJudge

        return SimulatedJudge()


def deps_from_env() -> LazyDeps:
    return LazyDeps(Settings.from_env())


def local_deps(
    root: Path, *, simulator: SimConfig | None = None, env: Mapping[str, str] | None = None
) -> LazyDeps:
    """The embedded local backend on `root`. Other settings (defaults, topic names, `SIM_*`)
    come from `env` when the caller passes one (the CLI passes its environment), else defaults;
    `BACKEND` and `LOCAL_ROOT` in it are overridden."""
    base = dict(env or {})
    base.update(BACKEND="local", LOCAL_ROOT=str(Path(root).absolute()))
    return LazyDeps(Settings.from_env(base), simulator=simulator)


# ---- the per-instance bundle of the function entry points ------------------------------------

_instance: Deps | None = None
_lock = threading.Lock()


def instance() -> Deps:
    """Built once per instance; the lock keeps concurrent first requests from building several."""
    global _instance
    if _instance is None:
        with _lock:
            if _instance is None:
                _instance = deps_from_env()
    return _instance


def install(deps: Deps | None) -> None:
    """Make the function entry points use `deps` (the local host, tests); None rebuilds from the
    environment on next use."""
    global _instance
    with _lock:
        _instance = deps
