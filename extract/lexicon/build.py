"""Build ``substances.json``, the project's substance lexicon, from its two inputs.

Inputs:

* the harm-reduction list ``../shared/data/substances/nps_synonyms_merged_tripsit_psychonautwiki.json``
  (TripSit drugs @83670cb6 and PsychonautWiki journal @8224449a, merged; read in place,
  never copied), which has names and street names but no class, CAS or control status,
  some wrong aliases (``DMT`` under Buspirone) and many ordinary words (``beer``,
  ``green``, ``girl``);
* ``curated.yaml``, the project's own entries (the nitazenes, carfentanil, the fentanyl
  precursors, adulterants, German/Russian/Spanish street names, CAS numbers and
  international control status), which win over the source field by field.

Curation policy (all of it here, so a reviewer sees every decision in one file):
``DROP_CANONICAL`` (not market substances), ``MERGE`` (duplicates under another name),
``DROP_ALIAS`` (ordinary words that would flood the index with false matches),
``AMBIGUOUS`` (slang that is an ordinary word too: kept, but matched only next to an
offer - see ``narcwatch.extract.substances``), ``UPPER_ONLY`` (short codes that are
English words in lower case: ``DOM``, ``MET``), and ``CLASS`` plus ``guess_class`` for
the class of source entries.

Run: ``python -m narcwatch.extract.lexicon.build [--source PATH]``; the output is
committed, and ``tests/extract/test_lexicon.py`` checks it is up to date.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml

from narcwatch.extract.models import SubstanceClass

HERE = Path(__file__).resolve().parent
OUTPUT = HERE / "substances.json"
CURATED = HERE / "curated.yaml"
DEFAULT_SOURCE = HERE.parents[1] / ".." / "shared" / "data" / "substances" / "nps_synonyms_merged_tripsit_psychonautwiki.json"
SOURCE_NAME = "nps_synonyms_merged_tripsit_psychonautwiki.json (TripSit drugs @83670cb6, PsychonautWiki journal @8224449a)"

# Not substances anyone watches on a drug market, or too generic to match on.
DROP_CANONICAL = {
    "Alcohol", "Aspirin", "Ibuprofen", "Naproxen", "Paracetamol", "Caffeine", "Creatine",
    "Tyrosine", "Theanine", "L-Theanine", "Lithium", "Melatonin", "YERBA-MATE", "Ashwagandha",
    "Choline bitartrate", "Citicoline", "Progesterone", "Alpha-GPC", "N-Acetylcysteine",
    "Theobromine", "SAM-e", "Theacrine", "Chloroform", "Diethyl ether", "Halothane",
    "Myristicin", "Cyclizine", "Ronlax", "Nicotine", "Efavirenz", "Dimenhydrinate",
    "Benzydamine", "Naloxone", "2-methyl-2-butanol", "Galantamine", "Aniracetam",
    "Coluracetam", "Fasoracetam", "Nefiracetam", "Oxiracetam", "Piracetam", "Pramiracetam",
    "Phenylpiracetam", "Noopept", "Omberacetam", "Centrophenoxine", "Meclofenoxate",
    "G-130", "Picamilon", "Sulbutiamine", "HUPERZINE-A", "PRL-8-53", "Indapex", "5-HTP", "5-Hydroxytryptophan",
}
# Source canonical -> the canonical it duplicates.
MERGE = {
    "A-PVP": "α-PVP", "A-PHP": "α-PHP", "2-Aminoindane": "2-AI", "5-Hydroxytryptophan": "5-HTP",
    "Librium": "Chlordiazepoxide", "Tilidin": "Tilidine", "Propoxyphene": "Dextropropoxyphene",
    "Nitrous": "N2O", "Mushrooms": "Psilocybin mushrooms", "Dexedrine": "Dextroamphetamine",
    "Vyvanse": "Lisdexamfetamine", "Pseudoephrine": "Pseudoephedrine",
    "Tetrahydrofuran-Fentanyl": "Tetrahydrofuranylfentanyl",
    "Methoxyacetyl-Fentanyl": "Methoxyacetylfentanyl", "Ephylone": "N-Ethylpentylone",
    "Hexen": "N-Ethylhexedrone", "Dehydroxyfluorafinil": "N-Methylbisfluoromodafinil",
    "Sonata": "Zaleplon", "Marinol": "Dronabinol", "2-Fluorodeschloroketamine": "2-FDCK",
}
# (alias, source canonical) pairs that are simply wrong in the source.
WRONG_ALIAS = {
    ("DMT", "Buspirone"), ("Dimethyltryptamine", "Buspirone"), ("Dmitri", "Buspirone"),
    ("Sally", "Salvinorin A"), ("Crack", "Cocaine"), ("Hexen", "N-Ethylhexedrone"),
    ("Drone", "Pentedrone"), ("MPA", "Methiopropamine"), ("Peyote", "Mescaline"),
    ("Adderall", "Amphetamine"), ("Speed", "Methamphetamine"), ("DMT", "DMT"),
    ("Dehydroxyfluorafinil", "N-Methylbisfluoromodafinil"), ("Modafiendz", "N-Methylbisfluoromodafinil"),
    ("Librium", "Chlordiazepoxide"), ("5-HTP", "5-Hydroxytryptophan"), ("N2O", "Nitrous"),
}
# Ordinary words (any language) that the source lists as street names: dropped.
DROP_ALIAS = {
    "beer", "bevvy", "booze", "juice", "sauce", "hooch", "liquor", "moonshine", "ethanol",
    "etoh", "curie", "dot", "san", "sass", "eve", "adam", "eden", "cat", "jeff", "quack",
    "boat", "wet", "zoom", "angel", "dust", "girl", "white", "brown", "green", "tree", "herb",
    "jet", "purple", "morning", "colour", "beautiful", "eternity", "aurora", "tesseract",
    "circles", "buttons", "cactus", "hearts", "rainbows", "jeebs", "nawls", "lambda",
    "generika", "rosy", "bees", "nexus", "aces", "flux", "foxy", "moxy", "toad", "toads",
    "jaguar", "foxtrot", "sherman", "supergrass", "cid", "talis", "dreem", "enzed", "towa",
    "zoly", "lamet", "coffee", "choline", "tryptophan", "nutmeg", "shori", "natem", "chari",
    "blow", "junk", "smack", "dmitry", "dmitri", "zepam", "sopor", "soaper",
    "subs", "tram", "tadol", "hydro", "robo", "syrup", "dex", "sini", "pheno", "hbw", "hbwr",
    "hbmg", "aya", "caapi", "vegetal", "iboga", "ketum", "nangs", "nitro", "nos", "g-130",
    "flak", "jenkem", "dagga", "pea", "mesc", "rize", "rizen", "nordaz", "mirtaz", "axit",
    "avanza", "oikamid", "ksalol", "serotoni", "b-f", "a-f", "vf", "bf", "cpm", "iap", "ip",
    "mal", "mem", "pst", "tpa", "mnt", "kbd", "apap", "neb", "nek", "eph", "iph", "pph",
    "mph", "ept", "det", "dpt", "doe", "doi", "don", "dob", "doc", "dom", "bod", "mda",
    "1,4-b", "mpa", "zyban", "nytol", "talwin", "doral", "restas", "halcion", "sustiva",
    "brown sugar", "tabs", "crank", "lucy", "pingers", "blotter",
    "dormin", "nicare", "nithra", "meilax", "victan", "tantum", "luminal", "cesamet",
    "lectopam", "ceresta", "demetrin", "reapam", "centrac", "centrax", "nobrium", "domar",
    "noctamid", "lustral", "seroxat", "rhythmy", "paxipam", "albego", "limpidon", "paxor",
    "distensan", "veratran", "clozan", "trecalmo", "coaxil", "stablon", "tatinol",
    "temorine", "temurin", "gentravit", "baronite", "nitavan", "nirosun", "somnos",
    "lendormin", "elrodorm", "glimid", "noxyron", "doriden", "raporan", "rudotel",
    "mezapam", "azepamid", "melex", "sedoxil", "pozapam", "prasepine", "prazene",
    "trepidan", "lysanxia", "geroderm", "gerodorm", "catovit", "promotil", "villescon",
    "deracyn", "olmifon", "thiadipone", "tiadipona", "arcalion", "enerion", "sulbut",
    "youvitan", "bisibuthiamine", "cizdol", "addnok", "inxity", "sedekopan", "valtran",
    "tilidate", "lergigan", "stemzine", "phenotil", "buccastem", "levothym", "levotonine",
    "oxyfan", "telesol", "triptum", "cincofarm", "dacepton", "yantil", "zispin",
    "vitamin k", "k2", "attentin", "pills", "tab", "bar", "paste", "base", "strain", "special", "sonata", "lexilium", "generic", "gift",
}
# Street names that are ordinary words too: kept, matched only next to an offer.
AMBIGUOUS = {
    "speed", "ice", "snow", "crystal", "tina", "glass", "shard", "shards", "pep", "tweak",
    "coke", "charlie", "blanca", "coca", "flake", "rock", "rocks", "base", "pot", "grass",
    "herb", "bud", "buds", "trees", "green", "gras", "haze", "shatter", "hemp", "dope",
    "tar", "junk", "acid", "trips", "lucy", "pappe", "mushrooms", "truffles",
    "boomers", "mandy", "emma", "beans", "rolls", "md", "meow", "drone", "bubbles",
    "gravel", "proto", "pyro", "spice", "hexen", "meta", "blues", "lean", "roxy",
    "apache", "china girl", "gift", "ott", "фен", "план", "соль", "марки", "грибы", "трава",
    "kitty", "special k", "hash", "skunk", "kush", "soma", "angel dust", "hearts", "pills",
    "bars", "footballs", "planks", "school bus", "fishscale", "fish scale",
    "perico", "chiva", "caballo", "piedra", "costo", "porro", "maría", "mota", "tachas",
    "tacha", "keta", "ket", "cristal", "hielo", "flowers", "flower", "trim", "wildnil",
    "boomer", "dexedrine", "sativa", "indica", "reefer", "perc", "percs", "oxy", "oxys",
    "oxies", "m30", "m30s", "h3", "h4", "blotters", "blotter", "freebase", "crack",
    "fent", "fenty", "tranq", "iso", "meto", "zombie drug", "elephant tranq", "bupe", "xans", "zannies",
    "ludes", "shrooms", "mcat", "nose candy", "schnee",
}
# Short codes that are English words in lower case: must be written in capitals.
UPPER_ONLY = {
    "DOM", "DOB", "DOC", "DON", "DOI", "MET", "DET", "EPT", "DPT", "PEA", "MAL", "MEM",
    "NEB", "NEP", "NEK", "PST", "AMT", "AET", "BOD", "MDA", "PMA", "MPA", "PCE", "MXE",
    "BZP", "EPH", "IPH", "NEH", "ALD", "BK", "TMA", "DMT", "GHB", "GBL", "LSD", "PCP",
    "PMK", "BMK", "NPP", "ANPP", "DXM", "DCK", "DXE", "THC", "CBD", "LSA", "MPT", "MXM",
    "MDAI", "DPH", "MBDB", "MDEA", "MDE", "MDPV", "XTC", "APAA", "APAAN", "MAPA", "PMMA",
}
# A few lower-case codes are unambiguous enough to match in any case.
ANY_CASE_SHORT = {"ghb", "gbl", "lsd", "dmt", "thc", "cbd", "xtc", "mdma", "mdpv", "dxm", "pcp", "mxe", "bzp", "npp", "pmk", "bmk"}

# Class of source entries that guess_class gets wrong or cannot guess.
CLASS: dict[str, SubstanceClass] = {}
_C = SubstanceClass
for _cls, _names in {
    _C.STIMULANT: ["Adderall", "Amphetamine", "Dextroamphetamine", "Lisdexamfetamine", "Methamphetamine",
                   "Cocaine", "Modafinil", "Armodafinil", "Adrafinil", "Khat", "Phentermine", "Phenmetrazine",
                   "Pemoline", "Methylphenidate", "Dexmethylphenidate", "Ethylphenidate", "Isopropylphenidate",
                   "Propylphenidate", "Desoxypipradrol", "2-DPMP", "D2PM", "Prolintane", "Bromantane",
                   "Fenethylline", "Aminorex", "4,4-DMAR", "4-METHYLAMINOREX", "Propylhexedrine", "DMAA",
                   "Cyclazodone", "Mephtetramine", "Methiopropamine", "Thiopropamine", "Troparil",
                   "Dichloropane", "RTI-111", "Dimethocaine", "Nitracaine", "Amfonelic acid", "Bupropion",
                   "Atomoxetine", "Indapyrophenidone", "Pyrophenidone", "Fluorolintane", "CRL-40-940",
                   "CRL-40-941", "N-Methylbisfluoromodafinil", "Dehydroxyfluorafinil", "Amfecloral",
                   "Isophenmetrazine", "Phenetrazine", "Methylnaphthidate", "HDEP-28", "HDMP-28",
                   "Methylmorphenate", "BZP", "MBZP", "MCPP", "Methoxypiperamide", "Diclofensine",
                   "Homomazindol", "Viloxazine", "Mexamine", "2-FA", "2-FMA", "3-FA", "3-FMA", "4-FA",
                   "4-FMA", "2-FEA", "3-FEA", "4-FEA", "2-MA", "2-PA", "2-PTA", "4-CMA", "3-FPM", "4-FPM",
                   "4-MPM", "4-MPD", "4-Fluoroethylphenidate", "4-Fluoromethylphenidate", "4F-EPH", "4F-MPH",
                   "4-Methylmethylphenidate", "Methamnetamine", "PMA", "PMMA", "4-MTA", "2-AI", "NM-2-AI",
                   "5-IAI", "MDAI", "Phenethylamine", "TH-PVP", "4-Benzylpiperidine", "4-EPD", "EFLEA",
                   "Crack cocaine", "Ephenidine"],
    _C.EMPATHOGEN: ["MDMA", "MDA", "MDEA", "MBDB", "5-APB", "6-APB", "5-MAPB", "6-MAPB", "5-EAPB", "6-EAPB",
                    "5-APDB", "6-APDB", "5-IT", "MDOH", "MDPA", "6-MDDM", "5-MAPDB", "4-CIC", "4-CBC",
                    "Dimemebfe", "5-DBFPV"],
    _C.OTHER_OPIOID: ["Heroin", "Morphine", "Codeine", "Oxycodone", "Hydrocodone", "Oxymorphone", "Hydromorphone",
                      "Methadone", "Buprenorphine", "Tramadol", "O-Desmethyltramadol", "Tapentadol", "Pethidine",
                      "Dihydrocodeine", "Desomorphine", "Ethylmorphine", "Nicomorphine", "Ketobemidone",
                      "Dextromoramide", "Dextropropoxyphene", "Dipipanone", "Pentazocine", "Tilidine",
                      "Isomethadone", "Kratom", "Opium", "AH-7921", "U-47700", "U-49900", "U-51754", "MT-45",
                      "W-15", "Bromadol", "Methiodone", "Morpheridine", "Tianeptine", "2-MPPP", "Apomorphine"],
    _C.DISSOCIATIVE: ["Ketamine", "PCP", "PCE", "MXE", "DXM", "Dextromethorphan", "Memantine", "MK-801",
                      "Methoxetamine", "Deschloroketamine", "Ethketamine", "Methoxyketamine", "O-PCE",
                      "Deoxymethoxetamine", "Diphenidine", "Methoxphenidine", "2-Chloroephenidine",
                      "Rolicyclidine", "Tiletamine", "MXiPr", "MXM", "HXE", "N2O", "2-FDCK",
                      "3-HO-PCE", "3-HO-PCP", "3-MeO-PCE", "3-MeO-PCMO", "3-MeO-PCP", "3-MeO-PCPR",
                      "3-MeO-PCPY", "4-MeO-PCP", "Salvinorin A", "Ibogaine", "Coronaridine"],
    _C.BENZODIAZEPINE: ["Clobazam"],
    _C.DEPRESSANT: ["GHB", "GBL", "1,4-Butanediol", "Phenibut", "F-Phenibut", "Fluorophenibut", "Tolibut",
                    "Baclofen", "GABA", "Gaboxadol", "Gabapentin", "Pregabalin", "Methaqualone",
                    "Methylmethaqualone", "Ethaqualone", "Mebroqualone", "Mephenaqualone", "Afloqualone",
                    "Carisoprodol", "Chloral hydrate", "Chloral betaine", "Clomethiazole", "Ethchlorvynol",
                    "Glutethimide", "Methyprylon", "Zolpidem", "Zopiclone", "Eszopiclone", "Zaleplon",
                    "Etomidate", "Propofol", "Metaxalone", "Cyclobenzaprine", "Kava", "Pagoclone",
                    "Allobarbital", "Amobarbital", "Barbital", "Hexobarbital", "Pentobarbital",
                    "Phenobarbital", "Secobarbital", "Thiopental", "Tuinal", "Diphenhydramine",
                    "Doxylamine", "Hydroxyzine", "Promethazine", "Scopolamine", "Quetiapine",
                    "Rilmazafone", "2M2B", "Poppers", "Clonidine", "Buspirone", "Glaucine"],
    _C.PSYCHEDELIC: ["LSD", "DMT", "Mescaline", "Psilocin", "Psilocybin mushrooms", "Peyote", "Ayahuasca",
                     "Changa", "Truffles", "LSA", "LSZ", "Salvia", "Datura", "YOPO", "Bufotenin", "Aleph",
                     "ALEPH-2", "Escaline", "Allylescaline", "Methallylescaline", "Proscaline",
                     "Isoproscaline", "Cyclopropylmescaline", "Bromo-DragonFLY", "TMA-2", "TMA-6",
                     "Sinicuichi", "MiPLA", "Kanna", "PFBT", "Jenkem", "MET", "BOD", "ALD-52", "1cP-MiPLA",
                     "2,5-DMA", "5-APDI", "5-BPDI", "5-PPDI", "LAE-32", "3,6-DMPM"],
    _C.CANNABIS: ["Cannabis", "Cannabidiol", "Dronabinol"],
    _C.SYNTHETIC_CANNABINOID: ["APICA", "STS-135", "THJ-018", "THJ-2201", "5F-AKB48", "5F-PB-22", "AB-CHMINACA",
                               "AB-FUBINACA", "AM-2201", "JWH-018", "JWH-073"],
    _C.CATHINONE: ["Mephedrone", "Methylone", "Ethylone", "Butylone", "Pentylone", "Dibutylone",
                   "Dimethylone", "Pentedrone", "Hexedrone", "Buphedrone", "Methedrone", "Mexedrone",
                   "Methcathinone", "Ethylcathinone", "ETH-CAT", "Naphyrone", "MDPV", "MDPHP",
                   "4-Fluoropentedrone", "5-Methylethylone", "Cyclo-Methiodrone", "Ethyl-Pentedrone",
                   "NEP", "NEB", "4F-NEB", "PV-8", "PV-9", "PV-10", "4F-PHP", "4F-PVP", "A-PIHP",
                   "α-PBP", "α-PVT", "βk-IVP", "2-MEC", "2-MMC", "2-NMC", "3-MEC", "4-MEC", "4-EMC",
                   "3-FMC", "4-FMC", "3-MeOMC", "N-Ethylhexedrone"],
    _C.OTHER: ["Sildenafil", "Tadalafil", "Acetildenafil", "Homosildenafil", "Aminotadalafil", "Kratom-other",
               "Citalopram", "Escitalopram", "Fluoxetine", "Fluvoxamine", "Paroxetine", "Sertraline",
               "Mirtazapine", "Trazodone", "Moclobemide", "Risperidone", "Haloperidol", "Prochlorperazine",
               "Propranolol", "5-HTP", "Phenazepam-x"],
}.items():
    for _n in _names:
        CLASS[_n] = _cls

_BENZO = re.compile(r"(?:azepam|zolam|azepate|azepine|azepoxide|zepam|azolam|clotiazepam|nifoxipam|bentazepam)$", re.IGNORECASE)
_FENT = re.compile(r"fentan[iy]l", re.IGNORECASE)
_NITAZENE = re.compile(r"nitazen|nitazepyne", re.IGNORECASE)
_SYNTH_CB = re.compile(r"(?:inaca|pica|binaca|jwh-|am-2201|ur-144|xlr-)", re.IGNORECASE)
_PSYCHEDELIC = re.compile(r"(?:lsd|lad|nbome|nboh|nbf|nbmd|^2c-|^3c-|^25|dmt|dipt|mipt|^do[a-z]|dalt|det$|dpt$|"
                          r"mpt$|ept$|^4-ho-|^4-aco-|^5-meo|^amt|αmt|αet|^α?et$|pipt|ept|^1[a-z]*-lsd|lsm|"
                          r"^aleph|mescaline|^hot-|^5-bromo|^2-me-dmt|βh-2c|βk-2c|c30-|^aleph|^tma|^pt$)", re.IGNORECASE)


def guess_class(canonical: str) -> SubstanceClass:
    """The class of a source entry: explicit table first, then name patterns."""
    if canonical in CLASS:
        return CLASS[canonical]
    if _NITAZENE.search(canonical):
        return SubstanceClass.NITAZENE
    if _FENT.search(canonical):
        return SubstanceClass.FENTANYL_ANALOGUE
    if _BENZO.search(canonical) or "phenazepam" in canonical.lower():
        return SubstanceClass.BENZODIAZEPINE
    if _SYNTH_CB.search(canonical):
        return SubstanceClass.SYNTHETIC_CANNABINOID
    if _PSYCHEDELIC.search(canonical):
        return SubstanceClass.PSYCHEDELIC
    return SubstanceClass.OTHER


def _norm_key(name: object) -> str:
    return re.sub(r"\s+", " ", str(name).strip().casefold())


def _droppable(key: str) -> bool:
    """Too short or not a word: "e", "x", "md", "m1", "#4", "vitamin q"."""
    letters = re.sub(r"[^\w]", "", key)
    return (len(letters) <= 2 or not any(c.isalpha() for c in key) or key.startswith("vitamin")
            or re.fullmatch(r"\d+-?[a-z]", key) is not None)  # "25g", "25-i": read as quantities


def _add_alias(entry: dict[str, Any], alias: object) -> None:
    alias = str(alias)
    key = _norm_key(alias)
    if not key or key == _norm_key(entry["canonical"]):
        return
    if key in DROP_ALIAS:
        return
    if _droppable(key):
        return  # "e", "x", "md", "k", "m1", "r2": never a name on their own
    if key in AMBIGUOUS:
        bucket = entry["ambiguous"]
    elif alias.upper() == alias and any(c.isalpha() for c in alias) or alias in UPPER_ONLY:
        bucket = entry["abbreviations"]
    else:
        bucket = entry["synonyms"]
    if all(_norm_key(a) != key for b in ("synonyms", "abbreviations", "ambiguous") for a in entry[b]):
        bucket.append(alias.strip())


def _empty(canonical: str, cls: SubstanceClass) -> dict[str, Any]:
    return {"canonical": canonical, "class": cls.value, "cas": None, "control": None, "synonyms": [],
            "abbreviations": [], "street": {}, "ambiguous": [], "upper_only": [], "sources": []}


def build(source: Path = DEFAULT_SOURCE, curated_path: Path = CURATED) -> list[dict[str, Any]]:
    """The lexicon as a list of plain dicts, sorted by canonical name."""
    entries: dict[str, dict[str, Any]] = {}
    raw = json.loads(Path(source).read_text(encoding="utf-8"))
    for item in raw:
        src_canonical = item["canonical"]
        if src_canonical in DROP_CANONICAL:
            continue
        canonical = MERGE.get(src_canonical, src_canonical)
        entry = entries.setdefault(_norm_key(canonical), _empty(canonical, guess_class(canonical)))
        if "harm-reduction" not in entry["sources"]:
            entry["sources"].append("harm-reduction")
        for name in item["names"]:
            if (name, src_canonical) in WRONG_ALIAS:
                continue
            _add_alias(entry, name)
    curated = yaml.safe_load(Path(curated_path).read_text(encoding="utf-8"))
    for item in curated:
        canonical = item["canonical"]
        key = _norm_key(canonical)
        found = entries.get(key)
        entry = found if found is not None else _empty(canonical, SubstanceClass(item["class"]))
        entries[key] = entry
        entry["canonical"] = canonical
        entry["class"] = SubstanceClass(item["class"]).value
        entry["cas"] = item.get("cas") or entry["cas"]
        entry["control"] = item.get("control") or entry["control"]
        entry["sources"].append("curated")
        for name in item.get("synonyms", []) or []:
            _add_alias(entry, name)
        for name in item.get("abbreviations", []) or []:
            _add_alias(entry, name)
        for lang, names in (item.get("street") or {}).items():
            bucket = entry["street"].setdefault(lang, [])
            for name in map(str, names or []):
                key2 = _norm_key(name)
                if key2 in AMBIGUOUS:
                    _add_alias(entry, name)
                elif key2 not in DROP_ALIAS and all(_norm_key(b) != key2 for b in bucket):
                    bucket.append(name)
        for name in map(str, item.get("ambiguous", []) or []):
            key2 = _norm_key(name)  # curated ambiguous names win over DROP_ALIAS ("brown", "lucy")
            if not any(c.isalpha() for c in key2) or len(re.sub(r"[^\w]", "", key2)) < 2:
                continue
            for field in ("synonyms", "abbreviations"):
                entry[field] = [a for a in entry[field] if _norm_key(a) != key2]
            if all(_norm_key(a) != key2 for a in entry["ambiguous"]):
                entry["ambiguous"].append(name)
    # A name may belong to one entry only: the entry whose canonical it is, else the
    # curated one, else the first; the others lose it.
    owner: dict[str, str] = {}
    for key, entry in entries.items():
        owner[key] = key
    ranked = sorted(entries.items(), key=lambda kv: ("curated" not in kv[1]["sources"], kv[0]))
    for key, entry in ranked:
        for field in ("synonyms", "abbreviations", "ambiguous"):
            kept = []
            for name in entry[field]:
                k = _norm_key(name)
                if owner.setdefault(k, key) == key:
                    kept.append(name)
            entry[field] = kept
        for lang in list(entry["street"]):
            kept = []
            for name in entry["street"][lang]:
                k = _norm_key(name)
                if owner.setdefault(k, key) == key:
                    kept.append(name)
            entry["street"][lang] = kept
    for entry in entries.values():
        entry["upper_only"] = sorted(
            a for a in [entry["canonical"], *entry["abbreviations"]]
            if a.upper() in UPPER_ONLY and _norm_key(a) not in ANY_CASE_SHORT)
        entry["synonyms"].sort(key=str.casefold)
        entry["abbreviations"].sort(key=str.casefold)
        entry["ambiguous"].sort(key=str.casefold)
        entry["street"] = {lang: sorted(v, key=str.casefold) for lang, v in sorted(entry["street"].items()) if v}
    return sorted(entries.values(), key=lambda e: e["canonical"].casefold())


def render(entries: list[dict[str, Any]]) -> str:
    doc = {
        "about": "narcwatch substance lexicon. Generated by extract/lexicon/build.py from "
                 f"{SOURCE_NAME} and extract/lexicon/curated.yaml; edit those, not this file.",
        "entries": entries,
    }
    return json.dumps(doc, ensure_ascii=False, indent=1) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    if not args.source.is_file():
        print(f"source not found: {args.source}", file=sys.stderr)
        return 2
    entries = build(args.source)
    args.output.write_text(render(entries), encoding="utf-8")
    print(f"wrote {len(entries)} entries to {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
