"""Messages of a :class:`~net.client.ChatClient`: what is sent, and what is read.

:class:`_Messages` takes a text from the application (``send``, ``send_private``: any thread),
checks it against the room's limit, makes the one id and timestamp every member will see, seals
a private box on the caller's thread, and puts the message in the outbox, waking the worker; the
transfers put a file's offer there the same way (``queue_offer``). Both ways it reads what a
message says through :mod:`net.client.content` (replies, file offers, private boxes):
``content_of`` for one written here, ``deliver`` for one the session opened, which is recorded
and reported to the application.
"""

from __future__ import annotations

from dataclasses import replace

from Crypto.Random import get_random_bytes

from crypto.errors import AuthenticationError
from crypto.private import seal_private
from net import proto
from net.client import content, texts
from net.client import events as ce
from net.client._client_core import _ClientCore
from net.proto import DEFAULT_ROOM, MESSAGE_ID_SIZE, ContentType, PendingMessage, username_key


def _text_size(text: str) -> int:
    """``text``'s UTF-8 size; ``ValueError`` for an empty text or one with no UTF-8 form."""
    if not text.strip():
        raise ValueError(texts.EMPTY_MESSAGE)
    try:
        return len(text.encode("utf-8"))
    except UnicodeEncodeError:
        raise ValueError(texts.BROKEN_CHARACTER) from None


