"""Username rules, look-alike names and the data behind them; the bounded recent-ids set.

The attack lists below are what an attacker tried against the v1 rules (every variant was
accepted and drawn like the name it copied), extended: each must now be refused, either by
``validate_username`` or by ``confusable_with`` against the name it imitates. The per-rule
tests then check that each rule catches its own cases by itself, so that one rule breaking is
not hidden by another catching the same name.
"""

from __future__ import annotations

import itertools
import time
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from net import proto
from net.proto import LocalProtocolError
from net.proto import _names_data as data
from net.proto._names import (
    BLANK_CHARACTERS,
    confusable_with,
    name_skeleton,
    username_key,
    validate_username,
)
from net.proto._replay import RecentIds

# -- the attack list ---------------------------------------------------------------------------

# (the name imitated, the imitation): letters swapped for ones drawn the same.
LOOK_ALIKES = [
    ("alice", "\u0430lice"),  # U+0430 CYRILLIC SMALL LETTER A
    ("alice", "alic\u0435"),  # U+0435 CYRILLIC SMALL LETTER IE
    ("alice", "ali\u0441e"),  # U+0441 CYRILLIC SMALL LETTER ES
    ("alice", "al\u0456ce"),  # U+0456 CYRILLIC SMALL LETTER BYELORUSSIAN-UKRAINIAN I
    ("alice", "\u03b1lice"),  # U+03B1 GREEK SMALL LETTER ALPHA
    ("alice", "al\u03b9ce"),  # U+03B9 GREEK SMALL LETTER IOTA
    ("alice", "aIice"),  # capital I for l
    ("alice", "a1ice"),  # digit one for l
    ("alice", "a|ice"),  # vertical line for l
    ("alice", "a\u217cice"),  # U+217C SMALL ROMAN NUMERAL FIFTY
    ("alice", "al\u0131ce"),  # U+0131 LATIN SMALL LETTER DOTLESS I
    ("alice", "\uff41\uff4c\uff49\uff43\uff45"),  # full-width
    ("alice", "\U0001d41a\U0001d425\U0001d422\U0001d41c\U0001d41e"),  # mathematical bold
    ("alice", "\U0001d4b6\U0001d4c1\U0001d4be\U0001d4b8\u212f"),  # mathematical script
    ("alice", "ALICE"),  # the same name in capitals
    ("alice", "Alice"),
    ("bob", "b\u03bfb"),  # U+03BF GREEK SMALL LETTER OMICRON
    ("bob", "b\u043eb"),  # U+043E CYRILLIC SMALL LETTER O
    ("bob", "b\u0585b"),  # U+0585 ARMENIAN SMALL LETTER OH
    ("bob", "b\u1d0fb"),  # U+1D0F LATIN LETTER SMALL CAPITAL O
    ("bob", "b0b"),  # digit zero for o
    ("bob", "B0B"),
    ("bob", "\u0412\u041e\u0412"),  # all Cyrillic capitals: ВОВ, one script
    ("bob", "\u0392\u039f\u0392"),  # all Greek capitals: ΒΟΒ, one script
    ("bob", "\u13cfob"),  # U+13CF CHEROKEE LETTER SI
    ("bob", "\uff42\uff4f\uff42"),  # full-width
    ("bob", "\U0001d553\U0001d560\U0001d553"),  # mathematical double-struck
    ("admin", "adrnin"),  # r n for m
    ("admin", "\u13aadmin"),  # U+13AA CHEROKEE LETTER GO
    ("admin", "\u0430dmin"),  # Cyrillic а
    ("admin", "adm\u0456n"),  # Cyrillic і
    ("admin", "\u0251dmin"),  # U+0251 LATIN SMALL LETTER ALPHA
    ("admin", "adm\u0131n"),  # dotless i
    ("admin", "ADMIN"),
    ("admin", "\U0001d68a\U0001d68d\U0001d696\U0001d692\U0001d697"),  # mathematical monospace
    ("Zoë", "Zoe\u0308"),  # e + COMBINING DIAERESIS: the same name once normalised
    ("Zoë", "Zo\u0451"),  # U+0451 CYRILLIC SMALL LETTER IO
    ("Zoë", "Zo\u0435\u0308"),  # Cyrillic е + combining diaeresis
    ("Zoë", "\u0396o\u00eb"),  # U+0396 GREEK CAPITAL LETTER ZETA
    ("Zoë", "Z\u03bf\u00eb"),  # Greek ο
    ("Zoë", "Z0\u00eb"),  # digit zero
    ("Zoë", "ZOË"),
    ("Zoë", "\uff3a\uff4f\u00eb"),  # full-width Z and o
    ("José", "Jose\u0301"),  # e + COMBINING ACUTE ACCENT
    ("José", "Jose\u0341"),  # U+0341 COMBINING ACUTE TONE MARK (NFC makes it U+0301)
    ("José", "Jos\u0435\u0301"),  # Cyrillic е + acute
    ("Mallory", "MaIIory"),
    ("Mallory", "Ma11ory"),
    ("Olga", "0lga"),
    ("anne-marie", "anne\u2010marie"),  # U+2010 HYPHEN
    ("anne-marie", "anne\u2013marie"),  # U+2013 EN DASH
    ("O'Brien", "O\u2019Brien"),  # U+2019 RIGHT SINGLE QUOTATION MARK
    ("bob smith", "bob  smith"),  # two spaces
    ("bob smith", "bob\u00a0smith"),  # NO-BREAK SPACE
    ("bob smith", "bob\u3000smith"),  # IDEOGRAPHIC SPACE
]

