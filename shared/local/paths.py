"""Where the embedded local backend keeps things under its root folder.

One table of names so the runtime, the adapters built by `shared.backend` and the `local`
command agree: `root/bucket` is the datasets bucket, `root/artifacts` the artifacts bucket (a
bucket is a folder named after it), `root/state/` holds the SQLite files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DATASETS_BUCKET = "bucket"
ARTIFACTS_BUCKET = "artifacts"
STATE_DIR = "state"
RUNS_DB = "runs.sqlite"
BUS_DB = "bus.sqlite"

#: Folder inside every bucket folder for temp files and locks. Its leading dot keeps it out of
#: listings and away from the watcher, so a half-written file never looks like an upload.
INTERNAL_DIR = ".gtp-internal"


@dataclass(frozen=True)
class LocalLayout:
    """The folders and files of one local root."""

    root: Path

    @property
    def datasets(self) -> Path:
        return self.root / DATASETS_BUCKET

    @property
    def incoming(self) -> Path:
        return self.datasets / "incoming"

    @property
    def artifacts(self) -> Path:
        return self.root / ARTIFACTS_BUCKET

    @property
    def state(self) -> Path:
        return self.root / STATE_DIR

    @property
    def runs_db(self) -> Path:
        return self.state / RUNS_DB

    @property
    def bus_db(self) -> Path:
        return self.state / BUS_DB

    def create(self) -> LocalLayout:
        """Make the folders (idempotent) and return self."""
        for folder in (self.incoming, self.artifacts, self.state):
            folder.mkdir(parents=True, exist_ok=True)
        return self
