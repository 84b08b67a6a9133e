"""Loader for GCIDE (GNU Collaborative International Dictionary of English).

Reads the dictd form of GCIDE as shipped by the Debian package ``dict-gcide``
(``gcide.index`` and ``gcide.dict.dz``) and turns every sense of every entry
into a :class:`GcideDefinition` row with two facets taken from the entry
markup, never from the text:

* ``pos``: part of speech of the entry ("n.", "v. t.", "a.", "adv.", ...)
  normalised to "noun", "verb", "adjective", "adverb", "preposition",
  "conjunction", "interjection" or "pronoun" (``None`` for anything else,
  e.g. participles, affixes or mixed tags such as "a. & n.");
* ``field``: the subject label of the sense, e.g. "(Bot.)" -> "Bot"; a label
  at the start of a numbered sense overrides the one in the entry header.

The ``text`` holds only the definition itself: headword, pronunciation,
part-of-speech tag, inflections, etymology, subject label, usage labels
("[Obs.]"), source tags ("[1913 Webster]"), quotations and their authors,
synonym lists, usage notes and cross-reference braces are removed.

Entry layout (dictd rendering of the 1913 Webster / WordNet material)::

    Abacus \\Ab"a*cus\\ ([a^]b"[.a]*k[u^]s), n.; E. pl. {Abacuses}; L.
       pl. {Abaci} (-s[imac]). [L. abacus, abax, Gr. 'a`bax]
       1. A table or tray strewn with sand, ... [Obs.]
          [1913 Webster]

       3. (Arch.)
          (a) The uppermost member or division of the capital ...
          (b) A tablet, panel, or compartment in ornamented ...
              [1913 Webster]

       {Abacus harmonicus} (Mus.), an ancient diagram showing ...

Each numbered sense and each lettered sub-sense becomes one row; an entry
without numbers gives one row.  Run-in phrase definitions ("{Abacus
harmonicus} (Mus.), ...") become rows whose headword is the phrase and whose
``pos`` is ``None`` (GCIDE does not tag them); pass ``include_phrases=False``
to leave them out.
"""

from __future__ import annotations

import gzip
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "MAIN_POS",
    "GcideDefinition",
    "load_gcide",
    "normalise_field",
    "normalise_pos",
    "parse_entry",
    "read_entries",
    "two_facet_subset",
]

DEFAULT_PATH = "/usr/share/dictd"
MAIN_POS: tuple[str, ...] = ("noun", "verb", "adjective", "adverb")

_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_B64_VALUE = {c: i for i, c in enumerate(_B64)}


@dataclass(frozen=True, slots=True)
class GcideDefinition:
    """One sense of one GCIDE entry."""

    id: str  # f"{headword}#{n}", n counts the senses of that headword in file order
    headword: str
    text: str  # definition only, markup-free
    pos: str | None  # normalised part of speech (see ``normalise_pos``)
    field: str | None  # subject label without trailing dot, e.g. "Bot"
    pos_tag: str | None = None  # raw GCIDE tag, e.g. "v. t."

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# --------------------------------------------------------------------------
# Normalisation of the two facets
# --------------------------------------------------------------------------

_POS_TABLE: dict[str, str] = {
    **dict.fromkeys(
        (
            "n.",
            "n. pl.",
            "n. sing.",
            "n. sing. & pl.",
            "n. pl. & sing.",
            "n. fem.",
            "n. f.",
            "n. masc.",
            "n. m.",
            "pl.",
            "prop. n.",
            "prop. n. pl.",
            "pr. n.",
            "peop. n.",
            "n. collect.",
        ),
        "noun",
    ),
    **dict.fromkeys(
        (
            "v.",
            "v. t.",
            "v. i.",
            "v. t. & i.",
            "v. i. & t.",
            "v. t. & v. i.",
            "v. i. & v. t.",
            "v. impers.",
            "v. aux.",
            "v. refl.",
        ),
        "verb",
    ),
    **dict.fromkeys(
        (
            "a.",
            "adj.",
            "prop. a.",
            "prop. adj.",
            "p. a.",
            "adj. prenom.",
            "pred. adj.",
            "pred. a.",
            "a. superl.",
            "a. compar.",
        ),
        "adjective",
    ),
    "adv.": "adverb",
    "prep.": "preposition",
    "conj.": "conjunction",
    "interj.": "interjection",
    "pron.": "pronoun",
}

