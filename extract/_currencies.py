"""Currency surfaces: how prices name their currency, mapped to one code each.

Data, not logic. Sources:

* ISO 4217 currency codes (SIX Group, the ISO 4217 maintenance agency, list one);
* symbols and local abbreviations as the Unicode CLDR lists them (``common/main/*.xml``,
  ``<symbol>`` and ``<symbol alt="narrow">``), checked against the strings in
  price-parser's test table (scrapinghub/price-parser, BSD-3) - the table this module is
  measured on (tests/extract/test_money.py);
* crypto tickers as exchanges quote them (BTC/XBT, XMR, ETH, LTC, USDT with its TRC20 and
  ERC20 variants) and the forms market listings use ("btc", "bitcoins", "mBTC", "sats").

``FIAT`` and ``CRYPTO`` map a code to the surfaces that unambiguously mean it. A surface
that several currencies use (``$``, ``kr``, ``R``, ``L``) is resolved by ``AMBIGUOUS`` to
the currency a drug-market page most likely means; the choice is documented per entry.
Lookups are case-insensitive (``casefold``) except for the entries in ``CASE_SENSITIVE``,
whose lower-case forms are ordinary words or units (``m`` metre, ``g`` gram).

``SUBUNITS`` are surfaces whose amount must be scaled to the main unit (``mBTC``,
``sats``); the scale is exact (Decimal strings).
"""

from __future__ import annotations

__all__ = ["AMBIGUOUS", "CASE_SENSITIVE", "CRYPTO", "FIAT", "FIAT_MORE", "ISO_CODES_ONLY", "PREFIX_SYMBOLS", "SUBUNITS"]

