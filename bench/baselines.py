"""The two baseline relays every SocketChat figure is compared with. Benchmark-only code.

Both speak SocketChat's framing (4-byte big-endian length, then the body) and nothing else: no
handshake, no crypto, no names. Every complete frame a member sends is written to every member,
the sender included (SocketChat echoes a message to its sender too).

* :class:`PlainRelay` — an asyncio ``Protocol`` per connection that writes each frame, as it
  is parsed, to every member's transport (the same bytes object): the least work a Python relay
  that forwards frames can do, the ceiling. (It does not coalesce frames across reads; asyncio's
  transports buffer whatever a socket does not take at once.)
* :func:`serve_select` — the classic select()-loop chat server the project replaces: blocking
  sockets, one ``sendall`` per frame per member. It waits with ``selectors.DefaultSelector``
  (epoll) rather than ``select.select`` only so it can hold 5,000 sockets (select() stops at
  FD_SETSIZE, 1,024); the model — one loop, blocking broadcast — is the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import selectors
import socket
from collections.abc import Callable

MAX_FRAME = 65536


def split_frames(buf: bytearray) -> int:
    """Return how many leading bytes of ``buf`` are complete frames; ValueError if too long."""
    pos, end = 0, len(buf)
    while end - pos >= 4:
        length = int.from_bytes(buf[pos : pos + 4], "big")
        if not 0 < length <= MAX_FRAME:
            raise ValueError(f"bad frame length {length}")
        if end - pos - 4 < length:
            break
        pos += 4 + length
    return pos


class PlainRelay:
    """Members of the plain asyncio relay: a list of transports, broadcast to in order.

    With ``coalesce`` the complete frames of one read go out as one write (a stronger ceiling
    that, like SocketChat's relay, shares the per-write cost among several messages).
    """

    def __init__(self, *, coalesce: bool = False) -> None:
        self.transports: list[asyncio.Transport] = []
        self.coalesce = coalesce

    def protocol(self) -> asyncio.Protocol:
        """Protocol factory for ``loop.create_server``."""
        return _PlainConnection(self)


class _PlainConnection(asyncio.Protocol):
    __slots__ = ("buf", "relay", "transport")

    def __init__(self, relay: PlainRelay) -> None:
        self.relay = relay
        self.buf = bytearray()
        self.transport: asyncio.Transport  # set by connection_made, which asyncio calls first

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream server always hands a protocol a full Transport; the base signature is wider.
        if not isinstance(transport, asyncio.Transport):
            raise TypeError(f"a stream transport is needed, not {type(transport).__name__}")
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.relay.transports.append(self.transport)

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        try:
            complete = split_frames(buf)
        except ValueError:
            self.transport.close()
            return
        pos = 0
        transports = self.relay.transports
        if self.relay.coalesce and complete:
            out = bytes(buf[:complete])
            for transport in transports:
                if not transport.is_closing():
                    transport.write(out)
            pos = complete
        while pos < complete:  # each frame to every member, as it is parsed
            length = int.from_bytes(buf[pos : pos + 4], "big")
            frame = bytes(buf[pos : pos + 4 + length])
            pos += 4 + length
            for transport in transports:
                if not transport.is_closing():
                    transport.write(frame)  # the same bytes object for everyone
        del buf[:complete]

    def connection_lost(self, exc: Exception | None) -> None:
        if self.transport in self.relay.transports:
            self.relay.transports.remove(self.transport)


def serve_select(listener: socket.socket, on_command: Callable[[], bool], command_fd: int) -> None:
    """Run the select-loop server on ``listener`` until ``on_command`` returns False.

    ``command_fd`` (the benchmark's stdin) is watched in the same loop; when readable,
    ``on_command`` is called.
    """
    sel = selectors.DefaultSelector()
    listener.setblocking(False)
    sel.register(listener, selectors.EVENT_READ, "listen")
    sel.register(command_fd, selectors.EVENT_READ, "command")
    clients: dict[socket.socket, bytearray] = {}
    running = True
    while running:
        for key, _ in sel.select(timeout=1.0):
            if key.data == "listen":
                with contextlib.suppress(OSError):
                    sock, _addr = listener.accept()
                    sock.setblocking(True)
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    clients[sock] = bytearray()
                    sel.register(sock, selectors.EVENT_READ, "client")
            elif key.data == "command":
                running = on_command()
            else:
                conn = key.fileobj
                if not isinstance(conn, socket.socket):  # only accepted sockets are "client"
                    continue
                try:
                    data = conn.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    _drop(sel, clients, conn)
                    continue
                buf = clients[conn]
                buf += data
                try:
                    complete = split_frames(buf)
                except ValueError:
                    _drop(sel, clients, conn)
                    continue
                pos = 0
                while pos < complete:  # one frame at a time, to every member, as the old one
                    length = int.from_bytes(buf[pos : pos + 4], "big")
                    frame = bytes(buf[pos : pos + 4 + length])
                    pos += 4 + length
                    for other in list(clients):
                        try:
                            other.sendall(frame)
                        except OSError:
                            _drop(sel, clients, other)
                del buf[:complete]
    for sock in list(clients):
        _drop(sel, clients, sock)
    sel.close()


def _drop(
    sel: selectors.BaseSelector, clients: dict[socket.socket, bytearray], sock: socket.socket
) -> None:
    if clients.pop(sock, None) is not None:
        sel.unregister(sock)
        sock.close()
