"""crypto.password: the room password rules (NFKC, forbidden categories, UTF-8) and strength hint.

Groups, as in pycryptodome's self-tests: API misuse, the rules themselves (the security
properties: equal keys for equal-looking passwords, nothing invisible, nothing echoed), and the
strength estimate.
"""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto.errors import PasswordError
from crypto.password import Strength, estimate_strength, normalize_password

# --------------------------------------------------------------------------- API misuse


@pytest.mark.parametrize("bad", [b"password", bytearray(b"password"), None, 42, ["p"]])
def test_normalize_rejects_non_str(bad):
    with pytest.raises(TypeError):
        normalize_password(bad)


def test_password_error_is_a_value_error():
    # Callers that only know "bad input is ValueError" must still catch rule violations.
    assert issubclass(PasswordError, ValueError)


# --------------------------------------------------------------------------- the rules


def test_returns_utf8_bytes():
    out = normalize_password("pässword")
    assert isinstance(out, bytes)
    assert out == "pässword".encode()
    # pycryptodome would encode a str as Latin-1: our bytes must differ from that.
    assert out != "pässword".encode("latin-1")


def test_ascii_is_unchanged():
    assert normalize_password("correct horse battery staple") == b"correct horse battery staple"


@pytest.mark.parametrize("word", ["café", "Ångström", "naïve", "façade", "Żółć", "한국어"])
def test_nfc_and_nfd_spellings_give_same_bytes(word):
    nfc = unicodedata.normalize("NFC", word)
    nfd = unicodedata.normalize("NFD", word)
    assert nfc != nfd  # the two spellings really are different strings
    assert normalize_password(nfc) == normalize_password(nfd) == nfc.encode("utf-8")


@pytest.mark.parametrize(
    ("compat", "plain"),
    [
        ("ｃａｆé", "café"),  # full-width Latin letters
        ("\ufb01le", "file"),  # 'fi' ligature
        ("x²", "x2"),  # superscript two
        ("Ⅻ", "XII"),  # Roman numeral
        ("a\u00a0b", "a b"),  # no-break space -> space
    ],
)
def test_compatibility_forms_fold_under_nfkc(compat, plain):
    assert normalize_password(compat) == normalize_password(plain) == plain.encode("utf-8")


def test_nfc_and_nfd_give_same_master_key():
    from crypto.kdf import master_key

    salt = bytes(range(16))
    nfc = unicodedata.normalize("NFC", "café crème")
    nfd = unicodedata.normalize("NFD", "café crème")
    wide = "ｃａｆé crème"
    keys = {master_key(p, salt=salt, n=2**10) for p in (nfc, nfd, wide)}
    assert len(keys) == 1
    # ...and the str path equals the bytes path with the normalised bytes.
    assert keys == {master_key(nfc.encode("utf-8"), salt=salt, n=2**10)}


def test_empty_is_rejected():
    with pytest.raises(PasswordError):
        normalize_password("")


@pytest.mark.parametrize("spaces", [" ", "   ", "\u3000", "\u00a0"])
def test_whitespace_only_is_accepted(spaces):
    # The spec rejects only *empty* (after NFKC) and Cc/Cf/Cn; spaces are category Zs.
    out = normalize_password(spaces)
    assert out == unicodedata.normalize("NFKC", spaces).encode("utf-8")
    assert out.strip() == b""


FORBIDDEN = [
    ("\x00", "Cc"),
    ("\n", "Cc"),
    ("\r", "Cc"),
    ("\t", "Cc"),
    ("\x7f", "Cc"),
    ("\x85", "Cc"),
    ("\u200b", "Cf"),  # zero width space
    ("\u200d", "Cf"),  # zero width joiner
    ("\u202e", "Cf"),  # right-to-left override
    ("\u2066", "Cf"),  # left-to-right isolate
    ("\ufeff", "Cf"),  # byte order mark / zero width no-break space
    ("\u00ad", "Cf"),  # soft hyphen
    ("\u0378", "Cn"),  # unassigned
    ("\U000e0080", "Cn"),  # unassigned (tag block gap)
    ("\U0010fffe", "Cn"),  # noncharacter
]


@pytest.mark.parametrize(("char", "category"), FORBIDDEN)
@pytest.mark.parametrize("where", ["alone", "start", "middle", "end"])
def test_forbidden_categories_are_rejected(char, category, where):
    assert unicodedata.category(char) == category  # the table above is right
    password = {
        "alone": char,
        "start": char + "hunter2-Secret",
        "middle": "hunter2" + char + "-Secret",
        "end": "hunter2-Secret" + char,
    }[where]
    with pytest.raises(PasswordError) as info:
        normalize_password(password)
    message = str(info.value)
    assert message  # user-readable
    assert password not in message
    assert "hunter2" not in message
    assert "Secret" not in message
    assert repr(password) not in repr(info.value)


