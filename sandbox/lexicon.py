"""What the sandbox sells: substances with their class, market categories, surface names
(English market slang and Russian street names), units, typical prices and purities.

Canonical names are the ones a lexicon would use; ``SubstanceClass`` values are the
strings of ``extract.models.SubstanceClass`` (kept as plain strings here: the sandbox
must not import the product it tests). Prices are rough retail ranges in USD per unit
seen in public market research datasets (Dream 2017, Agora 2014 listings in
``shared/data/markets``); CAS numbers are the published registry numbers.
Names, prices and slang only: nothing here says how to make or use anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["CATEGORIES", "CATEGORY_SLOTS", "CLASSES", "PRECURSOR_CHEMICALS", "SUBSTANCES", "Substance", "by_name"]

# The vocabulary of extract.models.SubstanceClass (checked by a test, not imported).
CLASSES = frozenset({
    "nitazene", "fentanyl_analogue", "other_opioid", "benzodiazepine", "stimulant", "cathinone",
    "synthetic_cannabinoid", "cannabis", "psychedelic", "dissociative", "empathogen", "depressant",
    "precursor", "pre_precursor", "adulterant", "other",
})


@dataclass(frozen=True)
class Substance:
    canonical: str
    cls: str
    category: str
    names: tuple[str, ...]  # English surface names, first is the plain one
    ru: tuple[str, ...] = ()  # Russian surface names
    unit: str = "g"  # g or unit (pills, tabs, blotters)
    usd: tuple[float, float] = (10.0, 20.0)  # per g / per unit, retail at 1 unit
    purity: tuple[int, int] | None = None  # percent range shown in titles, None = not stated
    forms: tuple[str, ...] = ()  # e.g. "crystal", "pills 2mg"
    cas: str | None = None


SUBSTANCES: tuple[Substance, ...] = (
    Substance("cannabis", "cannabis", "cannabis", ("weed", "bud", "OG Kush", "Amnesia Haze", "Gorilla Glue #4", "White Widow"),
              ("шишки", "бошки", "трава"), "g", (6, 12), None, ("indoor", "outdoor", "top shelf")),
    Substance("hashish", "cannabis", "cannabis", ("hash", "hashish", "Moroccan hash", "dry sift"), ("гашиш", "твёрдый"), "g", (7, 14)),
    Substance("cocaine", "stimulant", "stimulants", ("cocaine", "coke", "cocaina", "flake", "Colombian fishscale"),
              ("кокаин", "кокс", "снег"), "g", (55, 120), (70, 95), ("uncut", "rock", "powder")),
    Substance("methamphetamine", "stimulant", "stimulants", ("meth", "crystal meth", "ice", "tina"),
              ("мет", "первитин", "лёд"), "g", (20, 60), (85, 99), ("shards", "crystal")),
    Substance("amphetamine", "stimulant", "stimulants", ("speed", "amphetamine", "amph paste", "pep"),
              ("амф", "фен", "амфетамин"), "g", (8, 20), (40, 80), ("paste", "powder")),
    Substance("MDMA", "empathogen", "ecstasy", ("MDMA", "mdma crystal", "molly", "champagne MDMA"),
              ("мдма", "экстази", "кристаллы мдма"), "g", (25, 45), (80, 90), ("crystal", "rocks")),
    Substance("MDMA", "empathogen", "ecstasy", ("xtc pills", "ecstasy pills", "Blue Punisher pills", "Tesla pills"),
              ("экстази", "таблы", "колёса"), "unit", (5, 12), None, ("250mg", "300mg")),
    Substance("3-MMC", "cathinone", "cathinones", ("3-MMC", "3mmc", "3-methylmethcathinone"), ("3-ммк",), "g", (12, 25), (98, 99)),
    Substance("mephedrone", "cathinone", "cathinones", ("mephedrone", "4-MMC", "meow meow", "m-cat"),
              ("меф", "мефедрон", "мяу"), "g", (12, 30), (95, 99), ("crystal", "powder")),
    Substance("alpha-PVP", "cathinone", "cathinones", ("a-PVP", "alpha-PVP", "flakka"), ("соль", "альфа", "ск"), "g", (15, 35), (95, 99)),
    Substance("alprazolam", "benzodiazepine", "benzos", ("Xanax", "xanax bars", "alprazolam 2mg", "xannies"),
              ("алпразолам", "ксанакс"), "unit", (2, 5), None, ("2mg bars", "1mg")),
    Substance("bromazolam", "benzodiazepine", "benzos", ("bromazolam", "bromazolam pellets"), ("бромазолам",), "unit", (1, 3), None, ("1mg",)),
    Substance("diazepam", "benzodiazepine", "benzos", ("Valium", "diazepam 10mg"), ("диазепам",), "unit", (1, 2), None, ("10mg",)),
    Substance("oxycodone", "other_opioid", "opioids", ("oxycodone", "Oxy 80", "OC 80", "oxycontin", "Roxy 30"),
              ("оксикодон",), "unit", (20, 45), None, ("80mg", "30mg")),
    Substance("heroin", "other_opioid", "opioids", ("heroin", "brown", "H #3", "dope"), ("герыч", "героин", "хмурый"), "g", (40, 110), (40, 70)),
    Substance("fentanyl", "fentanyl_analogue", "fentanyl", ("fentanyl", "fent", "fenty", "china white", "M30 blues"),
              ("фентанил", "фен-т"), "g", (60, 150), (40, 98)),
    Substance("carfentanil", "fentanyl_analogue", "fentanyl", ("carfentanil", "carfent", "C-fent"), ("карфентанил",), "g", (150, 400), (95, 99)),
    Substance("acetylfentanyl", "fentanyl_analogue", "fentanyl", ("acetylfentanyl", "acetyl fentanyl", "acetyl-F"), ("ацетилфентанил",), "g", (60, 140), (95, 99)),
    Substance("isotonitazene", "nitazene", "nitazenes", ("isotonitazene", "iso", "isotonitazene HCl"), ("изотонитазен",), "g", (120, 300), (98, 99)),
    Substance("protonitazene", "nitazene", "nitazenes", ("protonitazene", "proto", "protonitazene HCl"), ("протонитазен",), "g", (120, 300), (98, 99)),
    Substance("metonitazene", "nitazene", "nitazenes", ("metonitazene", "meto", "metonitazene HCl"), ("метонитазен",), "g", (120, 280), (98, 99)),
    Substance("N-pyrrolidino etonitazene", "nitazene", "nitazenes", ("N-pyrrolidino etonitazene", "etonitazepyne", "pyro", "N-pyrrolidino-etonitazene"),
              ("этонитазепин",), "g", (150, 350), (98, 99)),
    Substance("xylazine", "adulterant", "opioids", ("xylazine", "tranq", "xylazine powder"), ("ксилазин",), "g", (5, 15), (98, 99)),
    Substance("LSD", "psychedelic", "psychedelics", ("LSD", "acid tabs", "LSD blotters", "Lucy"), ("марки", "лсд", "кислота"), "unit", (6, 12), None, ("150ug", "200ug")),
    Substance("psilocybin mushrooms", "psychedelic", "psychedelics", ("magic mushrooms", "shrooms", "golden teacher"), ("грибы",), "g", (8, 15)),
    Substance("ketamine", "dissociative", "dissociatives", ("ketamine", "ket", "special K", "ket shards"), ("кетамин", "кет"), "g", (20, 45), (95, 99), ("shards", "powder")),
    Substance("NPP", "precursor", "chemicals", ("NPP", "N-phenethyl-4-piperidone"), ("НПП",), "g", (2, 8), (99, 99), cas="39742-60-4"),
    Substance("4-ANPP", "precursor", "chemicals", ("4-ANPP", "despropionyl fentanyl"), ("4-АНПП",), "g", (3, 9), (99, 99), cas="21409-26-7"),
    Substance("1-boc-4-piperidone", "pre_precursor", "chemicals", ("1-boc-4-piperidone", "N-Boc-4-piperidone"), (), "g", (1, 4), (99, 99), cas="79099-07-3"),
)

CATEGORIES: dict[str, str] = {
    "cannabis": "Cannabis & Hash", "stimulants": "Stimulants", "ecstasy": "Ecstasy", "cathinones": "Cathinones (RC)",
    "benzos": "Benzodiazepines", "opioids": "Opioids", "fentanyl": "Fentanyl & Analogues", "nitazenes": "Research Opioids",
    "psychedelics": "Psychedelics", "dissociatives": "Dissociatives", "chemicals": "Chemicals",
}
CATEGORIES_RU: dict[str, str] = {
    "cannabis": "Шишки и гашиш", "stimulants": "Стимуляторы", "ecstasy": "Экстази", "cathinones": "Соли и мефедрон",
    "benzos": "Бензодиазепины", "opioids": "Опиаты", "fentanyl": "Фентанил", "nitazenes": "Нитазены",
    "psychedelics": "Психоделики", "dissociatives": "Диссоциативы", "chemicals": "Химия",
}

# Slots per block of 100 listings: realistic shares (cannabis and cocaine dominate public
# market datasets; fentanyl analogues and nitazenes are few but are what users watch).
CATEGORY_SLOTS: dict[str, int] = {
    "cannabis": 30, "stimulants": 24, "ecstasy": 10, "cathinones": 6, "benzos": 8, "opioids": 7,
    "fentanyl": 4, "nitazenes": 3, "psychedelics": 4, "dissociatives": 3, "chemicals": 1,
}
assert sum(CATEGORY_SLOTS.values()) == 100


@dataclass(frozen=True)
class Chemical:
    """A precursor-shop catalogue entry (B2B chemical supplier style)."""

    canonical: str
    cls: str
    names: tuple[str, ...]
    cas: str
    usd_per_kg: tuple[int, int]
    purity: int = 99
    aliases: tuple[str, ...] = field(default=())


PRECURSOR_CHEMICALS: tuple[Chemical, ...] = (
    Chemical("NPP", "precursor", ("N-Phenethyl-4-piperidone", "NPP"), "39742-60-4", (900, 2500)),
    Chemical("4-ANPP", "precursor", ("4-Anilino-N-phenethylpiperidine", "4-ANPP"), "21409-26-7", (1500, 4000)),
    Chemical("1-boc-4-piperidone", "pre_precursor", ("1-Boc-4-piperidone", "tert-Butyl 4-oxopiperidine-1-carboxylate"), "79099-07-3", (300, 900)),
    Chemical("4-piperidone", "pre_precursor", ("4-Piperidone monohydrate hydrochloride", "4-Piperidone HCl H2O"), "40064-34-4", (250, 700)),
    Chemical("norfentanyl", "precursor", ("Norfentanyl",), "1609-66-1", (2000, 5000)),
    Chemical("PMK glycidate", "precursor", ("PMK ethyl glycidate", "New PMK powder"), "28578-16-7", (400, 1200)),
    Chemical("BMK glycidate", "precursor", ("BMK methyl glycidate", "New BMK powder"), "80532-66-7", (350, 1000)),
    Chemical("2-bromo-4'-methylpropiophenone", "precursor", ("2-Bromo-4'-methylpropiophenone", "2B4M"), "1451-82-7", (200, 600)),
    Chemical("acetone", "other", ("Acetone",), "67-64-1", (5, 20)),
    Chemical("isopropanol", "other", ("Isopropyl alcohol",), "67-63-0", (5, 20)),
    Chemical("toluene", "other", ("Toluene",), "108-88-3", (6, 25)),
)


def by_name(canonical: str) -> list[Substance]:
    return [s for s in SUBSTANCES if s.canonical == canonical]
