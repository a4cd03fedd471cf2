"""What a comment says: its language, its sentiment, its topics, and its text with personal data hidden.

Everything runs offline, on lexicons shipped with avis (``verbatims_lexicons.json``) and
with the vaderSentiment / vaderSentiment_fr packages: nothing is downloaded at run time.
This module imports no model, so any app can score a text with ``comment_sentiment``.
See docs/verbatims.md for the rules and their limits.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, replace
from functools import cache
from importlib.resources import files
from typing import Any, Literal, Protocol

import phonenumbers
from django.core.cache import cache as shared_cache
from django.utils.translation import gettext as _

Language = Literal["fr", "en"]
LANGUAGES: tuple[Language, ...] = ("fr", "en")
SentimentLabel = Literal["negative", "neutral", "positive"]
SENTIMENT_LABELS: tuple[SentimentLabel, ...] = ("negative", "neutral", "positive")
# Hutto & Gilbert (2014): compound ≥ 0.05 reads positive, ≤ −0.05 negative, between is neutral.
SENTIMENT_THRESHOLD = 0.05

_LEXICON_BYTES = files("avis.analytics").joinpath("verbatims_lexicons.json").read_bytes()
_LEXICONS: dict[str, Any] = json.loads(_LEXICON_BYTES)
# Part of every cache key: editing the lexicons re-analyses every comment.
LEXICON_VERSION = hashlib.sha256(_LEXICON_BYTES).hexdigest()[:12]


def normalise(text: str) -> str:
    """Lower case without accents, so "Délai", "delai" and "DELAI" read the same."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    plain = "".join(c for c in decomposed if unicodedata.category(c) != "Mn")
    return plain.replace("œ", "oe").replace("æ", "ae")


_WORD = re.compile(r"[a-z0-9]+|[€$£]")


def words(text: str) -> list[str]:
    return _WORD.findall(normalise(text))


# ---------------------------------------------------------------- language

# Words frequent in one language and rare in the other ("a", "on", "me", "an", "as", "d", "s" and
# "m" are left out: both languages use them). Written without accents, as ``words`` returns them.
_FRENCH_WORDS = frozenset(
    """le la les un une des du de et est sont ete etait c ce cet cette ces je j tu il elle nous vous
    ils elles mon ma mes ton ta votre vos leur leurs qui que qu quoi dont ou avec pour par sur dans
    pas ne n plus tres trop bien tout tous toute toutes mais donc car aussi encore deja jamais rien
    personne chez sans merci bonjour svp ai avez avons fait faire suis etes y au aux cela ca ici oui
    non peu beaucoup apres avant depuis quand comme meme alors l en mal rapide attente conseiller
    conseillere agence vraiment""".split()
)
_ENGLISH_WORDS = frozenset(
    """the and is are was were be been being i you he she it we they my your our their this that
    these those with for of to in at by from not no very so but or if what who when where have has
    had do does did don t thanks thank please would will can could just about after all any get got
    there here again still never nothing nobody good great bad im ive isn wasn didn doesn won hold
    waited waiting staff agent helpful really""".split()
)
_FRENCH_LETTERS = frozenset("éèêëàâçùûôîïœ")


def detect_language(text: str, *, hint: str | None = None) -> Language:
    """French or English, from frequent words and French accents; ``hint`` settles a tie.

    The hint is what the respondent chose (the response's locale): a comment with no
    telling word ("👍", "OK") takes it. Short comments are where this guess errs.
    """
    tokens = words(text)
    french = sum(token in _FRENCH_WORDS for token in tokens)
    english = sum(token in _ENGLISH_WORDS for token in tokens)
    french += min(3.0, 0.5 * sum(c in _FRENCH_LETTERS for c in text.lower()))
    if french > english:
        return "fr"
    if english > french:
        return "en"
    return "en" if hint and hint.lower().startswith("en") else "fr"


# ---------------------------------------------------------------- sentiment


@cache
def _analyzer(language: Language) -> Any:
    """One VADER analyser per language, its lexicon topped up with service words."""
    if language == "fr":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # fuzzywuzzy warns it runs without C speed-ups; unused here
            from vaderSentiment_fr.vaderSentiment import SentimentIntensityAnalyzer as French

        class Analyzer(French):
            def make_tree(self) -> None:
                """The word trie serves only fuzzy matching (polarity_scores_max), which avis doesn't use."""
                return None

        analyzer = Analyzer()
    else:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        analyzer = SentimentIntensityAnalyzer()
    analyzer.lexicon.update(
        {word: float(valence) for word, valence in _LEXICONS["sentiment"][language].items()}
    )
    return analyzer


