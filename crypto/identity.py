"""Device identities: an Ed25519 signing key and an X25519 key agreement key.

Each device has one :class:`Identity`, made on first start by
:func:`crypto.identity_file.load_or_create` and kept
for good: losing it changes the device's safety code for everyone who verified it. Others know
it by its :class:`PublicIdentity` (two 32-byte public keys), which they pin per name and compare
through :func:`pair_safety_code`.

Byte layouts (protocol v2)::

    secret (64)           = Ed25519 seed (32, RFC 8032) || X25519 private key (32, RFC 7748)
    PublicIdentity (64)   = Ed25519 public key (32) || X25519 public key (32)
    signed bytes          = b"SocketChat v2 signature|" || context (ASCII) || b"|" || message
    signature (64)        = pure Ed25519 (RFC 8032, no prehash, no Ed25519ctx) of signed bytes
    fingerprint (32)      = SHA-256(b"SocketChat v2 identity fingerprint|" || PublicIdentity)

A context names what is signed ("message", "epoch key", ...): a signature made for one context
never verifies for another, whatever the message bytes. It is 1-64 printable ASCII characters
without "|", so the signed bytes split back into label, context and message one way only.

Errors: a key or signature that does not check out raises :class:`AuthenticationError` from
:func:`verify` and :meth:`Identity.dh` (the data came from someone else); a wrong length for a
key, or a bad context, raises ``ValueError`` (a bug on our side); :class:`PublicIdentity` raises
``ValueError`` for any key it refuses, as any parser does.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from dataclasses import dataclass
from typing import NoReturn

from Crypto.Protocol.DH import import_x25519_private_key, import_x25519_public_key, key_agreement
from Crypto.PublicKey.ECC import EccKey
from Crypto.Random import get_random_bytes
from Crypto.Signature import eddsa

from crypto import _curve25519 as curve
from crypto._util import as_bytes
from crypto.errors import AuthenticationError

__all__ = [
    "FINGERPRINT_SIZE",
    "PUBLIC_KEY_SIZE",
    "SECRET_SIZE",
    "SHARED_SECRET_SIZE",
    "SIGNATURE_SIZE",
    "Identity",
    "PublicIdentity",
    "pair_safety_code",
    "safety_code",
    "signed_bytes",
    "verify",
]

PUBLIC_KEY_SIZE = 32
SECRET_SIZE = 64
SIGNATURE_SIZE = 64
SHARED_SECRET_SIZE = 32
FINGERPRINT_SIZE = 32
MAX_CONTEXT_LENGTH = 64

_SIGNATURE_LABEL = b"SocketChat v2 signature|"
_FINGERPRINT_LABEL = b"SocketChat v2 identity fingerprint|"


def _context_bytes(context: str) -> bytes:
    if not isinstance(context, str):
        raise TypeError(f"context must be str, not {type(context).__name__}")
    if not 1 <= len(context) <= MAX_CONTEXT_LENGTH:
        raise ValueError(f"context must be 1 to {MAX_CONTEXT_LENGTH} characters")
    if "|" in context or not all(" " <= c <= "~" for c in context):
        raise ValueError("context must be printable ASCII without '|'")
    return context.encode("ascii")


def signed_bytes(message: bytes, *, context: str) -> bytes:
    """The exact bytes Ed25519 signs for ``message`` under ``context`` (see the module doc).

    Public so that the protocol document's vectors can be checked against it; :meth:`sign` and
    :func:`verify` call it themselves.
    """
    return _SIGNATURE_LABEL + _context_bytes(context) + b"|" + as_bytes(message, "message")


def _check_signature_shape(signature: bytes) -> None:
    # Checked here as well as in pycryptodome, so that these rules hold whatever its version:
    # R must be a canonical, not small-order point and S must be reduced (S < L), or a third
    # party could turn one valid signature into another (malleability).
    if len(signature) != SIGNATURE_SIZE:
        raise AuthenticationError(f"a signature is {SIGNATURE_SIZE} bytes")
    r, s = signature[:32], signature[32:]
    if not curve.ed25519_canonical(r) or curve.ed25519_small_order(r):
        raise AuthenticationError("signature R is non-canonical or of small order")
    if int.from_bytes(s, "little") >= curve.L:
        raise AuthenticationError("signature S is not reduced modulo L")


def verify(public_key: bytes, message: bytes, signature: bytes, *, context: str) -> None:
    """Check that ``signature`` is ``public_key``'s signature of ``message`` under ``context``.

    Returns ``None`` or raises :class:`AuthenticationError`: for a wrong signature, and also
    for a public key that no honest device has (non-canonical, off the curve, small or mixed
    order) and for a malleated signature (S >= L, non-canonical or small-order R). Verification
    itself is pycryptodome's cofactored RFC 8032 check. ``ValueError`` if ``public_key`` is not
    32 bytes or ``context`` is malformed; those are our own bugs.
    """
    _verify_raw(public_key, signed_bytes(message, context=context), signature)


def _verify_raw(public_key: bytes, data: bytes, signature: bytes) -> None:
    # verify() without the context prefix: the Wycheproof vectors sign raw messages.
    public_key = as_bytes(public_key, "public_key")
    signature = as_bytes(signature, "signature")
    if len(public_key) != PUBLIC_KEY_SIZE:
        raise ValueError(f"an Ed25519 public key is {PUBLIC_KEY_SIZE} bytes")
    try:
        key = curve.ed25519_public_key(public_key)
    except ValueError as exc:
        raise AuthenticationError(str(exc)) from None
    _check_signature_shape(signature)
    try:
        eddsa.new(key, "rfc8032").verify(data, signature)
    except ValueError:
        raise AuthenticationError("signature does not verify") from None


@dataclass(frozen=True, kw_only=True)
class PublicIdentity:
    """Another device's identity as others see it: its two public keys, checked on creation.

    Build one from bytes received from the network (:meth:`from_bytes`) or from its two keys;
    either raises ``ValueError`` for a key an honest device cannot have. Instances compare and
    hash by their keys, so they can be pinned in sets and dictionaries.
    """

    signing_public: bytes
    dh_public: bytes

    def __post_init__(self) -> None:
        signing = as_bytes(self.signing_public, "signing_public")
        dh = as_bytes(self.dh_public, "dh_public")
        curve.ed25519_public_key(signing)  # ValueError with the reason
        curve.x25519_check_public(dh)
        # Normalise bytearray/memoryview to bytes so equality and hashing are by value.
        object.__setattr__(self, "signing_public", signing)
        object.__setattr__(self, "dh_public", dh)

    @classmethod
    def from_bytes(cls, data: bytes) -> PublicIdentity:
        """Parse the 64-byte wire form ``signing_public || dh_public``."""
        data = as_bytes(data, "data")
        if len(data) != 2 * PUBLIC_KEY_SIZE:
            raise ValueError(f"a public identity is {2 * PUBLIC_KEY_SIZE} bytes")
        return cls(signing_public=data[:PUBLIC_KEY_SIZE], dh_public=data[PUBLIC_KEY_SIZE:])

    def to_bytes(self) -> bytes:
        """The 64-byte wire form ``signing_public || dh_public``."""
        return self.signing_public + self.dh_public

    def fingerprint(self) -> bytes:
        """32 bytes naming this identity (for invites and storage), covering both keys."""
        return hashlib.sha256(_FINGERPRINT_LABEL + self.to_bytes()).digest()

    def verify(self, message: bytes, signature: bytes, *, context: str) -> None:
        """:func:`verify` with this identity's signing key."""
        verify(self.signing_public, message, signature, context=context)

    def __repr__(self) -> str:
        return f"PublicIdentity(fingerprint={self.fingerprint()[:8].hex()})"