# code -> surfaces (the code itself is always a surface too).
FIAT: dict[str, tuple[str, ...]] = {
    "USD": ("$", "US$", "US $", "U$S", "USD$", "dollar", "dollars", "usd", "бакс", "баксов", "долл", "долл.", "доллар", "долларов", "dólar", "dólares"),
    "EUR": ("€", "eur", "euro", "euros", "евро", "EUR€"),
    "GBP": ("£", "￡", "₤", "gbp", "pound", "pounds", "stg", "GBp", "quid"),
    "RUB": ("₽", "руб", "руб.", "рублей", "рубля", "рубль", "р.", "р", "Р", "Rbl", "RUR", "rub", "rubles", "roubles"),
    "UAH": ("₴", "грн", "грн.", "гривен", "гривна", "hrn", "hryvnia"),
    "BYN": ("Br", "бел. руб.", "BYR"),
    "KZT": ("₸", "тг", "тенге"),
    "CHF": ("SFr", "SFr.", "Fr.", "CHf", "franken"),
    "AUD": ("A$", "AU$", "AU $", "AUD$"),
    "CAD": ("C$", "CA$", "CAD$", "CAN$", "CND"),
    "NZD": ("NZ$",),
    "MXN": ("MX$", "Mex$"),
    "BRL": ("R$",),
    "ARS": ("AR$",),
    "CLP": ("CLP$",),
    "COP": ("COL$",),
    "HKD": ("HK$",),
    "SGD": ("S$",),
    "TWD": ("NT$", "NT"),
    "BZD": ("BZ$",),
    "GYD": ("G$", "GY$"),
    "JPY": ("¥", "円", "yen", "JP¥"),
    "CNY": ("元", "人民币", "yuan", "圆", "圓", "RMB", "CN¥"),
    "KRW": ("₩", "원"),
    "INR": ("₹", "Rs", "Rs.", "र", "रु", "रू"),
    "PKR": ("PKRs",),
    "LKR": ("රු", "ரூ"),
    "NPR": ("नेरू",),
    "IDR": ("Rp",),
    "MYR": ("RM",),
    "THB": ("฿", "บาท"),
    "VND": ("₫", "VNĐ", "đ"),
    "PHP": ("₱",),
    "KHR": ("៛",),
    "BDT": ("৳",),
    "BTN": ("Nu.", "Nu"),
    "MMK": ("Ks",),
    "LAK": ("₭",),
    "MNT": ("₮",),
    "AFN": ("؋",),
    "IRR": ("ریال", "﷼", "تومان"),
    "SAR": ("ر.س", "ريال سعودي"),
    "QAR": ("ر.ق",),
    "OMR": ("ر.ع", "ر.ع."),
    "YER": ("ر.ي",),
    "AED": ("د.إ", "درهم", "Dhs", "Dh"),
    "MAD": ("د.م", "د.م."),
    "KWD": ("KD", "د.ك", "دينار كويتي"),
    "BHD": ("BD", ".د.ب", "د.ب"),
    "JOD": ("د.أ", "د.ا", "دينار أردني"),
    "IQD": ("ع.د", "د.ع"),
    "LYD": ("ل.د", "د.ل"),
    "TND": ("د.ت",),
    "DZD": ("دج", "د.ج"),
    "EGP": ("E£", "ج.م", "جنيه"),
    "SDG": ("ج.س", "ج.س."),
    "SYP": ("ل.س",),
    "LBP": ("ل.ل",),
    "ILS": ("₪", "nis", "ש״ח", 'ש"ח', "ש'ח"),
    "TRY": ("₺", "TL"),
    "PLN": ("zł", "Zł", "zl", "pln", "złotych"),
    "CZK": ("Kč", "Kc"),
    "HUF": ("Ft",),
    "RON": ("lei", "LEI"),
    "MDL": ("MDL",),
    "BGN": ("лв", "лв."),
    "RSD": ("дин", "Дин", "дин.", "din"),
    "MKD": ("ден", "ДЕН", "mkd"),
    "BAM": ("KM", "км"),
    "ALL": ("Lek",),
    "HRK": ("kn",),
    "GEL": ("₾", "lari", "ლარი"),
    "AMD": ("֏",),
    "AZN": ("₼",),
    "UZS": ("so'm", "soʻm", "сўм", "som", "Sʻ", "S'"),
    "KGS": ("сом",),
    "TJS": ("сомонӣ",),
    "SEK": ("SEK",),
    "NOK": ("NOK",),
    "DKK": ("DKK", "kr."),
    "ISK": ("ISK",),
    "ZAR": ("ZAR",),
    "NGN": ("₦",),
    "GHS": ("₵", "GH₵"),
    "KES": ("KSh", "KShs", "Ksh"),
    "TZS": ("TSh",),
    "UGX": ("USh",),
    "ETB": ("ብር",),
    "ERN": ("ናቕፋ", "نافكا"),
    "MZN": ("MT",),
    "MGA": ("Ar",),
    "RWF": ("FRw", "RF", "R₣"),
    "BIF": ("FBu", "Fbu"),
    "XOF": ("CFA", "FCFA", "F.CFA"),
    "XAF": ("FCFA BEAC",),
    "ANG": ("ƒ", "NAf"),
    "AWG": ("Afl",),
    "PEN": ("S/", "S/."),
    "GTQ": ("Q",),
    "PYG": ("₲",),
    "CRC": ("₡",),
    "VES": ("Bs", "Bs.", "Bs.S"),
    "BOB": ("Bs.", "$b"),
    "PTE": ("Esc",),
    "DEM": ("DM",),
    "FRF": ("FF",),
    "CVE": ("CVE",),
    "VUV": ("Vt",),
    "SLL": ("Le",),
    "ZMW": ("ZK",),
    "PGK": ("K",),
    "AOA": ("Kz", "kwz"),
    "SVC": ("₡",),
    "XDR": ("SDR",),
    "GMD": ("D",),
    "SZL": ("E",),
}

# Local dollar/peso/franc forms and other CLDR symbols (code -> surfaces), kept apart
# from FIAT so FIAT stays readable.
FIAT_MORE: dict[str, tuple[str, ...]] = {
    "CUC": ("CUC$",), "DOP": ("RD$",), "JMD": ("J$",), "TOP": ("T$",), "TTD": ("TT$",),
    "ZWL": ("Z$",), "PKR": ("₨",), "PAB": ("B/.",), "FRF": ("₣",), "LYD": ("LD",),
    "MWK": ("MK",), "MRU": ("UM",), "STN": ("Db",), "TND": ("DT",), "VUV": ("VT",),
    "GNF": ("FG",), "DJF": ("Fdj",), "ERN": ("Nfk",), "RSD": ("Dinara", "динара"),
    "MOP": ("MOP$",), "UYU": ("$U",), "SGD": ("SGD$",), "NZD": ("NZD$",),
}

