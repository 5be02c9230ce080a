"""The connection loop of a :class:`~net.client.ChatClient`, on its worker thread.

:class:`_ConnectionLoop` is what the worker thread runs (``_run``, from ``start()``): it
connects, hands each connected socket to a :class:`~net.client.session.Session` until the
attempt ends, and after a loss waits (backoff with jitter, cut short by ``retry_now()`` or
``close()``) and connects again, until a final failure or ``close()``; then it hands back what is
still unconfirmed, once (``_finish``). Before the first join only a transient refusal (relay
busy) is retried, a few times. It also answers what a session asks before and during the
handshake: the pinned relay key, the room's keys (stretching the password when needed) and the
sender keys kept across reconnects.
"""

from __future__ import annotations

import selectors
import socket
from typing import TYPE_CHECKING, cast

from crypto.kdf import RoomKeys, derive_room_keys
from net import proto
from net.client import events as ce
from net.client import texts
from net.client._client_core import _ClientCore
from net.client.errors import CLIENT_CLOSED, LEFT_BEFORE_SENT, ClientStopped
from net.client.events import ErrorKind
from net.client.session import STOPPED, Final, Lost, Session
from net.client.trust import relay_address
from net.proto import reconnect_delay

if TYPE_CHECKING:
    from net.client.client import ChatClient

_FIRST_JOIN_TRIES = 5  # attempts before a transient refusal (relay busy) becomes a failure
_KEYRING_STORE_EVERY = 2.0  # seconds between stores of accepted counters (epochs: at once)


