"""Vendor identity across markets, forums and channels: accounts -> links -> actors.

``resolve_store(store, data_dir)`` is the one call most users need: it reads the
accounts, applies the analyst decisions kept in ``identity.sqlite`` and returns the
actors with their links and evidence.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from narcwatch.index.identity.accounts import Account, Sighting, account_id, load_accounts
from narcwatch.index.identity.decisions import Decision, DecisionStore
from narcwatch.index.identity.links import Evidence, Link, WeakModel
from narcwatch.index.identity.resolve import Actor, Resolution, resolve

__all__ = ["Account", "Actor", "Decision", "DecisionStore", "Evidence", "Link", "Resolution", "Sighting",
           "WeakModel", "account_id", "decisions_path", "load_accounts", "resolve", "resolve_store"]


def decisions_path(data_root: str | Path) -> Path:
    return Path(data_root) / "identity.sqlite"


def resolve_store(store: Any, data_root: str | Path | None = None, *, weak: bool = True) -> Resolution:
    """Actors for the accounts in ``store``; analyst decisions from ``data_root`` if given."""
    accounts = load_accounts(store)
    decisions: list[Decision] = []
    if data_root is not None and decisions_path(data_root).exists():
        with DecisionStore(decisions_path(data_root)) as ds:
            decisions = ds.all()
    return resolve(accounts, decisions, weak=weak)
