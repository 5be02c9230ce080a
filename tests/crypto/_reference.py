"""Independent reference implementations for the crypto tests (stdlib only).

They deliberately avoid pycryptodome and crypto/, so a bug shared by both cannot hide.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass


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


def chacha20_poly1305_open(key: bytes, nonce: bytes, sealed: bytes, aad: bytes) -> bytes:
    """RFC 8439, 2.8, the other way: check the tag of ``ciphertext || tag``, then decrypt.
    ``ValueError`` if the tag does not match."""
    assert len(key) == 32 and len(nonce) == 12 and len(sealed) >= 16
    ciphertext, tag = sealed[:-16], sealed[-16:]
    otk = chacha20_block(key, 0, nonce)[:32]
    mac_data = (
        aad
        + _pad16(aad)
        + ciphertext
        + _pad16(ciphertext)
        + len(aad).to_bytes(8, "little")
        + len(ciphertext).to_bytes(8, "little")
    )
    if not hmac.compare_digest(poly1305(otk, mac_data), tag):
        raise ValueError("the tag does not match")
    return chacha20_xor(key, 1, nonce, ciphertext)


def xchacha20_poly1305_open(key: bytes, nonce: bytes, sealed: bytes, aad: bytes) -> bytes:
    """draft-irtf-cfrg-xchacha-03, 2.3, the other way (``ValueError`` if the tag fails)."""
    assert len(key) == 32 and len(nonce) == 24
    subkey = hchacha20(key, nonce[:16])
    return chacha20_poly1305_open(subkey, bytes(4) + nonce[16:], sealed, aad)


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


def ed_verify(public: bytes, message: bytes, signature: bytes) -> bool:
    """Pure Ed25519 verification (RFC 8032 5.1.7), strict: A and R canonical encodings of curve
    points, S < L, and [S]B = R + [k]A checked without the cofactor."""
    if len(public) != 32 or len(signature) != 64:
        return False
    big_a, big_r = ed_decompress(public), ed_decompress(signature[:32])
    if big_a is None or big_r is None:
        return False
    if ed_compress(big_a) != public or ed_compress(big_r) != signature[:32]:
        return False
    s = int.from_bytes(signature[32:], "little")
    if s >= ED_L:
        return False
    k = _sha512_int(signature[:32] + public + message) % ED_L
    return ed_equal(ed_mul(s, ED_BASE), ed_add(big_r, ed_mul(k, big_a)))


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


X25519_BASE = (9).to_bytes(32, "little")


# --------------------------------------------------------------------------- HPKE
# RFC 9180 for one suite, mode_psk only: DHKEM(X25519, HKDF-SHA256) (section 4.1, 7.1.3),
# HKDF-SHA256, ChaCha20-Poly1305 (kem 0x0020, kdf 0x0001, aead 0x0003), the key schedule of
# section 5.1 and single-shot sealing (section 6.1: sequence number 0, so the nonce is
# base_nonce). X25519 and ChaCha20-Poly1305 are the ones above.

_KEM_SUITE = b"KEM" + (0x0020).to_bytes(2, "big")
_HPKE_SUITE = b"HPKE" + bytes.fromhex("002000010003")
HPKE_MODE_PSK = 0x01


def _labeled_extract(suite_id: bytes, salt: bytes, label: bytes, ikm: bytes) -> bytes:
    """RFC 9180 section 4: HKDF-Extract(salt, "HPKE-v1" ‖ suite_id ‖ label ‖ ikm)."""
    return hmac.new(salt, b"HPKE-v1" + suite_id + label + ikm, hashlib.sha256).digest()


def _labeled_expand(suite_id: bytes, prk: bytes, label: bytes, info: bytes, length: int) -> bytes:
    """RFC 9180 section 4: HKDF-Expand(prk, I2OSP(L, 2) ‖ "HPKE-v1" ‖ suite_id ‖ label ‖ info,
    L)."""
    labeled = length.to_bytes(2, "big") + b"HPKE-v1" + suite_id + label + info
    okm, block, counter = b"", b"", 1
    while len(okm) < length:
        block = hmac.new(prk, block + labeled + bytes([counter]), hashlib.sha256).digest()
        okm += block
        counter += 1
    return okm[:length]


@dataclass(frozen=True)
class HpkeContext:
    """What the KEM and the key schedule produce: the values RFC 9180's test vectors list."""

    enc: bytes
    shared_secret: bytes
    key_schedule_context: bytes
    secret: bytes
    key: bytes
    base_nonce: bytes