@cache
def _phrases(language: Language) -> list[tuple[re.Pattern[str], str]]:
    table = _LEXICONS["sentiment"]["phrases"][language]
    compiled = []
    for pattern, replacement in table.items():
        if pattern.startswith("_"):
            continue
        # Word boundaries around words only: an emoji has none.
        before = r"\b" if re.match(r"\w", pattern) else ""
        after = r"\b" if re.search(r"\w$", pattern) else ""
        compiled.append((re.compile(rf"{before}(?:{pattern}){after}", re.IGNORECASE), replacement))
    return compiled


def comment_sentiment(text: str, language: str | None = None) -> float:
    """VADER's compound score in [−1, 1]: below −0.05 reads negative, above 0.05 positive.

    English comments go through vaderSentiment, French ones through vaderSentiment_fr;
    the language is detected when not given.
    """
    if not text.strip():
        return 0.0
    lang: Language = language if language in LANGUAGES else detect_language(text)  # type: ignore[assignment]
    for pattern, replacement in _phrases(lang):
        text = pattern.sub(replacement, text)
    return float(_analyzer(lang).polarity_scores(text)["compound"])


def sentiment_label(score: float) -> SentimentLabel:
    if score <= -SENTIMENT_THRESHOLD:
        return "negative"
    if score >= SENTIMENT_THRESHOLD:
        return "positive"
    return "neutral"


# ---------------------------------------------------------------- topics

TOPICS: tuple[str, ...] = tuple(_LEXICONS["topics"])

Pattern = tuple[tuple[str, bool], ...]  # (word or stem, is a stem) for each word of a keyword


@dataclass(frozen=True)
class _TopicIndex:
    """A language's keywords, indexed so one comment is read in one pass over its words."""

    words: dict[str, frozenset[str]]  # exact word -> topics
    stems: dict[int, dict[str, frozenset[str]]]  # stem length -> stem -> topics
    phrases: dict[str, tuple[tuple[str, Pattern], ...]]  # first word -> keywords of several words


@cache
def _topic_index(language: Language) -> _TopicIndex:
    exact: dict[str, set[str]] = {}
    stems: dict[int, dict[str, set[str]]] = {}
    phrases: dict[str, list[tuple[str, Pattern]]] = {}
    for topic, spec in _LEXICONS["topics"].items():
        for keyword in spec[language]:
            pattern = tuple((part.rstrip("*"), part.endswith("*")) for part in keyword.split())
            if len(pattern) > 1:
                if pattern[0][1]:
                    raise ValueError(f"{keyword!r}: a keyword of several words starts with a whole word")
                phrases.setdefault(pattern[0][0], []).append((topic, pattern))
            elif pattern[0][1]:
                stems.setdefault(len(pattern[0][0]), {}).setdefault(pattern[0][0], set()).add(topic)
            else:
                exact.setdefault(pattern[0][0], set()).add(topic)
    return _TopicIndex(
        {word: frozenset(topics) for word, topics in exact.items()},
        {n: {stem: frozenset(t) for stem, t in table.items()} for n, table in stems.items()},
        {first: tuple(keywords) for first, keywords in phrases.items()},
    )


def _matches_at(tokens: list[str], start: int, pattern: Pattern) -> bool:
    if start + len(pattern) > len(tokens):
        return False
    return all(
        tokens[start + k].startswith(word) if is_stem else tokens[start + k] == word
        for k, (word, is_stem) in enumerate(pattern)
    )


def comment_topics(text: str, language: str | None = None) -> tuple[str, ...]:
    """The topics the comment mentions, from the keyword lexicon of its language."""
    lang: Language = language if language in LANGUAGES else detect_language(text)  # type: ignore[assignment]
    index = _topic_index(lang)
    tokens = words(text)
    found: set[str] = set()
    for i, token in enumerate(tokens):
        found |= index.words.get(token, frozenset())
        for topic, pattern in index.phrases.get(token, ()):
            if _matches_at(tokens, i, pattern):
                found.add(topic)
        for length, table in index.stems.items():
            if len(token) >= length:
                found |= table.get(token[:length], frozenset())
    return tuple(topic for topic in TOPICS if topic in found)


def topic_label(topic: str, language: str) -> str:
    labels = _LEXICONS["topics"].get(topic, {}).get("label", {})
    return labels.get(language[:2]) or labels.get("en") or topic


# ---------------------------------------------------------------- masking

_EMAIL = re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+")
# 13 to 19 digits, optionally grouped by single spaces or dashes.
_CARD = re.compile(r"(?<!\d)\d(?:[ -]?\d){12,18}(?!\d)")
# French numbers written any usual way: 0612345678, 06 12 34 56 78, 06.12…, +33 6…, +33 (0)6…, 0033 6…
_FRENCH_PHONE = re.compile(
    r"(?<![\d+])(?:(?:\+|00)\s?33[\s.-]?(?:\(0\)[\s.-]?)?|0)[1-9](?:[\s.-]?\d{2}){4}(?!\d)"
)
# Anything else that starts with + and has the length of an E.164 number.
_PLUS_NUMBER = re.compile(r"(?<![\w+])\+\d[\d\s.()-]{6,22}\d(?!\d)")
_PHONE_REGIONS = ("FR", "BE", "CH", "GB", "US")


