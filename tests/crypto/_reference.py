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


# --------------------------------------------------------------------------- Ed25519, X25519
# RFC 8032 section 6 (Ed25519 in extended coordinates) and RFC 7748 section 5 (X25519), in
# plain Python. Used to pin known answers and to build the malicious keys and signatures the
# strict checks must refuse.

ED_P = 2**255 - 19
ED_L = 2**252 + 27742317777372353535851937790883648493
_ED_D = -121665 * pow(121666, ED_P - 2, ED_P) % ED_P
_SQRT_M1 = pow(2, (ED_P - 1) // 4, ED_P)

EdPoint = tuple[int, int, int, int]  # extended coordinates (X, Y, Z, T)
ED_IDENTITY: EdPoint = (0, 1, 1, 0)


def _inv(x: int) -> int:
    return pow(x, ED_P - 2, ED_P)


def ed_add(p: EdPoint, q: EdPoint) -> EdPoint:
    a = (p[1] - p[0]) * (q[1] - q[0]) % ED_P
    b = (p[1] + p[0]) * (q[1] + q[0]) % ED_P
    c = 2 * p[3] * q[3] * _ED_D % ED_P
    d = 2 * p[2] * q[2] % ED_P
    e, f, g, h = b - a, d - c, d + c, b + a
    return (e * f % ED_P, g * h % ED_P, f * g % ED_P, e * h % ED_P)


def ed_mul(scalar: int, point: EdPoint) -> EdPoint:
    result = ED_IDENTITY
    while scalar > 0:
        if scalar & 1:
            result = ed_add(result, point)
        point = ed_add(point, point)
        scalar >>= 1
    return result


def ed_equal(p: EdPoint, q: EdPoint) -> bool:
    return (p[0] * q[2] - q[0] * p[2]) % ED_P == 0 and (p[1] * q[2] - q[1] * p[2]) % ED_P == 0


def _recover_x(y: int, sign: int) -> int | None:
    if y >= ED_P:
        return None
    x2 = (y * y - 1) * _inv(_ED_D * y * y + 1) % ED_P
    if x2 == 0:
        return None if sign else 0
    x = pow(x2, (ED_P + 3) // 8, ED_P)
    if (x * x - x2) % ED_P:
        x = x * _SQRT_M1 % ED_P
    if (x * x - x2) % ED_P:
        return None
    return ED_P - x if (x & 1) != sign else x


_GY = 4 * _inv(5) % ED_P
_GX = _recover_x(_GY, 0)
assert _GX is not None
ED_BASE: EdPoint = (_GX, _GY, 1, _GX * _GY % ED_P)


def ed_compress(p: EdPoint) -> bytes:
    zinv = _inv(p[2])
    x, y = p[0] * zinv % ED_P, p[1] * zinv % ED_P
    return (y | ((x & 1) << 255)).to_bytes(32, "little")


def ed_decompress(data: bytes) -> EdPoint | None:
    """RFC 8032 5.1.3 decoding: None for y >= p, for x = 0 with the sign bit, or off-curve."""
    value = int.from_bytes(data, "little")
    sign, y = value >> 255, value & ((1 << 255) - 1)
    x = _recover_x(y, sign)
    return None if x is None else (x, y, 1, x * y % ED_P)


def _sha512_int(data: bytes) -> int:
    return int.from_bytes(hashlib.sha512(data).digest(), "little")


def ed_expand(seed: bytes) -> tuple[int, bytes]:
    h = hashlib.sha512(seed).digest()
    a = int.from_bytes(h[:32], "little")
    a &= (1 << 254) - 8
    a |= 1 << 254
    return a, h[32:]


def ed_public(seed: bytes) -> bytes:
    return ed_compress(ed_mul(ed_expand(seed)[0], ED_BASE))


def ed_sign(seed: bytes, message: bytes) -> bytes:
    """Pure Ed25519 (RFC 8032 5.1.6)."""
    a, prefix = ed_expand(seed)
    public = ed_compress(ed_mul(a, ED_BASE))
    r = _sha512_int(prefix + message) % ED_L
    big_r = ed_compress(ed_mul(r, ED_BASE))
    k = _sha512_int(big_r + public + message) % ED_L
    return big_r + ((r + k * a) % ED_L).to_bytes(32, "little")


def ed_sign_with_r(seed: bytes, message: bytes, big_r: bytes) -> bytes:
    """A signature whose R is the given *small-order* encoding: S = k*a, so 8SB = 8R + 8kA.

    Cofactored verification (pycryptodome's) accepts it; a strict verifier must not.
    """
    a, _ = ed_expand(seed)
    k = _sha512_int(big_r + ed_public(seed) + message) % ED_L
    return big_r + (k * a % ED_L).to_bytes(32, "little")


def x25519(scalar: bytes, u_bytes: bytes) -> bytes:
    """RFC 7748 section 5: clamp, mask the top bit of u, Montgomery ladder."""
    k = bytearray(scalar)
    k[0] &= 248
    k[31] &= 127
    k[31] |= 64
    n = int.from_bytes(k, "little")
    x1 = int.from_bytes(u_bytes, "little") & ((1 << 255) - 1)
    x2, z2, x3, z3, swap = 1, 0, x1, 1, 0
    for t in reversed(range(255)):
        bit = (n >> t) & 1
        swap ^= bit
        if swap:
            x2, x3, z2, z3 = x3, x2, z3, z2
        swap = bit
        a, b = x2 + z2, x2 - z2
        aa, bb = a * a % ED_P, b * b % ED_P
        e = aa - bb
        c, d = x3 + z3, x3 - z3
        da, cb = d * a % ED_P, c * b % ED_P
        x3 = (da + cb) ** 2 % ED_P
        z3 = x1 * (da - cb) ** 2 % ED_P
        x2 = aa * bb % ED_P
        z2 = e * (aa + 121665 * e) % ED_P
    if swap:
        x2, z2 = x3, z3
    return (x2 * _inv(z2) % ED_P).to_bytes(32, "little")