# Characters drawn as nothing (or as empty space), each tried at the start, middle and end.
INVISIBLE = {
    "\u00ad": "SOFT HYPHEN",
    "\u034f": "COMBINING GRAPHEME JOINER",
    "\u061c": "ARABIC LETTER MARK",
    "\u115f": "HANGUL CHOSEONG FILLER",
    "\u1160": "HANGUL JUNGSEONG FILLER",
    "\u17b4": "KHMER VOWEL INHERENT AQ",
    "\u180b": "MONGOLIAN FREE VARIATION SELECTOR ONE",
    "\u180e": "MONGOLIAN VOWEL SEPARATOR",
    "\u200b": "ZERO WIDTH SPACE",
    "\u200c": "ZERO WIDTH NON-JOINER",
    "\u200d": "ZERO WIDTH JOINER",
    "\u200e": "LEFT-TO-RIGHT MARK",
    "\u200f": "RIGHT-TO-LEFT MARK",
    "\u202a": "LEFT-TO-RIGHT EMBEDDING",
    "\u202b": "RIGHT-TO-LEFT EMBEDDING",
    "\u202c": "POP DIRECTIONAL FORMATTING",
    "\u202d": "LEFT-TO-RIGHT OVERRIDE",
    "\u202e": "RIGHT-TO-LEFT OVERRIDE",
    "\u2060": "WORD JOINER",
    "\u2061": "FUNCTION APPLICATION",
    "\u2062": "INVISIBLE TIMES",
    "\u2063": "INVISIBLE SEPARATOR",
    "\u2064": "INVISIBLE PLUS",
    "\u2066": "LEFT-TO-RIGHT ISOLATE",
    "\u2067": "RIGHT-TO-LEFT ISOLATE",
    "\u2068": "FIRST STRONG ISOLATE",
    "\u2069": "POP DIRECTIONAL ISOLATE",
    "\u206a": "INHIBIT SYMMETRIC SWAPPING",
    "\u3164": "HANGUL FILLER",
    "\ufe00": "VARIATION SELECTOR-1",
    "\ufe0f": "VARIATION SELECTOR-16",
    "\ufeff": "ZERO WIDTH NO-BREAK SPACE",
    "\uffa0": "HALFWIDTH HANGUL FILLER",
    "\u2800": "BRAILLE PATTERN BLANK",
    "\ufffc": "OBJECT REPLACEMENT CHARACTER",
    "\U00016fe4": "KHITAN SMALL SCRIPT FILLER",
    "\U0001d159": "MUSICAL SYMBOL NULL NOTEHEAD",
    "\U0001d173": "MUSICAL SYMBOL BEGIN BEAM",
    "\U0001bca0": "SHORTHAND FORMAT LETTER OVERLAP",
    "\U000e0001": "LANGUAGE TAG",
    "\U000e0041": "TAG LATIN CAPITAL LETTER A",
    "\U000e007f": "CANCEL TAG",
    "\U000e0100": "VARIATION SELECTOR-17",
}
INVISIBLE_INSERTED = [
    ("alice", variant)
    for char in INVISIBLE
    for variant in (char + "alice", "al" + char + "ice", "alice" + char)
]

