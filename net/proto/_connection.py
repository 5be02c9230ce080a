"""What the client and relay protocol cores share: framing, the error policy, sealing, pings.

:class:`Connection` is the sans-I/O skeleton (the ``websockets`` shape): bytes go in through
:meth:`receive_data` / :meth:`receive_eof`; events come out of :meth:`events_received`, bytes
out of :meth:`data_to_send`; :meth:`close_expected` tells the driver to close once it has
flushed. Subclasses supply the state enum, the per-state table of acceptable frame types and one
handler per frame type.

Error policy (h11's): a method called in the wrong state raises
:class:`net.errors.LocalProtocolError`; anything wrong in what the *peer* sent becomes one
:class:`net.proto.ProtocolViolation` event, a fixed error frame for the peer where one exists,
and the FAILED state, after which input is ignored. Nothing internal is ever sent to the peer.
"""

from __future__ import annotations

import contextlib
import enum
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Generic, TypeVar

from crypto.errors import AuthenticationError
from crypto.transport import TAG_SIZE, FrameOpener, FrameSealer
from net.proto import _events as ev
from net.proto._errors import LocalProtocolError, RemoteProtocolError
from net.proto._frames import MAX_HANDSHAKE_FRAME, FrameReader, FrameType, Reason, encode_frame
from net.proto._messages import decode_code_text, decode_token, encode_code_text, encode_token

#: Frame types sealed with the per-connection keys (BROADCAST has its own key and opener).
UNICAST_TYPES = frozenset(
    {
        FrameType.JOIN,
        FrameType.WELCOME,
        FrameType.CHAT,
        FrameType.PING,
        FrameType.PONG,
        FrameType.NOTICE,
        FrameType.GOODBYE,
        FrameType.SHARES,
        FrameType.SHARE,
        FrameType.WANT,
        FrameType.ACT,
        FrameType.SECRETS,
        FrameType.SECRET,
        FrameType.VERIFIER,
        FrameType.ACK,
        FrameType.HISTORY,
        FrameType.HISTORY_PAGE,
        FrameType.FILE_OPEN,
        FrameType.FILE_STATE,
        FrameType.FILE_PUT,
        FrameType.FILE_DROP,
        FrameType.FILE_GET,
        FrameType.FILE_DATA,
    }
)
# Frame type by its byte, looked up once per received frame (FrameType(byte) costs an Enum call
# on every frame of the relay's hot path); a byte not in it is an unknown type.
_FRAME_TYPES = {int(frame_type): frame_type for frame_type in FrameType}
#: What the peer is told when it breaks the protocol: fixed text, no internals.
PROTOCOL_ERROR_TEXT = "protocol error"

#: The state enum of a subclass (ClientState or RelayState).
_S = TypeVar("_S", bound=enum.Enum)


