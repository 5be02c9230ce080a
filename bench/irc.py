"""The load generator's IRC members, for the ngIRCd peer (:mod:`bench.ngircd`).

They live in the same selector loop as the SocketChat and baseline members (:mod:`bench.loadgen`)
and are as light: an :class:`IrcJoiner` registers (``NICK``/``USER``, waits for ``001``),
optionally becomes an operator and sets user mode ``F`` (ngIRCd's flood exemption; the senders
do), sends ``JOIN`` and is in once the end of the channel's names list (``366``) arrives; then
an :class:`IrcMember` reads the channel.

ngIRCd does not echo a ``PRIVMSG`` to its sender, so a message reaches N - 1 of N members and
counts N - 1 deliveries (the baselines and SocketChat count N: they echo). A sender therefore
cannot see its own messages come back: one receiver, the *observer*, counts the messages of
each sender (by their ``:s<i>!`` prefix) and gives the window back to that sender.
"""

from __future__ import annotations

import re
import selectors
import socket
import time
from collections.abc import Callable

from bench.loadgen import BenchError, Counters, Loop, Member, connect
from bench.ngircd import CHANNEL, OPER

_RECV = 1 << 18
_PRIVMSG = b" PRIVMSG "
_STAMP = re.compile(rb" PRIVMSG [^ ]+ :(\d+\.\d+)")
TEXT_BYTES = 100


def privmsg(text: str) -> bytes:
    """One message to the channel, as a sender writes it."""
    return f"PRIVMSG {CHANNEL} :{text}\r\n".encode()


def stamped(now: float) -> bytes:
    """A 100-byte message carrying its send time (for latency)."""
    stamp = f"{now:.6f}"
    return privmsg(stamp + "x" * (TEXT_BYTES - len(stamp)))


class IrcJoiner:
    """One registration and JOIN in progress; ``on_done(joiner)`` runs once (``error`` on
    failure). The socket and any bytes read after the names list go to :meth:`take_socket`."""

    def __init__(
        self,
        loop: Loop,
        port: int,
        nick: str,
        on_done: Callable[[IrcJoiner], None],
        *,
        oper: bool = False,
        wait_connect: bool = True,
        source: str | None = None,
    ) -> None:
        self.loop, self.nick, self.on_done, self.oper = loop, nick, on_done, oper
        self.started = time.perf_counter()
        self.finished = 0.0
        self.error = ""
        self.flood_exempt = False
        self.buf = bytearray()
        self._out = bytearray()
        self.sock = connect(port, wait=wait_connect, source=source)
        loop.register(self.sock, self._on_event)
        self._write(f"NICK {nick}\r\nUSER {nick} 0 * :{nick}\r\n".encode())

    def _write(self, data: bytes) -> None:
        self._out += data
        if self._out:
            try:
                sent = self.sock.send(self._out)
            except BlockingIOError:
                sent = 0
            except OSError as exc:
                return self._fail(f"connection error: {exc}")
            del self._out[:sent]
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if self._out else 0)
        self.loop.modify(self.sock, self._on_event, events)

    def _on_event(self, mask: int) -> None:
        if self.finished:
            return
        if mask & selectors.EVENT_WRITE:
            self._write(b"")
        if not mask & selectors.EVENT_READ or self.finished:
            return
        try:
            data = self.sock.recv(_RECV)
        except BlockingIOError:
            return
        except OSError as exc:
            return self._fail(f"connection error: {exc}")
        if not data:
            return self._fail("ngircd closed the connection")
        self.buf += data
        while not self.finished:
            end = self.buf.find(b"\r\n")
            if end < 0:
                break
            line = bytes(self.buf[:end])
            del self.buf[: end + 2]
            self._line(line)

    def _line(self, line: bytes) -> None:
        parts = line.split(b" ", 3)
        if parts[0] == b"PING":
            return self._write(b"PONG " + line[5:] + b"\r\n")
        if parts[0] == b"ERROR":
            return self._fail(line.decode(errors="replace"))
        code = parts[1] if len(parts) > 1 else b""
        if code == b"001":
            first = f"OPER {OPER[0]} {OPER[1]}\r\nMODE {self.nick} +F\r\n" if self.oper else ""
            self._write(f"{first}JOIN {CHANNEL}\r\n".encode())
        elif code == b"MODE" and line.endswith(b"+F"):
            self.flood_exempt = True
        elif code == b"366":
            if self.oper and not self.flood_exempt:
                return self._fail("could not set user mode +F (flood exemption)")
            self.finished = time.perf_counter()
            self.on_done(self)
        elif code[:1] in (b"4", b"5") and code.isdigit() and code != b"422":  # 422: no MOTD
            self._fail(line.decode(errors="replace"))

    def _fail(self, why: str) -> None:
        if self.finished:
            return
        self.error = why
        self.finished = time.perf_counter()
        self.on_done(self)

    def take_socket(self) -> socket.socket:
        self.loop.unregister(self.sock)
        return self.sock

    def close(self) -> None:
        self.loop.unregister(self.sock)
        self.sock.close()