class _ConnectionLoop(_ClientCore):
    """The worker thread's loop: connect, run a session, reconnect with backoff."""

    def _run(self) -> None:
        failure: Final | None = None
        try:
            if self._archive_room is not None:
                self.load_room(self._archive_room)
            failure = self._keep_connected()
        finally:
            self._finish(failure)
            self._wake_r.close()
            self._wake_w.close()

    def _finish(self, failure: Final | None) -> None:
        """The worker ends: refuse new messages, hand back what waits, say why, once."""
        with self._lock:
            kind = None if failure is None else failure.kind
            message = CLIENT_CLOSED if failure is None else failure.message
            self._stopped = ClientStopped(message, kind=kind)
            waiting = self._outbox.pending()
            keeper = self._keeper
            kept = keeper is not None and keeper.healthy and self._archive_room is not None
            self._changed.notify_all()
        self.transfers.stop()  # each transfer under way: TransferFailed(STOPPED)
        if waiting:
            reason = LEFT_BEFORE_SENT if failure is None else failure.message
            self.emit(ce.NotSent(messages=waiting, reason=reason, kept=kept))
        if failure is not None:
            self.emit(ce.Failed(kind=failure.kind, message=failure.message))
        if keeper is not None:
            keeper.close()

    def _keep_connected(self) -> Final | None:
        """Connect, and reconnect after losses, until a final failure (returned) or close()
        (None)."""
        attempt = 0
        failures = 0
        while not self._stopping:
            attempt += 1
            outcome = self._attempt(attempt)
            if outcome is STOPPED or self._stopping:
                return None
            if isinstance(outcome, Final):
                return outcome
            if not self._joined_once:
                if outcome.transient and attempt < _FIRST_JOIN_TRIES:
                    delay = max(outcome.wait, reconnect_delay(attempt, rng=self._rng))
                    self._sleep_until(self.clock() + delay)
                    continue
                return Final(outcome.kind, outcome.reason)
            # Count failed attempts since the last successful join: backoff restarts small.
            failures = 1 if self._joined_recently else failures + 1
            self._joined_recently = False
            delay = max(outcome.wait, reconnect_delay(failures, rng=self._rng))
            # The deadline is fixed before the event goes out: whoever sees Disconnected
            # (a test that then moves the injected clock by retry_in) sees the wait started.
            deadline = self.clock() + delay
            self.emit(ce.Disconnected(reason=outcome.reason, retry_in=delay))
            self._sleep_until(deadline)
        return None

    def _sleep_until(self, deadline: float) -> None:
        """Wait until :attr:`clock` reaches ``deadline``, or until close() or retry_now()
        wakes us."""
        with selectors.DefaultSelector() as selector:
            selector.register(self._wake_r, selectors.EVENT_READ)
            while not self._stopping:
                with self._lock:
                    if self._retry_now:
                        self._retry_now = False
                        return
                remaining = deadline - self.clock()
                if remaining <= 0:
                    return
                # At most a second at a time: an injected clock may be moved meanwhile.
                if selector.select(min(remaining, 1.0)):
                    self.drain_wake()

    def _attempt(self, attempt: int) -> Lost | Final:
        try:
            return self._connect_and_run(attempt)
        finally:
            with self._lock:
                # A press while connected or connecting does not skip the wait that follows:
                # only one after Disconnected does.
                self._retry_now = False

    def _connect_and_run(self, attempt: int) -> Lost | Final:
        self.emit(ce.Connecting(attempt=attempt))
        sock_or_failure = self._connect()
        if not isinstance(sock_or_failure, socket.socket):
            return sock_or_failure
        with sock_or_failure as sock:
            return Session(cast("ChatClient", self), sock).run()  # the whole client

    def _connect(self) -> socket.socket | Lost:
        where = f"{self.host}:{self.port}"
        try:
            sock = socket.create_connection((self.host, self.port), timeout=self._connect_timeout)
        except socket.gaierror:
            return Lost(texts.host_not_found(self.host), kind=ErrorKind.HOST_NOT_FOUND)
        except ConnectionRefusedError:
            return Lost(texts.connection_refused(where), kind=ErrorKind.REFUSED)
        except TimeoutError:
            return Lost(
                texts.connect_timed_out(where, self._connect_timeout), kind=ErrorKind.TIMED_OUT
            )
        except OSError as exc:
            return Lost(texts.cannot_connect(where, exc.strerror or str(exc)))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        return sock

    # -- for the session: what a connection needs ----------------------------------------------

    def expected_relay_key(self) -> bytes | None:
        """The relay key pinned for where the next connection goes, or None."""
        return self.trust.relay_key(relay_address(self.host, self.port, self.ask_room))

    def derive_keys(self, room_id: bytes) -> RoomKeys | Final:
        """The relay hosts ``room_id`` and we have no keys for it: stretch the password."""
        if self._password is None:
            return Final(ErrorKind.ROOM_CLOSED, texts.ROOM_RECREATED)
        self.emit(ce.DerivingKeys())
        kwargs = {} if self._kdf_cost is None else {"n": self._kdf_cost}
        keys = derive_room_keys(self._password, room_id=room_id, **kwargs)
        self.keys = keys
        return keys

    def keyring_for(self, room_id: bytes) -> proto.Keyring:
        """The sender keys of ``room_id`` on this device, kept across reconnects (a new one,
        with what the trust file stored, when the room changes)."""
        if self._keyring is None or room_id != self._keyring_room:
            state = None if room_id == proto.DEFAULT_ROOM else self.trust.keyring_state(room_id)
            self._keyring = proto.Keyring(self.identity, state=state)
            self._keyring_room = bytes(room_id)
        return self._keyring

    def store_keyring(self, keyring: proto.Keyring, *, now: bool = False) -> None:
        """Store the keyring's state: at once when it took a new epoch (or ``now``), else at
        most every few seconds (accepted counters)."""
        room = self._keyring_room
        if keyring is not self._keyring or room == proto.DEFAULT_ROOM or not keyring.changed:
            return
        due = self.clock() - self._keyring_stored >= _KEYRING_STORE_EVERY
        if keyring.must_store or now or due:
            self.trust.save_keyring_state(room, keyring.state())
            self._keyring_stored = self.clock()
