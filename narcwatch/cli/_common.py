"""Shared CLI state: the data directory and config every command honours."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import typer
from rich.console import Console

from narcwatch.crawler.config import Config, ConfigError, load_config
from narcwatch.crawler.paths import DataDir

__all__ = ["State", "console", "err_console", "fail", "not_available", "state"]

console = Console()
# soft_wrap: an error line stays one line (file:line: where: message), greppable.
err_console = Console(stderr=True, soft_wrap=True)


@dataclass
class State:
    data_dir_opt: Path | None
    config_path: Path | None
    _config: Config | None = None

    @property
    def config(self) -> Config:
        if self._config is None:
            try:
                overrides = {"data_dir": self.data_dir_opt} if self.data_dir_opt else {}
                self._config = load_config(self.config_path, **overrides)
            except ConfigError as exc:
                for p in exc.problems:
                    err_console.print(f"[red]error[/red] {p}", markup=True, highlight=False)
                raise typer.Exit(1) from None
            except ValueError as exc:
                fail(str(exc))
        return self._config

    @property
    def data(self) -> DataDir:
        return DataDir.at(self.config.data_dir)


def state(ctx: typer.Context) -> State:
    obj = ctx.find_root().obj
    assert isinstance(obj, State)
    return obj


def fail(message: str, code: int = 1) -> NoReturn:
    err_console.print(f"[red]error:[/red] {message}", highlight=False)
    raise typer.Exit(code)


def not_available(area: str) -> NoReturn:
    """Exit 2 for a command whose capability has not landed yet."""
    err_console.print(f"not available yet: {area}", highlight=False)
    raise typer.Exit(2)
