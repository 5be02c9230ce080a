"""Joining with an invite (``net.proto``'s invite format): expect its relay key from the start."""

from __future__ import annotations

from net.client.trust import TrustStore, relay_address
from net.proto import Invite


def pin_invite(trust: TrustStore, invite: Invite) -> None:
    """Expect the invite's relay key at its address and room from the first connection on.

    Call before connecting with ``room_id=invite.room_id``. An invite is the host's own word
    for the key, so it replaces a key pinned earlier for that address and room (a room
    re-created on the same port, say).
    """
    address = relay_address(invite.host, invite.port, invite.room_id)
    trust.forget_relay(address)
    trust.pin_relay(address, invite.relay_key)