BIDI_TRICKS = [
    ("alice", "\u202eecila"),  # RIGHT-TO-LEFT OVERRIDE, then the name backwards: shows "alice"
    ("alice", "\u202eecila\u202c"),
    ("alice", "\u2067alice\u2069"),
    ("alice", "\u202dalice\u202c"),
    ("admin", "\u2066admin\u2069"),
]

STACKED_MARKS = [
    ("alice", "ali\u0301\u0300\u0302ce"),  # three marks on one letter
    ("alice", "a\u0300\u0301\u0302\u0303\u0304\u0305\u0306lice"),  # "Zalgo"
    ("alice", "alice\u0336\u0336\u0336"),  # stacked strokes
    ("Zoë", "Zo\u00eb\u0308\u0308"),  # ë plus two more diaereses
    ("alice", "\u0301alice"),  # a mark with no letter under it
    ("bob smith", "bob \u0301smith"),  # a mark on a space
]

ATTACKS = LOOK_ALIKES + INVISIBLE_INSERTED + BIDI_TRICKS + STACKED_MARKS


def refusal(original: str, attempt: str) -> str:
    """How the rules refuse ``attempt`` next to ``original``: the reason, or "" if accepted."""
    try:
        name = validate_username(attempt)
    except ValueError as error:
        return str(error)
    clash = confusable_with(name, [validate_username(original)])
    return f"looks like {clash!r}" if clash is not None else ""


def test_the_attack_list_is_long_enough() -> None:
    assert len(ATTACKS) >= 60
    assert len(set(ATTACKS)) == len(ATTACKS)


@pytest.mark.parametrize(("original", "attempt"), ATTACKS, ids=ascii)
def test_every_attack_is_refused(original: str, attempt: str) -> None:
    assert refusal(original, attempt), f"{attempt!a} was accepted next to {original!r}"


# -- names that must stay accepted and distinct ------------------------------------------------

LEGITIMATE = [
    "alice",
    "bob",
    "admin",
    "Zoë",
    "José",
    "Øyvind",
    "Łukasz",
    "François",
    "Müller",
    "Dvořák",
    "Ştefan",
    "Nguyễn Văn A",
    "O'Brien",
    "anne-marie",
    "bob2",
    "bob smith",
    "Ana María",
    "x" * 32,
    "a-b_c.d",
    "R2-D2",
    "Ангелина",  # all Cyrillic
    "Ђорђе",
    "Δημήτρης",  # all Greek
    "Ἀθηνᾶ",  # polytonic Greek
    "Արամ",  # Armenian
    "ნინო",  # Georgian
    "ᏣᎳᎩ",  # all Cherokee
    "山田太郎",
    "李小龙",
    "やまだ",
    "田中さん",  # Han + Hiragana
    "東京タワー",  # Han + Katakana
    "Tanaka 太郎",  # Latin + Han
    "김민준",
    "김 金",  # Hangul + Han
    "ㄅㄆ 中文",  # Bopomofo + Han
    "محمد",
    "دوره ۲",  # Arabic with Extended Arabic-Indic digit
    "דוד",
    "שָׁלוֹם",  # Hebrew with points: two marks on one letter
    "अनुष्का",  # Devanagari
    "தமிழ்",  # Tamil
    "สมชาย",  # Thai
    "བཀྲ་ཤིས",  # Tibetan
    "🐱 cat",  # emoji are allowed when they need no variation selector or joiner
    "🇫🇷 Jean",
    "Ali 😀",
]