class Connection(Generic[_S]):
    """Base of :class:`net.proto.ClientProtocol` and :class:`net.proto.RelayProtocol`."""

    # Set by subclasses.
    _RECEIVE: Mapping[_S, frozenset[FrameType]]
    _CLOSED: _S
    _FAILED: _S
    _ENCRYPTED_STATES: frozenset[_S]
    #: Frame type -> handler, one table per class (a subclass sets it, or fills the instance's
    #: ``_handlers`` with bound methods instead).
    _HANDLERS: ClassVar[Mapping[FrameType, Callable[[Any, bytes], None]]] = {}
    _handlers: dict[FrameType, Callable[[bytes], None]]

    def __init__(self, initial_state: _S, *, send_cap: int) -> None:
        self._state = initial_state
        self._send_cap = send_cap  # cap on the frames we send once encrypted (the peer's limit)
        self._reader = FrameReader(MAX_HANDSHAKE_FRAME)
        self._events: list[ev.Event] = []
        self._outgoing = bytearray()
        self._sealer: FrameSealer | None = None
        self._opener: FrameOpener | None = None
        self._eof = False

    # -- the sans-I/O interface ------------------------------------------------------------

    @property
    def state(self) -> _S:
        """The current state (see the state table in docs/PROTOCOL.md)."""
        return self._state

    def receive_data(self, data: bytes) -> None:
        """Feed bytes read from the transport; then collect :meth:`events_received` and
        :meth:`data_to_send`. Never raises for bad input: that becomes ProtocolViolation.
        Use :meth:`receive_eof` for end of stream (empty ``data`` is simply nothing)."""
        if self._stopped() or self._eof:
            return
        try:
            for body in self._reader.feed(data):
                self._dispatch(body)
                if self._stopped():
                    break
        except RemoteProtocolError as exc:
            self._fail(str(exc))
        if self._stopped():
            self._reader.clear()

    def receive_eof(self) -> None:
        """Report that the peer closed its end. Emits ConnectionClosed once; idempotent."""
        if self._eof:
            return
        self._eof = True
        if not self._stopped():
            if self._reader.mid_frame:
                # The peer is gone: an error frame would have nobody to read it.
                self._fail("connection closed in the middle of a frame", notify_peer=False)
            else:
                self._state = self._CLOSED
        self._reader.clear()
        self._events.append(ev.ConnectionClosed())

    def events_received(self) -> list[ev.Event]:
        """Return (and forget) the events produced since the last call, oldest first."""
        events, self._events = self._events, []
        return events

    def data_to_send(self) -> bytes:
        """Return (and forget) the bytes to write to the transport, possibly ``b""``.

        Call after every ``receive_*`` and every ``send_*`` method.
        """
        if not self._outgoing:
            return b""
        data = bytes(self._outgoing)
        self._outgoing.clear()
        return data

    def close_expected(self) -> bool:
        """True once the connection is over: flush :meth:`data_to_send`, then close."""
        return self._stopped()

    # -- encrypted-phase operations shared by both sides -----------------------------------

    def send_ping(self, token: int) -> None:
        """Queue a PING; the peer answers with PONG(token) → PongReceived. Encrypted phase only."""
        self._require(*self._ENCRYPTED_STATES)
        self._send_sealed(FrameType.PING, encode_token(token))

    def send_goodbye(self, code: Reason | int, text: str) -> None:
        """Queue a GOODBYE and end the connection: flush, then close. Encrypted phase only."""
        self._require(*self._ENCRYPTED_STATES)
        self._send_sealed(FrameType.GOODBYE, encode_code_text(code, text))
        self._state = self._CLOSED

    # -- helpers for subclasses ------------------------------------------------------------

    def _stopped(self) -> bool:
        return self._state is self._CLOSED or self._state is self._FAILED

    def _require(self, *states: _S) -> None:
        if self._state not in states:
            raise LocalProtocolError(f"not allowed in state {self._state.name}")

    def _emit(self, event: ev.Event) -> None:
        self._events.append(event)

    def _send_plain(self, frame_type: FrameType, payload: bytes) -> None:
        body = bytes((frame_type,)) + payload
        if len(body) > MAX_HANDSHAKE_FRAME:
            raise LocalProtocolError("handshake frame exceeds the handshake cap")
        self._outgoing += encode_frame(body)

    def _send_sealed(self, frame_type: FrameType, payload: bytes) -> None:
        if self._sealer is None:
            raise LocalProtocolError("no transport keys yet")
        # Checked before sealing, so a refused frame does not use up a nonce.
        if 1 + len(payload) + TAG_SIZE > self._send_cap:
            raise LocalProtocolError(
                f"{frame_type.name} frame would exceed the peer's {self._send_cap} cap"
            )
        self._outgoing += encode_frame(
            bytes((frame_type,)) + self._sealer.seal(frame_type, payload)
        )

    def _start_encryption(self, sealer: FrameSealer, opener: FrameOpener, receive_cap: int) -> None:
        self._sealer, self._opener = sealer, opener
        self._reader.max_size = receive_cap

    def _fail(
        self,
        reason: str,
        *,
        code: Reason = Reason.PROTOCOL_ERROR,
        text: str = PROTOCOL_ERROR_TEXT,
        notify_peer: bool = True,
    ) -> None:
        """The peer broke the protocol: report, tell the peer a fixed reason, stop for good."""
        self._emit(ev.ProtocolViolation(reason=reason))
        if notify_peer:
            # Best effort: the connection closes either way.
            with contextlib.suppress(LocalProtocolError):
                self._queue_error_frame(code, text)
        self._state = self._FAILED
        self._reader.clear()

    def _queue_error_frame(self, code: Reason, text: str) -> None:
        """Encrypted phase: a sealed GOODBYE. Subclasses add what fits before it."""
        if self._sealer is not None:
            self._send_sealed(FrameType.GOODBYE, encode_code_text(code, text))

    # -- dispatch --------------------------------------------------------------------------

    def _dispatch(self, body: bytes) -> None:
        frame_type = _FRAME_TYPES.get(body[0])
        if frame_type is None:
            raise RemoteProtocolError(f"unknown frame type 0x{body[0]:02x}")
        if frame_type not in self._RECEIVE.get(self._state, frozenset()):
            raise RemoteProtocolError(f"unexpected {frame_type.name} in state {self._state.name}")
        payload = body[1:]
        if frame_type in UNICAST_TYPES:
            if self._opener is None:  # cannot happen with a correct table; never trust it
                raise RemoteProtocolError(f"{frame_type.name} before the handshake")
            try:
                payload = self._opener.open(frame_type, payload)
            except AuthenticationError:
                raise RemoteProtocolError(
                    f"{frame_type.name} frame failed authentication"
                ) from None
        handler = self._HANDLERS.get(frame_type)
        if handler is not None:
            handler(self, payload)
        else:
            self._handlers[frame_type](payload)

    def _on_ping(self, payload: bytes) -> None:
        token = decode_token(payload)
        self._emit(ev.PingReceived(token=token))
        self._send_sealed(FrameType.PONG, encode_token(token))

    def _on_pong(self, payload: bytes) -> None:
        self._emit(ev.PongReceived(token=decode_token(payload)))

    def _on_goodbye(self, payload: bytes) -> None:
        code, text = decode_code_text(payload)
        self._emit(ev.GoodbyeReceived(code=code, text=text))
        self._state = self._CLOSED