# ISO 4217 codes with no symbol beyond the code: listed so that "450 OMR" parses.
ISO_CODES_ONLY: tuple[str, ...] = (
    "BBD", "BMD", "BSD", "BWP", "BYR", "CDF", "CUP", "DJF", "DOP", "FJD", "FKP", "GIP",
    "GNF", "HNL", "HTG", "JMD", "KMF", "KPW", "KYD", "LRD", "LSL", "MOP", "MRU", "MUR",
    "MVR", "MWK", "NAD", "NIO", "PAB", "SBD", "SCR", "SHP", "SOS", "SRD", "SSP", "STN",
    "TMT", "TOP", "TTD", "UYU", "WST", "XCD", "XPF", "ZWL", "BND", "LTL", "LVL", "EEK",
    "SKK", "SIT", "CYP", "MTL", "ATS", "BEF", "ESP", "FIM", "GRD", "IEP", "ITL", "LUF", "NLG",
)

CRYPTO: dict[str, tuple[str, ...]] = {
    "BTC": ("₿", "Ƀ", "XBT", "btc", "bitcoin", "bitcoins", "биткоин", "биткоинов", "биток", "битков"),
    "XMR": ("monero", "xmr", "монеро", "ɱ"),
    "ETH": ("Ξ", "ether", "ethereum", "eth"),
    "LTC": ("Ł", "litecoin", "litecoins", "ltc"),
    "USDT": ("tether", "usdt", "USDT-TRC20", "USDT-ERC20", "USDT(TRC20)", "USDT(ERC20)", "USDT TRC20", "USDT ERC20", "USDT-TRC-20", "USDT-ERC-20", "USDT TRC-20", "USDT ERC-20", "usdt trc20", "юсдт"),
    "TRX": ("tron", "trx"),
    "BCH": ("bch", "bitcoin cash"),
    "DASH": ("dash",),
    "ZEC": ("zcash", "zec"),
}

# Surfaces that stand for more than one currency, resolved to the likelier one on a
# drug market (prices there are USD-, EUR- or GBP-quoted, or crypto).
AMBIGUOUS: dict[str, str] = {
    "$": "USD",  # USD: markets quote in US dollars; other dollars carry a prefix (C$, A$).
    "kr": "SEK",  # SEK: the largest of the kr currencies (DKK, NOK, ISK share it).
    "R": "ZAR",  # ZAR: the ISO symbol of the rand (BRL is always R$ in listings).
    "L": "HNL",  # no market meaning; lempira per CLDR (also lek, leu, lilangeni).
    "₡": "CRC",
    "Bs.": "VES",
    "Fr": "CHF",
    "Sl": "SLL",
    "с": "KGS",
    "P": "BWP",
    "G": "HTG",
    "GFr": "CHF",
    "ID": "IDR",
    "Re": "INR",
    "Rf": "MVR",
    "franc": "CHF",
    "francs": "CHF",
    "dinar": "RSD",
    "дин.": "RSD",
    "دينار": "KWD",
    "ريال": "SAR",
}

# Surface -> (code, exact multiplier to the main unit).
SUBUNITS: dict[str, tuple[str, str]] = {
    "mbtc": ("BTC", "0.001"),
    "mɃ": ("BTC", "0.001"),
    "ubtc": ("BTC", "0.000001"),
    "μbtc": ("BTC", "0.000001"),
    "bits": ("BTC", "0.000001"),
    "sat": ("BTC", "0.00000001"),
    "sats": ("BTC", "0.00000001"),
    "satoshi": ("BTC", "0.00000001"),
    "satoshis": ("BTC", "0.00000001"),
    "¢": ("USD", "0.01"),
    "cent": ("USD", "0.01"),
    "cents": ("USD", "0.01"),
    "коп": ("RUB", "0.01"),
    "коп.": ("RUB", "0.01"),
}

# Case matters for these: the other cases are words, units or initials.
CASE_SENSITIVE: frozenset[str] = frozenset({
    "R", "L", "P", "G", "K", "D", "E", "Q", "Br", "Ks", "Le", "Ar", "MT", "RF", "ID", "Re", "Sl",
    "Esc", "FF", "DM", "KM", "NT", "Bs", "Fr", "Dh", "TL", "RM", "Rp", "Nu", "Rs", "BD", "KD",
    "ZK", "Kz", "Vt", "VT", "LD", "MK", "UM", "Db", "DT", "FG", "din", "som", "dash", "Afl", "р", "Р", "с", "đ", "GBp", "E£", "Rbl",
})

# Symbols written before the amount by convention ($40, £20, €15): when a symbol sits
# between two numbers with equal gaps, it belongs to the number after it.
PREFIX_SYMBOLS: frozenset[str] = frozenset({"$", "£", "€", "¥", "₹", "₱", "₩", "₿", "Ƀ", "฿", "Ξ", "₪", "₦"})