@pytest.mark.parametrize("name", LEGITIMATE)
def test_legitimate_names_are_accepted(name: str) -> None:
    assert validate_username(name) == unicodedata.normalize("NFC", name)


@pytest.mark.parametrize("name", LEGITIMATE)
def test_legitimate_names_stay_distinct(name: str) -> None:
    others = [other for other in LEGITIMATE if other != name]
    assert confusable_with(name, others) is None


# -- each rule on its own ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("", "enter a name"),
        ("x" * 33, "at most 32"),
        (" alice", "start or end"),
        ("alice ", "start or end"),
        ("al\nice", "control"),
        ("al\u200bice", "invisible"),
        ("al\u202eice", "invisible"),
        ("al\u00a0ice", "unusual space"),
        ("al\u2028ice", "line separator"),
        ("al\ue000ice", "private-use"),
        ("al\U000e0fffice", "unassigned"),
        ("al\u034fice", "invisible character"),
        ("bob  smith", "two spaces in a row"),
        ("al\u2800ice", "shows as blank"),
        ("al\u202eice", "text-direction"),
        ("ali\u0301\u0300\u0302ce", "more than 2 accents"),
        ("\u0301alice", "no letter under it"),
        ("\u0430lice", "mixes writing systems"),
    ],
)
def test_invalid_names_say_why(name: str, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        validate_username(name)


@pytest.mark.parametrize("char", list(INVISIBLE), ids=ascii)
def test_each_invisible_character_is_refused_by_validation(char: str) -> None:
    for position, attempt in ((1, char + "alice"), (3, "al" + char + "ice"), (6, "alice" + char)):
        with pytest.raises(ValueError) as info:
            validate_username(attempt)
        message = str(info.value)
        assert f"character {position})" in message
        assert f"U+{ord(char):04X} {INVISIBLE[char]}" in message
        assert message.isascii() and message.isprintable()  # never the character itself


def test_every_message_is_plain_ascii() -> None:
    for original, attempt in ATTACKS:
        reason = refusal(original, attempt)
        if not reason.startswith("looks like"):
            assert reason.isascii() and reason.isprintable(), (attempt, reason)


@pytest.mark.parametrize(
    "name",
    [
        "\u0430lice",  # Latin + Cyrillic
        "b\u03bfb",  # Latin + Greek
        "\u13aadmin",  # Latin + Cherokee
        "\u0410\u043b\u0456\u0441\u0435 \u0391",  # Cyrillic + Greek
        "김 やまだ",  # Hangul + Hiragana: no writing system uses both
        "ㄅ やまだ",  # Bopomofo + Hiragana
        "Tanaka 김 太郎 やまだ",
        "abc \u0627\u0628\u062a \u05d0",  # Latin + Arabic + Hebrew
    ],
)
def test_mixed_scripts_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="mixes writing systems"):
        validate_username(name)


@pytest.mark.parametrize(
    "name",
    [
        "Tanaka 太郎",
        "Taro やまだ",
        "Kim 김민준",
        "Lee 李 ㄌㄧˇ",
        "Ali محمد",
        "Yossi דוד",
        "Nino ნინო",
    ],
)
def test_latin_goes_with_one_other_script(name: str) -> None:
    assert validate_username(name) == name


def test_mixed_script_message_names_the_character() -> None:
    with pytest.raises(ValueError) as info:
        validate_username("bo\u0432")
    assert "character 3 (U+0432 CYRILLIC SMALL LETTER VE)" in str(info.value)


def test_two_marks_on_a_letter_are_fine_three_are_not() -> None:
    assert validate_username("a\u0301\u0323") == unicodedata.normalize("NFC", "a\u0301\u0323")
    with pytest.raises(ValueError, match=r"character 4\)"):
        validate_username("x\u0301\u0323\u0300")  # NFC leaves x with three marks


def test_valid_names_keep_working() -> None:
    assert validate_username("Zoe\u0308") == "Zoë"  # NFC
    assert validate_username("e\u0301" * 32) == "é" * 32  # 64 code points before NFC


