"""crypto.passphrase: generated room passphrases (>= 80 bits from the word list)."""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest

from crypto.passphrase import (
    MIN_BITS,
    WORDLIST_PATH,
    generate_passphrase,
    load_wordlist,
    passphrase_bits,
)
from crypto.password import normalize_password

REPO_ROOT = Path(__file__).resolve().parents[2]


def _recording_choice(rng: random.Random | None = None):
    """A choice() that records the pool it was given and the words it returned."""
    pools: list[tuple[str, ...]] = []
    picked: list[str] = []
    rng = rng or random.Random(7)

    def choice(pool):
        pools.append(tuple(pool))
        word = rng.choice(pool)
        picked.append(word)
        return word

    return choice, pools, picked


# --------------------------------------------------------------------------- API misuse


def test_min_bits_is_80():
    assert MIN_BITS == 80


@pytest.mark.parametrize("words", [0, 1, 5, 6])
def test_too_few_words_is_value_error(words):
    # 6 words from 7776 carry 77.5 bits: below the floor.
    with pytest.raises(ValueError):
        generate_passphrase(words=words)


def test_small_injected_list_is_value_error():
    with pytest.raises(ValueError):
        generate_passphrase(wordlist=["alpha", "beta", "gamma"])
    # duplicates do not count as entropy
    with pytest.raises(ValueError):
        generate_passphrase(words=7, wordlist=["same"] * 100_000)


def test_exactly_80_bits_is_enough():
    pool = [f"w{i}" for i in range(2**16)]  # 16 bits a word: 5 words = 80 bits
    assert passphrase_bits(5, len(pool)) == 80
    assert len(generate_passphrase(words=5, wordlist=pool).split("-")) == 5
    with pytest.raises(ValueError):
        generate_passphrase(words=4, wordlist=pool)


def test_passphrase_bits():
    assert passphrase_bits(7, 7776) == pytest.approx(7 * math.log2(7776))
    assert passphrase_bits(7, 7776) >= MIN_BITS
    assert passphrase_bits(6, 7776) < MIN_BITS
    assert passphrase_bits(0, 7776) == 0
    with pytest.raises(ValueError):
        passphrase_bits(-1, 7776)
    with pytest.raises(ValueError):
        passphrase_bits(3, 0)


def test_load_wordlist_rejects_tiny_list(tmp_path):
    small = tmp_path / "small.txt"
    small.write_text("\n".join(f"word{i}" for i in range(10)) + "\n", encoding="utf-8")
    with pytest.raises(ValueError):
        load_wordlist(small)


def test_load_wordlist_counts_unique_words(tmp_path):
    # 1023 unique words padded with duplicates and blank lines: still too few.
    lines = [f"word{i}" for i in range(1023)] * 3 + ["", "   "]
    path = tmp_path / "dupes.txt"
    path.write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(ValueError):
        load_wordlist(path)
    path.write_text("\n".join([*lines, "word1023"]), encoding="utf-8")
    words = load_wordlist(path)
    assert len(words) == 1024 == len(set(words))


def test_load_wordlist_missing_file(tmp_path):
    with pytest.raises(OSError):
        load_wordlist(tmp_path / "nope.txt")


# --------------------------------------------------------------------------- the word list


def test_default_wordlist_is_the_repo_asset():
    assert WORDLIST_PATH.resolve() == (REPO_ROOT / "assets" / "wordlist.txt").resolve()
    words = load_wordlist()
    on_disk = [w.strip() for w in WORDLIST_PATH.read_text(encoding="utf-8").splitlines()]
    assert words == tuple(w for w in on_disk if w)
    # The EFF large list less its four hyphenated words: "-" joins a passphrase's words.
    assert len(words) == len(set(words)) == 7772
    assert not any("-" in w for w in words)
    assert load_wordlist() is words  # cached
    assert load_wordlist(WORDLIST_PATH) == words


def test_default_wordlist_words_are_clean():
    for word in load_wordlist():
        assert word == word.strip()
        assert normalize_password(word) == word.encode("ascii")


# --------------------------------------------------------------------------- generation


def test_default_passphrase_has_at_least_80_bits():
    choice, pools, picked = _recording_choice()
    phrase = generate_passphrase(choice=choice)
    assert len(picked) == 7
    assert passphrase_bits(len(picked), len(set(pools[0]))) >= MIN_BITS
    assert phrase == "-".join(picked)


def test_uses_the_whole_word_list():
    choice, pools, picked = _recording_choice()
    generate_passphrase(choice=choice)
    full = load_wordlist()
    # Every draw is from the complete list: no truncation, filtering or reordering bias.
    assert pools and all(set(pool) == set(full) and len(pool) == len(full) for pool in pools)
    assert all(word in full for word in picked)


def test_words_come_from_the_list_with_real_randomness():
    full = set(load_wordlist())
    for _ in range(20):
        choice, _, picked = _recording_choice(rng=random.SystemRandom())
        phrase = generate_passphrase(choice=choice)
        assert phrase == "-".join(picked)
        assert set(picked) <= full


def test_default_choice_spreads_over_the_list():
    # With secrets.choice: 40 passphrases = 280 draws from 7772 words. Every word of the
    # output must be in the list; and the draws are not stuck in one corner of it (a bug
    # that used only the first 1024 words would put every draw in the first 13% of the list).
    full = load_wordlist()
    index = {w: i for i, w in enumerate(full)}
    positions = []
    for _ in range(40):
        phrase = generate_passphrase()
        # Hyphenated list words ("t-shirt") make a naive split ambiguous; parse greedily.
        positions.extend(index[w] for w in _split_words(phrase, index))
    assert len(positions) == 280
    assert max(positions) > len(full) * 0.5
    assert min(positions) < len(full) * 0.5


def _split_words(phrase: str, index: dict[str, int]) -> list[str]:
    parts = phrase.split("-")
    out: list[str] = []
    i = 0
    while i < len(parts):
        if i + 1 < len(parts) and f"{parts[i]}-{parts[i + 1]}" in index:
            two = f"{parts[i]}-{parts[i + 1]}"
            if parts[i] not in index:
                out.append(two)
                i += 2
                continue
        out.append(parts[i])
        i += 1
    assert all(w in index for w in out), phrase
    return out


def test_distinct_outputs():
    phrases = {generate_passphrase() for _ in range(200)}
    assert len(phrases) == 200


def test_deterministic_with_injected_choice():
    a = generate_passphrase(choice=random.Random(1234).choice)
    b = generate_passphrase(choice=random.Random(1234).choice)
    c = generate_passphrase(choice=random.Random(4321).choice)
    assert a == b != c
    first = load_wordlist()[0]
    assert generate_passphrase(choice=lambda pool: pool[0]) == "-".join([first] * 7)


def test_word_count_and_custom_list():
    pool = [f"x{i:05d}" for i in range(10_000)]
    phrase = generate_passphrase(words=9, wordlist=pool, choice=random.Random(3).choice)
    parts = phrase.split("-")
    assert len(parts) == 9
    assert set(parts) <= set(pool)


def test_passphrase_is_a_valid_password():
    phrase = generate_passphrase()
    assert normalize_password(phrase) == phrase.encode("ascii")
