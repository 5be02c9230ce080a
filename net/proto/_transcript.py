"""The handshake transcript: what the relay signs, what SPAKE2 binds, what the join proof covers.

Both sides build these from the exact frame bodies (type byte included) they sent and received,
so a man in the middle who changes any byte of the opening makes a signature or a confirmation
fail instead of, say, downgrading the version or swapping the relay's key::

    relay hello signature = Ed25519(relay key, context "relay hello",
                                    SHA-256(CLIENT_HELLO ‖ CLIENT_OPEN ‖ RELAY_HELLO unsigned))
    SPAKE2 aad            = SHA-256(CLIENT_HELLO ‖ CLIENT_OPEN ‖ RELAY_HELLO)
    join proof            = Ed25519(member key, context "join",
                                    SHA-256(TT) ‖ room_id ‖ str8 name ‖ signing key ‖ dh key)
    transport keys        = derive(Ke, "transport client to relay" / "transport relay to client",
                                   context = SHA-256(TT))
"""

from __future__ import annotations

import hashlib

from crypto.spake2 import Spake2
from crypto.transport import derive_transport_keys

RELAY_HELLO_CONTEXT = "relay hello"
JOIN_CONTEXT = "join"


def relay_hello_signed(
    client_hello: bytes, client_open: bytes, relay_hello_unsigned: bytes
) -> bytes:
    """What the relay signs in RELAY_HELLO: the opening so far, hashed. ``relay_hello_unsigned``
    is the RELAY_HELLO body (type byte included) without its trailing signature."""
    return hashlib.sha256(client_hello + client_open + relay_hello_unsigned).digest()


def pake_aad(client_hello: bytes, client_open: bytes, relay_hello: bytes) -> bytes:
    """The SPAKE2 aad: both confirmations depend on every byte of the opening."""
    return hashlib.sha256(client_hello + client_open + relay_hello).digest()


def transcript_hash(pake: Spake2) -> bytes:
    """SHA-256 of a finished SPAKE2 run's transcript TT (secret-dependent: never sent)."""
    return hashlib.sha256(pake.transcript).digest()


def join_signed(
    *, transcript: bytes, room_id: bytes, name: str, signing_key: bytes, dh_key: bytes
) -> bytes:
    """What a JOIN's proof signs: this session (so it cannot be replayed), the room, the name
    and both identity keys (so the X25519 key is bound to the signing key too)."""
    encoded = name.encode("utf-8")
    return b"".join((transcript, room_id, bytes((len(encoded),)), encoded, signing_key, dh_key))


def session_transport_keys(pake: Spake2, session_key: bytes) -> tuple[bytes, bytes]:
    """(client→relay, relay→client) frame keys for a verified SPAKE2 run."""
    return derive_transport_keys(session_key, transcript_hash=transcript_hash(pake))