# Spelled-out or variant subject labels mapped to the usual Webster
# abbreviation (after diacritics and the trailing dot are removed).
_FIELD_ALIASES: dict[str, str] = {
    "Anatomy": "Anat",
    "Architecture": "Arch",
    "Astronomy": "Astron",
    "Biology": "Biol",
    "Botany": "Bot",
    "Chemistry": "Chem",
    "Electricity": "Elec",
    "Geology": "Geol",
    "Geometry": "Geom",
    "Mathematics": "Math",
    "Medicine": "Med",
    "Mineralogy": "Min",
    "Music": "Mus",
    "Nautical": "Naut",
    "Physics": "Physics",
    "Physiology": "Physiol",
    "Zoology": "Zool",
    "Aeronautics": "Aeron",
    "Ethnology": "Ethnol",
    "Ethn": "Ethnol",
    "Geography": "Geog",
    "Military": "Mil",
    "Palaeontology": "Paleon",
    "Paleontology": "Paleon",
    "Railroads": "Railroad",
}


def normalise_pos(tag: str | None) -> str | None:
    """Map a raw GCIDE part-of-speech tag ("v. t.", "a.", ...) to a word class."""
    if not tag:
        return None
    return _POS_TABLE.get(" ".join(tag.split()))


def normalise_field(label: str | None) -> str | None:
    """Normalise a subject label: "(Zo[\"o]l.)" / "Zoöl." -> "Zool"."""
    if not label:
        return None
    label = _strip_diacritics(_convert_codes(label)).strip(" ().")
    label = " ".join(label.replace(" .", ".").split())
    label = label.rstrip(".")
    return _FIELD_ALIASES.get(label, label) or None


# --------------------------------------------------------------------------
# Character codes: GCIDE writes accents and symbols as "[code]"
# --------------------------------------------------------------------------

_DIACRITIC_PREFIX = {
    "'": "\u0301",  # ['e] acute
    "`": "\u0300",  # [`e] grave
    '"': "\u0308",  # ["o] diaeresis
    "=": "\u0304",  # [=a] macron
    "-": "\u0304",  # [-e] macron (pronunciation variant)
    "~": "\u0303",  # [~n] tilde
    "^": "\u0302",  # [^o] circumflex
    ".": "\u0307",  # [.a] dot
    ",": "\u0327",  # [,c] cedilla
    "*": "\u030a",  # [*a] ring
}
_SYMBOLS = {
    "ae": "æ",
    "AE": "Æ",
    "oe": "œ",
    "OE": "Œ",
    "imac": "ī",
    "eth": "ð",
    "thorn": "þ",
    "yogh": "ȝ",
    "ng": "ŋ",
    "th": "θ",
    "aum": "ä",
    "add": "a",
    "udd": "u",
    "asl": "a",
    "oo": "oo",
    "=oo": "ōō",
    "oo^": "o͝o",
    "=ae": "ǣ",
    "deg": "°",
    "min": "′",
    "sec": "″",
    "sect": "§",
    "para": "¶",
    "root": "√",
    "times": "×",
    "divide": "÷",
    "pound": "£",
    "pounds": "£",
    "cent": "¢",
    "dagger": "†",
    "ddagger": "‡",
    "flat": "♭",
    "sharp": "♯",
    "natural": "♮",
    "prime": "′",
    "bprime": "″",
    "frac12": "½",
    "frac13": "⅓",
    "frac14": "¼",
    "frac34": "¾",
    "frac23": "⅔",
    "frac18": "⅛",
    "dsdot": "",
    "bar": "",
    "break": "",
    "crescent": "☾",
}
_GREEK = (
    "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi "
    "omicron pi rho sigma tau upsilon phi chi psi omega"
).split()
for _i, _name in enumerate(_GREEK):
    _lower = chr(0x3B1 + _i + (1 if _i >= 17 else 0))  # skip final sigma
    _SYMBOLS[_name] = _lower
    _SYMBOLS[_name.capitalize()] = _lower.upper()

