"""The real protocol cores wired through memory: a room of v2 members without sockets.

For the client-side figures (a joiner opening a WELCOME full of signed history, the GUI burst)
that should measure the client's own work, not a network: :class:`MemoryRoom` drives the
product's :class:`net.proto.Room` and one :class:`net.proto.RelayProtocol` per member, as the
asyncio relay does, and each member is a real :class:`net.proto.ClientProtocol` with its own
identity. Messages are signed and sealed by the sender's client core
(``ClientProtocol.send_messages``), attested and coalesced by the room, sealed once under the
broadcast key; what reaches a member is the bytes the relay would write to its socket.
"""

from __future__ import annotations

from dataclasses import dataclass

from crypto.identity import Identity
from crypto.kdf import RoomKeys
from net import proto
from net.proto import ClientProtocol, MemberInfo, RelayProtocol, Room
from net.proto._messages import PendingMessage
from net.relay.roomfile import RoomSecret

_MAX_ROUNDS = 50  # a handshake is a handful of round trips; more means a bug


class CoreError(RuntimeError):
    """The in-memory handshake did not end in WELCOME."""


@dataclass
class MemoryMember:
    """One joined member: its client core and the relay's core for its connection."""

    name: str
    client: ClientProtocol
    relay: RelayProtocol


class MemoryRoom:
    """A room served from memory. :meth:`join` members, :meth:`say` as one of them, and
    :meth:`flush` the room's broadcast (the bytes every member's socket would get)."""

    def __init__(self, keys: RoomKeys, *, history_limit: int = 100) -> None:
        self.keys = keys
        self.secret = RoomSecret.from_room_keys(keys)
        self.room: Room[RelayProtocol] = Room(history_limit=history_limit)
        self.members: dict[str, MemoryMember] = {}

    def join(
        self, name: str, identity: Identity | None = None, *, hold_welcome: bool = False
    ) -> tuple[MemoryMember, bytes]:
        """Run the v2 handshake for ``name`` and admit it; return the member and its WELCOME
        frame. With ``hold_welcome`` the client has *not* been fed the WELCOME yet (so the
        caller can time that), otherwise it is joined already."""
        client = ClientProtocol(
            username=name, identity=identity or Identity.generate(), keys=self.keys
        )
        relay = RelayProtocol()
        client.initiate()
        welcome = b""
        for _ in range(_MAX_ROUNDS):
            up = client.data_to_send()
            if up:
                relay.receive_data(up)
            for event in relay.events_received():
                self._on_relay_event(relay, event)
            down = relay.data_to_send()
            if relay.state is proto.RelayState.JOINED:
                welcome = down
                break
            if down:
                client.receive_data(down)
            for event in client.events_received():
                if isinstance(event, (proto.ProtocolViolation, proto.AuthenticationFailed)):
                    raise CoreError(f"{name}: {event}")
            if not up and not down:
                raise CoreError(f"{name}: the handshake stalled in {client.state.name}")
        if not welcome:
            raise CoreError(f"{name}: no WELCOME after {_MAX_ROUNDS} rounds")
        member = MemoryMember(name, client, relay)
        self.members[name] = member
        if not hold_welcome:
            client.receive_data(welcome)
            if not any(isinstance(e, proto.Welcomed) for e in client.events_received()):
                raise CoreError(f"{name}: the WELCOME did not welcome")
        return member, welcome

    def _on_relay_event(self, relay: RelayProtocol, event: proto.Event) -> None:
        if isinstance(event, proto.RoomRequested):
            relay.select_room(self.secret.credentials)
        elif isinstance(event, proto.JoinRequested):
            name = self.room.check_join(event.username, event.signing_key)
            info = MemberInfo(name=name, signing_key=event.signing_key, dh_key=event.dh_key)
            self.room.join(info, relay)  # the JOINED broadcast for the others is not needed
            relay.accept_join(self.room.welcome(name))
        elif isinstance(event, proto.MessagesSubmitted):
            raise CoreError("a message before the member joined")

    def say(self, name: str, texts: list[str], ids: list[bytes], timestamp_ms: int) -> None:
        """Member ``name`` sends ``texts`` in one CHAT frame (its client core signs and seals
        them); the relay core opens the frame and the room queues the envelopes."""
        member = self.members[name]
        member.client.send_messages(
            PendingMessage(text, message_id, timestamp_ms)
            for text, message_id in zip(texts, ids, strict=True)
        )
        member.relay.receive_data(member.client.data_to_send())
        for event in member.relay.events_received():
            if not isinstance(event, proto.MessagesSubmitted):
                raise CoreError(f"{name}'s relay core: {event}")
            self.room.submit(name, event.envelopes)

    def flush(self) -> bytes:
        """Seal what is pending into the room's broadcast; b"" if nothing was."""
        return self.room.flush() or b""
