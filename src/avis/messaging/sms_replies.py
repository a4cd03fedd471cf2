"""Read a customer's SMS reply to one survey question the way people actually type it.

Replies arrive as "9/10 très bien", "Oui.", "ouiii", "👍", "Stop svp". The parser turns them
into a :class:`Reply` and says "unclear" rather than guess: a clarification SMS costs a few
cents, a wrong score distorts the numbers and a missed opt-out breaks the law.

Rules for the ambiguous cases (the tests in tests/messaging/test_sms_replies.py pin each one):

Keywords, checked before anything else, whatever the question:
  1. The whole message, ignoring case, accents, punctuation and spaces, is a keyword:
     "STOP!!", "Stop.", " arrêt ", "S.T.O.P", "STOP SMS".
  2. The message holds an opt-out keyword and otherwise only polite or filler words:
     "Stop svp", "STOP merci", "Non merci, stop", "arrêt des SMS svp". In France STOP is the
     opt-out keyword of the operators' SMS codes of conduct (FFTélécoms, AF2M) and the CPCE
     (art. L34-5) requires a free and simple way to object; honouring it generously is the
     expected practice, so a polite STOP is an opt-out.
  3. STOP, STOPALL or ARRET written in capitals as the first or last word, whatever else the
     message says: "Très bien. STOP", "STOP je ne veux plus de messages". Capitals are how the
     instruction is printed ("STOP au 36xxx") and copied back; a lowercase "stop" inside a
     sentence ("stop aux attentes interminables") is an opinion, not a keyword.
     3b. Any case, when set off by punctuation at either end: "stop, c'est parfait, 10/10" and
     "Parfait. stop" are opt-outs (decided: it may mean "say no more", but read as an answer it
     would keep texting someone who may have objected; the 10 stays in the comment).
  4. An explicit request anywhere: "merci de ne plus m'envoyer de SMS", "please stop texting me".
  5. A sentence asking to be left alone that names no keyword, in French or English, any case,
     with or without accents: a stop verb with a word for texts or contacting a few words on
     ("arrêtez de m'écrire", "stop the messages"), "ne … plus" with one ("ne plus me contacter",
     "Ne m'écrivez plus"), "(ne) veux plus", "plus de sms" opening the message, "no more texts",
     "I don't want / no longer wish … texts", "marre de vos sms", "leave me alone", "remove my
     number". Not when it tells what happened ("personne ne m'a plus contacté", "il a arrêté de
     m'envoyer…": an auxiliary before the verb), is negated ("don't stop") or only mentions
     texts ("le SMS de rappel m'a aidé", "pas de SMS de confirmation reçu").
  An opt-out carries no answer ("9 STOP" records no 9); the rest of the message is its comment.
  Opt-out wins over help, help over opt-in. "YES" is not an opt-in here (as some US gateways
  treat it) because it answers questions. "?" alone asks for help.
  A keyword inside other words never counts: "je ne veux pas que ça s'arrête" is an answer.

Scores (NPS 0–10, CSAT 1–5):
  - A number counts when it is marked ("9/10", "sept sur dix", "ten out of 10", "4 étoiles"),
    announced ("je mets 9", "I'd give it 8") or stands at the start or end of the message
    ("9 - très bien", "très bien, 9"). A number glued to letters ("10h30") or followed by a
    unit ("3 fois", "2 heures", "10 ans") is not a score.
  - Number words (neuf, dix, zéro, nine, ten…) count when marked, announced, alone, or set off
    from the rest by punctuation ("Neuf, rapide"). "un", "une" and "one" are also articles, so
    they count only alone or with their scale ("un sur cinq"): "Un peu long" is not a 1.
  - Decimals ("8.5", "8,5/10") are unclear: rounding 8.5 would choose between passive and
    promoter for the customer. Two different scores ("8 ou 9", "8-9"), a score on the other
    scale ("4/5" to an NPS question) or out of range ("11", "onze", "-1", "0" in CSAT) are
    unclear too.
  - A lone emoji is unclear for a score: 😀 could be a 7 or a 10. Stars (⭐⭐⭐⭐) count for CSAT.

Choices (yes / partly / no, and "na" when the question allows not applicable):
  - The answer is read at the start (after greetings such as "Bonjour", "Franchement") or at
    the end after punctuation ("Franchement, oui"); what follows is the comment ("Oui mais il a
    fallu rappeler"), and a "no" further on does not overturn it: "Yes, no problem" is a yes.
  - "pas vraiment" / "not really" is a no: it is the polite way of saying no in both languages;
    "partly" is kept for explicit partial words (en partie, pas tout à fait, plus ou moins, bof).
    Yes or no qualified by a partial word ("oui en partie") is partly; yes and no together is
    unclear, except the set phrases "oui et non" / "yes and no" (partly).
  - Repeated letters are forgiven ("ouiiii", "nonnn"), and so is "oiu", a transposition that is
    no other word in French or English; other misspellings are unclear.
  - 👍 ✅ 😀 mean yes, 👎 ❌ 😡 mean no; neutral faces are unclear.
  - "sans objet", "pas concerné", "N/A", "not applicable" are "na" when allowed, else unclear
    (never a "no", although "non concerné" starts with "non").

Comments: the free text around the answer, stripped. Greetings and thanks alone ("merci",
"thanks") are not a comment: storing them would pollute verbatim analysis. When the answer sits
in the middle of a sentence the whole message is kept so that it still reads. An unclear reply
keeps the whole message as its comment, for the person who reads it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

ReplyKind = Literal["answer", "opt_out", "opt_in", "help", "unclear"]
QuestionKind = Literal["nps", "csat", "ces", "choice", "text"]
Language = Literal["fr", "en"]

SCALES: dict[str, tuple[int, int]] = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}


@dataclass(frozen=True)
class Reply:
    """One inbound SMS understood: an answer, a keyword, or a reason to ask again."""

    kind: ReplyKind
    value: int | str | None = None
    comment: str = ""
    language_hint: Language | None = None


# ---------------------------------------------------------------------------------------------
# Vocabulary. Everything is written folded: lower case, no accents, apostrophes as word breaks.

_OPT_OUT_WORDS = frozenset(
    {"stop", "stopall", "stopsms", "stoppez", "arret", "arrete", "arreter", "arretez", "unsubscribe", "unsub"}
    | {"desabonner", "desabonnement", "desinscrire", "desinscription", "optout"}
    # CTIA short-code guidelines (US) add these; a survey reply that is only one of them is an opt-out.
    | {"cancel", "end", "quit"}
)
_OPT_IN_WORDS = frozenset({"start", "unstop"})
_HELP_WORDS = frozenset({"help", "aide", "info", "infos"})
# Opt-out first: ignoring one is a breach, ignoring a help request only an annoyance.
_PRECEDENCE: tuple[ReplyKind, ...] = ("opt_out", "help", "opt_in")

_COURTESY = frozenset(
    {"merci", "beaucoup", "svp", "stp", "s", "il", "vous", "te", "plait", "cordialement", "bonne"}
    | {"journee", "soiree", "bonjour", "bonsoir", "salut", "coucou", "thanks", "thank", "you", "thx"}
    | {"ty", "please", "pls", "plz", "regards", "hello", "hi", "hey", "cheers"}
)
# Words that open a reply without answering: skipped before looking for a yes or no.
_LEADING_FILLERS = _COURTESY | frozenset(
    "euh heu hum hmm bah ben bon alors eh well so um uh franchement honnetement honestly frankly".split()
)
# Words that may surround a keyword without making it something else: "Stop les SMS svp", "help me".
_KEYWORD_COMPANIONS = _COURTESY | frozenset(
    {"sms", "les", "des", "mes", "message", "messages", "texto", "textos", "non", "no", "moi", "me"}
    | {"now", "maintenant", "tout", "all", "plus", "more"}
)
_OPT_OUT_PHRASES: tuple[tuple[str, ...], ...] = tuple(
    tuple(phrase.split())
    for phrase in (
        "ne plus recevoir",
        "ne plus me",
        "ne plus m",
        "ne m envoyez plus",
        "ne me contactez plus",
        "ne me sollicitez plus",
        "arretez de m",
        "arrete de m",
        "arreter de m",
        "arretez de me",
        "arretez les sms",
        "arretez les messages",
        "desabonnez moi",
        "desinscrivez moi",
        "retirez moi",
        "me desabonner",
        "me desinscrire",
        "stop texting",
        "stop sending",
        "stop messaging",
        "stop contacting",
        "remove me",
        "unsubscribe me",
        "opt me out",
        "opt out",
        "don t text",
        "dont text",
        "do not text",
        "don t contact",
        "do not contact",
        "no more texts",
        "no more messages",
        # Rule 5: set phrases that name no keyword and no channel.
        "laissez moi tranquille",
        "laisse moi tranquille",
        "laissez nous tranquilles",
        "foutez moi la paix",
        "fichez moi la paix",
        "fiche moi la paix",
        "foutez nous la paix",
        "me retirer",
        "retirez mon numero",
        "retirer mon numero",
        "supprimez mon numero",
        "supprimer mon numero",
        "effacez mon numero",
        "oubliez mon numero",
        "leave me alone",
        "take me off",
        "take my number off",
        "remove my number",
        "delete my number",
        "remove me from",
        "don t send me",
        "don t message me",
        "don t email me",
        "don t call me",
        "don t bother me",
        "don t write to me",
        "do not send me",
        "do not message me",
        "do not email me",
        "do not call me",
        "never text me",
        "never contact me",
    )
)
# Rule 5: what a sentence asking to be left alone is made of (folded words).
_STOP_VERBS = frozenset(
    {"stop", "stopp", "stoppez", "stopper", "arrete", "arretez", "arreter", "arretes", "cesse", "cessez"}
    | {"cesser", "quit", "cease"}
)
_CONTACT_NOUNS = frozenset(
    {"sms", "texto", "textos", "message", "messages", "msg", "msgs", "text", "texts", "mail", "mails"}
    | {"email", "emails", "courriel", "courriels", "spam", "spams", "relance", "relances", "sollicitations"}
    | {"enquete", "enquetes", "questionnaire", "questionnaires", "survey", "surveys", "notifications"}
)
_CONTACT_VERBS = frozenset(
    {"ecrire", "ecrivez", "envoyer", "envoyez", "contacter", "contactez", "recontacter", "recontactez"}
    | {"texter", "textez", "harceler", "harcelez", "solliciter", "sollicitez", "relancer", "relancez"}
    | {"deranger", "derangez", "spammer", "spammez", "appeler", "appelez", "recevoir", "contacte"}
    | {"contactee", "contactes", "sollicite", "sollicitee", "derange", "derangee", "relancee", "harcele"}
    | {"texting", "messaging", "sending", "contacting", "spamming", "emailing", "calling", "bothering"}
    | {"harassing", "pestering", "contacted", "receive", "receiving", "get", "getting"}
)
_CONTACT = _CONTACT_NOUNS | _CONTACT_VERBS
# "ne m'a plus contacté", "a arrêté de": a past tense tells what happened, it asks for nothing.
_AUXILIARIES = frozenset({"a", "ai", "as", "avons", "avez", "ont", "est", "sont", "etait", "s", "had", "has"})
_WANTING = frozenset({"veux", "veut", "voulons", "voulez", "souhaite", "souhaitons", "desire", "tiens"})
_FED_UP = frozenset({"marre", "assez", "suffit", "enough", "bol"})

_FRENCH_NUMBERS = "zero un deux trois quatre cinq six sept huit neuf dix onze douze".split()
_ENGLISH_NUMBERS = "zero one two three four five six seven eight nine ten eleven twelve".split()
_NUMBER_WORDS: dict[str, int] = {
    **{word: value for value, word in enumerate(_FRENCH_NUMBERS)},
    **{word: value for value, word in enumerate(_ENGLISH_NUMBERS)},
    "une": 1,
}
# Also articles ("un peu long", "one of the best"): they count only when alone or marked.
_ARTICLE_NUMBERS = frozenset({"un", "une", "one"})
_SCORE_CUES = frozenset(
    {"note", "notes", "noter", "mets", "met", "mettrais", "donne", "donnerais", "dirais", "give"}
    | {"gave", "giving", "rate", "rating", "score", "say"}
)
_STAR_WORDS = frozenset({"etoile", "etoiles", "star", "stars"})
_STAR_SYMBOLS = frozenset({"⭐", "★", "🌟"})
# A number followed by one of these measures something else: "3 fois", "2 heures", "10 ans".
_UNITS = frozenset(
    {"fois", "h", "heure", "heures", "min", "mn", "minute", "minutes", "sec", "seconde", "secondes"}
    | {"jour", "jours", "j", "semaine", "semaines", "mois", "an", "ans", "annee", "annees", "euro"}
    | {"euros", "eur", "personne", "personnes", "appel", "appels", "e", "eme", "er", "ere", "times"}
    | {"hour", "hours", "hr", "hrs", "mins", "day", "days", "week", "weeks", "month", "months"}
    | {"year", "years", "yrs", "call", "calls", "people", "pounds", "nd", "rd", "th", "st", "%", "€"}
    | {"$", "£", "x"}
)
# A number after one of these at the end of a message is a date, a time or a reference.
_PREPOSITIONS = frozenset(
    {"a", "au", "aux", "le", "la", "les", "de", "du", "des", "en", "vers", "avant", "apres", "depuis"}
    | {"pendant", "dans", "par", "pour", "numero", "dossier", "commande", "ticket", "the", "at", "on"}
    | {"in", "by", "of", "for", "after", "before", "since", "order", "number", "ref"}
)


def _phrases(value: str, listing: str) -> dict[str, str]:
    """Phrases written comma-separated, folded, words separated by spaces."""
    return {phrase.strip(): value for phrase in listing.split(",")}


_CHOICE_PHRASES: dict[str, str] = {
    **_phrases(
        "yes",
        "oui, ouais, ouai, ouaip, ouep, wi, oiu, yes, yep, yeah, yea, yup, ok, okay, oki, okey, dac,"
        " daccord, d accord, bien sur, evidemment, absolument, certainement, tout a fait, exactement,"
        " exact, parfaitement, affirmatif, carrement, parfait, nickel, impeccable, super, sure,"
        " of course, definitely, absolutely, certainly, indeed, correct, perfect, pas de probleme,"
        " pas de souci, pas de soucis, aucun probleme, aucun souci, sans probleme, no problem,"
        " no problems, no worries, bien sur que oui,"
        " 👍, 👌, ✅, ✔, ☑, 🙂, 😊, 😀, 😃, 😄, 😁, 😆, 😍, 🥰, ☺, ❤, ♥, 💯, 🆗, 🤩, 🙌, 👏, 💪",
    ),
    **_phrases(
        "no",
        "non, nan, nn, no, nope, nah, nop, pas du tout, absolument pas, pas vraiment, pas trop,"
        " pas encore, toujours pas, pas moyen, jamais, aucunement, negatif, never, not at all,"
        " not really, not yet, still not, no way, definitely not, certainly not, absolutely not,"
        " of course not, certainement pas, evidemment pas, surement pas, bien sur que non, 👎, ❌, ✖, ❎, 🙁,"
        " ☹, 😞, 😟, 😠, 😡, 🤬, 😢, 😭, 😤, 😒, 💩, 🚫, ⛔, 😩, 😫",
    ),
    **_phrases(
        "partly",
        "en partie, partiellement, a moitie, moitie, a peu pres, plus ou moins, moyen, moyennement,"
        " bof, un peu, presque, pas completement, pas totalement, pas entierement, pas tout a fait,"
        " en grande partie, oui et non, partly, partially, in part, sort of, sorta, kind of, kinda,"
        " somewhat, more or less, mostly, almost, a bit, not completely, not entirely, not fully,"
        " not quite, yes and no",
    ),
    **_phrases(
        "na",
        "sans objet, pas concerne, pas concernee, non concerne, non concernee, non applicable,"
        " pas applicable, not applicable, does not apply, doesn t apply, doesnt apply,"
        " ne s applique pas, not relevant",
    ),
}
_CORRECTIONS = frozenset({"enfin", "plutot", "sinon", "actually", "mean", "or", "ou", "well"})
_INTENSIFIERS = _phrases(
    "",
    "vraiment, tout, du tout, absolument, totalement, completement, parfaitement, entierement,"
    " really, totally, completely, fully, definitely, absolutely, at all",
)

_FRENCH = frozenset(
    "oui ouais non nan merci svp stp bonjour bonsoir salut tres bien pas du tout partie partiellement"
    " zero deux trois quatre cinq sept huit neuf dix onze sur arret arretez aide desabonner desinscrire"
    " je j c est et mais le la les de des pour avec rien vraiment conseiller attente rapide moyen bof"
    " daccord accord plait vous il concerne sans objet probleme souci nickel parfait mets note etoiles"
    " peu long fois heures ans".split()
)
_ENGLISH = frozenset(
    "yes yeah yep yup no nope nah thanks thank please the and but very good great one two three four"
    " five seven eight nine ten eleven out of help unsubscribe not at all partly sort kind is it was i"
    " you my really quite still yet never perfect fixed applicable problem worries sure course give"
    " stars long times hours years".split()
)
_FRENCH_ACCENTS = frozenset("àâçéèêëîïôùûœ")

# ---------------------------------------------------------------------------------------------
# Tokens keep their span in the original text, so that a comment is cut from what the customer
# wrote, with its accents and capitals, not from the folded form used for matching.

_TokenKind = Literal["word", "number", "symbol", "punct"]
_TOKEN = re.compile(r"(\d+(?:[.,]\d+)?)|([^\W\d_]+)|(\S)")
_SEPARATORS = " \t\r\n,.;:!?-–—/|=>*#"


@dataclass(frozen=True)
class _Token:
    text: str  # folded: lower case, no accents
    kind: _TokenKind
    start: int
    end: int
    spaced: bool  # whitespace (or the start of the message) before it


def _fold(character: str) -> str:
    if character in "\u2019\u2018\u02bc\u2032`\u00b4":
        return "'"
    # Accents, variation selectors, joiners and skin tones: "👍🏽" reads as "👍", "❤️" as "❤".
    if unicodedata.category(character) in ("Mn", "Me", "Cf") or 0x1F3FB <= ord(character) <= 0x1F3FF:
        return ""
    decomposed = unicodedata.normalize("NFKD", character.casefold())
    folded = "".join(part for part in decomposed if not unicodedata.combining(part))
    return folded.replace("œ", "oe").replace("æ", "ae")


def _tokenise(text: str) -> list[_Token]:
    folded: list[str] = []
    origin: list[int] = []
    for index, character in enumerate(text):
        for part in _fold(character):
            folded.append(part)
            origin.append(index)
    tokens: list[_Token] = []
    previous_end: int | None = None
    for match in _TOKEN.finditer("".join(folded)):
        number, word, other = match.groups()
        kind: _TokenKind
        if number:
            kind = "number"
        elif word:
            kind = "word"
        else:
            kind = "symbol" if unicodedata.category(other) == "So" else "punct"
        spaced = previous_end is None or match.start() > previous_end
        tokens.append(_Token(match.group(), kind, origin[match.start()], origin[match.end() - 1] + 1, spaced))
        previous_end = match.end()
    return tokens


def _collapse(word: str) -> str:
    """ "ouiiii" → "oui", "nonnn" → "non": people stretch words for emphasis."""
    return re.sub(r"(.)\1+", r"\1", word)


class _PhraseTable:
    """Phrases of one or more words, looked up longest first, forgiving repeated letters."""

    def __init__(self, phrases: dict[str, str]) -> None:
        self.entries: dict[tuple[str, ...], str] = {}
        for phrase, value in phrases.items():
            words = tuple(phrase.split())
            self.entries[words] = value
            collapsed = tuple(_collapse(word) for word in words)
            # "nn" collapses to "n", and the "n" of "n'a pas été résolu" must not read as "non".
            if len("".join(collapsed)) > 1:
                self.entries.setdefault(collapsed, value)
        self.longest = max(len(words) for words in self.entries)

    def exact(self, words: Sequence[str]) -> str | None:
        window = tuple(words)
        if window in self.entries:
            return self.entries[window]
        return self.entries.get(tuple(_collapse(word) for word in window))

    def match(self, words: Sequence[str], at: int) -> tuple[str, int] | None:
        """The value of the longest phrase starting at ``at``, and where it ends."""
        for length in range(min(self.longest, len(words) - at), 0, -1):
            value = self.exact(words[at : at + length])
            if value is not None:
                return value, at + length
        return None


_CHOICES = _PhraseTable(_CHOICE_PHRASES)
_INTENSIFYING = _PhraseTable(_INTENSIFIERS)
_NOT_APPLICABLE = _PhraseTable({phrase: value for phrase, value in _CHOICE_PHRASES.items() if value == "na"})


_KEYWORDS: dict[str, ReplyKind] = {
    _collapse(word): kind
    for kind, words in (("opt_in", _OPT_IN_WORDS), ("help", _HELP_WORDS), ("opt_out", _OPT_OUT_WORDS))
    for word in words
}
_CAPITALISED_OPT_OUT = frozenset({"stop", "stopal", "aret"})  # STOP, STOPALL, ARRET, collapsed


def _keyword_kind(word: str) -> ReplyKind | None:
    """ "stop", "Stooop", "ARRÊT" (folded): the keyword a word is, if any."""
    return _KEYWORDS.get(_collapse(word))


def _strongest(kinds: Iterable[ReplyKind | None]) -> ReplyKind | None:
    found = set(kinds)
    return next((kind for kind in _PRECEDENCE if kind in found), None)


def _is_courtesy(piece: str) -> bool:
    return all(
        token.kind == "punct" or token.text in _COURTESY or token.text == "🙏" for token in _tokenise(piece)
    )


def _remainder(text: str, spans: Sequence[tuple[int, int]]) -> str:
    """The comment left once the answer is cut out (rules in the module docstring)."""
    pieces: list[str] = []
    cursor = 0
    for start, end in sorted(spans):
        pieces.append(text[cursor:start])
        cursor = max(cursor, end)
    pieces.append(text[cursor:])
    kept: list[str] = []
    for index, piece in enumerate(pieces):
        if index > 0:
            piece = piece.lstrip(_SEPARATORS)
        if index < len(pieces) - 1:
            piece = piece.rstrip(_SEPARATORS)
        piece = piece.strip()
        if piece and not _is_courtesy(piece):
            kept.append(piece)
    if not kept:
        return ""
    return kept[0] if len(kept) == 1 else text


def _language_hint(text: str, tokens: Sequence[_Token]) -> Language | None:
    """A cheap vote between French and English words; None when it cannot tell."""
    french = english = 0
    for token in tokens:
        if token.kind != "word":
            continue
        word = _collapse(token.text)
        if (
            token.text in _FRENCH
            or word in _FRENCH
            or _FRENCH_ACCENTS & set(text[token.start : token.end].lower())
        ):
            french += 1
        if token.text in _ENGLISH or word in _ENGLISH:
            english += 1
    if french > english:
        return "fr"
    if english > french:
        return "en"
    return None


# ---------------------------------------------------------------------------------------------
# Keywords


def _keyword(text: str, tokens: Sequence[_Token]) -> Reply | None:
    words = [token.text for token in tokens if token.kind in ("word", "number")]
    if not words:
        return Reply("help") if tokens and all(token.text == "?" for token in tokens) else None
    # Rule 1: the whole message is a keyword, whatever the punctuation and spacing.
    kind = _keyword_kind("".join(words))
    if kind is not None:
        return Reply(kind)
    # Rule 2: a keyword with only polite or filler words around it.
    strongest = _strongest(map(_keyword_kind, words))
    if strongest is not None:
        if all(_keyword_kind(word) is not None or word in _KEYWORD_COMPANIONS for word in words):
            return Reply(strongest)
    # Rule 3: STOP in capitals opening or closing the message.
    content = [t for t in tokens if t.kind in ("word", "number") and t.text not in _COURTESY]
    for edge in (content[0], content[-1]) if content else ():
        original = text[edge.start : edge.end]
        if _collapse(edge.text) in _CAPITALISED_OPT_OUT and original.isupper():
            return Reply("opt_out", comment=_remainder(text, [(edge.start, edge.end)]))
    # Rule 3b: a lowercase STOP set off as a sentence of its own at either end ("stop, c'est parfait").
    if content and _set_off(tokens, content[0], content[-1]):
        edge = content[0] if _keyword_kind(content[0].text) == "opt_out" else content[-1]
        return Reply("opt_out", comment=_remainder(text, [(edge.start, edge.end)]))
    # Rule 4: an explicit request not to be contacted, anywhere in the message.
    for index in range(len(words)):
        if index and words[index - 1] in _AUXILIARIES:
            continue  # "il a arrêté de m'envoyer…" tells what happened
        if any(tuple(words[index : index + len(phrase)]) == phrase for phrase in _OPT_OUT_PHRASES):
            return Reply("opt_out", comment=text)
    # Rule 5: a sentence asking to be left alone that names no keyword.
    if _asks_to_be_left_alone(words):
        return Reply("opt_out", comment=text)
    return None


def _set_off(tokens: Sequence[_Token], first: _Token, last: _Token) -> bool:
    """An opt-out word opening the message and followed by punctuation, or closing it after punctuation."""
    at_first, at_last = tokens.index(first), tokens.index(last)
    if _keyword_kind(first.text) == "opt_out" and first is not last:
        following = tokens[at_first + 1] if at_first + 1 < len(tokens) else None
        if following is not None and following.kind == "punct" and following.text in ",.;!:":
            return True
    if _keyword_kind(last.text) == "opt_out" and first is not last:
        preceding = tokens[at_last - 1] if at_last > 0 else None
        if preceding is not None and preceding.kind == "punct" and preceding.text in ",.;!:":
            return True
    return False


def _near(words: Sequence[str], start: int, stop: int, vocabulary: frozenset[str]) -> bool:
    return any(word in vocabulary for word in words[max(start, 0) : stop])


def _asks_to_be_left_alone(words: Sequence[str]) -> bool:
    """Rule 5 (module docstring): a stop verb, "ne … plus", "no longer want", "plus de", "marre"
    with a word for texts or for contacting within a few words. Errs towards the opt-out: a
    missed one is a breach, a wrong one only loses a survey answer the customer can still give."""
    for index, word in enumerate(words):
        before = words[index - 1] if index else ""
        # "arrêtez de m'écrire", "stop the messages", "quit texting me" — not "don't stop", "a arrêté de".
        if word in _STOP_VERBS and _near(words, index + 1, index + 5, _CONTACT):
            negated = before in {"don", "dont", "not", "never", "t"} or (
                _near(words, index - 2, index, frozenset({"n", "ne"}))
                and "pas" in words[index + 1 : index + 3]
            )
            if not negated and before not in _AUXILIARIES:
                return True
        # "ne m'écrivez plus", "je ne veux plus être contacté" — not "personne ne m'a plus contacté".
        if word == "plus" and _near(words, index - 4, index, frozenset({"ne", "n"})):
            opening = max(i for i in range(max(index - 4, 0), index) if words[i] in ("ne", "n"))
            if not _near(words, opening, index, _AUXILIARIES) and _near(words, opening, index + 5, _CONTACT):
                return True
        # "je veux plus recevoir de texto", "je veux plus de sms" (spoken French drops the "ne").
        if word == "plus" and before in _WANTING and _near(words, index + 1, index + 5, _CONTACT):
            return True
        # "plus de sms svp" opening the message; "no more sms"; "ça suffit les sms", "marre de vos sms".
        if word == "plus" and words[index + 1 : index + 2] == ["de"] and _opens(words, index):
            if _near(words, index + 2, index + 4, _CONTACT_NOUNS):
                return True
        if word == "more" and before == "no" and _near(words, index + 1, index + 3, _CONTACT_NOUNS):
            return True
        if word in _FED_UP and _near(words, index + 1, index + 5, _CONTACT_NOUNS):
            return True
        # "I don't want these texts", "I no longer wish to receive texts".
        if word in {"want", "wish"} and (
            tuple(words[max(index - 2, 0) : index]) in {("don", "t"), ("do", "not"), ("no", "longer")}
            or before == "dont"
        ):
            if _near(words, index + 1, index + 6, _CONTACT):
                return True
    # "pas de sms merci": only as the whole message ("pas de SMS de confirmation, 3" is a complaint).
    rest = [word for word in words if word not in _COURTESY]
    return len(rest) > 2 and rest[:2] == ["pas", "de"] and set(rest[2:]) <= _CONTACT_NOUNS | {"vos", "ces"}


def _opens(words: Sequence[str], index: int) -> bool:
    """Only polite or filler words before ``index``: the phrase opens the message."""
    return all(
        word in _LEADING_FILLERS or word in _WANTING or word in {"je", "j", "ne"} for word in words[:index]
    )


# ---------------------------------------------------------------------------------------------
# Answers


def _content_indexes(tokens: Sequence[_Token]) -> list[int]:
    return [
        index
        for index, token in enumerate(tokens)
        if token.kind == "number" or (token.kind == "word" and token.text not in _COURTESY)
    ]


def _not_applicable(text: str, tokens: Sequence[_Token]) -> tuple[int, int] | None:
    """The span of a leading "not applicable", if the reply opens with one."""
    view = [token for token in tokens if token.kind != "punct"]
    words = [token.text for token in view]
    # "N/A", "n.a.", "NA" alone; "n'a pas été résolu" is not one.
    if "".join(words) == "na" and all(t.text in "/." for t in tokens if t.kind == "punct"):
        return tokens[0].start, tokens[-1].end
    index = 0
    while index < len(words) and words[index] in _LEADING_FILLERS:
        index += 1
    match = _NOT_APPLICABLE.match(words, index)
    if match is None:
        return None
    return view[0].start, view[match[1] - 1].end


def _answer_not_applicable(text: str, span: tuple[int, int], allowed: bool) -> Reply:
    if not allowed:
        return Reply("unclear", comment=text)
    return Reply("answer", value="na", comment=_remainder(text, [span]))


def _parse_text(text: str, tokens: Sequence[_Token], allows_not_applicable: bool) -> Reply:
    span = _not_applicable(text, tokens)
    if allows_not_applicable and span is not None and _remainder(text, [span]) == "":
        return Reply("answer", value="na")
    return Reply("answer", value=text)


def _combine(first: str, second: str) -> str | None:
    """Two answer words in a row: "oui en partie" is partly, "oui non" cannot be read."""
    if first == second:
        return first
    if "na" in (first, second):
        return None
    if "partly" in (first, second):
        return "partly"
    return None


def _parse_choice(text: str, tokens: Sequence[_Token], allows_not_applicable: bool) -> Reply:
    positions = [index for index, token in enumerate(tokens) if token.kind != "punct"]
    view = [tokens[index] for index in positions]
    words = [token.text for token in view]
    if "".join(words) == "na" and all(t.text in "/." for t in tokens if t.kind == "punct"):
        return _answer_not_applicable(text, (tokens[0].start, tokens[-1].end), allows_not_applicable)
    begin = 0
    while begin < len(words) and words[begin] in _LEADING_FILLERS:
        begin += 1
    first = begin
    match = _CHOICES.match(words, begin)
    if match is None:
        # "Franchement, oui": an answer closing the message, set off by punctuation.
        last = len(words)
        while last > begin and words[last - 1] in _COURTESY:
            last -= 1
        for first in range(max(begin, last - _CHOICES.longest), last):
            value = _CHOICES.exact(words[first:last])
            before = positions[first] - 1
            if value is not None and before >= 0 and tokens[before].kind in ("punct", "symbol"):
                match = value, last
                break
    if match is None:
        return Reply("unclear", comment=text)
    value, stop = match
    while stop < len(words):
        if words[stop] in _CORRECTIONS:
            # "Oui, enfin non": the customer changed their mind mid-message; ask again.
            corrected = _CHOICES.match(words, stop + 1)
            if corrected is not None and _combine(value, corrected[0]) != value:
                return Reply("unclear", comment=text)
            break
        answer = _CHOICES.match(words, stop)
        intensifier = _INTENSIFYING.match(words, stop)
        if intensifier is not None and (answer is None or intensifier[1] >= answer[1]):
            stop = intensifier[1]
            continue
        if answer is None:
            break
        combined = _combine(value, answer[0])
        if combined is None:
            return Reply("unclear", comment=text)
        value, stop = combined, answer[1]
    if value == "na" and not allows_not_applicable:
        return Reply("unclear", comment=text)
    start = view[0].start if first == begin else view[first].start
    return Reply("answer", value=value, comment=_remainder(text, [(start, view[stop - 1].end)]))


@dataclass(frozen=True)
class _Candidate:
    value: int | None  # None: a decimal or a range, which only the customer can settle
    start: int
    end: int
    strong: bool  # marked with its scale, stars, or announced ("je mets")
    fits_scale: bool


def _number(token: _Token) -> tuple[bool, int | None]:
    """Whether the token is a number, and its value (None for a decimal)."""
    if token.kind == "number":
        return True, int(token.text) if token.text.isdigit() else None
    if token.kind == "word" and token.text in _NUMBER_WORDS:
        return True, _NUMBER_WORDS[token.text]
    return False, None


def _previous_words(tokens: Sequence[_Token], index: int, count: int) -> set[str]:
    words = [token.text for token in tokens[:index] if token.kind == "word"]
    return set(words[-count:])


def _is_separator(token: _Token) -> bool:
    return token.kind == "punct" and token.text in _SEPARATORS


def _is_range(tokens: Sequence[_Token], index: int) -> bool:
    """ "8 ou 9", "entre 8 et 9", "8 to 9": two scores offered, neither chosen."""
    joiners = ("ou", "et", "a", "or", "and", "to")
    after = tokens[index + 1 : index + 3]
    before = tokens[max(0, index - 2) : index]
    return (len(after) == 2 and after[0].text in joiners and _number(after[1])[0]) or (
        len(before) == 2 and before[1].text in joiners and _number(before[0])[0]
    )


def _score_candidates(tokens: Sequence[_Token], top: int) -> list[_Candidate]:
    content = _content_indexes(tokens)
    first, last = (content[0], content[-1]) if content else (-1, -1)
    consumed: set[int] = set()
    candidates: list[_Candidate] = []
    for index, token in enumerate(tokens):
        is_number, value = _number(token)
        if index in consumed or not is_number:
            continue
        is_word = token.kind == "word"
        before = tokens[index - 1] if index > 0 else None
        after = tokens[index + 1] if index + 1 < len(tokens) else None
        # "10h30", "3x", "2eme": glued to letters, a number measuring something else.
        if not is_word and (
            (before is not None and before.kind == "word" and not token.spaced)
            or (after is not None and after.kind == "word" and not after.spaced)
        ):
            continue
        start, end = token.start, token.end
        # "-1", but not the "-9" of "8-9".
        if before is not None and before.text == "-" and not token.spaced and (index == 1 or before.spaced):
            value = None if value is None else -value
            start = before.start
        strong, fits_scale, scaled = False, True, False
        denominator_at = None
        following = [t.text for t in tokens[index + 1 : index + 3]]
        if following[:1] in (["/"], ["sur"], ["on"]) and index + 2 < len(tokens):
            denominator_at = index + 2
        elif following == ["out", "of"] and index + 3 < len(tokens):
            denominator_at = index + 3
        if denominator_at is not None and _number(tokens[denominator_at])[0]:
            consumed.add(denominator_at)
            denominator = _number(tokens[denominator_at])[1]
            date = denominator_at + 1 < len(tokens) and tokens[denominator_at + 1].text == "/"
            if denominator not in (5, 10) or date:
                continue  # "12/03", "3 sur 4": a date or a fraction, not a score
            strong, scaled, fits_scale = True, True, denominator == top
            end = tokens[denominator_at].end
        elif after is not None and after.text in _STAR_WORDS:
            strong, scaled, fits_scale = True, True, top == 5
            end = after.end
        if _previous_words(tokens, index, 3) & _SCORE_CUES:
            # "Client depuis 10 ans, je mets 9": the comment is what precedes the announcement.
            strong = True
            clause = index
            while clause > 0 and not _is_separator(tokens[clause - 1]):
                clause -= 1
            start = tokens[clause].start
        if is_word and token.text in _ARTICLE_NUMBERS and not scaled and content != [index]:
            continue
        if not strong:
            if after is not None and after.text in _UNITS:
                continue
            if is_word:
                alone = content == [index]
                opens = index == first and (after is None or _is_separator(after))
                closes = index == last and (before is None or _is_separator(before))
                if not (alone or opens or closes):
                    continue
            else:
                closes = index == last and not _previous_words(tokens, index, 1) & _PREPOSITIONS
                if not (index == first or closes):
                    continue
            if _is_range(tokens, index):
                value = None
        candidates.append(_Candidate(value, start, end, strong, fits_scale))
    return candidates


def _parse_score(text: str, tokens: Sequence[_Token], kind: str, allows_not_applicable: bool) -> Reply:
    low, high = SCALES[kind]
    span = _not_applicable(text, tokens)
    if span is not None:
        return _answer_not_applicable(text, span, allows_not_applicable)
    symbols = [token.text for token in tokens if token.kind == "symbol"]
    if not _content_indexes(tokens) and symbols and all(symbol in _STAR_SYMBOLS for symbol in symbols):
        # ⭐⭐⭐⭐: stars are a five-point scale, meaningless for a 0–10 question.
        if kind == "csat" and low <= len(symbols) <= high:
            return Reply("answer", value=len(symbols))
        return Reply("unclear", comment=text)
    candidates = _score_candidates(tokens, high)
    chosen = [candidate for candidate in candidates if candidate.strong] or candidates
    values = {candidate.value for candidate in chosen}
    if not chosen or len(values) != 1 or not all(candidate.fits_scale for candidate in chosen):
        return Reply("unclear", comment=text)
    value = values.pop()
    if value is None or not low <= value <= high:
        return Reply("unclear", comment=text)
    return Reply("answer", value=value, comment=_remainder(text, [(c.start, c.end) for c in chosen]))


def parse_reply(text: str, *, question_kind: QuestionKind, allows_not_applicable: bool = False) -> Reply:
    """Understand one inbound SMS sent in answer to a question of ``question_kind``."""
    if question_kind not in ("nps", "csat", "ces", "choice", "text"):
        raise ValueError(f"unknown question kind: {question_kind!r}")
    text = unicodedata.normalize("NFC", text).strip()
    tokens = _tokenise(text)
    if not tokens:
        return Reply("unclear")
    language = _language_hint(text, tokens)
    reply = _keyword(text, tokens)
    if reply is None:
        if question_kind == "text":
            reply = _parse_text(text, tokens, allows_not_applicable)
        elif question_kind == "choice":
            reply = _parse_choice(text, tokens, allows_not_applicable)
        else:
            reply = _parse_score(text, tokens, question_kind, allows_not_applicable)
    return Reply(reply.kind, reply.value, reply.comment, language)
