"""How long an SMS is and what it costs: operators bill per segment, and one stray character can double it.

A text that fits the GSM 03.38 default alphabet travels in 7-bit septets (160 per message);
a single character outside it (a typographic apostrophe, an "ê", an emoji) switches the whole
message to UCS-2, 16 bits per character (70 per message). Templates written in a word processor
hit this all the time, hence the GSM-7 alternative proposed alongside the measurement.

References: 3GPP TS 23.038 §6.2.1 (default alphabet) and §6.2.1.1 (extension table);
3GPP TS 23.040 §9.2.3.24.1 (concatenated messages: the user data header takes 6 octets,
leaving 153 septets or 67 UCS-2 characters per segment).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

Encoding = Literal["GSM-7", "UCS-2"]

# 3GPP TS 23.038 §6.2.1, in code order 0x00–0x7F. 0x1B (escape to the extension table) is
# not a character of its own and is left out. 0x09 is the capital Ç: the lowercase ç is not
# in the alphabet, whatever some handsets display.
GSM7_BASIC: frozenset[str] = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞÆæßÉ"
    " !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)

# 3GPP TS 23.038 §6.2.1.1: reached through the escape septet, so each costs two septets.
GSM7_EXTENSION: frozenset[str] = frozenset("\f^{}\\[~]|€")

GSM7_SINGLE = 160
GSM7_PER_SEGMENT = 153
UCS2_SINGLE = 70
UCS2_PER_SEGMENT = 67

# Close GSM-7 equivalents for characters that word processors and phones put in French and
# English text. Accented letters absent from the alphabet (ê, â, î, ô, û, ë, ï, ç, À, È…) are
# handled generically below by dropping the accent; they are listed in the tests.
_SUBSTITUTES: dict[str, str] = {
    **dict.fromkeys("\u2019\u2018\u201a\u201b\u2032\u00b4`\u02bc\u2039\u203a", "'"),
    **dict.fromkeys("\u201c\u201d\u201e\u201f\u2033\u00ab\u00bb", '"'),
    **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u2022", "-"),
    **dict.fromkeys("\u00a0\u202f\u2007\u2009\u200a\u2002\u2003\u2004\u2005\u2006\u2008\u3000\t", " "),
    "\u2028": "\n",
    "\u2029": "\n",
    "\u2026": "...",
    "œ": "oe",
    "Œ": "OE",
    "ç": "c",
    # "n°" is written "no" when the degree sign is unavailable (French typographic usage).
    "°": "o",
    "©": "(c)",
    "®": "(R)",
    "×": "x",
    "÷": "/",
}

# Emojis and other pictographs have no GSM-7 equivalent: they are dropped from the alternative
# rather than replaced by a word, because the word would have to be chosen per language and
# would change the tone of a message written by someone else. Their modifiers, variation
# selectors and joiners go with them.
_DROPPED_CATEGORIES = frozenset({"So", "Sk", "Cf", "Mn", "Me"})
_REMOVED = "\x00"


@dataclass(frozen=True)
class SmsLength:
    """What a text costs on the wire, and how to make it cheaper when that is possible."""

    encoding: Encoding
    units: int  # septets for GSM-7, UTF-16 code units for UCS-2
    segments: int
    segment_limit: int  # units per segment: 160/70 for a single message, 153/67 once concatenated
    ucs2_characters: tuple[str, ...]  # the characters that force UCS-2, in order of appearance, once each
    gsm7_alternative: str
    alternative_is_gsm7: bool


def septets(character: str) -> int | None:
    """Septets one character takes in GSM-7, or None when GSM-7 cannot carry it."""
    if character in GSM7_BASIC:
        return 1
    if character in GSM7_EXTENSION:
        return 2
    return None


def is_gsm7(text: str) -> bool:
    return all(septets(character) is not None for character in text)


def _unit_costs(text: str, encoding: Encoding) -> list[int]:
    if encoding == "GSM-7":
        return [septets(character) or 0 for character in text]
    # UTF-16: characters beyond the Basic Multilingual Plane (most emojis) take a surrogate pair.
    return [2 if ord(character) > 0xFFFF else 1 for character in text]


def _boundaries(costs: list[int], encoding: Encoding) -> list[tuple[int, int]]:
    """Where the segments start and end, never splitting an escape or surrogate pair."""
    total = sum(costs)
    if total == 0:
        return []
    single, per_segment = (
        (GSM7_SINGLE, GSM7_PER_SEGMENT) if encoding == "GSM-7" else (UCS2_SINGLE, UCS2_PER_SEGMENT)
    )
    if total <= single:
        return [(0, len(costs))]
    boundaries: list[tuple[int, int]] = []
    start, used = 0, 0
    for index, cost in enumerate(costs):
        # A pair straddling two segments would arrive as two broken halves; the handset
        # cannot rejoin them, so the whole pair moves to the next segment.
        if used + cost > per_segment:
            boundaries.append((start, index))
            start, used = index, 0
        used += cost
    boundaries.append((start, len(costs)))
    return boundaries


def encoding_of(text: str) -> Encoding:
    return "GSM-7" if is_gsm7(text) else "UCS-2"


def split_segments(text: str) -> list[str]:
    """The text of each segment, as an operator would cut it."""
    encoding = encoding_of(text)
    return [text[start:end] for start, end in _boundaries(_unit_costs(text, encoding), encoding)]


def gsm7_alternative(text: str) -> str:
    """The closest text GSM-7 can carry; characters with no equivalent and no pictograph are kept.

    Keeping them (a name in Arabic script, a Chinese word) means the alternative is then not
    GSM-7 and the caller sends UCS-2: better a dearer message than a customer's name mangled.
    """
    if is_gsm7(text):
        return text
    # NFC first, so that an "e" followed by a combining acute becomes the GSM-7 "é".
    joined = "".join(_substitute(character) for character in unicodedata.normalize("NFC", text))
    if _REMOVED not in joined:
        return joined
    # Drop the removed pictographs with the spaces around them, keeping one space between words:
    # "Merci 🙏 !" becomes "Merci !", not "Merci  !".
    return " ".join(part for part in re.split(f" *{_REMOVED}+ *", joined) if part)


def _substitute(character: str) -> str:
    if septets(character) is not None:
        return character
    if character in _SUBSTITUTES:
        return _SUBSTITUTES[character]
    # Compatibility decomposition without the accents: ê → e, À → A, ﬁ → fi, № → No, ² → 2.
    decomposed = "".join(
        part for part in unicodedata.normalize("NFKD", character) if not unicodedata.combining(part)
    )
    if decomposed and is_gsm7(decomposed):
        return decomposed
    if unicodedata.category(character) in _DROPPED_CATEGORIES:
        return _REMOVED
    return character


def measure_sms(text: str) -> SmsLength:
    """Encoding, size and segment count of a text, with a GSM-7 alternative when it is UCS-2."""
    encoding = encoding_of(text)
    costs = _unit_costs(text, encoding)
    segments = len(_boundaries(costs, encoding))
    if encoding == "GSM-7":
        limit = GSM7_SINGLE if segments <= 1 else GSM7_PER_SEGMENT
        offending: tuple[str, ...] = ()
    else:
        limit = UCS2_SINGLE if segments <= 1 else UCS2_PER_SEGMENT
        offending = tuple(dict.fromkeys(character for character in text if septets(character) is None))
    alternative = gsm7_alternative(text)
    return SmsLength(
        encoding=encoding,
        units=sum(costs),
        segments=segments,
        segment_limit=limit,
        ucs2_characters=offending,
        gsm7_alternative=alternative,
        alternative_is_gsm7=is_gsm7(alternative),
    )


def cost(text: str, price_per_segment: Decimal) -> Decimal:
    """What sending the text costs; an empty text is nothing to send and costs nothing."""
    if not isinstance(price_per_segment, Decimal):
        # Money in binary floating point drifts; refusing it here keeps invoices exact.
        raise TypeError("price_per_segment must be a Decimal")
    if price_per_segment < 0:
        raise ValueError("price_per_segment cannot be negative")
    return price_per_segment * measure_sms(text).segments