_CODE_RE = re.compile(r"\[([^\[\]\s]{1,8})\]")


def _code_to_text(match: re.Match[str]) -> str:
    code = match.group(1)
    symbol = _SYMBOLS.get(code)
    if symbol is not None:
        return symbol
    if len(code) == 2:
        # diacritic before ("'e", "=a") or after ("a^" is a breve) the letter
        first, second = code
        if first in _DIACRITIC_PREFIX and second.isalpha():
            return unicodedata.normalize("NFC", second + _DIACRITIC_PREFIX[first])
        if second == "^" and first.isalpha():
            return unicodedata.normalize("NFC", first + "\u0306")
    return match.group(0)  # a label such as "[Obs.]" or "[R.]": left for later


def _convert_codes(text: str) -> str:
    return _CODE_RE.sub(_code_to_text, text)


def _strip_diacritics(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


# --------------------------------------------------------------------------
# Reading the dictd files
# --------------------------------------------------------------------------


def _b64_int(token: str) -> int:
    value = 0
    for char in token:
        value = value * 64 + _B64_VALUE[char]
    return value


def read_entries(path: str | Path = DEFAULT_PATH) -> list[str]:
    """Return the raw text of every GCIDE entry, in file order.

    ``path`` is the directory holding ``gcide.index`` and ``gcide.dict.dz``
    (or an uncompressed ``gcide.dict``).  Entries reached by several index
    headwords (inflected forms, variants) are returned once.
    """
    root = Path(path)
    spans: set[tuple[int, int]] = set()
    with open(root / "gcide.index", encoding="utf-8") as index:
        for line in index:
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 3 or parts[0].startswith("00-database"):
                continue
            spans.add((_b64_int(parts[1]), _b64_int(parts[2])))
    dz = root / "gcide.dict.dz"
    raw = gzip.open(dz).read() if dz.exists() else (root / "gcide.dict").read_bytes()
    # The file is ASCII apart from three stray bytes (two cp1252/Mac
    # apostrophes and a latin-1 "ç"); latin-1 keeps character offsets equal
    # to the byte offsets of the index.
    data = raw.decode("latin-1").replace("\x92", "'").replace("\xb9", "'")
    entries: list[str] = []
    for offset, length in sorted(spans):
        text = data[offset : offset + length]
        # A few entries carry the next entry glued after a source tag:
        # "   [1913 Webster] Atonic \\A*ton"ic\\, a. ..."; split them off.
        cuts = [m.end() for m in _EMBEDDED_HEADER_RE.finditer(text)] if "] " in text else []
        starts = [0, *cuts]
        ends = [*(_line_start(text, cut) for cut in cuts), len(text)]
        entries.extend(text[start:end] for start, end in zip(starts, ends, strict=True))
    return entries


_EMBEDDED_HEADER_RE = re.compile(r"^ +\[[^\[\]\n]*\] +(?=[^\s\\][^\\\n]*\\[^\\\n]+\\)", re.M)


def _line_start(text: str, index: int) -> int:
    return text.rfind("\n", 0, index) + 1


# --------------------------------------------------------------------------
# Parsing one entry
# --------------------------------------------------------------------------

_HEADWORD_RE = re.compile(r"\s*([^\\\n]+?)\s*\\[^\\\n]*(?:\n[^\\\n]*)?\\")
_PRON_RE = re.compile(r"\s*\((?:[^()]|\([^()]*\))*\)")  # tried after _FIELD_RE
_SEP_RE = re.compile(r"\s*[,.]?")
_POS_TOKENS = (
    "n|v|t|i|a|adj|adv|prep|conj|interj|pron|p|pr|pl|imp|vb|sing|prop|peop|"
    "obs|superl|compar|prenom|pred|fem|f|m|masc|impers|aux|refl|collect|suff|pref"
)
_POS_RE = re.compile(rf"\s*((?:(?:{_POS_TOKENS})\.)(?:\s*&?\s*(?:{_POS_TOKENS})\.)*)(?![\w-])")
_INFLECTION_RE = re.compile(  # "; E. pl. {Abacuses}; L. pl. {Abaci} (-s[imac])."
    r"\s*[,;](?:\s*(?:[A-Z][a-z]?\.|(?:pl|sing|fem|masc|superl|compar|etc)\.|or|&|,|;"
    r"|\{[^{}]*\}|\((?:[^()]|\([^()]*\))*\)))*?\s*(?:pl|sing|superl|compar|fem|masc)\."
    r"(?:\s*(?:[A-Z][a-z]?\.|(?:pl|sing|fem|masc|superl|compar|etc)\.|or|&|,|;"
    r"|\{[^{}]*\}|\((?:[^()]|\([^()]*\))*\)))+\s*\.?"
)
_FIELD_BODY = r"[A-Z][A-Za-z\[\]\"'`^~=.]*\.?(?:\s*(?:&|and|,)?\s*[A-Za-z\[\]\"'`^~=.]+\.?){0,4}"
_FIELD_RE = re.compile(rf"\s*\(({_FIELD_BODY})\)")
_NOT_FIELD_RE = re.compile(  # parenthesised usage notes that are not subject labels
    r"(?:Usually|With|Of|As|Among|Preceded|Pronounced|Popularly|Literally|L\.|Formerly|Hence"
    r"|Also|Sometimes|Often|Chiefly|Rarely|Esp|Collectively|Fig|Obs|Written|Originally|Called)\b"
)
_SENSE_RE = re.compile(r"^ {2,4}(\d+)\.\s+")
_SUBSENSE_RE = re.compile(r"^\s*\(([a-z])\)\s+", re.M)
_PHRASE_RE = re.compile(r"^\s{1,6}\{")
_OPENERS = frozenset("{SUNA")  # phrase, "Syn:", "Usage:", "Note:", "Antonyms:"
_SKIP_PARA_RE = re.compile(r"^\s*(?:Syn:|Syn\.|Usage:|Note:|Ant:|Antonyms?:|See also:)")
_SOURCE_RE = re.compile(
    r"\[(?:[^\[\]]*(?:Webster|WordNet|PJC|Century Dict|RDH|RHUD|MW1\d|MI1\d)[^\[\]]*|AS)\]"
)
_PHRASE_ALTERNATIVE_RE = re.compile(r"^(?:\s*,?\s*or\s*\{[^{}]*\})+")
_SOURCE_LINE_RE = re.compile(r"^\s*\[[^\[\]]*\]\s*$")
_RUN_ON_RE = re.compile(r"\s--\s*\{")
_ATTRIBUTION_RE = re.compile(r"(?<![^\s])--(?=[A-Z0-9\[])")
_TRAILING_QUOTE_RE = re.compile(r'\s*"[^"]*"[\s.,;:]*$')
_BRACKET_RE = re.compile(r"\[[^\[\]]*\]")
_BRACE_RE = re.compile(r"\{([^{}]*)\}")
_BACKSLASH_RE = re.compile(r"\\[^\\]*\\")
_LEADING_NUMBER_RE = re.compile(r"^\d+\s+(?=\()")
_SPACE_PUNCT_RE = re.compile(r"\s+([,.;:!?])")


def _balanced(text: str, start: int, open_: str, close: str) -> int:
    """Index just past the bracket group opening at ``start`` (or -1)."""
    depth = 0
    for index in range(start, len(text)):
        char = text[index]
        if char == open_:
            depth += 1
        elif char == close:
            depth -= 1
            if depth == 0:
                return index + 1
    return -1


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos].isspace():
        pos += 1
    return pos


