"""SMS length and cost: GSM-7 vs UCS-2, segment boundaries, and the cheaper GSM-7 alternative."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from avis.messaging.sms_encoding import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    cost,
    gsm7_alternative,
    is_gsm7,
    measure_sms,
    split_segments,
)


def units_of(segment: str, encoding: str) -> int:
    """An oracle independent of the module: septets, or UTF-16 code units."""
    if encoding == "GSM-7":
        return sum(2 if character in GSM7_EXTENSION else 1 for character in segment)
    return len(segment.encode("utf-16-le")) // 2


def test_the_default_alphabet_has_127_characters_and_the_extension_table_10() -> None:
    # 128 code points minus the escape septet (3GPP TS 23.038 §6.2.1).
    assert len(GSM7_BASIC) == 127
    assert len(GSM7_EXTENSION) == 10
    assert not GSM7_BASIC & GSM7_EXTENSION


@pytest.mark.parametrize("character", list("éèùìòÇØøÅåÄÖÑÜäöñüàÉÆæßΔΦΓΛΩΠΨΣΘΞ£¥§¿¡¤@_"))
def test_accented_latin_and_greek_capitals_of_the_basic_set_are_gsm7(character: str) -> None:
    length = measure_sms(character)
    assert (length.encoding, length.units) == ("GSM-7", 1)


@pytest.mark.parametrize("character", list("^{}\\[~]|€"))
def test_extension_characters_count_two_septets(character: str) -> None:
    length = measure_sms(character)
    assert (length.encoding, length.units) == ("GSM-7", 2)


def test_lowercase_c_cedilla_is_not_gsm7_although_the_capital_is() -> None:
    assert is_gsm7("Ç")
    assert not is_gsm7("ç")
    assert measure_sms("ça").encoding == "UCS-2"


@pytest.mark.parametrize(
    ("text", "encoding", "units", "segments", "limit"),
    [
        ("", "GSM-7", 0, 0, 160),
        ("a" * 160, "GSM-7", 160, 1, 160),
        ("a" * 161, "GSM-7", 161, 2, 153),
        ("a" * 306, "GSM-7", 306, 2, 153),
        ("a" * 307, "GSM-7", 307, 3, 153),
        ("€" * 80, "GSM-7", 160, 1, 160),
        ("€" * 81, "GSM-7", 162, 2, 153),
        ("a" * 159 + "€", "GSM-7", 161, 2, 153),
        ("ê" * 70, "UCS-2", 70, 1, 70),
        ("ê" * 71, "UCS-2", 71, 2, 67),
        ("ê" * 134, "UCS-2", 134, 2, 67),
        ("ê" * 135, "UCS-2", 135, 3, 67),
        ("😀", "UCS-2", 2, 1, 70),
        ("😀" * 35, "UCS-2", 70, 1, 70),
        ("😀" * 36, "UCS-2", 72, 2, 67),
        ("a" * 159 + "😀", "UCS-2", 161, 3, 67),
    ],
)
def test_known_lengths_at_the_boundaries(
    text: str, encoding: str, units: int, segments: int, limit: int
) -> None:
    length = measure_sms(text)
    assert (length.encoding, length.units, length.segments, length.segment_limit) == (
        encoding,
        units,
        segments,
        limit,
    )


def test_an_escape_pair_is_never_split_across_segments() -> None:
    text = "a" * 152 + "€" + "a" * 10  # the € would straddle septets 153 and 154
    segments = split_segments(text)
    assert segments == ["a" * 152, "€" + "a" * 10]
    assert measure_sms(text).segments == 2


def test_a_surrogate_pair_is_never_split_across_segments() -> None:
    text = "ê" * 66 + "😀" + "ê" * 10  # the emoji would straddle code units 67 and 68
    assert split_segments(text) == ["ê" * 66, "😀" + "ê" * 10]


def test_a_typographic_apostrophe_doubles_a_french_message_and_the_alternative_fits_back() -> None:
    text = "Bonjour, merci d’avoir appelé notre service client. Répondez à ce SMS par une note de 0 à 10."
    length = measure_sms(text)
    assert 70 < len(text) <= 160
    assert (length.encoding, length.segments) == ("UCS-2", 2)
    assert length.ucs2_characters == ("’",)
    assert length.alternative_is_gsm7
    assert length.gsm7_alternative == text.replace("’", "'")
    assert (measure_sms(length.gsm7_alternative).encoding, measure_sms(length.gsm7_alternative).segments) == (
        "GSM-7",
        1,
    )


def test_a_circumflex_doubles_a_french_message_and_the_alternative_drops_only_the_accent() -> None:
    text = "Êtes-vous satisfait de votre échange avec notre conseillère ? Répondez de 1 à 5, c'est rapide !"
    length = measure_sms(text)
    assert length.segments == 2
    assert length.ucs2_characters == ("Ê",)
    assert length.gsm7_alternative == "E" + text[1:]
    assert measure_sms(length.gsm7_alternative).segments == 1


def test_the_characters_forcing_ucs2_are_listed_once_in_order_of_appearance() -> None:
    assert measure_sms("« ça » ’ ça ’ «").ucs2_characters == ("«", "ç", "»", "’")
    assert measure_sms("plain text").ucs2_characters == ()


@pytest.mark.parametrize(
    ("text", "alternative"),
    [
        ("l’avis", "l'avis"),
        ("‘quote’", "'quote'"),
        ("“guillemets”", '"guillemets"'),
        ("« bien »", '" bien "'),
        ("9 – 10", "9 - 10"),
        ("oui — non", "oui - non"),
        ("attendez…", "attendez..."),
        ("10\u00a0€", "10 €"),
        ("10\u202f%", "10 %"),
        ("fenêtre", "fenetre"),
        ("pâte", "pate"),
        ("île", "ile"),
        ("hôtel", "hotel"),
        ("sûr", "sur"),
        ("Noël", "Noel"),
        ("naïf", "naif"),
        ("ça", "ca"),
        ("Ça", "Ça"),  # the capital is in the basic set
        ("cœur", "coeur"),
        ("Œuvre", "OEuvre"),
        ("À bientôt", "A bientot"),
        ("n° 12", "no 12"),
        ("e\u0301te\u0301", "été"),
        ("Merci 🙏 !", "Merci !"),
        ("👍🏽 Merci", "Merci"),
        ("Super❤️", "Super"),
        ("éèùìòàÉ", "éèùìòàÉ"),
    ],
)
def test_gsm7_alternative_replaces_each_offending_character_with_a_close_equivalent(
    text: str, alternative: str
) -> None:
    assert gsm7_alternative(text) == alternative
    assert is_gsm7(alternative)


def test_a_name_in_another_script_is_kept_and_the_alternative_reported_as_not_gsm7() -> None:
    length = measure_sms("Bonjour محمد’")
    assert length.gsm7_alternative == "Bonjour محمد'"
    assert not length.alternative_is_gsm7


def test_a_gsm7_text_is_its_own_alternative() -> None:
    length = measure_sms("Merci ! Note de 0 à 10 {svp}")
    assert length.gsm7_alternative == "Merci ! Note de 0 à 10 {svp}"
    assert length.alternative_is_gsm7


def test_cost_is_the_price_of_each_segment() -> None:
    price = Decimal("0.0450")
    assert cost("a" * 160, price) == Decimal("0.0450")
    assert cost("a" * 161, price) == Decimal("0.0900")
    assert cost("ê" * 135, price) == Decimal("0.1350")
    assert cost("", price) == Decimal("0")


def test_cost_refuses_a_float_price_and_a_negative_one() -> None:
    with pytest.raises(TypeError):
        cost("hello", 0.045)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="negative"):
        cost("hello", Decimal("-0.01"))


# Characters people actually send: GSM-7 letters and escapes, accents outside it, typography,
# spaces of every width, emojis (surrogate pairs) with their modifiers, and another script.
_MIXED = st.text(
    alphabet=st.sampled_from(
        list("abcXYZ 019.,!?\n")
        + list("éèàùÇÉÑ")
        + list("€[]{}^~|\\")
        + list("êâîôûëïçœŒ’‘“”«»–—…")
        + ["\u00a0", "\u202f"]
        + ["😀", "👍", "🙏", "🏽", "\ufe0f", "❤"]
        + ["ж", "中"]
    ),
    max_size=400,
)
_MAPPABLE = st.text(
    alphabet=st.sampled_from(
        list("abc €[ \n") + list("êâîôûëïçœŒ’‘“”«»–—…") + ["\u00a0", "\u202f", "😀", "👍", "🏽", "\ufe0f"]
    ),
    max_size=300,
)


@given(_MIXED)
def test_segments_are_cut_without_loss_and_each_fits_its_limit(text: str) -> None:
    length = measure_sms(text)
    segments = split_segments(text)
    assert "".join(segments) == text
    assert len(segments) == length.segments
    assert length.units == units_of(text, length.encoding)
    assert length.segments >= math.ceil(length.units / length.segment_limit)
    for index, segment in enumerate(segments):
        assert units_of(segment, length.encoding) <= length.segment_limit
        if index < len(segments) - 1:
            # A pair pushed to the next segment wastes at most one unit.
            assert units_of(segment, length.encoding) >= length.segment_limit - 1


@given(_MIXED)
def test_the_alternative_is_gsm7_whenever_it_says_so(text: str) -> None:
    length = measure_sms(text)
    assert length.alternative_is_gsm7 == is_gsm7(length.gsm7_alternative)
    if length.alternative_is_gsm7:
        assert measure_sms(length.gsm7_alternative).encoding == "GSM-7"
    if length.encoding == "GSM-7":
        assert length.gsm7_alternative == text
        assert length.ucs2_characters == ()
    else:
        assert length.ucs2_characters
        assert all(not is_gsm7(character) for character in length.ucs2_characters)


@given(_MAPPABLE)
def test_french_typography_and_emojis_always_have_a_gsm7_alternative(text: str) -> None:
    assert measure_sms(text).alternative_is_gsm7