class Identity:
    """This device's private identity. Make one with :meth:`generate` or :func:`load_or_create`
    (never both: a second identity is a new device to everyone), sign with :meth:`sign`, agree
    keys with :meth:`dh`, and hand out :attr:`public`."""

    __slots__ = ("_dh_key", "_dh_seed", "_signer", "_signing_key", "public")

    public: PublicIdentity

    def __init__(self, *, signing_key: EccKey, dh_key: EccKey) -> None:
        """Private: use :meth:`generate` or :meth:`from_secret`."""
        self._signing_key = signing_key
        self._dh_key = dh_key
        self._dh_seed: bytes = dh_key.seed
        self._signer = eddsa.new(signing_key, "rfc8032")
        self.public = PublicIdentity(
            signing_public=signing_key.public_key().export_key(format="raw"),
            dh_public=dh_key.public_key().export_key(format="raw"),
        )

    @classmethod
    def generate(cls) -> Identity:
        """A new random identity (64 bytes from the OS's generator). Save it at once."""
        return cls.from_secret(get_random_bytes(SECRET_SIZE))

    @classmethod
    def from_secret(cls, secret: bytes) -> Identity:
        """Rebuild an identity from :meth:`to_secret`'s 64 bytes.

        Every 64-byte string is a valid secret (RFC 8032 hashes the seed; RFC 7748 clamps the
        scalar), so this only checks the length.
        """
        secret = as_bytes(secret, "secret")
        if len(secret) != SECRET_SIZE:
            raise ValueError(f"an identity secret is {SECRET_SIZE} bytes")
        return cls(
            signing_key=eddsa.import_private_key(secret[:32]),
            dh_key=import_x25519_private_key(secret[32:]),
        )

    def to_secret(self) -> bytes:
        """The 64 secret bytes: Ed25519 seed || X25519 private key. Store them, never send."""
        return bytes(self._signing_key.seed) + self._dh_seed

    @property
    def signing_public(self) -> bytes:
        """The 32-byte RFC 8032 Ed25519 public key."""
        return self.public.signing_public

    @property
    def dh_public(self) -> bytes:
        """The 32-byte RFC 7748 X25519 public key."""
        return self.public.dh_public

    def sign(self, message: bytes, *, context: str) -> bytes:
        """The 64-byte Ed25519 signature of :func:`signed_bytes` (message, context).

        Deterministic (RFC 8032): the same message and context always give the same signature.
        """
        return self._signer.sign(signed_bytes(message, context=context))

    def dh(self, peer_public: bytes) -> bytes:
        """The raw 32-byte X25519 shared secret with ``peer_public``.

        Never use it as a key directly: feed it to :func:`crypto.kdf.derive` together with both
        public keys. Raises :class:`AuthenticationError` for a non-canonical or low-order peer
        key and for an all-zero result (a peer forcing a known secret); ``ValueError`` if
        ``peer_public`` is not 32 bytes.
        """
        peer_public = as_bytes(peer_public, "peer_public")
        if len(peer_public) != PUBLIC_KEY_SIZE:
            raise ValueError(f"an X25519 public key is {PUBLIC_KEY_SIZE} bytes")
        try:
            curve.x25519_check_public(peer_public)
            peer = import_x25519_public_key(peer_public)
        except ValueError as exc:
            raise AuthenticationError(f"peer key refused: {exc}") from None
        return _check_shared_secret(self._agree(peer))

    def _agree(self, peer: EccKey) -> bytes:
        try:
            shared: bytes = key_agreement(
                static_priv=self._dh_key, static_pub=peer, kdf=lambda z: bytes(z)
            )
        except ValueError:  # pycryptodome's "Invalid ECDH point" (the point at infinity)
            raise AuthenticationError("X25519 result is the point at infinity") from None
        return shared

    def __repr__(self) -> str:
        return f"Identity({self.public!r}, secret=<hidden>)"

    __str__ = __repr__

    def __reduce__(self) -> NoReturn:
        # Pickling would copy the secret somewhere we do not control (a cache, a log).
        raise TypeError("an Identity cannot be pickled; it lives in its identity file only")