def _skip_separator(text: str, index: int) -> int:
    """Skip blanks and at most one "," or "." between header items."""
    return _SEP_RE.match(text, index).end()  # type: ignore[union-attr]  # always matches


def _parse_header(entry: str) -> tuple[str, str | None, str | None, int]:
    """Return (headword, raw pos tag, header field, offset of the body)."""
    match = _HEADWORD_RE.match(entry)
    if match is None:
        return "", None, None, 0
    headword = match.group(1)
    cursor = match.end()
    while True:  # pronunciations and alternative headwords
        at = _skip_separator(entry, cursor)
        pron = None if _FIELD_RE.match(entry, at) else _PRON_RE.match(entry, at)
        if pron:
            cursor = pron.end()
        alt = _HEADWORD_RE.match(entry, _skip_separator(entry, cursor))
        if (
            alt
            and "\n\n" not in entry[cursor : alt.end()]
            and not _SENSE_RE.match(entry[_line_start(entry, alt.start()) :])
        ):
            cursor = alt.end()
            continue
        break
    cursor = _skip_separator(entry, cursor)
    tag = None
    pos_match = _POS_RE.match(entry, cursor)
    if pos_match:
        tag = " ".join(pos_match.group(1).split())
        cursor = pos_match.end()
    field = None
    while True:  # inflections, etymologies, subject label, in any order
        start = _skip_space(entry, cursor)
        if start < len(entry) and entry[start] == "[":
            end = _balanced(entry, start, "[", "]")
            if end < 0:
                break
            cursor = end
            continue
        inflection = _INFLECTION_RE.match(entry, cursor)
        if inflection:
            cursor = inflection.end()
            continue
        label = _FIELD_RE.match(entry, cursor)
        if label and field is None and not _NOT_FIELD_RE.match(label.group(1)):
            field = label.group(1)
            cursor = label.end()
            continue
        pron = None if label else _PRON_RE.match(entry, cursor)
        if pron and "\n" not in entry[cursor:start]:
            cursor = pron.end()
            continue
        if start < len(entry) and entry[start] in ".,;":
            cursor = start + 1
            continue
        break
    return _convert_codes(headword).strip(), tag, field, cursor


