"""The Unicode data behind the name rules (:mod:`net.proto._names`): skeletons and scripts.

Two maintained packages supply it, so that nothing here is a hand-made table of look-alikes:

* ``confusable_homoglyphs`` (3.3.1) ships Unicode's ``confusables.txt`` as JSON; from it
  :func:`skeleton` computes the UTS #39 skeleton, the string two names share when they look
  alike. Its data is confusables.txt version 14.0.0 (checked line by line against the
  published file: the same pairs, except four lines its parser skipped, U+2028, U+2029,
  U+3164 and U+1F16D, characters the name rules refuse anyway).
* ``regex`` (2026.11.19, Unicode 17.0) answers the character properties that Python's
  :mod:`unicodedata` does not have: Script_Extensions, Default_Ignorable_Code_Point and
  Bidi_Control.

Both are loaded once, on first use, and cached; nothing here does any other I/O.
"""

from __future__ import annotations

import json
import unicodedata
from functools import cache, lru_cache
from importlib import resources

import confusable_homoglyphs
import regex

# How confusables.json was made (confusable_homoglyphs' cli.py): for every line
# "source ; prototype" of confusables.txt it appended the prototype to the source's list and the
# source to the prototype's list, keyed by the characters as the file's comment shows them,
# where right-to-left text is wrapped in U+200E LEFT-TO-RIGHT MARK for display.
_DATA_FILE = "confusables.json"
_DISPLAY_MARK = "\u200e"

# A skeleton is iterated until it stops changing; every string of the data settles after at most
# two changes (measured; tests/net/test_names.py checks that each result is a fixed point).
_MAX_ROUNDS = 8

_DEFAULT_IGNORABLE = regex.compile(r"\p{Default_Ignorable_Code_Point}")
_BIDI_CONTROL = regex.compile(r"\p{Bidi_Control}")
_COMMON_OR_INHERITED = regex.compile(r"[\p{scx=Zyyy}\p{scx=Zinh}]")

# Every value of Script_Extensions that regex knows (ISO 15924 codes), less Common (Zyyy),
# Inherited (Zinh) and Unknown (Zzzz), which are handled apart. regex answers "does this
# character's Script_Extensions contain X" (\p{scx=X}) through its public API but has no public
# call that lists the values, so they are listed here; tests/net/test_names.py compares this list
# with regex's own property table, so a regex upgrade that adds a script fails the suite until
# the code is added. Why regex and not confusable_homoglyphs' categories.json: that file has
# the Script property only (no extensions, so U+30FC KATAKANA-HIRAGANA PROLONGED SOUND MARK or
# U+0640 ARABIC TATWEEL would count as Common or as one script) and stops at Unicode 15.0.
# fmt: off
SCRIPT_CODES = (
    "Adlm", "Aghb", "Ahom", "Arab", "Armi", "Armn", "Avst", "Bali", "Bamu", "Bass", "Batk", "Beng",
    "Berf", "Bhks", "Bopo", "Brah", "Brai", "Bugi", "Buhd", "Cakm", "Cans", "Cari", "Cham", "Cher",
    "Chrs", "Copt", "Cpmn", "Cprt", "Cyrl", "Deva", "Diak", "Dogr", "Dsrt", "Dupl", "Egyp", "Elba",
    "Elym", "Ethi", "Gara", "Geor", "Glag", "Gong", "Gonm", "Goth", "Gran", "Grek", "Gujr", "Gukh",
    "Guru", "Hang", "Hani", "Hano", "Hatr", "Hebr", "Hira", "Hluw", "Hmng", "Hmnp", "Hrkt", "Hung",
    "Ital", "Java", "Jurc", "Kali", "Kana", "Kawi", "Khar", "Khmr", "Khoj", "Kits", "Knda", "Krai",
    "Kthi", "Lana", "Laoo", "Latn", "Lepc", "Limb", "Lina", "Linb", "Lisu", "Lyci", "Lydi", "Mahj",
    "Maka", "Mand", "Mani", "Marc", "Medf", "Mend", "Merc", "Mero", "Mlym", "Modi", "Mong", "Mroo",
    "Mtei", "Mult", "Mymr", "Nagm", "Nand", "Narb", "Nbat", "Newa", "Nkoo", "Nshu", "Ogam", "Olck",
    "Onao", "Orkh", "Orya", "Osge", "Osma", "Ougr", "Palm", "Pauc", "Pcun", "Perm", "Phag", "Phli",
    "Phlp", "Phnx", "Plrd", "Prti", "Rjng", "Rohg", "Runr", "Samr", "Sarb", "Saur", "Seal", "Sgnw",
    "Shaw", "Shrd", "Sidd", "Sidt", "Sind", "Sinh", "Sogd", "Sogo", "Sora", "Soyo", "Sund", "Sunu",
    "Sylo", "Syrc", "Tagb", "Takr", "Tale", "Talu", "Taml", "Tang", "Tavt", "Tayo", "Telu", "Tfng",
    "Tglg", "Thaa", "Thai", "Tibt", "Tirh", "Tnsa", "Todr", "Tols", "Toto", "Tutg", "Ugar", "Vaii",
    "Vith", "Wara", "Wcho", "Xpeo", "Xsux", "Yezi", "Yiii", "Zanb",
)
# fmt: on