def _luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _replace_spans(text: str, spans: Iterable[tuple[int, int]], token: str) -> str:
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    for start, end in reversed(merged):
        text = text[:start] + token + text[end:]
    return text


def _phone_spans(text: str) -> list[tuple[int, int]]:
    spans = [m.span() for m in _FRENCH_PHONE.finditer(text)]
    spans += [m.span() for m in _PLUS_NUMBER.finditer(text) if 8 <= sum(c.isdigit() for c in m.group()) <= 15]
    for region in _PHONE_REGIONS:
        matcher = phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.VALID)
        spans += [(match.start, match.end) for match in matcher]
    return spans


def mask_personal_data(text: str) -> str:
    """The comment as it may be shown: email addresses, card-like and phone numbers hidden.

    A run of 13–19 digits is a card number when it passes the Luhn check or is written in
    groups (spaces or dashes). Phone numbers: every usual French form, anything starting
    with + of E.164 length, and what libphonenumber finds valid for FR, BE, CH, GB and US.
    """
    if "@" not in text and sum(c.isdigit() for c in text) < 7:
        return text  # no address, too few digits for any phone or card number: the usual comment
    text = _EMAIL.sub(_("[email hidden]"), text)
    cards = [
        m.span()
        for m in _CARD.finditer(text)
        if _luhn_valid(re.sub(r"\D", "", m.group())) or re.search(r"[ -]", m.group())
    ]
    text = _replace_spans(text, cards, _("[card number hidden]"))
    return _replace_spans(text, _phone_spans(text), _("[phone number hidden]"))


# ---------------------------------------------------------------- one comment, many comments


class LearnedScorer(Protocol):
    """An organisation's learned sentiment (``analytics.sentiment.LearnedSentiment``)."""

    version: str

    def scores(self, texts: list[str]) -> list[float]: ...


@dataclass(frozen=True)
class CommentAnalysis:
    language: Language
    sentiment: float
    topics: tuple[str, ...]
    learned: bool = False  # sentiment from the organisation's learned model, not the word lists

    @property
    def sentiment_label(self) -> SentimentLabel:
        return sentiment_label(self.sentiment)


def analyse_comment(text: str, *, hint: str | None = None) -> CommentAnalysis:
    language = detect_language(text, hint=hint)
    return CommentAnalysis(language, comment_sentiment(text, language), comment_topics(text, language))


def _cache_key(text: str, hint: str | None, model_version: str) -> str:
    digest = hashlib.blake2b(f"{hint or ''}\0{text}".encode(), digest_size=12).hexdigest()
    return f"avis:verbatim:{LEXICON_VERSION}:{model_version or 'lexicon'}:{digest}"


def analyse_comments(
    comments: Iterable[tuple[object, str, str | None]], *, learned: LearnedScorer | None = None
) -> dict[object, CommentAnalysis]:
    """Analyse (key, text, locale hint) triples, reusing what Django's cache already holds.

    With ``learned`` (the organisation's own model, see analytics.sentiment) the sentiment
    is that model's; otherwise the word lists'. The cache is keyed by a digest of the text
    and hint, the lexicons' version and the model's version (which names its organisation),
    so it holds no text, never serves a stale result, and one organisation's model never
    scores another's comments.
    """
    version = learned.version if learned is not None else ""
    wanted = [(key, text, hint, _cache_key(text, hint, version)) for key, text, hint in comments]
    stored = shared_cache.get_many([cache_key for *_rest, cache_key in wanted])
    found: dict[object, CommentAnalysis] = {}
    fresh: dict[str, CommentAnalysis] = {}
    for key, text, hint, cache_key in wanted:
        hit = stored.get(cache_key)
        if hit is not None:
            found[key] = CommentAnalysis(hit[0], hit[1], tuple(hit[2]), bool(learned))
        elif cache_key not in fresh:
            fresh[cache_key] = analyse_comment(text, hint=hint)
    if learned is not None and fresh:
        texts = {cache_key: text for _key, text, _hint, cache_key in wanted if cache_key in fresh}
        keys = list(fresh)
        for cache_key, score in zip(keys, learned.scores([texts[k] for k in keys]), strict=True):
            fresh[cache_key] = replace(fresh[cache_key], sentiment=score, learned=True)
    for key, _text, _hint, cache_key in wanted:
        if key not in found:
            found[key] = fresh[cache_key]
    if fresh:
        shared_cache.set_many(
            {k: (a.language, a.sentiment, list(a.topics)) for k, a in fresh.items()}, timeout=30 * 24 * 3600
        )
    return found
