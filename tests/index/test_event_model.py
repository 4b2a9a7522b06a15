"""``ChangeEvent.trusted`` (change detection's fast constructor) makes the same event
validation does, in every way a caller can look at one."""

from __future__ import annotations

import pickle
from datetime import datetime, timezone

from narcwatch.index.models import ChangeEvent, EventType


def test_a_trusted_event_is_the_validated_event() -> None:
    values = {"id": "e1", "type": EventType.PRICE_CHANGED, "at": datetime(2026, 11, 2, 10, tzinfo=timezone.utc),
              "source": "alpha", "listing_key": "alpha:1", "vendor": "DrGreen", "capture_id": "cap",
              "capture_sha256": "ab" * 32, "details": {"old_price": "200", "new_price": "180"}}
    fast, checked = ChangeEvent.trusted(**values), ChangeEvent.model_validate(values)
    assert fast == checked and type(fast) is ChangeEvent
    assert fast.model_dump() == checked.model_dump() and fast.model_dump_json() == checked.model_dump_json()
    assert fast.model_fields_set == checked.model_fields_set == set(ChangeEvent.model_fields)
    assert pickle.loads(pickle.dumps(fast)) == checked
    assert fast.model_copy(update={"vendor": None}).vendor is None and fast.vendor == "DrGreen"
    assert repr(fast) == repr(checked)
