"""kill -9 of ``narcwatch run`` (crawl children, ingest and the alert deliverer all in its
process group) at random moments of a sandbox run with faults on (429s, dropped and
truncated responses), with a real webhook receiver and a real SMTP server (aiosmtpd).

The killed run must converge to the uninterrupted run's store: the same listings, one
snapshot per listing, the same events and the same alerts (compared by what they are
about: event and alert ids embed the crawl id, which differs between runs); each alert
reaches each notifier (receivers count idempotency keys: every key of the outbox, no
other), the spool holds no duplicate, and the evidence archive verifies.
"""

from __future__ import annotations

import importlib.util
import random
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from narcwatch.sandbox import SandboxServer, World
from narcwatch.sandbox.faults import FaultConfig
from tests.index.alerts.smtp_sink import SmtpSink

pytestmark = [pytest.mark.server, pytest.mark.slow, pytest.mark.timeout(900)]

KILLS = 6


def _runner() -> ModuleType:
    name = "narcwatch_tests_daemon_kill"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("_daemon_kill.py"))
        assert spec and spec.loader
        sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[name])
    return sys.modules[name]


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(World(seed=9, size=50), FaultConfig.parse(_runner().FAULTS)) as server:
        yield server


def test_kill_9_daemon_converges_to_the_uninterrupted_run(sandbox: SandboxServer, tmp_path: Path) -> None:
    runner = _runner()
    smtp = SmtpSink("plain").start()
    try:
        (tmp_path / "ref").mkdir()
        (tmp_path / "killed").mkdir()
        ref = runner.run(sandbox, tmp_path / "ref", kills=0, rng=random.Random(1), smtp=smtp)
        # Kills land within the first quarter of an uninterrupted run's time, so on a fast (idle)
        # machine as on a loaded one several of them hit a run in progress.
        window = (0.3, max(1.0, ref.seconds / 4))
        got = runner.run(sandbox, tmp_path / "killed", kills=KILLS, rng=random.Random(2), smtp=smtp,
                         kill_window=window)
    finally:
        smtp.stop()
    assert ref.listings and ref.alerts and ref.snapshots == len(ref.listings)
    assert got.kills >= 3, f"only {got.kills} kills landed before the run finished"
    assert got.listings == ref.listings  # nothing lost, nothing invented
    assert got.snapshots == ref.snapshots  # nothing twice
    assert got.events == ref.events
    assert got.alerts == ref.alerts
    assert len(set(got.alert_ids)) == len(got.alert_ids)
    assert ref.hook_keys_ok and ref.mail_ids_ok
    assert got.hook_keys_ok and got.mail_ids_ok  # every alert to each notifier, nothing unknown
    assert got.spool_duplicates == 0
    assert ref.evidence_ok and got.evidence_ok, got.notes
