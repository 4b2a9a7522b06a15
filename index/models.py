"""What the store derives: change events, alerts.

Change events are produced at ingest, stored, and are the only input alerting reads.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Alert", "AlertStatus", "ChangeEvent", "EventType", "Severity"]


class EventType(StrEnum):
    NEW = "NEW"
    PRICE_CHANGED = "PRICE_CHANGED"
    TEXT_CHANGED = "TEXT_CHANGED"
    REMOVED = "REMOVED"
    REAPPEARED = "REAPPEARED"
    NEW_VENDOR = "NEW_VENDOR"
    VENDOR_NEW_MARKET = "VENDOR_NEW_MARKET"
    IDENTIFIER_FIRST_SEEN = "IDENTIFIER_FIRST_SEEN"
    NOVEL_SUBSTANCE = "NOVEL_SUBSTANCE"
    RETROACTIVE_MATCH = "RETROACTIVE_MATCH"  # a re-extraction found a substance the stored extraction missed


class ChangeEvent(BaseModel):
    """Something changed in the observed world. ``id`` is deterministic: replaying the
    same snapshot produces the same id, so a replay never produces a second event."""

    model_config = ConfigDict(extra="forbid")

    id: str
    type: EventType
    at: datetime
    source: str
    listing_key: str | None = None
    vendor: str | None = None
    capture_id: str = ""
    capture_sha256: str = ""
    details: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def trusted(cls, id: str, type: EventType, at: datetime, source: str, listing_key: str | None,
                vendor: str | None, capture_id: str, capture_sha256: str, details: dict[str, Any]) -> ChangeEvent:
        """An event from values already of their fields' types (change detection builds them
        from validated items), every field given: what ``model_construct`` makes, at a third
        of its cost (it is once per new listing in a bulk load). Tested equal to validation."""
        event = cls.__new__(cls)
        object.__setattr__(event, "__dict__", {
            "id": id, "type": type, "at": at, "source": source, "listing_key": listing_key, "vendor": vendor,
            "capture_id": capture_id, "capture_sha256": capture_sha256, "details": details})
        object.__setattr__(event, "__pydantic_fields_set__", set(_EVENT_FIELDS))
        object.__setattr__(event, "__pydantic_extra__", None)
        object.__setattr__(event, "__pydantic_private__", None)
        return event


_EVENT_FIELDS = tuple(ChangeEvent.model_fields)


class Severity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class AlertStatus(StrEnum):
    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    DISMISSED = "dismissed"


class Alert(BaseModel):
    """A rule matched one or more events (a digest groups several)."""

    model_config = ConfigDict(extra="forbid")

    id: str
    rule_id: str
    rule_name: str
    severity: Severity = Severity.MEDIUM
    created_at: datetime
    event_ids: list[str]
    summary: str
    payload: dict[str, Any] = Field(default_factory=dict)
    status: AlertStatus = AlertStatus.NEW
    status_by: str | None = None
    status_at: datetime | None = None
