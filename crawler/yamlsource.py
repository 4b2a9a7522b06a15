"""YAML loading that remembers where every value came from.

Configuration and profile errors must name the file and line of the bad value; plain
``yaml.safe_load`` forgets positions, so we compose the node tree once and keep a map
from each value's path (``("sources", 2, "network")``) to its line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

__all__ = ["LocatedYaml", "Problem", "load_located", "problems_from_validation"]

PathKey = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    """One error a user must fix, where it is, and what would have been valid."""

    file: str
    line: int | None
    where: str
    message: str
    value: Any = None
    choices: tuple[str, ...] = ()

    def __str__(self) -> str:
        loc = f"{self.file}:{self.line}" if self.line else self.file
        text = f"{loc}: {self.where}: {self.message}"
        if self.value is not None:
            text += f" (got {self.value!r})"
        if self.choices:
            text += f"; valid: {', '.join(self.choices)}"
        return text


@dataclass
class LocatedYaml:
    file: str
    data: Any
    lines: dict[PathKey, int] = field(default_factory=dict)

    def line_of(self, path: PathKey) -> int | None:
        """Line of ``path`` or of its nearest ancestor that has one."""
        while True:
            if path in self.lines:
                return self.lines[path]
            if not path:
                return None
            path = path[:-1]


def _walk(node: yaml.Node, path: PathKey, lines: dict[PathKey, int]) -> None:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            lines[path + (key,)] = key_node.start_mark.line + 1
            _walk(value_node, path + (key,), lines)
            lines[path + (key,)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, path + (i,), lines)


def load_located(path: str | Path) -> LocatedYaml:
    """Parse a YAML file; raises ``ValueError`` with file:line on a syntax error."""
    text = Path(path).read_text(encoding="utf-8")
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark else None
        raise ValueError(f"{path}:{line}: YAML syntax error: {exc.problem}") from exc
    lines: dict[PathKey, int] = {}
    if node is not None:
        _walk(node, (), lines)
    return LocatedYaml(str(path), data, lines)


def _choices(err: dict[str, Any]) -> tuple[str, ...]:
    ctx = err.get("ctx") or {}
    expected = ctx.get("expected")
    if isinstance(expected, str):
        return tuple(part.strip(" '") for part in expected.replace(" or ", ",").split(",") if part.strip(" '"))
    return ()


def problems_from_validation(doc: LocatedYaml, errors: list[dict[str, Any]], prefix: PathKey = ()) -> list[Problem]:
    """Turn pydantic ``ValidationError.errors()`` into located problems."""
    out: list[Problem] = []
    for err in errors:
        loc = prefix + tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        where = ".".join(str(p) for p in loc) or "(top level)"
        value = err.get("input") if err["type"] != "missing" else None
        if isinstance(value, (dict, list)):
            value = None
        out.append(Problem(doc.file, doc.line_of(loc), where, err["msg"], value, _choices(err)))
    return out