def _hpke_psk_context(
    dh: bytes, enc: bytes, pk_r: bytes, *, info: bytes, psk: bytes, psk_id: bytes
) -> HpkeContext:
    if dh == bytes(32):
        raise ValueError("X25519 gave the all-zero value (a low-order point)")
    # DHKEM ExtractAndExpand (section 4.1), kem_context = enc ‖ pkR.
    eae_prk = _labeled_extract(_KEM_SUITE, b"", b"eae_prk", dh)
    shared_secret = _labeled_expand(_KEM_SUITE, eae_prk, b"shared_secret", enc + pk_r, 32)
    # KeySchedule (section 5.1) in mode_psk.
    psk_id_hash = _labeled_extract(_HPKE_SUITE, b"", b"psk_id_hash", psk_id)
    info_hash = _labeled_extract(_HPKE_SUITE, b"", b"info_hash", info)
    context = bytes([HPKE_MODE_PSK]) + psk_id_hash + info_hash
    secret = _labeled_extract(_HPKE_SUITE, shared_secret, b"secret", psk)
    key = _labeled_expand(_HPKE_SUITE, secret, b"key", context, 32)
    base_nonce = _labeled_expand(_HPKE_SUITE, secret, b"base_nonce", context, 12)
    return HpkeContext(enc, shared_secret, context, secret, key, base_nonce)


def hpke_psk_seal(
    pk_r: bytes,
    sk_e: bytes,
    plaintext: bytes,
    *,
    info: bytes,
    aad: bytes,
    psk: bytes,
    psk_id: bytes,
) -> tuple[bytes, HpkeContext]:
    """SetupPSKS with the ephemeral X25519 key ``sk_e``, then one Seal: returns
    ``(ciphertext ‖ tag, context)``; the encapsulated key is ``context.enc``."""
    enc = x25519(sk_e, X25519_BASE)
    context = _hpke_psk_context(x25519(sk_e, pk_r), enc, pk_r, info=info, psk=psk, psk_id=psk_id)
    return chacha20_poly1305_seal(context.key, context.base_nonce, plaintext, aad), context


def hpke_psk_open(
    sk_r: bytes,
    enc: bytes,
    sealed: bytes,
    *,
    info: bytes,
    aad: bytes,
    psk: bytes,
    psk_id: bytes,
) -> bytes:
    """SetupPSKR with the recipient's X25519 key ``sk_r``, then one Open (``ValueError`` if
    the tag fails)."""
    pk_r = x25519(sk_r, X25519_BASE)
    context = _hpke_psk_context(x25519(sk_r, enc), enc, pk_r, info=info, psk=psk, psk_id=psk_id)
    return chacha20_poly1305_open(context.key, context.base_nonce, sealed, aad)


# --------------------------------------------------------------------------- P-256 (SPAKE2)
# NIST P-256 (FIPS 186-4 D.1.2.3, SEC 1 point encodings) in affine coordinates, and RFC 9382's
# M and N for it: enough to recompute SPAKE2's shares and K (pA = x·G + w·M, pB = y·G + w·N,
# K = x·(pB − w·N) = y·(pA − w·M)). Slow and not constant-time: known answers only.

P256_P = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF
P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_P256_B = 0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B

P256Point = tuple[int, int] | None  # affine (x, y); None is the point at infinity

P256_G: P256Point = (
    0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296,
    0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5,
)


def p256_add(p: P256Point, q: P256Point) -> P256Point:
    if p is None:
        return q
    if q is None:
        return p
    (x1, y1), (x2, y2) = p, q
    if x1 == x2 and (y1 + y2) % P256_P == 0:
        return None
    if p == q:
        slope = (3 * x1 * x1 - 3) * pow(2 * y1, -1, P256_P) % P256_P  # a = -3
    else:
        slope = (y2 - y1) * pow(x2 - x1, -1, P256_P) % P256_P
    x3 = (slope * slope - x1 - x2) % P256_P
    return x3, (slope * (x1 - x3) - y1) % P256_P


def p256_neg(p: P256Point) -> P256Point:
    return None if p is None else (p[0], -p[1] % P256_P)


def p256_mul(k: int, p: P256Point) -> P256Point:
    result: P256Point = None
    while k > 0:
        if k & 1:
            result = p256_add(result, p)
        p = p256_add(p, p)
        k >>= 1
    return result


def p256_decode(data: bytes) -> P256Point:
    """A SEC 1 encoding, compressed (02/03) or uncompressed (04), checked to be on the curve."""
    x = int.from_bytes(data[1:33], "big")
    if data[0] == 4 and len(data) == 65:
        y = int.from_bytes(data[33:], "big")
    elif data[0] in (2, 3) and len(data) == 33:
        y = pow(x**3 - 3 * x + _P256_B, (P256_P + 1) // 4, P256_P)  # p ≡ 3 (mod 4)
        if y % 2 != data[0] % 2:
            y = P256_P - y
    else:
        raise ValueError("not a SEC 1 point encoding")
    if x >= P256_P or (y * y - (x**3 - 3 * x + _P256_B)) % P256_P:
        raise ValueError("not a point of P-256")
    return x, y


def p256_encode(p: P256Point) -> bytes:
    """The uncompressed SEC 1 encoding (65 bytes)."""
    assert p is not None
    return b"\x04" + p[0].to_bytes(32, "big") + p[1].to_bytes(32, "big")


SPAKE2_M = p256_decode(
    bytes.fromhex("02886e2f97ace46e55ba9dd7242579f2993b64e16ef3dcab95afd497333d8fa12f")
)
SPAKE2_N = p256_decode(
    bytes.fromhex("03d8bbd6c639c62937b04d997f38c3770719c629d7014d49a24b4f98baa1292b49")
)
