"""Sealing a secret to one device: HPKE (RFC 9180) to its X25519 identity key.

Suite: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20-Poly1305 (kem 0x0020, kdf 0x0001,
aead 0x0003), single-shot, through pycryptodome's ``Crypto.Protocol.HPKE``::

    sealed = enc (32) ‖ ChaCha20-Poly1305 ciphertext ‖ tag (16)

Use it where one member hands a key or a private message to another (epoch keys, key shares,
private conversations). ``info`` names what is sealed and binds it to its room and purpose;
``aad`` binds it to the frame around it. With ``psk`` (PSK mode, RFC 9180 section 5.1.2) only a
holder of that pre-shared key *and* the recipient's private key can open it: sealing epoch keys
with a key derived from the room password means a relay that slips its own X25519 key into the
member list, without the password, receives nothing it can open.

Call :func:`seal` to send and :func:`open` to receive; any failure to open raises
:class:`AuthenticationError`.
"""

from __future__ import annotations

from Crypto.Protocol import HPKE
from Crypto.Protocol.DH import import_x25519_public_key

from crypto import _curve25519 as curve
from crypto._util import as_bytes
from crypto.errors import AuthenticationError
from crypto.identity import PUBLIC_KEY_SIZE, Identity

ENC_SIZE = 32
TAG_SIZE = 16
OVERHEAD = ENC_SIZE + TAG_SIZE
_PSK_ID = b"SocketChat v2 room"


def _psk(psk: bytes | None) -> tuple[bytes, bytes] | None:
    if psk is None:
        return None
    psk = as_bytes(psk, "psk")
    if len(psk) < 32:
        raise ValueError("a pre-shared key is at least 32 bytes")
    return (_PSK_ID, psk)


def seal(
    recipient: bytes, plaintext: bytes, *, info: bytes, aad: bytes, psk: bytes | None = None
) -> bytes:
    """Seal ``plaintext`` to the X25519 public key ``recipient``; returns ``enc ‖ ct ‖ tag``.

    Raises :class:`AuthenticationError` for a recipient key that is non-canonical or of low
    order (it came from someone else), ``ValueError`` for a wrong length (our bug).
    """
    recipient = as_bytes(recipient, "recipient")
    if len(recipient) != PUBLIC_KEY_SIZE:
        raise ValueError(f"an X25519 public key is {PUBLIC_KEY_SIZE} bytes")
    try:
        curve.x25519_check_public(recipient)
        key = import_x25519_public_key(recipient)
    except ValueError as exc:
        raise AuthenticationError(f"recipient key refused: {exc}") from None
    cipher = HPKE.new(
        receiver_key=key, aead_id=HPKE.AEAD.CHACHA20_POLY1305, info=bytes(info), psk=_psk(psk)
    )
    ciphertext = cipher.seal(as_bytes(plaintext, "plaintext"), bytes(aad))
    return bytes(cipher.enc) + ciphertext


def open(
    identity: Identity, sealed: bytes, *, info: bytes, aad: bytes, psk: bytes | None = None
) -> bytes:
    """Open what :func:`seal` sealed to ``identity``'s X25519 key, or raise
    :class:`AuthenticationError` (not for us, altered, wrong info, aad or psk)."""
    sealed = as_bytes(sealed, "sealed")
    if len(sealed) < OVERHEAD:
        raise AuthenticationError("sealed secret too short")
    enc, ciphertext = sealed[:ENC_SIZE], sealed[ENC_SIZE:]
    try:
        curve.x25519_check_public(enc)
        cipher = HPKE.new(
            receiver_key=identity._dh_key,  # crypto-internal: the private key never leaves it
            aead_id=HPKE.AEAD.CHACHA20_POLY1305,
            enc=enc,
            info=bytes(info),
            psk=_psk(psk),
        )
        return bytes(cipher.unseal(ciphertext, bytes(aad)))
    except ValueError:
        raise AuthenticationError("sealed secret does not open") from None