def test_error_message_never_contains_long_password():
    password = "my very own room password\u202edrowssap"
    with pytest.raises(PasswordError) as info:
        normalize_password(password)
    for fragment in ("my very own", "drowssap", "room password\u202e"):
        assert fragment not in str(info.value)
    assert not any(password in str(arg) for arg in info.value.args)


def test_lone_surrogate_is_a_password_error():
    # A lone surrogate (category Cs) cannot be encoded as UTF-8. The spec promises UTF-8 bytes
    # or PasswordError; Tk can hand such strings over when astral characters are pasted.
    with pytest.raises(PasswordError) as info:
        normalize_password("abc\ud800def")
    assert "abc" not in str(info.value)


ALLOWED_CHARS = st.characters(
    blacklist_categories=("Cc", "Cf", "Cn", "Cs", "Co"),
)


@settings(max_examples=300)
@given(st.text(alphabet=ALLOWED_CHARS, min_size=1, max_size=40))
def test_property_normalisation_forms_agree(text):
    try:
        expected = normalize_password(text)
    except PasswordError:
        # Possible only if NFKC produced a forbidden char; every form must then agree on that.
        for form in ("NFC", "NFD", "NFKD"):
            with pytest.raises(PasswordError):
                normalize_password(unicodedata.normalize(form, text))
        return
    assert expected == unicodedata.normalize("NFKC", text).encode("utf-8")
    for form in ("NFC", "NFD", "NFKC", "NFKD"):
        assert normalize_password(unicodedata.normalize(form, text)) == expected
    # Idempotent: the output decoded is already canonical.
    assert normalize_password(expected.decode("utf-8")) == expected


@settings(max_examples=200)
@given(
    st.text(alphabet=ALLOWED_CHARS, max_size=10),
    st.sampled_from([c for c, _ in FORBIDDEN]),
    st.text(alphabet=ALLOWED_CHARS, max_size=10),
)
def test_property_any_forbidden_char_anywhere_is_rejected(before, bad, after):
    with pytest.raises(PasswordError):
        normalize_password(before + bad + after)


# --------------------------------------------------------------------------- strength


def test_generated_passphrase_scores_4():
    from crypto.passphrase import generate_passphrase

    for _ in range(3):
        s = estimate_strength(generate_passphrase())
        assert s.score == 4
        assert s.bits >= 60


@pytest.mark.parametrize("weak", ["password", "123456", "qwerty", "letmein"])
def test_common_password_scores_low(weak):
    s = estimate_strength(weak)
    assert 0 <= s.score <= 1
    assert isinstance(s.hint, str) and s.hint.strip()


def test_strength_fields():
    s = estimate_strength("Tr0ub4dor&3")
    assert isinstance(s, Strength)
    assert isinstance(s.score, int) and 0 <= s.score <= 4
    assert isinstance(s.bits, float) and s.bits > 0
    assert isinstance(s.label, str) and s.label
    assert isinstance(s.hint, str) and s.hint
    with pytest.raises(AttributeError):
        s.score = 4  # frozen dataclass


def test_empty_password_strength_is_zero_with_hint():
    s = estimate_strength("")
    assert s.score == 0
    assert isinstance(s.hint, str) and s.hint


def test_user_inputs_lower_the_score():
    name = "Zanzibarquux1987"
    assert estimate_strength(name, user_inputs=[name]).score < estimate_strength(name).score


def test_labels_differ_between_weak_and_strong():
    labels = {estimate_strength(p).label for p in ("password", generate_long())}
    assert len(labels) == 2


def generate_long() -> str:
    from crypto.passphrase import generate_passphrase

    return generate_passphrase(words=8)


@pytest.mark.parametrize("length", [71, 72, 73, 100, 101, 1000])
def test_strength_of_long_password_does_not_raise(length):
    # The hint is computed as the user types or pastes: any length must give a Strength.
    # (zxcvbn 4.5 raises ValueError past 72 characters, so the wrapper has to cap earlier.)
    password = ("Zq7#mXw!" * 200)[:length]
    s = estimate_strength(password)
    assert 0 <= s.score <= 4
    assert isinstance(s.hint, str) and s.hint
