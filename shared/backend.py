"""The one place that chooses adapters: `BACKEND=gcp` or `BACKEND=local`.

Each port is built lazily on first use, so a function that never touches Vertex AI never
imports its client (cold starts are paid per function; see BENCHMARKS.md).
Tests and the local runtime pass ready-made adapters instead.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from shared.config import Settings
from shared.ports import Blobs, Bus, Judge, Models, RunStore, Tuner


class Backend:
    """Adapters for one deployment. Pass any of them explicitly to override the default."""

    def __init__(
        self,
        settings: Settings,
        *,
        blobs: Blobs | None = None,
        bus: Bus | None = None,
        store: RunStore | None = None,
        tuner: Tuner | None = None,
        models: Models | None = None,
        judge: Judge | None = None,
    ) -> None:
        self.settings = settings
        for name, value in (
            ("blobs", blobs),
            ("bus", bus),
            ("store", store),
            ("tuner", tuner),
            ("models", models),
            ("judge", judge),
        ):
            if value is not None:
                self.__dict__[name] = value  # pre-fills the cached_property

    @property
    def simulated(self) -> bool:
        """True when tuning and inference are played by the local simulator."""
        return self.settings.backend == "local"

    def _local_root(self) -> Path:
        if not self.settings.local_root:
            raise RuntimeError("BACKEND=local needs LOCAL_ROOT (the local runtime sets it)")
        return Path(self.settings.local_root)

    @cached_property
    def blobs(self) -> Blobs:
        if self.settings.backend == "gcp":
            from shared.gcp.storage import GcsBlobs

            return GcsBlobs(project=self.settings.project)
        from shared.local.blobs import FolderBlobs

        return FolderBlobs(self._local_root())

    @cached_property
    def bus(self) -> Bus:
        if self.settings.backend == "gcp":
            from shared.gcp.pubsub import PubSubBus

            return PubSubBus(project=self.settings.project)
        from shared.local.bus import SqliteBus

        return SqliteBus(self._local_root() / "state" / "bus.sqlite")

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

        return SqliteRunStore(self._local_root() / "state" / "runs.sqlite")

    @cached_property
    def tuner(self) -> Tuner:
        if self.settings.backend == "gcp":
            from shared.gcp.vertex import VertexTuner

            return VertexTuner(
                project=self.settings.project,
                location=self.settings.location,
                service_account=self.settings.tuning_service_account,
            )
        from shared.local.simulator import SimulatedTuner

        return SimulatedTuner.from_root(self._local_root())

    @cached_property
    def models(self) -> Models:
        if self.settings.backend == "gcp":
            from shared.gcp.vertex import VertexModels

            return VertexModels(project=self.settings.project, location=self.settings.location)
        from shared.local.simulator import SimulatedModels

        return SimulatedModels.from_root(self._local_root())

    @cached_property
    def judge(self) -> Judge:
        if self.settings.backend == "gcp":
            from shared.gcp.vertex import VertexJudge

            return VertexJudge(project=self.settings.project, location=self.settings.location)
        from shared.local.simulator import SimulatedJudge

        return SimulatedJudge()


def backend_from_env() -> Backend:
    return Backend(Settings.from_env())
