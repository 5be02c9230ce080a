"""One connection attempt of a :class:`~net.client.ChatClient`, on its worker thread.

:class:`Session` drives a :class:`net.proto.ClientProtocol` over one non-blocking socket with a
selector: it writes what the core queued, reads and feeds the core, turns core events into
:mod:`net.client.events` for the application, flushes the outbox once joined (confirming what
the relay's ACKs and our echoes say it stored), has every opened message recorded in the
archive when there is one, and watches the handshake deadline and the relay's silence. It
returns how the attempt ended: :class:`Lost` (the client may reconnect) or :class:`Final` (it
stops for good).
"""

from __future__ import annotations

import contextlib
import random
import selectors
import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING

from Crypto.Random import get_random_bytes

from net import proto
from net.client import events as ce
from net.client import texts
from net.client.events import ErrorKind
from net.proto import ClientProtocol, ClientState, Reason

if TYPE_CHECKING:
    from net.client.client import ChatClient

_RECV_SIZE = 256 * 1024  # a file chunk is 64 KB: fewer turns of the loop per chunk received
_TICK = 1.0  # longest select() wait: timers are checked at least this often
_GOODBYE_TIMEOUT = 1.0  # seconds close() may spend handing our goodbye to the socket
_PAGE = 500  # stored messages asked for per HISTORY request
_MAX_QUEUE_WAIT = 60.0  # the longest a QUEUED frame may extend the handshake deadline (s)
#: The first wait after GOODBYE RELAY_RESTARTING (seconds, drawn evenly between): soon, since
#: the relay is coming back, and spread so that a room's members do not all knock at once.
_RESTART_WAIT = (0.5, 1.5)
_RESTART_JITTER = random.Random()  # jitter only; nothing secret


@dataclass(frozen=True)
class Lost:
    """The connection ended; reconnect (if we ever joined). ``wait`` is a floor for the delay."""

    reason: str
    wait: float = 0.0
    kind: ErrorKind = ErrorKind.NETWORK  # what to report if this was the first attempt
    transient: bool = False  # worth retrying even before the first join (relay busy)


@dataclass(frozen=True)
class Final:
    """Stop for good with this failure."""

    kind: ErrorKind
    message: str


#: close() was called: nothing to report.
STOPPED = Final(ErrorKind.NETWORK, "closed")


