"""The outbox and the archive of a :class:`~net.client.ChatClient`.

:class:`_OutboxAndArchive` keeps the books of what was written and what was opened. The outbox
(:class:`net.proto.Outbox`, in memory) holds every message written until the relay confirms it
stored it; the session requeues it after a reconnect, takes what is unsent, and confirms or
discards (``outbox_*``). With an archive, the keeper (:mod:`net.client.keeper`) mirrors the
outbox on disk, records every message opened in the room with its position, and keeps the
room's resume point: ``load_room`` restores all of it once the room is known. The application
asks what is still waiting (``pending``) and may wait for it to be confirmed (``wait_sent``).
"""

from __future__ import annotations

import time

from net import proto
from net.client import content
from net.client import events as ce
from net.client._client_core import _ClientCore
from net.client.archive import StoredMessage
from net.proto import DEFAULT_ROOM, PendingMessage


class _OutboxAndArchive(_ClientCore):
    """What waits for the relay's confirmation, and what this device keeps of the room."""

    def pending(self) -> tuple[PendingMessage, ...]:
        """Messages written but not yet confirmed by the relay, oldest first (what a "quit
        anyway?" question counts). Those kept from an earlier run are among them once
        restored."""
        with self._lock:
            return self._outbox.pending()

    def wait_sent(self, timeout: float) -> bool:
        """Block up to ``timeout`` seconds until the relay confirmed every message written so
        far: True if it did, False on timeout or if the client stopped first (then NotSent
        holds the rest). For a caller about to leave; never on a GUI's thread."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self._outbox):
                remaining = deadline - time.monotonic()
                if self._stopped is not None or remaining <= 0:
                    return False
                self._changed.wait(remaining)
        return True

    # -- for the session (worker thread) -------------------------------------------------------

    def outbox_requeue(self) -> None:
        with self._lock:
            self._outbox.requeue_all()

    def outbox_take_unsent(self) -> list[PendingMessage]:
        with self._lock:
            return self._outbox.take_unsent()

    def outbox_discard(self, message_id: bytes) -> None:
        with self._lock:
            self._outbox.discard(message_id)
            self._forget_kept(message_id)
            self._changed.notify_all()

    def outbox_confirm(self, message_id: bytes) -> None:
        """The relay stored ``message_id`` (ACK or echo): if it was ours and waiting, it
        leaves the outbox (and the archive's), and the app hears MessageStored, once."""
        with self._lock:
            confirmed = self._outbox.confirm(message_id)
            if confirmed:
                self._forget_kept(message_id)
                self._changed.notify_all()
        if confirmed:
            self.emit(ce.MessageStored(message_id=message_id))

    def _forget_kept(self, message_id: bytes) -> None:
        """Under the lock (so after the keep of the same message, in the keeper's order)."""
        if self._keeper is not None and self._archive_room is not None:
            self._keeper.drop(self._archive_room, message_id)

    # -- the archive (worker thread) --------------------------------------------------------

    def load_room(self, room_id: bytes) -> None:
        """The room is known (asked for, or just welcomed): write what waited in memory to
        its outbox, put what earlier runs left there first, and resume after its recorded
        resume point (as a returning member). Once per room."""
        keeper = self._keeper
        if keeper is None or room_id in self._loaded_rooms or room_id == DEFAULT_ROOM:
            return
        self._loaded_rooms.add(room_id)
        with self._lock:
            fresh = self._archive_room is None
            self._archive_room = room_id
            waiting = self._outbox.pending() if fresh else ()
            kept = keeper.keep(room_id, waiting) if waiting else None
        if kept is not None:
            self._keeper_settled(kept)
        room = keeper.load(room_id)
        if room is None:
            return
        with self._lock:
            restored = self._outbox.restore(list(room.outgoing))
            if room.resume_point is not None and not self.returning:
                self.resume_after = room.resume_point
                self.returning = True
        for message_id in room.known_ids:
            self.seen_ids.add(message_id)
        self.archived_ids = room.known_ids
        if restored:
            self.emit(ce.OutboxRestored(messages=tuple(restored)))

    def resumed(self, room_id: bytes, position: int) -> None:
        """A connection to the room ends with this resume point (the core's
        ``last_position``): the next connection, or the next run with an archive, resumes
        after it."""
        self.resume_after = position
        self.returning = True
        if self._keeper is not None and room_id:
            self._keeper.resume_at(room_id, position)

    def record(
        self, event: proto.ChatOpened, readable: content.Readable, *, own: bool, private_name: str
    ) -> None:
        """Record a message opened in the room (own echoes included) in the archive, as
        :meth:`deliver` read it."""
        keeper, room = self._keeper, self._archive_room
        if keeper is None or room is None:
            return
        keeper.record(
            StoredMessage(
                room_id=room,
                message_id=event.message_id,
                position=event.position or None,
                sender=event.sender,
                signing_key=event.signing_key,
                timestamp_ms=event.timestamp_ms,
                text=readable.text,
                own=own,
                content_type=readable.content_type,
                body=readable.body,
                private_with=readable.private_with,
                private_name=private_name,
            )
        )
