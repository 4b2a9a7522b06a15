"""One data directory holds all state; every command takes it from here."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["DataDir", "default_data_dir"]


def default_data_dir() -> Path:
    return Path(os.environ.get("NARCWATCH_DATA_DIR", "narcwatch-data")).expanduser()


@dataclass(frozen=True)
class DataDir:
    root: Path

    @classmethod
    def at(cls, root: str | Path | None = None) -> "DataDir":
        d = cls(Path(root).expanduser().resolve() if root else default_data_dir().resolve())
        d.ensure()
        return d

    def ensure(self) -> None:
        for p in (self.root, self.evidence, self.logs, self.jobs, self.exports):
            p.mkdir(parents=True, exist_ok=True)

    @property
    def store(self) -> Path:
        return self.root / "store.sqlite"

    @property
    def spool(self) -> Path:
        return self.root / "spool.sqlite"

    @property
    def evidence(self) -> Path:
        return self.root / "evidence"

    @property
    def jobs(self) -> Path:
        return self.root / "jobs"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def exports(self) -> Path:
        return self.root / "exports"

    @property
    def outbox(self) -> Path:
        return self.root / "outbox.sqlite"