def _clean(text: str) -> str:
    """Definition text without labels, quotations, sources and markup."""
    if "[" in text:
        source = _SOURCE_RE.search(text)
        if source:
            text = text[: source.start()]
        text = _convert_codes(text)
    if "--" in text:
        run_on = _RUN_ON_RE.search(text)  # "-- {Un*wor"thi*ly}, adv." derived forms
        if run_on:
            text = text[: run_on.start()]
        attribution = _ATTRIBUTION_RE.search(text)  # "--Shak.", "--Gen. xxiv. 55."
        if attribution:
            text = text[: attribution.start()]
    while "[" in text:  # usage labels such as "[Obs.]"; innermost first
        stripped = _BRACKET_RE.sub(" ", text)
        if stripped == text:
            break
        text = stripped
    while "{" in text:  # cross-reference / italic braces
        stripped = _BRACE_RE.sub(r"\1", text)
        if stripped == text:
            break
        text = stripped
    while text.rstrip(" \n.,;:").endswith('"'):  # trailing quoted example
        stripped = _TRAILING_QUOTE_RE.sub("", text)
        if stripped == text or not stripped.strip():
            break
        text = stripped
    if "\\" in text:
        text = _BACKSLASH_RE.sub(" ", text)
    text = " ".join(text.split())
    text = _SPACE_PUNCT_RE.sub(r"\1", text)
    if text[:1].isdigit():
        text = _LEADING_NUMBER_RE.sub("", text)
    return text.strip(" ;,-")


