"""Shared CLI state: the data directory and config every command honours."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.text import Text

from narcwatch.crawler.config import Config, ConfigError, load_config
from narcwatch.crawler.paths import DataDir

__all__ = ["SafeConsole", "State", "console", "echo_data", "err_console", "fail", "not_available", "reading_store", "state", "styled",
           "terminal_safe"]

#: what a terminal acts on instead of showing: C0 controls but tab and newline, DEL, C1
#: controls (U+009B is a CSI on its own), and the bidi overrides and isolates that make a
#: handle or wallet display as something else ("Trojan Source")
_TERMINAL_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def terminal_safe(text: str) -> str:
    """Scraped text as it may reach an analyst's terminal: every control character written
    out as an escape (``\\x1b``, ``\\u202e``), so a listing title cannot clear the screen,
    retitle the window, write the clipboard (OSC 52) or reorder what is shown, and the
    analyst still sees that it was there. The stored text is unchanged."""
    return _TERMINAL_UNSAFE.sub(lambda m: f"\\x{ord(m[0]):02x}" if ord(m[0]) < 0x100 else f"\\u{ord(m[0]):04x}", text)


class SafeConsole(Console):
    """A rich console for scraped content: every string it renders (table cells, titles,
    printed lines) passes through ``terminal_safe``, and none is read as markup unless the
    call says ``markup=True`` (a vendor named ``[/]`` would stop the command; ``[link=...]``
    would plant a link). Styled output is built with ``styled``."""

    def __init__(self, **kwargs: Any):
        super().__init__(markup=False, **kwargs)

    def render_str(self, text: str, **kwargs: Any) -> Text:
        return super().render_str(terminal_safe(text), **kwargs)


def styled(*parts: str | tuple[str, str]) -> Text:
    """A line of literal parts, some styled: ``styled(("error:", "red"), " ", message)``.
    No part is read as markup; every part is ``terminal_safe``."""
    return Text.assemble(*((terminal_safe(p[0]), p[1]) if isinstance(p, tuple) else terminal_safe(p) for p in parts))


def echo_data(text: str) -> None:
    """A command's data on stdout (JSON, CSV, STIX, a report): as it is into a pipe or a
    file, where a tool reads it; through ``terminal_safe`` when a terminal shows it."""
    typer.echo(terminal_safe(text) if _stdout_is_terminal() else text)


def _stdout_is_terminal() -> bool:
    import sys

    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):  # replaced or closed stdout: not a terminal
        return False


console = SafeConsole()
# soft_wrap: an error line stays one line (file:line: where: message), greppable.
err_console = SafeConsole(stderr=True, soft_wrap=True)


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
                    err_console.print(styled(("error", "red"), f" {p}"), highlight=False)
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


def reading_store(ctx: typer.Context) -> Any:
    """The store for a command that reads it (search, histories, exports, reports): a data
    directory without one is an error, not an empty answer (``open_store(must_exist=True)``)."""
    from narcwatch.index import open_store

    st = state(ctx)
    try:
        return open_store(st.config.store, st.data, must_exist=True)
    except (ValueError, OSError) as exc:
        fail(f"cannot open the store: {exc}")


def fail(message: str, code: int = 1) -> NoReturn:
    err_console.print(styled(("error:", "red"), f" {message}"), highlight=False)
    raise typer.Exit(code)


def not_available(area: str) -> NoReturn:
    """Exit 2 for a command whose capability has not landed yet."""
    err_console.print(f"not available yet: {area}", highlight=False)
    raise typer.Exit(2)
