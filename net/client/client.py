"""The threaded client library shared by the desktop app and the terminal client.

One daemon worker thread owns the socket and drives the sans-I/O :class:`net.proto.ClientProtocol`
(one :class:`~net.client.session.Session` per connection attempt): it connects, stretches the
password (once per room), runs the handshake, joins, reads, writes, and reconnects with backoff
after a loss. Callers on other threads only call :meth:`ChatClient.send` (and
:meth:`ChatClient.send_private`, which seals its box on the caller's thread first),
:meth:`ChatClient.retry_now` and :meth:`ChatClient.close`, which never block on the network:
they queue work under a lock and wake the worker through a socket pair. With an archive,
``send`` waits for one local write (:mod:`net.client.keeper`), never for the network.

Events (:mod:`net.client.events`) reach ``on_event`` from the worker thread, *outside* the
lock, so a callback may call :meth:`ChatClient.send`. A GUI's callback must only ``queue.put``.

:class:`ChatClient` is put together from parts, one concept a module, that share one state
(:mod:`net.client._client_core`, which sets it up): the connection loop with its reconnects
and backoff (``_client_connection``), sending and reading messages, replies and private ones
too (``_client_messages``), the outbox and the archive (``_client_outbox``), members, trust and
the owner's and admins' actions (``_client_members``), and files (``_client_files``). This
module holds what starts and stops it.
"""

from __future__ import annotations

import threading

from net.client._client_connection import _ConnectionLoop
from net.client._client_core import DEAD_AFTER, HANDSHAKE_TIMEOUT, PING_AFTER
from net.client._client_files import _Files
from net.client._client_members import _Members
from net.client._client_messages import _Messages
from net.client._client_outbox import _OutboxAndArchive
from net.client.errors import CLIENT_CLOSED, ClientStopped

__all__ = ["DEAD_AFTER", "HANDSHAKE_TIMEOUT", "PING_AFTER", "ChatClient"]


class ChatClient(_ConnectionLoop, _Messages, _OutboxAndArchive, _Members, _Files):
    """One member's connection to one room, kept alive across network losses.

    Call :meth:`start`, then :meth:`send` as the user writes and :meth:`close` when leaving.
    Give either the room ``password`` (it is stretched once per room and the keys are kept in
    :attr:`keys`) or ``keys`` derived earlier for the same room.

    What happens to a message (PROTOCOL.md 3.5). :meth:`send` gives it an id and puts it in
    the outbox; it stays there until the relay confirms it stored it (its ACK, or the
    message's echo: :class:`~net.client.MessageStored`). After every reconnect, everything
    unconfirmed is sent again with the same ids, in the order written; the relay stores an id
    once and receivers drop ids they have seen, so each message arrives once. Losses after
    joining are retried by themselves with backoff (:class:`~net.client.Disconnected` with
    ``retry_in``; :meth:`retry_now` skips the wait), and so is a relay stopping for a restart.

    Failures are said. When the client stops for good (:class:`~net.client.Failed`, or
    :meth:`close`), whatever is still unconfirmed is handed back once as
    :class:`~net.client.NotSent` (before Failed), and from then on :meth:`send` raises
    :class:`~net.client.ClientStopped` (``kind`` = the failure's, None after close): it never
    takes a message it will not send. A stopped client cannot be restarted: make a new one.

    ``archive`` opens this device's :class:`~net.client.archive.Archive` (for instance
    ``functools.partial(Archive.open, path, Keychain.open().local_key())``); the client opens
    its own connection to it on a thread of its own. With it, each message is written to the
    archive's outbox before :meth:`send` returns and dropped there once confirmed; every
    message opened in the room is recorded with its position; and the room is resumed after
    the resume point recorded when the last connection to it ended. So a new client for the
    same room (the next run, or a Rejoin) sends what an earlier one left unconfirmed
    (:class:`~net.client.OutboxRestored`) and fetches only what it missed. Messages are
    keyed by the room asked for (``room_id``) when one is given; otherwise they wait in
    memory until the relay's welcome names the room, and are written then. Without an
    archive (no keyring, or local history off), everything stays in memory: what is
    unconfirmed at the end is only in NotSent.

    ``identity`` is this device's identity (``net.client.storage.load_identity``); every
    message is signed with it. ``trust`` holds the relay pins and what this device remembers
    about members (memory only if not given). ``room_id`` is the room to ask for: the relay's
    default unless an invite named one.

    ``clock`` (monotonic seconds) and ``wall_clock`` (epoch seconds, for message timestamps)
    are injectable: tests move them instead of waiting.
    """

    # -- API for the application (any thread) --------------------------------------------------

    def start(self) -> None:
        """Start the worker thread; events follow through ``on_event``. Call once."""
        if self._thread is not None:
            raise RuntimeError("ChatClient.start() called twice")
        if self._keeper is not None:
            self._keeper.start()
        self._thread = threading.Thread(target=self._run, name="socketchat-client", daemon=True)
        self._thread.start()

    def retry_now(self) -> None:
        """End the wait before the next reconnect attempt at once (the app's "Retry now").
        Does nothing while connected or connecting, or once stopped. Any thread."""
        with self._lock:
            self._retry_now = True
        self.wake()

    @property
    def stopped(self) -> ClientStopped | None:
        """Why the client stopped for good (what :meth:`send` raises now), or None."""
        return self._stopped

    def close(self, timeout: float = 5.0) -> None:
        """Leave the room (saying goodbye if connected) and stop. Safe to call twice.

        Messages still unconfirmed come back as :class:`~net.client.NotSent` (from the worker,
        before it ends); with an archive they stay kept on disk for the next client."""
        with self._lock:
            self._stopping = True
            never_started = self._thread is None and self._stopped is None
            if never_started:  # no worker to hand anything back: what was kept stays kept
                self._stopped = ClientStopped(CLIENT_CLOSED, kind=None)
        if never_started and self._keeper is not None:
            self._keeper.close()
        self.wake()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def is_alive(self) -> bool:
        """True while the worker thread runs."""
        return self._thread is not None and self._thread.is_alive()
