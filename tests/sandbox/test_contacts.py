"""Messenger names in the world are ones the messenger allows (regression: Cyrillic Telegram names)."""

from __future__ import annotations

import re

import pytest

from narcwatch.sandbox import World

TELEGRAM = re.compile(r"^@[a-z][a-z0-9_]{4,31}$")
WICKR = re.compile(r"^[a-z][a-z0-9_]{2,31}$")


@pytest.mark.parametrize("seed", [1, 2])
def test_messenger_names_are_valid_usernames(seed):
    world = World(seed=seed)
    contacts = [p.contacts for p in world.persons]
    assert any("wickr" in c for c in contacts)
    for c in contacts:
        assert TELEGRAM.match(c["telegram"]), c["telegram"]
        if "wickr" in c:
            assert WICKR.match(c["wickr"]), c["wickr"]
