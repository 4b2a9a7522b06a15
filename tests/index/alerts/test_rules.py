"""Rules files: shipped defaults load; every mistake is reported with its line."""

from __future__ import annotations

from pathlib import Path

import pytest

from narcwatch.index.alerts.rules import DEFAULT_RULES, RulesError, load_rules, parse_duration


def test_shipped_defaults_load_and_cover_the_issue() -> None:
    rs = load_rules(DEFAULT_RULES)
    assert {r.id for r in rs.rules} == {"new-nitazene-listing", "new-fentanyl-analogue-listing",
                                        "novel-substance-candidate", "precursor-offer", "watched-identifier-seen"}
    assert rs.by_id("watched-identifier-seen").watchlist is not None


GOOD = """\
rules:
  - id: cheap-nitazene-de
    name: Cheap nitazene from DE or NL
    events: [NEW, PRICE_CHANGED]
    filter: 'class:nitazene AND ships_from:(DE OR NL)'
    conditions: ['usd_per_gram < 60']
    severity: high
    notifiers: [hook]
    throttle: {max: 3, per: 1h, by: [vendor]}
    group: {by: [vendor], window: 30m}
  - id: saved
    name: Saved search
    schedule: interval:1h
    filter: 'substance:isotonitazene'
"""


def test_full_rule_parses(tmp_path: Path) -> None:
    p = tmp_path / "r.yaml"
    p.write_text(GOOD)
    rs = load_rules(p, notifier_ids=["hook"])
    r = rs.by_id("cheap-nitazene-de")
    assert r.spec.throttle and r.spec.throttle.per.total_seconds() == 3600
    assert r.spec.group and r.spec.group.window.total_seconds() == 1800
    assert [s.id for s in rs.scheduled] == ["saved"]


# (yaml body, expected line, fragment of the message)
_ERRORS = [
    ("rules:\n  - id: a\n    name: A\n    events: [NEWW]\n", 4, "events.0"),
    ("rules:\n  - id: a\n    name: A\n    events: [NEW]\n    filter: 'class:(nitazene'\n", 5, "syntax error"),
    ("rules:\n  - id: a\n    name: A\n    events: [NEW]\n    conditions:\n      - 'x > 1'\n      - 'price >> 3'\n",
     7, "compares numbers"),
    ("rules:\n  - id: a\n    name: A\n    events: [NEW]\n    notifiers: [nope]\n", 5, "unknown notifier"),
    ("rules:\n  - id: a\n    name: A\n", 2, "needs event types"),
    ("rules:\n  - id: a\n    name: A\n    events: [NEW]\n  - id: a\n    name: B\n    events: [NEW]\n", 5,
     "duplicate rule id"),
    ("rules:\n  - id: a\n    name: A\n    events: [NEW]\n    throttle: {max: 0, per: 1h}\n", 5, "greater than or equal"),
    ("rules:\n  - id: a\n    name: A\n    events: [NEW]\n    group: {by: [vendor], window: soon}\n", 5, "not a duration"),
    ("rules:\n  - id: a\n    name: A\n    events: [NEW]\n    watchlist: nowhere.txt\n", 5, "cannot read watch-list"),
    ("rules:\n  - id: a\n    name: A\n    events: [NEW]\n    colour: red\n", 5, "Extra inputs"),
    ("rules:\n  - id: Bad Id\n    name: A\n    events: [NEW]\n", 2, "should match pattern"),
    ("rules:\n  - id: a\n    name: A\n    schedule: 1h\n", 4, "needs a filter"),
    ("rulez: []\n", 1, "unknown top-level key"),
    ("rules:\n  - id: a\n    name: [unclosed\n", 4, "YAML syntax error"),
]


@pytest.mark.parametrize(("body", "line", "fragment"), _ERRORS, ids=[f[2] for f in _ERRORS])
def test_errors_name_file_and_line(tmp_path: Path, body: str, line: int, fragment: str) -> None:
    p = tmp_path / "rules.yaml"
    p.write_text(body)
    with pytest.raises(RulesError) as exc:
        load_rules(p, notifier_ids=["hook"])
    text = str(exc.value)
    assert fragment in text
    assert f"rules.yaml:{line}" in text, text


def test_every_problem_reported_at_once(tmp_path: Path) -> None:
    p = tmp_path / "rules.yaml"
    p.write_text("rules:\n  - id: a\n    name: A\n    events: [NOPE]\n  - id: b\n    name: B\n    events: [NEW]\n"
                 "    conditions: ['x ~ 1']\n")
    with pytest.raises(RulesError) as exc:
        load_rules(p)
    assert [pr.line for pr in exc.value.problems] == [4, 8]


@pytest.mark.parametrize(("text", "seconds"), [("90s", 90), ("15m", 900), ("1h", 3600), ("30d", 2592000),
                                               ("2w", 1209600), (45, 45)])
def test_durations(text: str | int, seconds: int) -> None:
    assert parse_duration(text).total_seconds() == seconds


@pytest.mark.parametrize("text", ["", "1y", "-1h", "1.5h", "h", "1" * 12 + "s"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_example_rules_load() -> None:
    rs = load_rules(DEFAULT_RULES.with_name("example_rules.yaml"))
    assert len(rs.rules) == 5 and [r.id for r in rs.scheduled] == ["isotonitazene-saved-search"]