class Session:
    """One connection attempt, from connect to close. Create with a connected socket, then
    :meth:`run` until it returns."""

    def __init__(self, client: ChatClient, sock: socket.socket) -> None:
        self.client = client
        self.sock = sock
        self.proto = ClientProtocol(
            username=client.username,
            identity=client.identity,
            keys=client.keys,
            room_id=client.ask_room,
            expected_relay_key=client.expected_relay_key(),
            seen_ids=client.seen_ids,
            keyring=client.keyring_for(client.ask_room),
            resume_after=client.resume_after,
            returning=client.returning,
        )
        self.proto_returning = client.returning
        self.out = bytearray()
        self.joined = False
        self.new_password = False  # the room's new password reached us on this connection
        self.resumed_after = 0  # the position this connection resumed after (once joined)
        self.ping_token = 0
        self.now = client.clock()
        self.last_heard = self.now
        self.handshake_deadline = self.now + client.handshake_timeout

    @property
    def where(self) -> str:
        return f"{self.client.host}:{self.client.port}"

    def run(self) -> Lost | Final:
        """Connect the core to the socket until the attempt ends; say how it ended."""
        try:
            outcome = self._run()
        finally:
            self.client.store_keyring(self.proto.keyring, now=True)
            if self.joined:
                self.client.resumed(self.proto.room_id, self.proto.last_position)
        if isinstance(outcome, Lost) and self.proto.password_at_stake:
            # Our key confirmation went out and the relay's never came: whoever answered may
            # have learnt whether one password guess was right. Retrying by ourselves would
            # hand a fake relay a guess per retry, so the person decides.
            return Final(ErrorKind.LOGIN_INTERRUPTED, texts.LOGIN_INTERRUPTED)
        return outcome

    def _run(self) -> Lost | Final:
        client = self.client
        client.outbox_requeue()
        client.transfers.connection_started()
        self.proto.initiate()
        with selectors.DefaultSelector() as selector:
            selector.register(self.sock, selectors.EVENT_READ)
            selector.register(client.wake_socket, selectors.EVENT_READ)
            while True:
                if client.stopping:
                    self._say_goodbye()
                    return STOPPED
                self._flush_outbox()
                if self.joined:  # file chunks, behind the messages, as the socket drains
                    client.transfers.pump(self.proto, len(self.out))
                outcome: Lost | Final | None = self._write()
                if outcome is not None:
                    return outcome
                want = selectors.EVENT_READ | (selectors.EVENT_WRITE if self.out else 0)
                selector.modify(self.sock, want)
                for key, mask in selector.select(self._select_timeout()):
                    if key.fileobj is client.wake_socket:
                        client.drain_wake()
                    elif mask & selectors.EVENT_READ:
                        outcome = self._read()
                        if outcome is not None:
                            return outcome
                self.now = client.clock()
                outcome = self._check_timers()
                if outcome is not None:
                    return outcome

    def _select_timeout(self) -> float:
        """Sleep until the nearest timer, at most a tick (an injected clock may jump)."""
        client = self.client
        if not self.joined:
            deadline = self.handshake_deadline
        elif self.ping_token:
            deadline = self.last_heard + client.dead_after
        else:
            deadline = self.last_heard + client.ping_after
        return min(_TICK, max(0.0, deadline - client.clock()))

    # -- I/O ------------------------------------------------------------------------------------

    def _read(self) -> Lost | Final | None:
        try:
            data = self.sock.recv(_RECV_SIZE)
        except (BlockingIOError, InterruptedError):
            return None
        except OSError as exc:
            return Lost(texts.connection_lost(exc.strerror or str(exc)))
        self.last_heard = self.client.clock()
        if data:
            self.proto.receive_data(data)
        else:
            self.proto.receive_eof()
        return self._handle(self.proto.events_received())

    def _write(self) -> Lost | None:
        self.out += self.proto.data_to_send()
        if not self.out:
            return None
        try:
            sent = self.sock.send(self.out)
        except (BlockingIOError, InterruptedError):
            return None
        except OSError as exc:
            return Lost(texts.connection_lost(exc.strerror or str(exc)))
        del self.out[:sent]
        return None

    def _flush_outbox(self) -> None:
        if not self.joined:
            return
        client = self.client
        change = client.password_change_take()
        if change is not None:
            password, remove = change
            try:
                self.proto.change_password(password, client.new_keys(password), remove=remove)
            except proto.ActionRefused as exc:
                client.emit(ce.ActionNotTaken(reason=texts.action_refused(str(exc))))
        for kind, target, detail in client.actions_take():
            try:
                self.proto.take_action(kind, target, detail)
            except proto.ActionRefused as exc:
                client.emit(ce.ActionNotTaken(reason=texts.action_refused(str(exc))))
        messages = client.outbox_take_unsent()
        if not messages:
            return
        limit = self.proto.message_limit()
        # What is sealed counts: a reply's quote, a private box.
        fits = [
            m for m in messages if len(m.wire_body()) <= self.proto.message_limit(m.content_type)
        ]
        for message in messages:
            if message not in fits:
                # Only a relay with a smaller limit than ours can get here: say so, never
                # leave the message "sending" for ever.
                client.outbox_discard(message.message_id)
                client.emit(
                    ce.MessageNotSent(
                        message_id=message.message_id, reason=texts.room_limit_smaller(limit)
                    )
                )
        if fits:
            self.proto.send_messages(fits)
            # Before a byte of it leaves: an epoch reused after a crash would be refused.
            client.store_keyring(self.proto.keyring)

    def _say_goodbye(self) -> None:
        if self.proto.state in (ClientState.JOINED, ClientState.AWAIT_WELCOME):
            self.proto.send_goodbye(Reason.LEAVING, "left the room")
        self.out += self.proto.data_to_send()
        if not self.out:
            return
        # At most a second of real time on the socket, not on the injected clock: a clock a
        # test holds still must not keep close() waiting on a peer that does not read.
        self.sock.settimeout(_GOODBYE_TIMEOUT)
        with contextlib.suppress(OSError):  # TimeoutError included: we are leaving anyway
            self.sock.sendall(self.out)

    def _check_timers(self) -> Lost | None:
        client = self.client
        if not self.joined and self.now >= self.handshake_deadline:
            return Lost(
                texts.handshake_timed_out(self.where, client.handshake_timeout),
                kind=ErrorKind.TIMED_OUT,
            )
        silence = self.now - self.last_heard
        if self.joined and silence >= client.dead_after:
            return Lost(texts.stopped_answering(silence))
        if self.joined and silence >= client.ping_after and not self.ping_token:
            self.ping_token = int.from_bytes(get_random_bytes(8), "big") or 1
            self.proto.send_ping(self.ping_token)
        return None

    # -- protocol events ------------------------------------------------------------------------

    def _handle(self, events: list[proto.Event]) -> Lost | Final | None:
        for event in events:
            outcome = self._on(event)
            if outcome is not None:
                return outcome
        return None

    def _on(self, event: proto.Event) -> Lost | Final | None:
        client = self.client
        match event:
            case proto.RelayIdentified(room_id=room_id):
                self.proto.keyring = client.keyring_for(room_id)
            case proto.RelayKeyMismatch():
                return Final(ErrorKind.RELAY_CHANGED, texts.relay_changed(self.where))
            case proto.KeysRequired(room_id=room_id):
                keys = client.derive_keys(room_id)
                if isinstance(keys, Final):
                    return keys
                self.proto.provide_keys(keys)
                self.handshake_deadline = client.clock() + client.handshake_timeout
            case proto.Queued(position=position, wait_ms=wait_ms):
                # Unauthenticated (anyone on the path could send it), so it may only make us
                # wait, and at most _MAX_QUEUE_WAIT longer.
                wait = min(wait_ms / 1000, _MAX_QUEUE_WAIT)
                later = client.clock() + wait + client.handshake_timeout
                self.handshake_deadline = max(self.handshake_deadline, later)
                client.emit(ce.Queued(position=position))
            case proto.Welcomed():
                self._on_welcomed(event)
            case proto.ChatOpened():
                self._on_message(event)
            case proto.ChatForged(sender=sender, message_id=message_id, why=why):
                client.emit(
                    ce.ForgedMessage(claimed_sender=sender, message_id=message_id, why=why.value)
                )
            case proto.ChatLocked():
                client.emit(_locked(event))
            case proto.MessagesStored(message_ids=message_ids):
                for message_id in message_ids:
                    client.outbox_confirm(message_id)
            case proto.HistoryPageReceived(first_position=first, count=count):
                self._fill_gap(first if count else 0)
            case proto.MemberUnproven(member=member):
                client.log.warning("the relay lists a member who did not prove the password")
                client.emit(ce.UnprovenMember(name=member.name))
            case proto.MemberArrived(member=member):
                client.member_arrived(member)
            case proto.MemberDeparted(name=name, code=code):
                client.member_departed(name, texts.left_reason(code))
            case proto.NoticeReceived(code=code, text=text):
                if code == Reason.RATE_LIMITED:
                    client.emit(ce.RateLimited(text=text or "Slow down."))
                elif code == Reason.ACTION_REFUSED:
                    client.emit(ce.ActionNotTaken(reason=texts.action_refused(text)))
            case proto.RolesChanged():
                client.roles_changed(event)
            case proto.PasswordChanged():
                self.new_password = event.password is not None
                client.password_changed(event)
            case proto.PongReceived():
                self.ping_token = 0
            case proto.FileStateReceived():
                client.transfers.on_state(self.proto, event)
            case proto.FileDataReceived():
                client.transfers.on_data(self.proto, event)
            case proto.AuthenticationFailed(cause=cause):
                return Final(ErrorKind.WRONG_PASSWORD, texts.auth_failed(cause))
            case proto.Refused():
                return self._on_refused(event)
            case proto.GoodbyeReceived():
                return self._on_goodbye(event)
            case proto.ProtocolViolation(reason=reason):
                client.log.warning("protocol violation from the relay: %s", reason)
                if not self.joined:
                    return Final(ErrorKind.PROTOCOL_ERROR, texts.not_socketchat(self.where))
                return Lost(texts.TAMPERED)
            case proto.ConnectionClosed():
                if not self.joined:
                    return Lost(texts.CLOSED_DURING_HANDSHAKE)
                return Lost(texts.connection_lost())
            case _:
                pass  # RelayIdentified (pinned once joined), HandshakeComplete, PingReceived
        return None

    def _on_welcomed(self, event: proto.Welcomed) -> None:
        self.joined = True
        client = self.client
        client.joined(event, room_id=self.proto.room_id, relay_key=self.proto.relay_key)
        client.transfers.joined(event.max_file_bytes)
        resumed = client.resume_after  # the archive may have told it just now
        started_over = event.next_position - 1 < resumed
        if started_over:
            # The relay's newest position is below ours: it started over (restarted without
            # its history), so our positions mean nothing there now (the core counts from its
            # own). Fetch everything it kept; what we already have is dropped by id.
            client.resume_after = resumed = 0
        for item in event.history:
            if item.message_id in client.archived_ids:
                continue  # on this device already (the archive learnt the room only now)
            if isinstance(item, proto.ChatOpened):
                self._on_message(item)
            elif isinstance(item, proto.ChatLocked):
                self.client.emit(_locked(item))
            else:
                self.client.emit(
                    ce.ForgedMessage(
                        claimed_sender=item.sender, message_id=item.message_id, why=item.why.value
                    )
                )
        self.client.check_alone()
        self.resumed_after = resumed
        if client.returning and not self.proto_returning and not started_over:
            # The room's id came with this answer, and with it what the archive knew: resume
            # after its point now (the relay started from 0 and sent only the newest).
            self.proto.returning_from(resumed)
        if client.returning or started_over:
            self._fill_gap(event.history_start)

    def _fill_gap(self, oldest: int) -> None:
        """Ask for the stored messages between where we resumed and ``oldest``, the first one
        received (0: the relay keeps nothing older), a page at a time."""
        if oldest > self.resumed_after + 1:
            self.proto.request_history(before=oldest, limit=_PAGE)

    def _on_message(self, event: proto.ChatOpened) -> None:
        client = self.client
        own = (
            event.sender == client.username and event.signing_key == client.identity.signing_public
        )
        if own:
            client.outbox_confirm(event.message_id)
        client.deliver(event, own=own)  # read (replies, files, private boxes), record, report

    def _on_refused(self, event: proto.Refused) -> Lost | Final:
        # REFUSED comes before any key exists: anyone on the path could write its text, so
        # none of it is shown; the reason is worded from the code.
        wait = event.retry_after_ms / 1000
        match event.code:
            case Reason.INCOMPATIBLE_VERSION:
                return Final(ErrorKind.INCOMPATIBLE_VERSION, texts.INCOMPATIBLE_VERSION)
            case Reason.TOO_MANY_ATTEMPTS:
                return Lost(
                    texts.too_many_attempts(wait), wait=wait, kind=ErrorKind.TOO_MANY_ATTEMPTS
                )
            case Reason.ROOM_FULL:
                return Lost(texts.ROOM_FULL, wait=wait, kind=ErrorKind.ROOM_FULL)
            case Reason.BUSY:
                return Lost(texts.BUSY, wait=wait, kind=ErrorKind.BUSY, transient=True)
            case Reason.RELAY_RESTARTING:
                # A relay that stops refuses those still in the handshake with its reason.
                wait = max(wait, _RESTART_JITTER.uniform(*_RESTART_WAIT))
                return Lost(texts.RELAY_RESTARTING, wait=wait, transient=True)
            case Reason.ROOM_CLOSING | Reason.ROOM_CLOSED:
                # Stopping, or refusing newcomers while it stops; it usually comes back. Never
                # final here: anyone on the path could write a REFUSED.
                return Lost(texts.RELAY_SHUTTING_DOWN, wait=wait, transient=True)
            case Reason.NO_SUCH_ROOM:
                return Final(ErrorKind.NO_SUCH_ROOM, texts.no_such_room(self.where))
            case Reason.HANDSHAKE_TIMEOUT:
                return Lost(texts.TOO_SLOW_TO_JOIN, wait=wait, kind=ErrorKind.TIMED_OUT)
            case _:
                return Lost(
                    texts.refused_with_code(int(event.code)),
                    wait=wait,
                    kind=ErrorKind.PROTOCOL_ERROR,
                )

    def _on_goodbye(self, event: proto.GoodbyeReceived) -> Lost | Final:
        match event.code:
            case Reason.RELAY_RESTARTING:
                # Back in a moment: reconnect by ourselves, also before the first join, and
                # not all at once (a jittered first wait); what waits in the outbox goes out
                # then. Backoff as usual if it takes longer.
                wait = _RESTART_JITTER.uniform(*_RESTART_WAIT)
                return Lost(texts.RELAY_RESTARTING, wait=wait, transient=True)
            case Reason.ROOM_CLOSING:
                # Shutting down: a headless relay that stops usually comes back, so keep
                # trying, with backoff; the outbox is kept meanwhile.
                return Lost(texts.RELAY_SHUTTING_DOWN, transient=True)
            case Reason.ROOM_CLOSED:
                return Final(ErrorKind.ROOM_CLOSED, texts.HOST_CLOSED)
            case Reason.NAME_INVALID:
                return Final(ErrorKind.NAME_INVALID, texts.name_refused(event.text))
            case Reason.NAME_TAKEN:
                # The relay replaces an old connection of our own identity itself, so the name
                # belongs to someone else: retrying cannot help.
                return Final(ErrorKind.NAME_TAKEN, texts.name_refused(event.text))
            case Reason.NAME_LOOKALIKE:
                return Final(ErrorKind.NAME_LOOKALIKE, texts.name_refused(event.text))
            case Reason.REPLACED:
                return Final(ErrorKind.REPLACED, texts.REPLACED)
            case Reason.REMOVED:
                return Final(ErrorKind.REMOVED, texts.REMOVED)
            case Reason.PASSWORD_CHANGED:
                if self.new_password:
                    return Lost(texts.PASSWORD_SWITCHED)
                return Final(ErrorKind.PASSWORD_CHANGED, texts.PASSWORD_CHANGED)
            case Reason.ROOM_FULL:
                return Lost(texts.ROOM_FULL, kind=ErrorKind.ROOM_FULL)
            case _:
                return Lost(texts.relay_closed(event.text, event.code))


def _locked(event: proto.ChatLocked) -> ce.MessageLocked:
    return ce.MessageLocked(
        sender=event.sender,
        message_id=event.message_id,
        from_history=event.from_history,
        withheld=event.withheld,
    )