# UTS #39 section 5.1: Han, Hiragana, Katakana, Hangul and Bopomofo are written together, so a
# character of one also counts as the combined writing systems it belongs to: Japanese (Jpan),
# Korean (Kore), Han with Bopomofo (Hanb).
_AUGMENTED = {
    "Hani": ("Hanb", "Jpan", "Kore"),
    "Hira": ("Jpan",),
    "Kana": ("Jpan",),
    "Hang": ("Kore",),
    "Bopo": ("Hanb",),
}


def is_default_ignorable(char: str) -> bool:
    """True for a Default_Ignorable_Code_Point: drawn as nothing when not supported."""
    return _DEFAULT_IGNORABLE.match(char) is not None


def is_bidi_control(char: str) -> bool:
    """True for an explicit text-direction control (LRE…PDI, LRM, RLM, ALM)."""
    return _BIDI_CONTROL.match(char) is not None


@cache
def _script_patterns() -> tuple[tuple[str, regex.Pattern[str]], ...]:
    return tuple((code, regex.compile(rf"\p{{scx={code}}}")) for code in SCRIPT_CODES)


@lru_cache(maxsize=4096)
def scripts_of(char: str) -> frozenset[str]:
    """The augmented Script_Extensions of one character; empty for Common and Inherited.

    An empty set goes with any script (digits, punctuation, spaces, emoji, combining marks
    shared by several scripts).
    """
    if _COMMON_OR_INHERITED.match(char):
        return frozenset()
    found = {code for code, pattern in _script_patterns() if pattern.match(char)}
    for code in list(found):
        found.update(_AUGMENTED.get(code, ()))
    # Not in any script regex knows (unassigned there): a script of its own, never mixed.
    return frozenset(found) if found else frozenset({f"U+{ord(char):04X}"})


def _strip_display_marks(text: str) -> str:
    return text.replace(_DISPLAY_MARK, "")


def read_confusable_pairs() -> dict[str, list[str]]:
    """The data as shipped: each key with every string it was paired with, marks removed."""
    # Through the imported package, so that PyInstaller bundles it (build.spec adds the JSON).
    source = resources.files(confusable_homoglyphs).joinpath(_DATA_FILE)
    raw = json.loads(source.read_text(encoding="utf-8"))
    return {
        _strip_display_marks(key): [_strip_display_marks(entry["c"]) for entry in entries]
        for key, entries in raw.items()
    }


@cache
def prototypes() -> dict[str, str]:
    """Map each confusable source code point to the string it is drawn like (its prototype).

    The JSON records every pair in both directions, so the direction is rebuilt here:

    * a key of several code points is a prototype (confusables.txt sources are always one
      code point), and a key paired with several strings is a prototype (a source has exactly
      one prototype);
    * a key paired with one string is a source when that string is several code points long or
      is itself paired with several sources;
    * the rest are pairs of two code points that only know each other: a prototype with a
      single source. The JSON cannot say which is which, and for comparing names it need not:
      both map to one member, chosen by the first of these rules that tells them apart:

      1. the one found inside a prototype of several code points (prototypes are made of
         prototypes);
      2. the one NFD changes: the lookup only ever sees NFD text, so mapping that one would
         never apply, while mapping to it equates the pair whichever way the file wrote it
         (U+1E9A → U+1EA3 is a real pair of this kind);
      3. the one NFKD leaves alone: compatibility variants, such as the Kangxi radical U+2F2D
         for 山, are the sources;
      4. the lower code point.

    Checked against the published confusables.txt 14.0.0: every pair of strings it gives one
    skeleton gets one here too, except the four lines the package's parser lost (U+2028,
    U+2029, U+3164, U+1F16D); three pairs it leaves apart because their source decomposes
    under NFD (U+0146/U+0272, U+1E43/U+AB51, U+1FF6/U+13EF) are joined here by rule 2.

    Prototypes are not sources, so one lookup per code point resolves everything but what
    NFD then decomposes (see :func:`skeleton`).
    """
    pairs = read_confusable_pairs()
    in_prototypes = {char for key in pairs if len(key) > 1 for char in key}
    mapping: dict[str, str] = {}
    for key, partners in pairs.items():
        if len(key) != 1 or len(partners) != 1:
            continue
        (partner,) = partners
        is_source = len(partner) > 1 or len(pairs.get(partner, ())) > 1
        if is_source or _canonical_member(key, partner, in_prototypes) == partner:
            mapping[key] = partner
    return mapping


def _canonical_member(one: str, other: str, in_prototypes: set[str]) -> str:
    rules = (in_prototypes.__contains__, _nfd_changes, _nfkd_keeps)
    for is_prototype in rules:
        if is_prototype(one) != is_prototype(other):
            return one if is_prototype(one) else other
    return min(one, other)


def _nfd_changes(char: str) -> bool:
    return unicodedata.normalize("NFD", char) != char


def _nfkd_keeps(char: str) -> bool:
    return unicodedata.normalize("NFKD", char) == char


def skeleton(text: str) -> str:
    """The UTS #39 skeleton of ``text``: how it looks, as a string of prototypes.

    Default-ignorable characters are dropped (as recent revisions of UTS #39 do), the rest is
    decomposed (NFD), each code point replaced by its prototype, and the result decomposed
    again; repeated until nothing changes, so that skeleton(skeleton(x)) == skeleton(x).
    """
    table = prototypes()
    current = unicodedata.normalize("NFD", _DEFAULT_IGNORABLE.sub("", text))
    for _ in range(_MAX_ROUNDS):
        mapped = unicodedata.normalize("NFD", "".join(table.get(char, char) for char in current))
        if mapped == current:
            break
        current = mapped
    return current