class _Messages(_ClientCore):
    """Sending texts, replies and private messages, and reading what messages say."""

    def send(self, text: str, *, reply_to: ce.ReplyTo | None = None) -> PendingMessage:
        """Queue ``text`` for the room and return it as a :class:`PendingMessage` at once.

        The returned message carries the id and timestamp every member will see: show it with
        those, as sending until :class:`~net.client.MessageStored` (or its echo) comes. If we
        are offline it waits in the outbox and goes out after reconnecting, exactly once. With
        an archive whose room is known, it is on disk when this returns.

        With ``reply_to`` it is a reply to that message (content type
        ``application/vnd.socketchat.reply``): its id, sender and excerpt (cut to 300 UTF-8
        bytes) go with the text and count against the room's limit, so a reply's text may be
        that much shorter. The returned message's ``text`` is still ``text``; its ``body`` is
        what is sealed.

        Raises ``ValueError`` with a user-readable message for an empty or too long text (see
        :attr:`max_message_bytes`) or a full outbox, and :class:`~net.client.ClientStopped`
        once the client stopped for good or is closing: then nothing was queued.
        """
        size = _text_size(text)
        if reply_to is None:
            limit = self.max_message_bytes
            if size > limit:
                raise ValueError(texts.message_too_long(size, limit))
            return self._queue(self._pending(text))
        quote = content.quoted(reply_to)
        limit = self.max_message_bytes - content.reply_overhead(quote)
        if size > limit:
            raise ValueError(texts.reply_too_long(size, limit))
        body = content.reply_body(quote, text)
        return self._queue(self._pending(text, ContentType.REPLY, body))

    def send_private(
        self, peer: bytes, text: str, *, reply_to: ce.ReplyTo | None = None
    ) -> PendingMessage:
        """Queue ``text`` for one member only, the one whose signing key is ``peer``, and
        return it as :meth:`send` does (``reply_to``: a private reply).

        ``peer`` is a member in the list now, or one this device remembers from the room (it
        saw them in a member list: a member who is away gets it when back). The message is
        sealed here, once, in a private box (``crypto.private``) that only ``peer`` and this
        identity can open, and then travels like any room message: outbox, acknowledgement,
        resends (the same box, the same id), the room's history. Every member receives the
        box; the others cannot open it and never see it. Its content type is
        ``application/vnd.socketchat.private``, ``text`` is ``text``, ``body`` the box, which
        counts against the room's limit: a private text may be about 300 bytes shorter.

        Raises ``ValueError`` with a user-readable message if ``peer`` is nobody this device
        knows in the room (or is ourselves), before joining, for a text that is empty or too
        long; :class:`~net.client.ClientStopped` as :meth:`send` does.
        """
        size = _text_size(text)
        room = self._sealing_room()
        name, dh_key = self._private_peer(room, bytes(peer))
        if reply_to is None:
            inner_type, inner = ContentType.TEXT, text.encode("utf-8")
        else:
            inner_type = ContentType.REPLY
            inner = content.reply_body(content.quoted(reply_to), text)
        boxed = content.private_size(name, inner_type.value, len(inner))
        limit = self.max_message_bytes - (boxed - size)
        if size > limit:
            raise ValueError(texts.private_too_long(size, limit))
        message_id = get_random_bytes(MESSAGE_ID_SIZE)
        box = self._seal_for(bytes(peer), room, name, dh_key, message_id, inner_type.value, inner)
        return self._queue(self._pending(text, ContentType.PRIVATE, box, message_id=message_id))

    def peer_named(self, name: str) -> bytes | None:
        """The signing key of whoever :meth:`send_private` reaches as ``name`` (compared
        ignoring case): a member in the list now, else the identity this device remembers
        under that name in the room. None if neither."""
        wanted = username_key(name)
        for member in self.members:
            if username_key(member.name) == wanted:
                return member.signing_key
        room = self._sealing_room(required=False)
        record = self.trust.record(room, name) if room else None
        if record is None or self.trust.identity(room, record.key) is None:
            return None
        return record.key

    def content_of(self, message: PendingMessage) -> ce.SentContent:
        """What a message written on this device says (one :meth:`send` or
        :meth:`send_private` returned, or :class:`~net.client.OutboxRestored`,
        :class:`~net.client.NotSent` hand back): a reply, and for a private message who it
        goes to (read back from its box). A body that does not read is said as its text."""
        room = self._sealing_room(required=False)
        try:
            readable = content.read_written(message, identity=self.identity, room_id=room)
        except proto.ContentError:
            readable = content.NOT_FOR_US
        if readable is content.NOT_FOR_US:
            return ce.SentContent(content=ce.TextContent(text=message.text))
        peer = readable.private_with
        return ce.SentContent(
            content=readable.content,
            private_with=peer,
            private_name="" if peer is None else self._name_for(peer, readable.private_name),
        )

    def _pending(
        self,
        text: str,
        content_type: ContentType = ContentType.TEXT,
        body: bytes = b"",
        *,
        message_id: bytes | None = None,
    ) -> PendingMessage:
        return PendingMessage(
            text=text,
            message_id=message_id or get_random_bytes(MESSAGE_ID_SIZE),
            timestamp_ms=int(self._wall_clock() * 1000),
            content_type=content_type.value,
            body=body,
        )

    def _queue(self, message: PendingMessage) -> PendingMessage:
        """Into the outbox (and the archive's, when its room is known); wake the worker."""
        kept = None
        with self._lock:
            self._raise_if_stopped()
            self._outbox.add(message)
            # Queued under the lock, so before any drop of it the worker can queue.
            if self._keeper is not None and self._archive_room is not None:
                kept = self._keeper.keep(self._archive_room, [message])
        self.wake()
        if kept is not None:
            self._keeper_settled(kept)
        return message

    def _sealing_room(self, *, required: bool = True) -> bytes:
        """The room a private box is sealed for: the one joined, else the one asked for."""
        room = self.room_id or (self.ask_room if self.ask_room != DEFAULT_ROOM else b"")
        if not room and required:
            raise ValueError(texts.NOT_IN_ROOM_YET)
        return room

    def _private_peer(self, room: bytes, peer: bytes) -> tuple[str, bytes]:
        """The name and X25519 key of the member ``peer`` (listed now, or remembered)."""
        if peer == self.identity.signing_public:
            raise ValueError(texts.PRIVATE_TO_SELF)
        for member in self.members:
            if member.signing_key == peer:
                return member.name, member.dh_key
        remembered = self.trust.identity(room, peer)
        if remembered is None:
            raise ValueError(texts.UNKNOWN_PEER)
        return remembered

    def _name_for(self, key: bytes, fallback: str) -> str:
        """The name this device knows for the identity ``key`` in the room, else ``fallback``."""
        for member in self.members:
            if member.signing_key == key:
                return member.name
        room = self._sealing_room(required=False)
        remembered = self.trust.identity(room, key) if room else None
        return remembered[0] if remembered is not None else fallback

    def _seal_for(
        self,
        peer: bytes,
        room: bytes,
        name: str,
        dh_key: bytes,
        message_id: bytes,
        content_type: str,
        body: bytes,
    ) -> bytes:
        """A private box (``crypto.private``) of ``body`` for the member ``peer``, known here
        as ``name`` with X25519 key ``dh_key`` (:meth:`_private_peer`): only they and this
        identity can open it. ``ValueError`` with words for the person if that key is bad."""
        try:
            return seal_private(
                sender=self.identity,
                recipient_signing=peer,
                recipient_dh=dh_key,
                recipient_name=name,
                room_id=room,
                message_id=message_id,
                content_type=content_type,
                body=body,
            )
        except AuthenticationError:
            raise ValueError(texts.BAD_PEER_KEY) from None

    def deliver(self, event: proto.ChatOpened, *, own: bool) -> None:
        """The session opened a message (live or history; ``own``: our echo): read what it
        says, record it in the archive and tell the application. A private message between
        two others is neither (it counted as seen in the core); one whose content does not
        parse is reported as :class:`~net.client.ForgedMessage`, never shown."""
        trust = self.observe(event.sender, event.signing_key)
        try:
            readable = content.read_opened(event, identity=self.identity, room_id=self.room_id)
        except proto.ContentError:
            self.emit(
                ce.ForgedMessage(
                    claimed_sender=event.sender,
                    message_id=event.message_id,
                    why=texts.CONTENT_UNREADABLE,
                )
            )
            return
        if readable is content.NOT_FOR_US:
            # A placeholder may stand for it (it was locked until its key came): let it go.
            self.emit(ce.MessageHidden(message_id=event.message_id))
            return
        peer = readable.private_with
        name = ""
        if peer is not None:
            mine = event.signing_key == self.identity.signing_public
            name = self._name_for(peer, readable.private_name) if mine else event.sender
        self.record(event, readable, own=own, private_name=name)
        self.emit(
            ce.MessageReceived(
                sender=event.sender,
                text=readable.text,
                message_id=event.message_id,
                timestamp_ms=event.timestamp_ms,
                from_history=event.from_history,
                own=own,
                sender_key=event.signing_key,
                trust=trust,
                position=event.position,
                content=readable.content,
                private_with=peer,
                private_name=name,
            )
        )

    def queue_offer(self, message: PendingMessage, *, private_to: bytes | None) -> None:
        """For the transfers (worker thread): an uploaded file's offer into the outbox, in a
        private box for ``private_to`` if given. ``ValueError`` if the outbox is full or the
        member is no longer known, :class:`~net.client.ClientStopped` when stopping."""
        if private_to is not None:
            room = self._sealing_room()
            name, dh_key = self._private_peer(room, bytes(private_to))
            box = self._seal_for(
                bytes(private_to),
                room,
                name,
                dh_key,
                message.message_id,
                message.content_type,
                message.body,
            )
            message = replace(message, content_type=ContentType.PRIVATE.value, body=box)
        self._queue(message)