def _check_shared_secret(shared: bytes) -> bytes:
    # RFC 7748, 6.1: check for the all-zero value. The low-order list in _curve25519 should
    # already have refused every key that leads here; this holds even if it, or pycryptodome,
    # misses one.
    if len(shared) != SHARED_SECRET_SIZE or hmac.compare_digest(shared, bytes(32)):
        raise AuthenticationError("X25519 shared secret is all zero")
    return shared


# --------------------------------------------------------------------------- safety codes

SAFETY_CODE_ITERATIONS = 5200
SAFETY_CODE_DIGITS = 30
_SAFETY_CODE_LABEL = b"SocketChat v2 safety code|"


@functools.lru_cache(maxsize=1024)
def _safety_digits(public: PublicIdentity) -> str:
    keys = public.to_bytes()
    # hashlib (OpenSSL) rather than Crypto.Hash: 5200 rounds take ~3 ms instead of ~25 ms.
    digest = _SAFETY_CODE_LABEL
    for _ in range(SAFETY_CODE_ITERATIONS):
        digest = hashlib.sha512(digest + keys).digest()
    return "".join(
        # Five digits from each five bytes: 40 bits mod 100000, a bias below 2^-23 per group.
        f"{int.from_bytes(digest[i : i + 5], 'big') % 100_000:05d}"
        for i in range(0, SAFETY_CODE_DIGITS, 5)
    )


def _grouped(digits: str) -> str:
    return " ".join(digits[i : i + 5] for i in range(0, len(digits), 5))


def safety_code(public: PublicIdentity) -> str:
    """This identity's half of every safety code: 30 digits in six groups of five.

    Show it as "Your safety code". Computed as Signal computes its safety numbers, over both
    public keys (so neither can be swapped unnoticed)::

        K      = signing_public || dh_public                   (64 bytes)
        h      = b"SocketChat v2 safety code|"
        repeat 5200 times:  h = SHA-512(h || K)
        group i (0..5)      = big-endian int(h[5i : 5i+5]) mod 100000, as 5 digits

    30 digits carry 99.7 bits; an attacker who wants a key with a given code must also pay
    5200 SHA-512 per try (12.3 bits), about 2^112 hash computations in all.
    """
    if not isinstance(public, PublicIdentity):
        raise TypeError("safety_code needs a PublicIdentity")
    return _grouped(_safety_digits(public))


def pair_safety_code(a: PublicIdentity, b: PublicIdentity) -> str:
    """The code two members compare to verify each other: 60 digits in twelve groups of five.

    It is the two 30-digit :func:`safety_code` values sorted as strings and concatenated,
    exactly as Signal builds its 60-digit safety numbers, so both screens show the same code
    whichever side computes it, and each half can be checked against the other person's
    "Your safety code". Forging one side costs about 2^112 hash computations (see
    :func:`safety_code`).
    """
    if not isinstance(a, PublicIdentity) or not isinstance(b, PublicIdentity):
        raise TypeError("pair_safety_code needs two PublicIdentity values")
    return _grouped("".join(sorted((_safety_digits(a), _safety_digits(b)))))
