"""A new room password, handed by the owner or an admin who changes it to each remaining member.

Sealed to the member's X25519 identity key with HPKE in PSK mode under a key from the *old*
password (only a device that knew it, and holds the recipient's private key, opens it) and
signed by whoever changes it, bound to the room and to the number of the room action that
changes it (net.proto's CHANGE_PASSWORD)::

    share     = u32 seq ‖ sealed ‖ signature (64)
    sealed    = HPKE-PSK(recipient dh key, UTF-8 password,
                         info = "SocketChat v2 new password|" ‖ room_id ‖ u32 seq,
                         aad  = recipient signing key ‖ distributor signing key,
                         psk  = derive(old member_key, "new password psk"))
    signature = Ed25519(distributor, context "new password",
                        room_id ‖ recipient signing key ‖ u32 seq ‖ sealed)

A removed member is not sent one; the relay never sees the password, only the new verifier.
"""

from __future__ import annotations

import struct

from crypto import hpke
from crypto._util import as_bytes
from crypto.errors import AuthenticationError
from crypto.identity import Identity, verify
from crypto.kdf import KEY_SIZE, derive

MAX_PASSWORD_BYTES = 256
_SEQ = struct.Struct(">I")
_INFO = b"SocketChat v2 new password|"
_CONTEXT = "new password"
MAX_SIZE = _SEQ.size + hpke.OVERHEAD + MAX_PASSWORD_BYTES + 64


def _psk(member_key: bytes) -> bytes:
    member_key = as_bytes(member_key, "member_key")
    if len(member_key) != KEY_SIZE:
        raise ValueError(f"the member key is {KEY_SIZE} bytes")
    return derive(member_key, "new password psk")


def seal_password(
    password: str,
    *,
    distributor: Identity,
    recipient_signing: bytes,
    recipient_dh: bytes,
    room_id: bytes,
    seq: int,
    member_key: bytes,
) -> bytes:
    """The share of ``password`` for one member (see the module docstring).
    :class:`AuthenticationError` for a recipient key no device has."""
    data = password.encode("utf-8")
    if not data or len(data) > MAX_PASSWORD_BYTES:
        raise ValueError("a password is 1 to 256 bytes of UTF-8")
    head = _SEQ.pack(seq)
    sealed = hpke.seal(
        recipient_dh,
        data,
        info=_INFO + bytes(room_id) + head,
        aad=bytes(recipient_signing) + distributor.signing_public,
        psk=_psk(member_key),
    )
    signature = distributor.sign(
        bytes(room_id) + bytes(recipient_signing) + head + sealed, context=_CONTEXT
    )
    return head + sealed + signature


def open_password(
    identity: Identity, share: bytes, *, distributor: bytes, room_id: bytes, member_key: bytes
) -> tuple[int, str]:
    """``(seq, password)`` from a share sealed to ``identity`` by ``distributor``;
    :class:`AuthenticationError` if it is malformed, not signed by it, not ours or altered."""
    share = bytes(share)
    if not _SEQ.size + hpke.OVERHEAD + 64 < len(share) <= MAX_SIZE:
        raise AuthenticationError("a password share of the wrong size")
    head, sealed, signature = share[: _SEQ.size], share[_SEQ.size : -64], share[-64:]
    verify(
        distributor,
        bytes(room_id) + identity.signing_public + head + sealed,
        signature,
        context=_CONTEXT,
    )
    data = hpke.open(
        identity,
        sealed,
        info=_INFO + bytes(room_id) + head,
        aad=identity.signing_public + bytes(distributor),
        psk=_psk(member_key),
    )
    try:
        password = data.decode("utf-8")
    except UnicodeDecodeError:
        raise AuthenticationError("a new password that is not UTF-8") from None
    (seq,) = _SEQ.unpack(head)
    return seq, password