def test_username_key_ignores_case_and_normalisation() -> None:
    assert username_key("ALICE") == username_key("alice")
    assert username_key("Zoe\u0308") == username_key("ZOË")
    assert username_key("Straße") == username_key("STRASSE")
    assert username_key("alice") != username_key("alicf")


# -- skeletons ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("m", "rn"),
        ("l", "I"),
        ("l", "1"),
        ("O", "0"),
        ("alice", "\u0430lice"),
        ("\u0412\u041e\u0412", "bob"),
        ("al\u200bice", "alice"),  # default-ignorable characters are dropped
    ],
)
def test_look_alikes_share_a_skeleton(one: str, other: str) -> None:
    assert name_skeleton(one) == name_skeleton(other)


# The known answers printed in docs/PROTOCOL.md (section 6.3), as code points in hex.
KNOWN_SKELETONS = [
    ("0061 006C 0069 0063 0065", "0061 006C 0069 0063 0065"),
    ("0061 0049 0069 0063 0065", "0061 006C 0069 0063 0065"),
    ("0430 006C 0069 0063 0065", "0061 006C 0069 0063 0065"),
    ("FF41 FF4C FF49 FF43 FF45", "0061 006C 0069 0063 0065"),
    ("0061 006C 200B 0069 0063 0065", "0061 006C 0069 0063 0065"),
    ("0041 004C 0049 0043 0045", "0061 006C 006C 0063 0065"),
    ("0412 041E 0412", "0062 006F 0062"),
    ("0062 0030 0062", "0062 006F 0062"),
    ("0061 0064 006D 0069 006E", "0061 0064 0072 006E 0069 006E"),
    ("005A 006F 00EB", "007A 006F 0065 0308"),
    ("004A 006F 0073 0065 0301", "006A 006F 0073 0065 0301"),
    (
        "0061 006E 006E 0065 2010 006D 0061 0072 0069 0065",
        "0061 006E 006E 0065 002D 0072 006E 0061 0072 0069 0065",
    ),
    ("5C71 7530 592A 90CE", "5C71 7530 592A 90CE"),
]


def _from_hex(code_points: str) -> str:
    return "".join(chr(int(code_point, 16)) for code_point in code_points.split())


@pytest.mark.parametrize(("name", "expected"), KNOWN_SKELETONS)
def test_known_answer_skeletons_from_the_protocol_document(name: str, expected: str) -> None:
    assert name_skeleton(_from_hex(name)) == _from_hex(expected)


@pytest.mark.parametrize(("one", "other"), [("José", "Jose"), ("Zoë", "Zoe"), ("bob", "bob2")])
def test_different_looking_names_keep_different_skeletons(one: str, other: str) -> None:
    assert name_skeleton(one) != name_skeleton(other)


def test_confusable_with_returns_the_first_clash_or_none() -> None:
    room = ["carol", "Alice", "alice2", "bob"]
    assert confusable_with("\u0430lice", room) == "Alice"
    assert confusable_with("ALICE", room) == "Alice"  # the same key counts too
    assert confusable_with("b0b", iter(room)) == "bob"  # any iterable, read once
    assert confusable_with("dave", room) is None
    assert confusable_with("alice", []) is None


def test_public_face_exports_the_name_functions() -> None:
    for name in ("confusable_with", "name_skeleton", "username_key", "validate_username"):
        assert name in proto.__all__
        assert callable(getattr(proto, name))


def _every_data_string() -> list[str]:
    pairs = data.read_confusable_pairs()
    texts = set(pairs) | {text for partners in pairs.values() for text in partners}
    cased = {variant for text in texts for variant in (text.upper(), text.lower(), text.title())}
    return sorted(texts | cased)


def test_skeletons_are_stable_over_the_whole_data() -> None:
    for text in _every_data_string():
        once = data.skeleton(text)
        assert data.skeleton(once) == once, ascii(text)
        looks = name_skeleton(text)
        assert name_skeleton(looks) == looks, ascii(text)


