"""One room's state on the relay, without any I/O: members, names, history, pending broadcasts.

The asyncio driver (:mod:`net.relay`) owns the sockets; this module decides *what* they get:

* **members** by :func:`username_key` (unique ignoring case), each with the identity keys it
  proved in its JOIN;
* **names bound to identities**: the first identity key to use a name in the room keeps it for
  as long as the room exists (:attr:`Room.bindings`), so nobody else can take it, not even while
  its owner is away; and a name that *looks like* a present or bound name (UTS #39 skeleton) is
  refused;
* **pending items** (chat messages, joins, leaves, requests for sender keys) waiting for the
  next :meth:`Room.flush`,
  which seals everything pending into one broadcast (more only above the client's frame cap)
  with the room's random broadcast key, for the driver to write to every member;
* **history**: the chat items, kept as the exact bytes they were broadcast as (sealed end
  to end: the relay cannot read them) in a :class:`~net.proto._history.HistoryStore` (memory,
  or SQLite in the relay), each at its position. They are stored when a broadcast is
  *flushed*, before it is sealed — so a member who joins between a submission and its flush
  receives that message once, in the broadcast, never also in the WELCOME history; and a
  message is stored before its sender can see it: only then does the sender get its ACK;
* **duplicates**: an envelope whose message id is stored or pending already (a resend after a
  lost ACK) is not queued again; its sender gets the ACK again.

Items are kept encoded: a message costs the relay one prefix join when it is submitted, and the
same bytes are reused for every broadcast, history and welcome (no re-encoding per member).

A JOINED item is not sealed on its own: it waits with everything else for the next flush,
which the joiner receives too (its WELCOME's next_seq is that flush's). So a join storm costs
each member one presence broadcast per flush rather than one per join. The WELCOME lists the
room as it is at the join; the flush may then repeat what the joiner already knows (its own
JOINED item, others' that its list holds, LEFT items of members it never saw), and clients
take such items as no news (PROTOCOL.md, section 3.3).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

from crypto.transport import BroadcastSealer, new_broadcast_key
from net.proto._authority import Action, ActionKind, ActionRefused, Authority
from net.proto._errors import LocalProtocolError
from net.proto._frames import MAX_MESSAGE_BYTES, MAX_RELAY_FRAME, Reason
from net.proto._history import HistoryStore, MemoryHistory
from net.proto._messages import (
    BROADCAST_KEY_SIZE,
    MESSAGE_ID_SIZE,
    ActionItem,
    LeftItem,
    MemberInfo,
    WelcomeArgs,
    chat_item_prefix,
    encode_chat_items,
    encode_item,
    encode_joined_item,
    encode_wanted_item,
)
from net.proto._names import name_skeleton, username_key, validate_username
from net.proto._relay import encode_broadcast
from net.proto._roomfiles import RoomFiles

DEFAULT_MAX_MEMBERS = 200
DEFAULT_HISTORY = 100

# Bytes a BROADCAST frame body spends besides its items: type, seq, item count, AEAD tag.
_BROADCAST_OVERHEAD = 1 + 8 + 2 + 16
_MAX_ITEMS_PER_BROADCAST = 0xFFFF
# Bytes a WELCOME frame body spends besides the member entries and the history items: type,
# member count, broadcast key, next seq, next position, max message bytes, history count,
# genesis length, action count, max file bytes, AEAD tag.
_WELCOME_OVERHEAD = 1 + 2 + BROADCAST_KEY_SIZE + 8 + 8 + 4 + 2 + 2 + 2 + 8 + 16
# Bytes a HISTORY_PAGE frame body spends besides its items: type, first position, count, tag.
_PAGE_OVERHEAD = 1 + 8 + 2 + 16

M = TypeVar("M")


def _item_message_id(item: bytes) -> bytes:
    """The message id of an encoded CHAT item: kind, str8 sender, u32 length, envelope."""
    start = 2 + item[1] + 4
    return item[start : start + MESSAGE_ID_SIZE]


class JoinRejected(Exception):
    """A JOIN the room cannot accept; send ``reject_join(code, text)`` and close.

    ``text`` is for the person joining (it names no one else and no internals).
    """

    def __init__(self, code: Reason, text: str) -> None:
        super().__init__(text)
        self.code = code
        self.text = text


@dataclass(frozen=True, slots=True)
class _Member(Generic[M]):
    info: MemberInfo
    handle: M
    chat_prefix: bytes  # the start of every CHAT item this member sends (kind + name)
    entry: bytes  # the member's WELCOME/JOINED entry, encoded once


class Room(Generic[M]):
    """The members, names, history and pending broadcasts of one room.

    ``M`` is whatever the driver uses to reach a member (its connection object); the room
    only stores it and hands it back through :meth:`handles`. Typical use on a JOIN::

        name = room.check_join(username, signing_key)   # JoinRejected → reject_join(code, text)
        old = room.handle_of_identity(signing_key)       # the same identity, still connected?
        room.join(member_info, conn)                     # queues its JOINED item
        protocol.accept_join(room.welcome(name))

    and for chat: :meth:`submit`; for a WANT: :meth:`want`. Then :meth:`flush` (once per loop
    iteration, or a moment later when only presence is pending) and write the returned bytes
    to every handle, the members who joined since the last flush included. Sender key shares
    are unicast, not broadcast: the driver hands each to the member :meth:`handle_of_identity`
    finds, attested with the sender's :meth:`signing_key_of`. ``bindings`` (name key →
    signing key) restores the names held by identities from an earlier run; save
    :attr:`bindings` when it changes.
    """

    def __init__(
        self,
        *,
        max_members: int = DEFAULT_MAX_MEMBERS,
        history_limit: int = DEFAULT_HISTORY,
        max_message_bytes: int = MAX_MESSAGE_BYTES,
        broadcast_key: bytes | None = None,
        frame_cap: int = MAX_RELAY_FRAME,
        bindings: Mapping[str, bytes] | None = None,
        authority: Authority | None = None,
        history: HistoryStore | None = None,
        files: RoomFiles[M] | None = None,
    ) -> None:
        """``history_limit``: at most this many stored items go into a WELCOME (and the
        in-memory store keeps this many when no ``history`` store is given). ``files``: the
        room's files (PROTOCOL.md 3.6), which WELCOME announces; None: the room keeps none."""
        if max_members < 1 or history_limit < 0 or max_message_bytes < 1:
            raise LocalProtocolError("max_members and max_message_bytes must be positive")
        self.max_members = max_members
        self.history_limit = history_limit
        self.max_message_bytes = max_message_bytes
        self._frame_cap = frame_cap
        self._broadcast_key = broadcast_key if broadcast_key is not None else new_broadcast_key()
        self._sealer = BroadcastSealer(self._broadcast_key)
        self._members: dict[str, _Member[M]] = {}
        self._by_identity: dict[bytes, str] = {}  # signing key -> name key, of each member
        # The same members by their exact name: submit() finds a sender without computing its
        # username_key (NFC + case fold) for every CHAT frame.
        self._by_name: dict[str, _Member[M]] = {}
        self._bindings: dict[str, bytes] = dict(bindings or {})
        self._bound_names: dict[str, str] = {}  # name key -> the name as first bound
        # The members' infos again, in join order: a WELCOME copies them in one C call.
        self._infos: dict[str, MemberInfo] = {}
        self._info_tuple: tuple[MemberInfo, ...] | None = None  # cache, None after a change
        # The members' WELCOME entries, encoded, in join order: a join appends one (a copy),
        # a departure drops the lot, rebuilt at the next welcome. A join storm into a room of
        # thousands otherwise encoded every member's entry, field by field, for every joiner.
        self._entries: bytes | None = b""
        self._member_bytes = 0  # sum of the members' encoded entries: WELCOME sizing
        # Look-alike checks in O(1) per join, not one skeleton per member per join: the
        # skeleton of each name bound in the room -> that name's key (see _bindings).
        self._looks: dict[str, str] = {}
        for key in self._bindings:
            self._looks.setdefault(name_skeleton(key), key)
        self._pending: list[bytes] = []
        # Each submitted chat item's message id and sender, to acknowledge once stored.
        self._pending_chat: list[tuple[bytes, M]] = []
        self._pending_ids: set[bytes] = set()
        self._acks: dict[int, tuple[M, list[bytes]]] = {}  # id(handle) -> stored ids to ACK
        self._store: HistoryStore = (
            history if history is not None else MemoryHistory(history_limit, max_bytes=frame_cap)
        )
        #: The room's files and their rules; the driver answers file requests with them.
        self.files: RoomFiles[M] = files if files is not None else RoomFiles(None, max_bytes=0)
        self.broadcasts_sealed = 0  # for stats and tests: seals are the relay's main CPU cost
        self.bindings_changed = False  # set when a new name is bound; the driver saves and clears
        #: The room's owner, admins and their actions (None: a room without an owner).
        self.authority = authority
        self.actions_changed = False  # set when an action was taken; the driver saves and clears
        self._authority_bytes = 0  # the genesis and actions as a WELCOME carries them
        if authority is not None:
            self._authority_bytes = len(authority.genesis.encode()) + sum(
                2 + len(action.encode()) for action in authority.actions
            )

    # -- members ---------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._members)

    @property
    def members(self) -> tuple[str, ...]:
        """Member names in the order they joined."""
        return tuple(member.info.name for member in self._members.values())

    @property
    def member_infos(self) -> tuple[MemberInfo, ...]:
        """Members with their identity keys, in the order they joined."""
        if self._info_tuple is None:
            self._info_tuple = tuple(self._infos.values())
        return self._info_tuple

    @property
    def bindings(self) -> dict[str, bytes]:
        """Name key → the signing key that holds the name in this room (a copy)."""
        return dict(self._bindings)

    def handles(self) -> list[M]:
        """The driver's handles of every member: who gets the next broadcast."""
        return [member.handle for member in self._members.values()]

    def handle_of(self, name: str) -> M | None:
        """The handle of the member called ``name`` (ignoring case), or None."""
        member = self._members.get(username_key(name))
        return None if member is None else member.handle

    def signing_key_of(self, name: str) -> bytes | None:
        """The signing key the member called ``name`` joined with, or None if not a member."""
        member = self._by_name.get(name) or self._members.get(username_key(name))
        return None if member is None else member.info.signing_key

    def handle_of_identity(self, signing_key: bytes) -> M | None:
        """The handle of the member that joined with ``signing_key`` (under any name), or None.

        One identity is one member: if it joins again, close this handle (GOODBYE REPLACED)
        and have it :meth:`leave` before :meth:`join`.
        """
        key = self._by_identity.get(bytes(signing_key))
        return None if key is None else self._members[key].handle

    def check_join(self, username: str, signing_key: bytes) -> str:
        """Validate a JOIN by the identity ``signing_key``; return the name to use (NFC).

        Raises :class:`JoinRejected`: NAME_INVALID (breaks the name rules), NAME_TAKEN (the
        name belongs to another identity here, present or not), NAME_LOOKALIKE (it looks like
        another identity's name), ROOM_FULL. The same identity may join (under its own name or
        another free one) while an old connection of it is still registered: the driver
        replaces that one (:meth:`handle_of_identity`).
        """
        if self.authority is not None and bytes(signing_key) in self.authority.removed:
            raise JoinRejected(
                Reason.REMOVED, "You were removed from this room by its owner or an admin."
            )
        try:
            name = validate_username(username)
        except (TypeError, ValueError) as exc:
            raise JoinRejected(Reason.NAME_INVALID, str(exc)) from None
        key = username_key(name)
        holder = self._bindings.get(key)
        if holder is not None and holder != signing_key:
            raise JoinRejected(
                Reason.NAME_TAKEN,
                f"The name {name!r} belongs to another member of this room. Choose another name.",
            )
        held = self._looks.get(name_skeleton(name))
        if held is not None and self._bindings.get(held) != signing_key:
            raise JoinRejected(
                Reason.NAME_LOOKALIKE,
                f"The name {name!r} looks too much like "
                f"{self._bound_names.get(held, held)!r}, the name of another "
                "member of this room. Choose a name that looks different.",
            )
        # An identity already in the room takes no new place: its old connection is replaced.
        present = self.handle_of_identity(signing_key)
        if present is None and len(self._members) >= self.max_members:
            raise JoinRejected(Reason.ROOM_FULL, f"The room is full ({self.max_members} members).")
        return name

    def join(self, info: MemberInfo, handle: M) -> None:
        """Add a member checked by :meth:`check_join` and queue its JOINED item; then send
        the joiner :meth:`welcome`. A member still registered under this name must have left
        first (:meth:`leave`).

        The JOINED item is not sealed here: every join and leave of a loop iteration goes out
        in the next :meth:`flush`, one broadcast for all of them, so a storm of joins costs
        each member one presence update per flush, not one per join. The joiner is welcomed
        with that flush's sequence number: it receives its own JOINED item too (and those of
        others already in its welcome), which clients take as news only if it is news.
        """
        key = username_key(info.name)
        if key in self._members:
            raise LocalProtocolError(f"{info.name!r} is already a member")  # call leave() first
        if self._bindings.get(key) is None:
            self._bindings[key] = bytes(info.signing_key)
            self.bindings_changed = True
        self._bound_names.setdefault(key, info.name)
        for seen in (info.name, key):  # one skeleton, unless folding the case changed it
            self._looks.setdefault(name_skeleton(seen), key)
        entry = info.encode()
        self._pending.append(encode_joined_item(entry))
        member = _Member(info, handle, chat_item_prefix(info.name), entry)
        self._members[key] = member
        self._by_name[info.name] = member
        self._by_identity[bytes(info.signing_key)] = key
        self._infos[key] = info
        self._info_tuple = None
        self._member_bytes += len(entry)
        if self._entries is not None:
            self._entries += entry

    def leave(self, name: str, code: Reason, *, handle: M | None = None) -> bool:
        """Remove ``name`` and queue a LEFT item; False (nothing queued) if not a member.

        Pass the leaving connection's ``handle``: a name can be taken again by a reconnected
        member while the old connection is still closing, and that must not remove the new one.
        """
        key = username_key(name)
        member = self._members.get(key)
        if member is None or (handle is not None and member.handle is not handle):
            return False
        del self._members[key]
        del self._by_name[member.info.name]
        if self._by_identity.get(member.info.signing_key) == key:
            del self._by_identity[member.info.signing_key]
        del self._infos[key]
        self._info_tuple = None
        self._entries = None
        self._member_bytes -= len(member.entry)
        self._pending.append(encode_item(LeftItem(name=member.info.name, code=code)))
        self.files.release(member.handle)  # its uploads stay, to resume; evictable now
        return True

    def welcome(self, name: str, *, resume_after: int = 0) -> WelcomeArgs:
        """What ``RelayProtocol.accept_join`` sends the member ``name``.

        Call right after :meth:`join`. The history is the newest stored items after
        ``resume_after`` (the JOIN's), at most ``history_limit`` of them and what fits the
        client's frame cap next to the member list; the member asks for older ones itself.
        """
        used = (
            _WELCOME_OVERHEAD
            + 1
            + len(name.encode("utf-8"))
            + self._member_bytes
            + self._authority_bytes
        )
        authority = self.authority
        return WelcomeArgs(
            genesis=authority.genesis.encode() if authority is not None else b"",
            actions=tuple(a.encode() for a in authority.actions) if authority is not None else (),
            name=name,
            members=self.member_infos,
            broadcast_key=self._broadcast_key,
            next_seq=self._sealer.next_seq,
            next_position=self._store.next_position,
            history=tuple(
                self._store.page(
                    after=resume_after,
                    before=self._store.next_position,
                    limit=self.history_limit,
                    max_bytes=self._frame_cap - used,
                )[1]
            ),
            max_message_bytes=self.max_message_bytes,
            member_entries=self._member_entries(),
            max_file_bytes=self.files.max_bytes,
        )

    def _member_entries(self) -> bytes:
        if self._entries is None:
            self._entries = b"".join(member.entry for member in self._members.values())
        return self._entries

    # -- broadcasts ------------------------------------------------------------------------

    @property
    def broadcast_key(self) -> bytes:
        """The room's random broadcast key (members get it in WELCOME)."""
        return self._broadcast_key

    @property
    def next_seq(self) -> int:
        """The sequence number of the next broadcast."""
        return self._sealer.next_seq

    @property
    def pending(self) -> bool:
        """True if :meth:`flush` has something to seal."""
        return bool(self._pending)

    @property
    def next_position(self) -> int:
        """The position the next stored chat item takes."""
        return self._store.next_position

    def submit(self, name: str, envelopes: Iterable[bytes | memoryview]) -> int:
        """Attest ``envelopes`` as sent by member ``name`` and queue them; returns how many
        were queued. An envelope whose message id is stored or queued already is not queued
        again: its sender gets the ACK (:meth:`take_acks`) once it is stored.

        The envelopes are copied into their items here, so views into a receive buffer are
        fine. Unknown ``name`` is a driver bug (:class:`LocalProtocolError`).
        """
        member = self._by_name.get(name) or self._members.get(username_key(name))
        if member is None:
            raise LocalProtocolError(f"{name!r} is not a member")
        fresh = []
        handle = member.handle
        pending_ids, store = self._pending_ids, self._store
        for envelope in envelopes:
            message_id = bytes(envelope[:MESSAGE_ID_SIZE])
            if message_id in pending_ids or store.contains(message_id):
                self._ack(handle, message_id)
                continue
            pending_ids.add(message_id)
            self._pending_chat.append((message_id, handle))
            fresh.append(envelope)
        self._pending += encode_chat_items(member.chat_prefix, fresh)
        return len(fresh)

    def _ack(self, handle: M, message_id: bytes) -> None:
        entry = self._acks.get(id(handle))
        if entry is None:
            self._acks[id(handle)] = (handle, [message_id])
        else:
            entry[1].append(message_id)

    def take_acks(self) -> list[tuple[M, list[bytes]]]:
        """The stored messages to acknowledge, by sender: ``(handle, message ids)``. Call
        after each :meth:`flush` and send each handle ACK (``RelayProtocol.send_ack``); a
        sender that left meanwhile is skipped by the protocol. Duplicates submitted since the
        last call are included (they were stored before)."""
        acks = list(self._acks.values())
        self._acks = {}
        return acks

    def page(self, before: int, limit: int) -> tuple[int, list[bytes]]:
        """Answer a HISTORY request: the newest stored items older than ``before``, at most
        ``limit`` and what fits one HISTORY_PAGE; ``(first position, items)``."""
        return self._store.page(
            after=0, before=before, limit=limit, max_bytes=self._frame_cap - _PAGE_OVERHEAD
        )

    def want(self, name: str, payload: bytes) -> None:
        """Queue a WANTED item: member ``name`` asks the others for the sender keys listed in
        ``payload`` (a WANT payload, checked by the protocol core), attested with the signing
        key it joined with. Like a JOINED or LEFT item it goes out with the next flush and is
        never kept in the history. Unknown ``name`` is a driver bug (LocalProtocolError)."""
        signing_key = self.signing_key_of(name)
        if signing_key is None:
            raise LocalProtocolError(f"{name!r} is not a member")
        self._pending.append(encode_wanted_item(signing_key, payload))

    def act(self, action: Action) -> M | None:
        """Take a room action (owners and admins) that a member submitted: check it against
        the rules, apply it, and queue it for everyone (kept by the room, not in the history).

        Raises :class:`~net.proto.ActionRefused` (nothing changes: tell the actor). For a
        removal, returns the handle of the removed member if it is here: send it GOODBYE
        (REMOVED), close it and :meth:`leave` it with REMOVED. A released name is free again.
        The driver saves the room's actions when :attr:`actions_changed`.
        """
        if self.authority is None:
            raise ActionRefused("this room has no owner, so nobody can take actions in it")
        self.authority.apply(action)
        encoded = action.encode()
        self._authority_bytes += 2 + len(encoded)
        self.actions_changed = True
        self._pending.append(encode_item(ActionItem(action=encoded)))
        if action.kind is ActionKind.RELEASE_NAME:
            key = username_key(action.detail)
            if self._bindings.pop(key, None) is not None:
                self.bindings_changed = True
                self._bound_names.pop(key, None)
                self._looks = {s: k for s, k in self._looks.items() if k != key}
        if action.kind is ActionKind.REMOVE:
            return self.handle_of_identity(action.target)
        return None

    def queue(self, item: bytes) -> None:
        """Queue one encoded item (:func:`encode_item`) for the next broadcast."""
        self._pending.append(item)

    def flush(self) -> bytes | None:
        """Seal everything pending; return the frame(s) for every member, or None if idle.

        One BROADCAST frame holds everything unless that would pass the client's frame cap;
        then several frames follow each other in the returned bytes. Chat items enter the
        history here, in broadcast order.
        """
        if not self._pending:
            return None
        items, self._pending = self._pending, []
        senders, self._pending_chat = self._pending_chat, []
        self._pending_ids = set()
        chat = [(_item_message_id(item), item) for item in items if item[0] == 1]
        if chat:
            # Stored before anything is sealed: a message is in the history before anyone,
            # its sender included, can see it. If this raises (a full disk), nothing was sent
            # and nothing is acknowledged: the senders resend after reconnecting. Joins,
            # departures and actions were not sent either: they wait for the next flush.
            try:
                self._store.append(chat)
            except BaseException:
                self._pending = [item for item in items if item[0] != 1] + self._pending
                raise
        for message_id, handle in senders:
            self._ack(handle, message_id)
        frames = []
        for group in self._split(items):
            frames.append(encode_broadcast(self._sealer, group))
            self.broadcasts_sealed += 1
        return frames[0] if len(frames) == 1 else b"".join(frames)

    def _split(self, items: list[bytes]) -> list[list[bytes]]:
        budget = self._frame_cap - _BROADCAST_OVERHEAD
        if len(items) <= _MAX_ITEMS_PER_BROADCAST and sum(map(len, items)) <= budget:
            return [items]  # the usual case: it all fits one frame (no step per item)
        groups: list[list[bytes]] = [[]]
        size = 0
        for item in items:
            needed = len(item)
            group = groups[-1]
            if group and (size + needed > budget or len(group) >= _MAX_ITEMS_PER_BROADCAST):
                groups.append([])
                group, size = groups[-1], 0
            group.append(item)
            size += needed
        return groups

    # -- history ---------------------------------------------------------------------------

    @property
    def history(self) -> tuple[bytes, ...]:
        """The newest stored chat items a WELCOME without a resume point could carry (encoded,
        oldest first; sealed: the relay cannot read them)."""
        return tuple(
            self._store.page(
                after=0,
                before=self._store.next_position,
                limit=self.history_limit,
                max_bytes=self._frame_cap,
            )[1]
        )
