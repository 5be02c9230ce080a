"""Framing: a 4-byte big-endian length, then that many bytes of body; ``body[0]`` is the type.

The length prefix is checked against the current cap *before* any of the body is buffered, so
a peer that announces 2 GiB costs us four bytes, not an allocation. The cap is a property of the
connection's state (4 KiB during the handshake, larger afterwards), so the protocol core updates
:attr:`FrameReader.max_size` as it goes, and the reader reads it afresh for every frame.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator

from net.proto._errors import LocalProtocolError, RemoteProtocolError

PROTOCOL_VERSION = 2
PREFIX_SIZE = 4
#: Cap on every frame, both directions, until the handshake is complete.
MAX_HANDSHAKE_FRAME = 4096
#: Cap on frames the relay receives after the handshake.
MAX_CLIENT_FRAME = 65536
#: Cap on frames a client receives after the handshake (a welcome with history must fit).
MAX_RELAY_FRAME = 1024 * 1024
#: The largest message text (UTF-8 bytes) a room accepts unless its relay sets a smaller limit;
#: the relay announces the room's own limit in WELCOME, and clients check that one.
MAX_MESSAGE_BYTES = 4000


class FrameType(enum.IntEnum):
    """The first byte of every frame body. 0x04 and 0x05 were v1's RELAY_PAKE and
    CLIENT_CONFIRM: never reused, so a stray v1 frame is an unknown type, not a misread one."""

    # Plaintext handshake frames.
    CLIENT_HELLO = 0x01  # layout fixed forever (magic, versions)
    RELAY_HELLO = 0x02
    CLIENT_PAKE = 0x03
    RELAY_CONFIRM = 0x06
    AUTH_FAILED = 0x07
    REFUSED = 0x08  # layout fixed forever (code, retry, text)
    CLIENT_OPEN = 0x09
    QUEUED = 0x0A  # the relay holds the client's place in line for a handshake slot
    # Encrypted unicast frames (per-connection keys).
    JOIN = 0x10
    WELCOME = 0x11
    CHAT = 0x12
    PING = 0x13
    PONG = 0x14
    NOTICE = 0x15
    GOODBYE = 0x16
    SHARES = 0x17  # sender keys sealed to members, for the relay to hand out
    SHARE = 0x18  # one sender key share, as handed out
    WANT = 0x19  # sender keys a member asks the others for
    ACT = 0x1A  # a signed room action (owners and admins: net.proto._authority)
    SECRETS = 0x1B  # a new room password sealed to each member, for the relay to hand out
    SECRET = 0x1C  # one of them, as handed out
    VERIFIER = 0x1D  # the relay's new verifier, sent before the action that changes the password
    ACK = 0x1E  # the relay stored these messages in the room's history (their sender only)
    HISTORY = 0x1F  # a member asks for stored messages older than a position
    HISTORY_PAGE = 0x21  # the relay's answer: consecutive stored messages, oldest first
    FILE_OPEN = 0x22  # a member starts (or resumes) uploading a file's sealed chunks
    FILE_STATE = 0x23  # the relay's answer about a file: a code and the chunks it holds
    FILE_PUT = 0x24  # one sealed chunk of a file being uploaded, in order
    FILE_DROP = 0x25  # the uploader gives up: the relay deletes what it holds of the file
    FILE_GET = 0x26  # a member asks for up to 64 chunks of a file
    FILE_DATA = 0x27  # one sealed chunk, as asked for
    # Encrypted under the room's broadcast key, sealed once for every member.
    BROADCAST = 0x20


class Reason(enum.IntEnum):
    """Why a connection was refused, warned or closed (REFUSED, NOTICE, GOODBYE, LEFT)."""

    INCOMPATIBLE_VERSION = 1
    TOO_MANY_ATTEMPTS = 2
    ROOM_FULL = 3
    BUSY = 4
    NAME_TAKEN = 5
    NAME_INVALID = 6
    RATE_LIMITED = 7
    SLOW_READER = 8
    IDLE_TIMEOUT = 9
    HANDSHAKE_TIMEOUT = 10
    PROTOCOL_ERROR = 11
    ROOM_CLOSING = 12  # the relay is shutting down (it may come back later)
    LEAVING = 13
    CONNECTION_LOST = 14
    MESSAGE_TOO_LARGE = 15
    NAME_LOOKALIKE = 16  # the name looks like a member's (UTS #39 skeleton)
    NO_SUCH_ROOM = 17  # the relay does not serve the room the client asked for
    REPLACED = 18  # the same identity joined again on another connection
    REMOVED = 19  # an owner or admin removed this identity from the room
    ACTION_REFUSED = 20  # NOTICE: a room action that does not follow the rules (or came late)
    PASSWORD_CHANGED = 21  # GOODBYE to everyone: join again with the new password
    RELAY_RESTARTING = 22  # GOODBYE: the relay stops for a restart; reconnect by yourself
    ROOM_CLOSED = 23  # GOODBYE: the room's host or operator closed it; no automatic reconnect


def reason(code: int) -> Reason | int:
    """Map a received code to :class:`Reason`; a code from a newer peer stays a plain int.

    Unknown codes are not an error: a newer relay may refuse us with a code we do not know,
    and the refusal must still read as a refusal.
    """
    try:
        return Reason(code)
    except ValueError:
        return code


class FrameError(RemoteProtocolError):
    """The framing itself is broken: zero length or a length above the current cap."""


def encode_frame(body: bytes) -> bytes:
    """Prefix ``body`` (type byte included) with its length. Call for every frame you send."""
    if not body:
        raise LocalProtocolError("a frame body holds at least its type byte")
    if len(body) > 0xFFFF_FFFF:
        raise LocalProtocolError("frame body too long")
    return len(body).to_bytes(PREFIX_SIZE, "big") + body


class FrameReader:
    """Reassemble frame bodies from a byte stream, with a cap checked on every prefix.

    Feed each received chunk to :meth:`feed` and iterate: it yields complete bodies one at a
    time and keeps only the unfinished tail (at most ``max(4, max_size)`` bytes) between calls.
    Complete frames are sliced straight out of the chunk, so nothing is copied twice and a
    byte-by-byte trickle costs linear time. Set :attr:`max_size` between bodies when the
    connection's state changes; it applies to the next prefix read.
    """

    __slots__ = ("_buf", "_length", "max_size")

    def __init__(self, max_size: int) -> None:
        self.max_size = max_size
        self._buf = bytearray()
        self._length: int | None = None  # body length once the prefix is complete

    @property
    def buffered(self) -> int:
        """Bytes held for an unfinished prefix or body (tests assert this stays under the cap)."""
        return len(self._buf)

    def feed(self, data: bytes) -> Iterator[bytes]:
        """Yield every body completed by ``data``; raise :class:`FrameError` on a bad prefix.

        The generator must be driven to the end (or abandoned after an error): the caller
        handles each body before the next prefix is read, so a state change made while
        handling one frame sets the cap for the next.
        """
        view = memoryview(data)
        pos, end = 0, len(view)
        while True:
            if self._length is None:
                take = min(PREFIX_SIZE - len(self._buf), end - pos)
                self._buf += view[pos : pos + take]
                pos += take
                if len(self._buf) < PREFIX_SIZE:
                    return
                length = int.from_bytes(self._buf, "big")
                self._buf.clear()
                if length == 0:
                    raise FrameError("empty frame")
                if length > self.max_size:
                    raise FrameError(f"frame of {length} bytes exceeds the {self.max_size} cap")
                self._length = length
            length = self._length
            if not self._buf and end - pos >= length:
                body = bytes(view[pos : pos + length])  # whole frame in this chunk: one copy
                pos += length
            else:
                take = min(length - len(self._buf), end - pos)
                self._buf += view[pos : pos + take]
                pos += take
                if len(self._buf) < length:
                    return
                body = bytes(self._buf)
                self._buf.clear()
            self._length = None
            yield body

    def clear(self) -> None:
        """Drop anything buffered (after a failure nothing more is parsed)."""
        self._buf = bytearray()
        self._length = None

    @property
    def mid_frame(self) -> bool:
        """True when EOF now would cut a frame short."""
        return bool(self._buf) or self._length is not None