def _split_label(text: str) -> tuple[str | None, str]:
    """Split a leading "(Field)" label off a sense."""
    text = _LEADING_NUMBER_RE.sub("", text.lstrip())
    label = _FIELD_RE.match(text)
    if label and not _NOT_FIELD_RE.match(label.group(1)):
        return label.group(1), text[label.end() :]
    return None, text


def _paragraphs(body: str) -> Iterator[str]:
    """Blank-line separated blocks; a sense number or phrase also opens one."""
    block: list[str] = []
    for line in body.split("\n"):
        if not line.strip():
            if block:
                yield "\n".join(block)
                block = []
            continue
        first = line.lstrip()[:1]
        if (
            block
            and (first.isdigit() or first in _OPENERS)
            and (
                _SENSE_RE.match(line)
                or _SKIP_PARA_RE.match(line)
                or (_PHRASE_RE.match(line) and _SOURCE_LINE_RE.match(block[-1]))
            )
        ):
            yield "\n".join(block)
            block = []
        block.append(line)
    if block:
        yield "\n".join(block)


def _senses(text: str, field: str | None) -> Iterator[tuple[str, str | None, str]]:
    """(suffix, field, text) for a sense block, split at "(a)", "(b)", ..."""
    own, text = _split_label(text)
    field = own or field
    parts = _SUBSENSE_RE.split(text)
    yield "", field, parts[0]
    for index in range(1, len(parts) - 1, 2):
        sub_own, sub_text = _split_label(parts[index + 1])
        yield parts[index], sub_own or field, sub_text


def parse_entry(entry: str) -> list[tuple[str, str | None, str | None, str, bool]]:
    """Parse one raw entry into (headword, pos tag, raw field, text, is_phrase).

    Texts are cleaned; rows whose text is empty are kept (filtered later), so
    that sense numbering does not depend on the filters.
    """
    headword, tag, header_field, body_start = _parse_header(entry)
    if not headword:
        return []
    rows: list[tuple[str, str | None, str | None, str, bool]] = []
    seen_definition = False
    for para in _paragraphs(entry[body_start:]):
        if _SKIP_PARA_RE.match(para):
            continue
        if _PHRASE_RE.match(para) or (not seen_definition and para.lstrip().startswith("{")):
            end = _balanced(para, para.index("{"), "{", "}")
            if end < 0:
                continue
            phrase = _clean(para[para.index("{") : end])
            rest = _PHRASE_ALTERNATIVE_RE.sub("", para[end:])  # ", or {Other form}"
            label = _FIELD_RE.match(rest)
            if label and _NOT_FIELD_RE.match(label.group(1)):
                label = None
            phrase_field = label.group(1) if label else header_field
            rest = rest[label.end() :] if label else rest
            rest = re.sub(r"^\s*[,.:]\s*", "", rest)
            for _, sub_field, sub_text in _senses(rest, phrase_field):
                rows.append((phrase, None, sub_field, _clean(sub_text), True))
            continue
        sense = _SENSE_RE.match(para)
        if sense:
            seen_definition = True
            body = para[sense.end() :]
        elif not seen_definition:
            seen_definition = True
            body = para
        else:
            continue  # quotation or commentary following a definition
        for _, sub_field, sub_text in _senses(body, header_field):
            rows.append((headword, tag, sub_field, _clean(sub_text), False))
    return rows


# --------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------


def _parse_all(entries: Iterable[str]) -> Iterator[tuple[GcideDefinition, bool]]:
    """Every parsed row, unfiltered, with a flag for phrase definitions."""
    counter: Counter[str] = Counter()
    for entry in entries:
        for headword, tag, field, text, is_phrase in parse_entry(entry):
            counter[headword] += 1
            row = GcideDefinition(
                id=f"{headword}#{counter[headword]}",
                headword=headword,
                text=text,
                pos=normalise_pos(tag),
                field=normalise_field(field),
                pos_tag=tag,
            )
            yield row, is_phrase