def test_every_source_looks_like_its_prototype() -> None:
    # The direction rebuilt from the JSON: a source and its partner share a skeleton. Sources
    # that NFD decomposes never reach the lookup (in UTS #39 either): their parts are mapped.
    pairs = data.read_confusable_pairs()
    checked = 0
    for key, partners in pairs.items():
        if len(key) == 1 and len(partners) == 1 and unicodedata.normalize("NFD", key) == key:
            assert data.skeleton(key) == data.skeleton(partners[0]), ascii(key)
            checked += 1
    assert checked > 5000


def test_prototypes_are_never_sources() -> None:
    table = data.prototypes()
    for prototype in set(table.values()):
        assert all(char not in table for char in prototype), ascii(prototype)
    assert table["m"] == "rn" and table["0"] == "O" and table["\u0430"] == "a"


@pytest.mark.parametrize(
    ("source", "prototype"),
    [
        ("\u1e9a", "\u1ea3"),  # only each other; U+1EA3 decomposes, so it is the prototype
        ("\u2f49", "\u6708"),  # only each other; 月 is inside the prototype "l2月"
    ],
)
def test_pairs_without_a_direction_map_to_the_prototype(source: str, prototype: str) -> None:
    assert data.prototypes()[source] == prototype
    assert data.skeleton(source) == data.skeleton(prototype)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(sorted({c for t in _every_data_string() for c in t}))))
def test_skeletons_of_any_mix_of_data_characters_are_stable(text: str) -> None:
    looks = name_skeleton(text)
    assert name_skeleton(looks) == looks


def test_the_data_loads_well_under_a_second() -> None:
    data.prototypes.cache_clear()
    name_skeleton.cache_clear()
    started = time.perf_counter()
    name_skeleton("alice")
    elapsed = time.perf_counter() - started
    assert elapsed < 1.0, f"loading the confusables data took {elapsed:.2f} s"


def test_the_script_list_is_every_script_regex_knows() -> None:
    # regex has no public call that lists property values; its table is private, so only this
    # test reads it: a regex upgrade that adds a script fails here until SCRIPT_CODES has it.
    from regex import _regex_core

    _, values = _regex_core.PROPERTIES["SCRIPTEXTENSIONS"]  # type: ignore[attr-defined]
    known = {value: name for name, value in values.items()}
    ours = {values[code.upper()] for code in data.SCRIPT_CODES}
    special = {values[code] for code in ("ZYYY", "ZINH", "ZZZZ")}
    assert ours | special == set(known)
    assert len(data.SCRIPT_CODES) == len(ours)


def test_blank_characters_are_not_already_caught_by_a_property() -> None:
    for char in BLANK_CHARACTERS:
        assert not data.is_default_ignorable(char)
        assert unicodedata.category(char)[0] not in "CZ"


def test_scripts_of_common_characters_is_empty() -> None:
    assert data.scripts_of("1") == frozenset()
    assert data.scripts_of("\u0301") != frozenset({"Zinh"})
    assert "Jpan" in data.scripts_of("\u30fc")  # PROLONGED SOUND MARK: Hiragana and Katakana
    assert {"Hani", "Jpan", "Kore", "Hanb"} <= data.scripts_of("山")


def test_pairs_of_legitimate_names_do_not_collide_pairwise() -> None:
    skeletons = {name_skeleton(validate_username(name)) for name in LEGITIMATE}
    assert len(skeletons) == len(LEGITIMATE)
    for one, other in itertools.combinations(LEGITIMATE, 2):
        assert username_key(one) != username_key(other)


# -- recent ids --------------------------------------------------------------------------------


def test_recent_ids_evicts_oldest() -> None:
    seen = RecentIds(capacity=3)
    for i in range(5):
        seen.add(bytes([i]))
    assert len(seen) == 3
    assert bytes([0]) not in seen and bytes([1]) not in seen
    assert all(bytes([i]) in seen for i in (2, 3, 4))
    seen.add(bytes([2]))  # refreshed: now the newest
    seen.add(bytes([5]))
    assert bytes([2]) in seen and bytes([3]) not in seen
    with pytest.raises(LocalProtocolError):
        RecentIds(capacity=0)
