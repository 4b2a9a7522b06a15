"""Alert rules: the YAML model, loading with line-numbered errors, compiled rules.

A rules file is a mapping with a ``rules`` list (a bare list is accepted too)::

    rules:
      - id: new-nitazene                 # [a-z0-9][a-z0-9_-]*, unique
        name: New nitazene listing
        events: [NEW, REAPPEARED]        # EventType names; required unless ``schedule``
        filter: 'class:nitazene AND ships_from:(DE OR NL)'   # query language
        conditions: ['price_drop_pct > 30']                   # see conditions.py
        severity: critical               # low | medium | high | critical
        notifiers: [analysts-webhook]    # config notifier ids; omitted = all configured
        watchlist: {file: wallets.txt, kind: wallet}         # or just: wallets.txt
        ignore_substances: watchlists/bulk_solvents.txt       # or a list; see masking.py
        throttle: {max: 10, per: 1h, by: [vendor]}
        group: {by: [vendor], window: 1h, leading: true}
        schedule: 1h                     # saved search: re-run ``filter`` on the index

Every problem in a file is reported at once as ``file:line: where: message``.

A relative watch-list path is read next to the rules file; when it is not there, the
shipped file of that name is used (``watchlists/bulk_solvents.txt`` next to
``default_rules.yaml``), so a copied defaults file works before its lists are copied.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from narcwatch.crawler.yamlsource import LocatedYaml, Problem, load_located, problems_from_validation
from narcwatch.index.alerts.conditions import Condition, ConditionError, parse_condition
from narcwatch.index.alerts.filters import Filter, FilterError, compile_filter
from narcwatch.index.alerts.masking import SubstanceMask
from narcwatch.index.alerts.watchlists import Watchlist, WatchlistError, WatchKind, load_watchlist
from narcwatch.index.models import EventType, Severity

__all__ = [
    "CompiledRule",
    "DEFAULT_RULES",
    "Grouping",
    "RuleSpec",
    "RuleSet",
    "RulesError",
    "Throttle",
    "WatchlistRef",
    "load_rules",
    "parse_duration",
]

DEFAULT_RULES = Path(__file__).with_name("default_rules.yaml")
_DURATION = re.compile(r"^\s*(\d{1,9})\s*([smhdw])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str | int) -> timedelta:
    """``90s``, ``15m``, ``1h``, ``30d``, ``2w`` (or plain seconds) as a timedelta."""
    if isinstance(text, int) and not isinstance(text, bool) and text >= 0:
        return timedelta(seconds=text)
    m = _DURATION.match(str(text))
    if not m:
        raise ValueError(f"not a duration: {text!r} (use e.g. 90s, 15m, 1h, 30d, 2w)")
    return timedelta(seconds=int(m.group(1)) * _UNITS[m.group(2)])


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _duration_field(v: Any) -> timedelta:
    if isinstance(v, timedelta):
        return v
    d = parse_duration(v)
    if d.total_seconds() <= 0:
        raise ValueError("duration must be positive")
    return d


class Throttle(_Spec):
    """At most ``max`` alerts per ``per`` window per key (values of ``by`` fields)."""

    max: int = Field(ge=1)
    per: timedelta
    by: list[str] = Field(default_factory=list)

    _per = field_validator("per", mode="before")(_duration_field)


class Grouping(_Spec):
    """Matches sharing the ``by`` values within ``window`` become one digest alert.

    With ``leading`` (default) the first match alerts at once and the rest of the window
    arrives as one digest when it closes; without, one alert when the window closes.
    """

    by: list[str] = Field(min_length=1)
    window: timedelta
    leading: bool = True
    max_items: int = Field(default=200, ge=1, le=10_000)

    _window = field_validator("window", mode="before")(_duration_field)


class WatchlistRef(_Spec):
    file: Path
    kind: WatchKind = WatchKind.ANY
    fields: list[str] = Field(default_factory=list)


_DEFAULT_WATCH_FIELDS: dict[WatchKind, list[str]] = {
    WatchKind.WALLET: ["value", "address", "wallet", "wallets", "identifiers"],
    WatchKind.PGP: ["value", "pgp_fingerprint", "pgp_fingerprints", "identifiers"],
    WatchKind.HANDLE: ["value", "vendor", "handle", "author", "identifiers"],
    WatchKind.SUBSTANCE: ["substance", "substances", "canonical"],
    WatchKind.ANY: ["value", "address", "wallets", "identifiers", "vendor", "handle", "substance", "substances"],
}


class RuleSpec(_Spec):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")
    name: str = Field(min_length=1, max_length=200)
    description: str = ""
    enabled: bool = True
    events: list[EventType] = Field(default_factory=list)
    filter: str | None = None
    conditions: list[str] = Field(default_factory=list)
    severity: Severity = Severity.MEDIUM
    notifiers: list[str] | None = None
    watchlist: WatchlistRef | None = None
    # Substances this rule does not see (bulk solvents for the precursor rule): a
    # substance watch-list file, or the names inline.
    ignore_substances: Path | list[str] | None = None
    throttle: Throttle | None = None
    group: Grouping | None = None
    schedule: timedelta | None = None

    @field_validator("watchlist", mode="before")
    @classmethod
    def _watch_short(cls, v: Any) -> Any:
        return {"file": v} if isinstance(v, str) else v

    @field_validator("schedule", mode="before")
    @classmethod
    def _sched(cls, v: Any) -> Any:
        if isinstance(v, str) and v.startswith("interval:"):
            v = v.removeprefix("interval:")
        return None if v is None else _duration_field(v)


@dataclass
class CompiledRule:
    spec: RuleSpec
    filter: Filter
    conditions: list[Condition]
    watchlist: Watchlist | None = None
    watch_fields: list[str] = field(default_factory=list)
    mask: SubstanceMask | None = None

    @property
    def id(self) -> str:
        return self.spec.id


@dataclass
class RuleSet:
    rules: list[CompiledRule]
    files: list[str] = field(default_factory=list)

    def by_id(self, rule_id: str) -> CompiledRule:
        for r in self.rules:
            if r.id == rule_id:
                return r
        raise KeyError(f"unknown rule {rule_id!r}; known: {', '.join(r.id for r in self.rules) or '(none)'}")

    def for_event(self, etype: EventType) -> list[CompiledRule]:
        return [r for r in self.rules if r.spec.enabled and etype in r.spec.events]

    @property
    def scheduled(self) -> list[CompiledRule]:
        return [r for r in self.rules if r.spec.enabled and r.spec.schedule is not None]

    def __add__(self, other: "RuleSet") -> "RuleSet":
        return RuleSet(self.rules + other.rules, self.files + other.files)


class RulesError(Exception):
    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def _resolve(base: Path, path: Path) -> Path:
    if path.is_absolute():
        return path
    local = base / path
    shipped = DEFAULT_RULES.parent / path
    return shipped if not local.exists() and shipped.is_file() else local


def _compile(doc: LocatedYaml, i: int, spec: RuleSpec, base: Path, notifier_ids: list[str] | None,
             problems: list[Problem]) -> CompiledRule | None:
    def problem(path: tuple[str | int, ...], message: str, value: Any = None, choices: tuple[str, ...] = ()) -> None:
        full = ("rules", i, *path) if doc.data and isinstance(doc.data, dict) else (i, *path)
        problems.append(Problem(doc.file, doc.line_of(full), ".".join(str(p) for p in ("rules", i, *path)),
                                message, value, choices))

    before = len(problems)
    if not spec.events and spec.schedule is None:
        problem(("events",), "a rule needs event types to listen to, or a schedule",
                choices=tuple(e.value for e in EventType))
    flt: Filter | None = None
    try:
        flt = compile_filter(spec.filter)
    except FilterError as exc:
        problem(("filter",), str(exc))
    if spec.schedule is not None and (spec.filter is None or not spec.filter.strip()):
        problem(("schedule",), "a scheduled rule (saved search) needs a filter")
    conds: list[Condition] = []
    for j, text in enumerate(spec.conditions):
        try:
            conds.append(parse_condition(text))
        except ConditionError as exc:
            problem(("conditions", j), str(exc), text)
    if notifier_ids is not None and spec.notifiers is not None:
        for j, nid in enumerate(spec.notifiers):
            if nid not in notifier_ids:
                problem(("notifiers", j), "unknown notifier", nid, tuple(notifier_ids) or ("(none configured)",))
    wl: Watchlist | None = None
    fields: list[str] = []
    if spec.watchlist is not None:
        path = _resolve(base, spec.watchlist.file)
        try:
            wl = load_watchlist(path, spec.watchlist.kind)
        except WatchlistError as exc:
            problem(("watchlist",), str(exc))
        fields = spec.watchlist.fields or _DEFAULT_WATCH_FIELDS[spec.watchlist.kind]
    mask: SubstanceMask | None = None
    ignore = spec.ignore_substances
    if isinstance(ignore, list):
        mask = SubstanceMask.of(ignore)
    elif ignore is not None:
        path = _resolve(base, ignore)
        try:
            mask = SubstanceMask.from_watchlist(load_watchlist(path, WatchKind.SUBSTANCE))
        except WatchlistError as exc:
            problem(("ignore_substances",), str(exc))
    if len(problems) > before or flt is None:
        return None
    return CompiledRule(spec, flt, conds, wl, fields, mask)


def load_rules(path: str | Path, notifier_ids: list[str] | None = None) -> RuleSet:
    """Load and compile a rules file; raises ``RulesError`` listing every problem with its line.

    ``notifier_ids`` are the configured notifiers; when given, unknown ids are errors.
    """
    try:
        doc = load_located(path)
    except (ValueError, OSError) as exc:
        raise RulesError([Problem(str(path), None, "(file)", str(exc))]) from None
    data = doc.data
    items = data.get("rules") if isinstance(data, dict) else data
    if isinstance(data, dict) and set(data) - {"rules"}:
        extra = sorted(set(map(str, data)) - {"rules"})
        raise RulesError([Problem(doc.file, doc.line_of((extra[0],)), extra[0], "unknown top-level key",
                                  choices=("rules",))])
    if not isinstance(items, list):
        raise RulesError([Problem(doc.file, 1, "(top level)", "a rules file holds a list under 'rules:'")])
    prefix: tuple[str | int, ...] = ("rules",) if isinstance(data, dict) else ()
    problems: list[Problem] = []
    compiled: list[CompiledRule] = []
    seen: dict[str, int] = {}
    base = Path(path).resolve().parent
    for i, raw in enumerate(items):
        if not isinstance(raw, dict):
            problems.append(Problem(doc.file, doc.line_of(prefix + (i,)), f"rules.{i}", "a rule is a mapping"))
            continue
        try:
            spec = RuleSpec(**raw)
        except ValidationError as exc:
            probs = problems_from_validation(doc, exc.errors(), prefix + (i,))
            problems += [Problem(p.file, p.line, "rules." + p.where.removeprefix("rules."), p.message, p.value,
                                 p.choices) for p in probs]
            continue
        if spec.id in seen:
            problems.append(Problem(doc.file, doc.line_of(prefix + (i, "id")), f"rules.{i}.id",
                                    f"duplicate rule id (first at rules.{seen[spec.id]})", spec.id))
            continue
        seen[spec.id] = i
        rule = _compile(doc, i, spec, base, notifier_ids, problems)
        if rule is not None:
            compiled.append(rule)
    if problems:
        raise RulesError(problems)
    return RuleSet(compiled, [doc.file])


def load_rule_files(paths: list[Path], notifier_ids: list[str] | None = None) -> RuleSet:
    """Several files as one set; rule ids must be unique across them."""
    out = RuleSet([], [])
    problems: list[Problem] = []
    first: dict[str, str] = {}
    for p in paths:
        try:
            rs = load_rules(p, notifier_ids)
        except RulesError as exc:
            problems += exc.problems
            continue
        for r in rs.rules:
            if r.id in first:
                problems.append(Problem(str(p), None, r.id, f"rule id already defined in {first[r.id]}"))
            first.setdefault(r.id, str(p))
        out = out + rs
    if problems:
        raise RulesError(problems)
    return out
