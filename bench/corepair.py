"""The real protocol cores wired through memory: a room of v2 members without sockets.

For the client-side figures (a joiner opening a WELCOME full of signed history, the GUI burst,
the client's cost per message) that should measure the client's own work, not a network:
:class:`MemoryRoom` drives the product's :class:`net.proto.Room` and one
:class:`net.proto.RelayProtocol` per member, as the asyncio relay does, and each member is a
real :class:`net.proto.ClientProtocol` with its own identity. Messages are signed and sealed by
the sender's client core (``ClientProtocol.send_messages``) under its own sender key,
attested and coalesced by the room, sealed once under the broadcast key; what reaches a member
is the bytes the relay would write to its socket.

Sender keys travel as they do through the relay: presence (JOINED) is broadcast to the members
when someone joins, so every member knows the others and seals its key to each of them before
its first message; the SHARES frame that ``send_messages`` puts before the CHAT frame is opened
by the sender's relay core and each share handed to its recipient's relay core (SHARE), as
``Relay.hand_out`` does. A member joined with ``hold_welcome`` is fed nothing by the room
(the caller feeds it, timed): what is addressed to it waits in :attr:`MemoryMember.inbox`;
:meth:`MemoryRoom.answer_wants` carries its WANT to the others and returns the shares they
answer with.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from crypto.identity import Identity
from crypto.kdf import RoomKeys
from net import proto
from net.proto import ClientProtocol, MemberInfo, RelayProtocol, Room
from net.proto._messages import PendingMessage
from net.relay.roomfile import RoomSecret

_MAX_ROUNDS = 50  # a handshake is a handful of round trips; more means a bug


class CoreError(RuntimeError):
    """The in-memory handshake did not end in WELCOME, or a core said something unexpected."""


@dataclass
class MemoryMember:
    """One joined member: its client core and the relay's core for its connection.

    ``auto``: the room feeds the client what the relay sends it (presence, shares, answers to
    WANTED) as it goes; False for a member whose WELCOME was held: then the unicast frames for
    it collect in ``inbox`` for the caller to feed.
    """

    name: str
    client: ClientProtocol
    relay: RelayProtocol
    auto: bool = True
    inbox: bytearray = field(default_factory=bytearray)


class MemoryRoom:
    """A room served from memory. :meth:`join` members, :meth:`say` as one of them, and
    :meth:`flush` the room's broadcast (the bytes every member's socket would get)."""

    def __init__(self, keys: RoomKeys, *, history_limit: int = 100) -> None:
        self.keys = keys
        self.secret = RoomSecret.from_room_keys(keys)
        self.room: Room[RelayProtocol] = Room(history_limit=history_limit)
        self.members: dict[str, MemoryMember] = {}
        self._by_key: dict[bytes, MemoryMember] = {}

    def join(
        self, name: str, identity: Identity | None = None, *, hold_welcome: bool = False
    ) -> tuple[MemoryMember, bytes]:
        """Run the v2 handshake for ``name`` and admit it; return the member and its WELCOME
        frame. With ``hold_welcome`` the client has *not* been fed the WELCOME yet (so the
        caller can time that), otherwise it is joined already. The members present then
        receive the broadcast that announces it (as the relay's next flush would)."""
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
                self._on_handshake_event(relay, event)
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
        member = MemoryMember(name, client, relay, auto=not hold_welcome)
        self.members[name] = member
        self._by_key[client.identity.signing_public] = member
        if not hold_welcome:
            client.receive_data(welcome)
            if not any(isinstance(e, proto.Welcomed) for e in client.events_received()):
                raise CoreError(f"{name}: the WELCOME did not welcome")
        presence = self.room.flush()  # the JOINED item: the members present learn of it
        if presence:
            self._broadcast(presence)
        return member, welcome

    def _on_handshake_event(self, relay: RelayProtocol, event: proto.Event) -> None:
        if isinstance(event, proto.RoomRequested):
            relay.select_room(self.secret.credentials)
        elif isinstance(event, proto.JoinRequested):
            name = self.room.check_join(event.username, event.signing_key)
            info = MemberInfo(
                name=name, signing_key=event.signing_key, dh_key=event.dh_key, tag=event.tag
            )
            self.room.join(info, relay)
            relay.accept_join(self.room.welcome(name))
        elif isinstance(event, proto.MessagesSubmitted):
            raise CoreError("a message before the member joined")

    def say(self, name: str, texts: list[str], ids: list[bytes], timestamp_ms: int) -> None:
        """Member ``name`` sends ``texts`` (its client core signs and seals them, after the
        shares of its sender key when it needs them); the relay core opens what it sent,
        the shares go to their recipients and the room queues the envelopes."""
        member = self.members[name]
        member.client.send_messages(
            PendingMessage(text, message_id, timestamp_ms)
            for text, message_id in zip(texts, ids, strict=True)
        )
        self.route(member, member.client.data_to_send())

    def route(self, member: MemoryMember, data: bytes) -> bool:
        """What the relay does with ``data`` from ``member``'s client: chat to the room's
        queue, each share to its recipient (SHARE), a WANT to the queue as a WANTED item.
        True if a WANTED item was queued (it goes out with the next flush)."""
        if not data:
            return False
        wanted = False
        member.relay.receive_data(data)
        distributor = member.client.identity.signing_public
        for event in member.relay.events_received():
            if isinstance(event, proto.MessagesSubmitted):
                self.room.submit(member.name, event.envelopes)
            elif isinstance(event, proto.SharesSubmitted):
                for recipient, share in event.shares:
                    target = self._by_key.get(bytes(recipient))
                    if target is None or target is member:
                        continue  # not (or no longer) here: skipped, as the relay does
                    if target.relay.send_share(distributor, share):
                        self._deliver(target, target.relay.data_to_send())
            elif isinstance(event, proto.KeysWanted):
                self.room.want(member.name, event.payload)
                wanted = True
            else:
                raise CoreError(f"{member.name}'s relay core: {event}")
        return wanted

    def _deliver(self, member: MemoryMember, data: bytes) -> None:
        """Bytes the relay writes to ``member``: fed to its client now if ``auto``, else kept
        in its inbox; what the client answers (SHARES, WANT) is routed on."""
        if not member.auto:
            member.inbox += data
            return
        member.client.receive_data(data)
        for event in member.client.events_received():
            if isinstance(event, (proto.ProtocolViolation, proto.ChatForged)):
                raise CoreError(f"{member.name}: {event}")
        if self.route(member, member.client.data_to_send()):
            self._broadcast_wanted()

    def _broadcast(self, frame: bytes) -> None:
        for member in list(self.members.values()):
            self._deliver(member, frame)

    def _broadcast_wanted(self) -> None:
        frame = self.room.flush()
        if frame:
            self._broadcast(frame)

    def answer_wants(self, name: str) -> bytes:
        """Carry what ``name``'s client queued (its WANT after a WELCOME with locked history)
        to the room, broadcast the WANTED item to the others and let them answer; return the
        unicast bytes waiting for ``name`` (the SHARE frames), taken out of its inbox."""
        member = self.members[name]
        if self.route(member, member.client.data_to_send()):
            self._broadcast_wanted()
        data = bytes(member.inbox)
        member.inbox.clear()
        return data

    def flush(self) -> bytes:
        """Seal what is pending into the room's broadcast; b"" if nothing was. Nobody is fed
        it: the caller hands it to the member it measures."""
        return self.room.flush() or b""
