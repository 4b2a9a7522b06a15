"""What extraction adds to a crawled text: substances, offers, wallets, identifiers.

Every fact keeps its span in the *original* text (``start``/``end`` are offsets into
the string the extractor was given, whatever normalisation happened in between) and a
confidence, so the dashboard can highlight it and an investigator can check it.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "CasNumber",
    "Extraction",
    "Identifier",
    "IdentifierKind",
    "Offer",
    "Place",
    "SubstanceClass",
    "SubstanceMention",
    "Wallet",
]


class _Fact(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = ""
    start: int = Field(ge=0)
    end: int = Field(ge=0)
    confidence: float = Field(default=1.0, ge=0.0, le=1.0)


class SubstanceClass(StrEnum):
    """The one vocabulary of substance classes (README: "Substance classes")."""

    NITAZENE = "nitazene"
    FENTANYL_ANALOGUE = "fentanyl_analogue"
    OTHER_OPIOID = "other_opioid"
    BENZODIAZEPINE = "benzodiazepine"
    STIMULANT = "stimulant"
    CATHINONE = "cathinone"
    SYNTHETIC_CANNABINOID = "synthetic_cannabinoid"
    CANNABIS = "cannabis"
    PSYCHEDELIC = "psychedelic"
    DISSOCIATIVE = "dissociative"
    EMPATHOGEN = "empathogen"
    DEPRESSANT = "depressant"
    PRECURSOR = "precursor"
    PRE_PRECURSOR = "pre_precursor"
    ADULTERANT = "adulterant"
    OTHER = "other"


class SubstanceMention(_Fact):
    canonical: str
    cls: SubstanceClass = Field(alias="class")
    novel: bool = False
    cas: str | None = None
    retroactive: bool = False

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Offer(_Fact):
    """A quantity at a price: one tier of a listing (``5g 180$``)."""

    quantity: Decimal | None = None
    unit: str | None = None  # g, mg, ug, kg, ml, oz, lb, unit (pills, tabs, blotters, pieces)
    purity: Decimal | None = None  # percent
    price: Decimal | None = None
    currency: str | None = None
    usd: Decimal | None = None
    usd_per_unit: Decimal | None = None  # USD per gram for mass units, per piece for units
    rate: Decimal | None = None
    rate_source: str | None = None
    rate_date: date | None = None


class Wallet(_Fact):
    chain: str  # BTC, ETH, XMR, TRX, LTC
    network: str = "mainnet"
    address: str
    kind: str = ""  # p2pkh, p2sh, p2wpkh, p2tr, integrated, subaddress, ...


class IdentifierKind(StrEnum):
    PGP_FINGERPRINT = "pgp_fingerprint"
    PGP_KEY = "pgp_key"
    ONION = "onion"
    TELEGRAM = "telegram"
    SESSION = "session"
    THREEMA = "threema"
    WICKR = "wickr"
    SIGNAL = "signal"
    WIRE = "wire"
    EMAIL = "email"
    XMPP = "xmpp"
    PHONE = "phone"


class Identifier(_Fact):
    kind: IdentifierKind
    value: str


class CasNumber(_Fact):
    value: str


class Place(_Fact):
    """A country (ISO 3166-1 alpha-2) or region code (EU, WW) as the listing states it."""

    code: str
    role: str = ""  # ships_from | ships_to | mention


class Extraction(BaseModel):
    """All facts found in one text. ``narcwatch extract`` prints this as JSON."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    id: str | None = None
    substances: list[SubstanceMention] = Field(default_factory=list)
    offers: list[Offer] = Field(default_factory=list)
    wallets: list[Wallet] = Field(default_factory=list)
    identifiers: list[Identifier] = Field(default_factory=list)
    cas: list[CasNumber] = Field(default_factory=list)
    ships_from: list[str] = Field(default_factory=list)
    ships_to: list[str] = Field(default_factory=list)
    pipeline_version: str = ""

    @property
    def classes(self) -> list[str]:
        return sorted({s.cls.value for s in self.substances})