_CROSS_REF_RE = re.compile(r"^(?:See|Same as)\b")
_FORM_OF_RE = re.compile(  # "pl. of {Child}.", "imp. & p. p. of {Aby}.", "3d sing. pres. of"
    r"^(?:(?:obs|\d[a-z]{1,2}|pers|sing|pres|pret|imp|p|pr|pp|comp|compar|superl|pl|vb|n|a|v"
    r"|ind|indic|subj|inf|fem|masc|archaic|old|plural|singular|past|tense|participle)\.?"
    r"\s*(?:&|and|,)?\s*)+of\b",
    re.IGNORECASE,
)


def load_gcide(
    path: str | Path = DEFAULT_PATH,
    min_words: int = 3,
    *,
    include_phrases: bool = True,
    drop_cross_references: bool = True,
    deduplicate: bool = True,
) -> list[GcideDefinition]:
    """Load every GCIDE sense as a :class:`GcideDefinition`.

    Args:
        path: directory with ``gcide.index`` and ``gcide.dict.dz``.
        min_words: drop definitions with fewer whitespace-separated words.
        include_phrases: keep run-in phrase definitions ("{Bituminous coal},
            a kind of coal ..."); their ``pos`` is ``None``.
        drop_cross_references: drop bare pointers: "See {Abnet}." or "Same
            as {Alemannic}." (six words or fewer) and inflected-form notes
            such as "pl. of {Child}." or "imp. & p. p. of {Aby}.".
        deduplicate: keep only the first row (file order) of identical texts.

    Ids are ``f"{headword}#{n}"`` with ``n`` counting all senses of that
    headword in file order before any filtering, so they do not depend on
    the arguments.
    """
    rows: list[GcideDefinition] = []
    seen: set[str] = set()
    for row, is_phrase in _parse_all(read_entries(path)):
        if is_phrase and not include_phrases:
            continue
        words = row.text.split()
        if len(words) < min_words:
            continue
        if drop_cross_references and (
            (len(words) <= 6 and _CROSS_REF_RE.match(row.text)) or _FORM_OF_RE.match(row.text)
        ):
            continue
        if deduplicate:
            if row.text in seen:
                continue
            seen.add(row.text)
        rows.append(row)
    return rows


def two_facet_subset(
    rows: Sequence[GcideDefinition],
    n_fields: int = 8,
    pos_values: Sequence[str] = ("noun", "verb", "adjective"),
    fields: Sequence[str] | None = None,
) -> list[GcideDefinition]:
    """Rows that carry both a main part of speech and a frequent field.

    ``fields`` defaults to the ``n_fields`` most frequent fields among the
    rows whose ``pos`` is in ``pos_values``.
    """
    keep_pos = set(pos_values)
    tagged = [row for row in rows if row.pos in keep_pos and row.field is not None]
    if fields is None:
        fields = [name for name, _ in Counter(row.field for row in tagged).most_common(n_fields)]
    keep_fields = set(fields)
    return [row for row in tagged if row.field in keep_fields]


def write_corpus(out_dir: str, batch_size: int = 128) -> None:
    """Write ``rows.jsonl`` and ``vectors.npy`` (the default encoder, same order) to
    ``out_dir``: the real 100k+ corpus of the query-side recall benchmark
    (``python -m gst_integrations.evaluation.recall_bench --vectors ... --rows ...``)."""
    import json
    from pathlib import Path

    import numpy as np

    from gst_integrations.core.encoders.default import default_encoder

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = load_gcide()
    with (out / "rows.jsonl").open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row.to_dict()) + "\n")
    model = default_encoder().model
    vectors = model.encode(
        [r.text for r in rows],
        batch_size=batch_size,
        show_progress_bar=True,
        convert_to_numpy=True,
    )
    np.save(out / "vectors.npy", np.asarray(vectors, np.float32))


if __name__ == "__main__":
    import sys

    write_corpus(sys.argv[1] if len(sys.argv) > 1 else "gcide-corpus")
