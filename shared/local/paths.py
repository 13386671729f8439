"""Where the embedded local backend keeps things under its root folder.

The one table of local paths: the host, the adapters built by `shared.composition`, the
simulator and the CLI all ask `LocalLayout` and never spell a path themselves. `root/bucket` is
the datasets bucket, `root/artifacts` the artifacts bucket (a bucket is a folder named after
it), `root/state/` holds the SQLite files and the simulator's control file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DATASETS_BUCKET = "bucket"
ARTIFACTS_BUCKET = "artifacts"
STATE_DIR = "state"
RUNS_DB = "runs.sqlite"
BUS_DB = "bus.sqlite"
SIMULATOR_DB = "simulator.sqlite"
SIMULATOR_CONTROL = "simulator.json"
SIMULATOR_PAGES = "simulator-jobs"
RUNTIME_LOCK = "runtime.lock"

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

    @property
    def simulator_db(self) -> Path:
        return self.state / SIMULATOR_DB

    @property
    def simulator_control(self) -> Path:
        """The simulator's control file (faults and timing, re-read while it runs)."""
        return self.state / SIMULATOR_CONTROL

    @property
    def simulator_pages(self) -> Path:
        """Local stand-ins for the Cloud console pages of simulated jobs."""
        return self.state / SIMULATOR_PAGES

    @property
    def runtime_lock(self) -> Path:
        """Held (flock) by the running `gemini-tuning local`: `status` checks it."""
        return self.state / RUNTIME_LOCK

    def create(self) -> LocalLayout:
        """Make the folders (idempotent) and return self."""
        for folder in (self.incoming, self.artifacts, self.state):
            folder.mkdir(parents=True, exist_ok=True)
        return self
