"""Independent reference implementations for the crypto tests (stdlib only).

They deliberately avoid pycryptodome and crypto/, so a bug shared by both cannot hide.
"""

from __future__ import annotations

import hashlib
import hmac


def hkdf_sha256(ikm: bytes, *, salt: bytes, info: bytes, length: int) -> bytes:
    """RFC 5869 HKDF with SHA-256, written out from the RFC's two steps."""
    prk = hmac.new(salt or bytes(32), ikm, hashlib.sha256).digest()
    okm, block, counter = b"", b"", 1
    while len(okm) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        okm += block
        counter += 1
    return okm[:length]


def scrypt(password: bytes, *, salt: bytes, n: int, r: int = 8, p: int = 1, length: int = 32):
    """OpenSSL's scrypt through hashlib."""
    return hashlib.scrypt(password, salt=salt, n=n, r=r, p=p, dklen=length, maxmem=2**28)


def flip(data: bytes, index: int, mask: int = 0x01) -> bytes:
    """``data`` with the byte at ``index`` XORed with ``mask`` (non-zero)."""
    assert mask
    out = bytearray(data)
    out[index] ^= mask
    return bytes(out)


# --------------------------------------------------------------------------- ChaCha20-Poly1305
# RFC 8439 sections 2.1-2.8 and draft-irtf-cfrg-xchacha-03 (HChaCha20, XChaCha20), written out
# from the documents in plain Python: slow, but shares no code with pycryptodome.

_MASK32 = 0xFFFFFFFF
_SIGMA = (0x61707865, 0x3320646E, 0x79622D32, 0x6B206574)  # "expand 32-byte k"


def _rotl32(v: int, c: int) -> int:
    return ((v << c) & _MASK32) | (v >> (32 - c))


def _quarter_round(s: list[int], a: int, b: int, c: int, d: int) -> None:
    s[a] = (s[a] + s[b]) & _MASK32
    s[d] = _rotl32(s[d] ^ s[a], 16)
    s[c] = (s[c] + s[d]) & _MASK32
    s[b] = _rotl32(s[b] ^ s[c], 12)
    s[a] = (s[a] + s[b]) & _MASK32
    s[d] = _rotl32(s[d] ^ s[a], 8)
    s[c] = (s[c] + s[d]) & _MASK32
    s[b] = _rotl32(s[b] ^ s[c], 7)


def _words(data: bytes) -> list[int]:
    return [int.from_bytes(data[i : i + 4], "little") for i in range(0, len(data), 4)]


def _rounds(state: list[int]) -> list[int]:
    s = list(state)
    for _ in range(10):
        _quarter_round(s, 0, 4, 8, 12)
        _quarter_round(s, 1, 5, 9, 13)
        _quarter_round(s, 2, 6, 10, 14)
        _quarter_round(s, 3, 7, 11, 15)
        _quarter_round(s, 0, 5, 10, 15)
        _quarter_round(s, 1, 6, 11, 12)
        _quarter_round(s, 2, 7, 8, 13)
        _quarter_round(s, 3, 4, 9, 14)
    return s


def chacha20_block(key: bytes, counter: int, nonce: bytes) -> bytes:
    """RFC 8439, 2.3: one 64-byte keystream block (32-bit counter, 96-bit nonce)."""
    state = [*_SIGMA, *_words(key), counter, *_words(nonce)]
    mixed = _rounds(state)
    words = ((x + y) & _MASK32 for x, y in zip(mixed, state, strict=True))
    return b"".join(w.to_bytes(4, "little") for w in words)


def chacha20_xor(key: bytes, counter: int, nonce: bytes, data: bytes) -> bytes:
    """RFC 8439, 2.4: ChaCha20 encryption (XOR with the keystream from ``counter``)."""
    out = bytearray()
    for i in range(0, len(data), 64):
        block = chacha20_block(key, counter + i // 64, nonce)
        out += bytes(a ^ b for a, b in zip(data[i : i + 64], block, strict=False))
    return bytes(out)


def poly1305(key: bytes, message: bytes) -> bytes:
    """RFC 8439, 2.5: the one-time authenticator."""
    r = int.from_bytes(key[:16], "little") & 0x0FFFFFFC0FFFFFFC0FFFFFFC0FFFFFFF
    s = int.from_bytes(key[16:], "little")
    p = (1 << 130) - 5
    acc = 0
    for i in range(0, len(message), 16):
        chunk = message[i : i + 16] + b"\x01"
        acc = ((acc + int.from_bytes(chunk, "little")) * r) % p
    return ((acc + s) & ((1 << 128) - 1)).to_bytes(16, "little")


def _pad16(data: bytes) -> bytes:
    return bytes(-len(data) % 16)


def chacha20_poly1305_seal(key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """RFC 8439, 2.8: returns ``ciphertext || tag`` (96-bit nonce)."""
    assert len(key) == 32 and len(nonce) == 12
    otk = chacha20_block(key, 0, nonce)[:32]
    ciphertext = chacha20_xor(key, 1, nonce, plaintext)
    mac_data = (
        aad
        + _pad16(aad)
        + ciphertext
        + _pad16(ciphertext)
        + len(aad).to_bytes(8, "little")
        + len(ciphertext).to_bytes(8, "little")
    )
    return ciphertext + poly1305(otk, mac_data)


def hchacha20(key: bytes, nonce16: bytes) -> bytes:
    """draft-irtf-cfrg-xchacha-03, 2.2: the 32-byte subkey from a key and 16 nonce bytes."""
    s = _rounds([*_SIGMA, *_words(key), *_words(nonce16)])
    return b"".join(x.to_bytes(4, "little") for x in (*s[0:4], *s[12:16]))


def xchacha20_poly1305_seal(key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """draft-irtf-cfrg-xchacha-03, 2.3: returns ``ciphertext || tag`` (192-bit nonce)."""
    assert len(key) == 32 and len(nonce) == 24
    subkey = hchacha20(key, nonce[:16])
    return chacha20_poly1305_seal(subkey, bytes(4) + nonce[16:], plaintext, aad)
