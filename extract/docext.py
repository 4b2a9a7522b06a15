"""The doc extensions every narcwatch component shares, registered once, and ``facts(doc)``.

* ``doc._.nw_facts`` - the ``Extraction`` being built; each component appends to it.
* ``doc._.nw_norm`` - the evasion-normalised text with its map back to raw offsets.
* ``doc._.nw_context`` - per-call context (``capture_date``, ``rates``, ``fields``,
  ``source_kind``, ``text``) or None.

Importing a component module registers them, so a component added on its own to a blank
pipeline (without ``narcwatch_facts_init`` before it) still works.
"""

from __future__ import annotations

from typing import Any

from spacy.tokens import Doc

from narcwatch.extract.models import Extraction

__all__ = ["context", "facts"]

for _name in ("nw_facts", "nw_norm", "nw_context"):
    if not Doc.has_extension(_name):
        Doc.set_extension(_name, default=None)


def facts(doc: Doc) -> Extraction:
    """The doc's ``Extraction``, started here when no ``narcwatch_facts_init`` ran before."""
    current: Extraction | None = doc._.nw_facts
    if current is None:
        current = doc._.nw_facts = Extraction()
    return current


def context(doc: Doc) -> dict[str, Any]:
    """The per-call context, ``{}`` when none was given."""
    ctx = doc._.nw_context
    return ctx if isinstance(ctx, dict) else {}