class IrcMember(Member):
    """A joined IRC member: counts the channel's ``PRIVMSG`` lines it receives.

    ``observe`` (the observer only) lists the sender members by number: each message of
    sender i it reads takes one off ``observe[i].inflight``. Lines are counted only up to the
    last complete one; a partial line waits for the next read.
    """

    __slots__ = ("error", "observe", "prefixes")

    def __init__(
        self,
        loop: Loop,
        sock: socket.socket,
        counters: Counters,
        index: int = -1,
        leftover: bytes = b"",
    ) -> None:
        super().__init__(loop, sock, counters, None, index)
        self.observe: list[Member] | None = None
        self.prefixes: list[bytes] = []
        self.error = ""
        self.buf += leftover

    def watch(self, senders: list[Member]) -> None:
        """Make this member the observer of ``senders`` (see the class docstring)."""
        self.observe = senders
        self.prefixes = [f":s{i}!".encode() for i in range(len(senders))]

    def on_readable(self) -> None:
        try:
            data = self.sock.recv(_RECV)
        except BlockingIOError:
            return
        except OSError as exc:
            data, self.error = b"", str(exc)
        if not data:
            self.closed = True
            self.error = self.error or "ngircd closed the connection"
            self.loop.unregister(self.sock)
            return
        buf = self.buf
        buf += data
        end = buf.rfind(b"\n") + 1
        if not end:
            return
        counters = self.counters
        count = buf.count(_PRIVMSG, 0, end)
        counters.deliveries += count
        counters.frames += count
        if self.observe is not None:
            for sender, prefix in zip(self.observe, self.prefixes, strict=True):
                sender.inflight -= buf.count(prefix, 0, end)
        if counters.measuring and count:
            now = time.perf_counter()
            counters.latencies.extend(now - float(t) for t in _STAMP.findall(buf, 0, end))
        if buf.startswith(b"PING ") or buf.find(b"\nPING ", 0, end) >= 0:
            for line in bytes(buf[:end]).split(b"\r\n"):
                if line.startswith(b"PING "):
                    self.send(b"PONG " + line[5:] + b"\r\n")
        if buf.startswith(b"ERROR ") or buf.find(b"\nERROR ", 0, end) >= 0:
            self.error = "ngircd sent ERROR"
        del buf[:end]


def join_many(
    loop: Loop,
    port: int,
    names: list[str],
    *,
    concurrency: int,
    deadline: float,
    keep: bool = True,
    on_joined: Callable[[IrcJoiner], None] | None = None,
    oper: bool = False,
    wait_connect: bool = True,
) -> list[IrcJoiner]:
    """:func:`bench.loadgen.join_many` for IRC: register and JOIN ``names``, at most
    ``concurrency`` at a time; ``oper`` makes them operators with user mode +F first."""
    pending = list(reversed(names))
    done: list[IrcJoiner] = []
    active = [0]

    def finished(joiner: IrcJoiner) -> None:
        active[0] -= 1
        done.append(joiner)
        if joiner.error:
            joiner.close()
            raise BenchError(f"{joiner.nick}: {joiner.error}")
        if keep and on_joined is not None:
            on_joined(joiner)
        elif not keep:
            joiner.close()
        start_more()

    def start_more() -> None:
        while pending and active[0] < concurrency:
            active[0] += 1
            IrcJoiner(loop, port, pending.pop(), finished, oper=oper, wait_connect=wait_connect)

    start_more()
    loop.run_until(lambda: len(done) == len(names), deadline, f"joining {len(names)} IRC members")
    return done
