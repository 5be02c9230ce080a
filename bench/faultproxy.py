"""A TCP proxy that breaks connections on purpose, for the soak (bench/soak.py) and the
client's delivery tests (tests/net/client).

It stands between clients and a relay on 127.0.0.1 and loses what it is told to: everything
the clients send (:meth:`FaultProxy.lose_to_relay`: a message that never reaches the relay),
everything the relay sends (:meth:`FaultProxy.lose_to_clients`: an ACK or echo that never
comes back), or whole connections (:meth:`FaultProxy.cut`, :meth:`FaultProxy.cut_one`: a
reset). Losing bytes of a framed, encrypted stream leaves the connection useless, so a test
that loses bytes cuts afterwards, as a broken path ends in a reset or a timeout.
:attr:`FaultProxy.target` may be reassigned: new connections go to another relay (a restarted
one on another port) at the address the clients know.
"""

from __future__ import annotations

import contextlib
import random
import socket
import threading


class _Link:
    """One client connection and its upstream."""

    def __init__(self, client: socket.socket, upstream: socket.socket) -> None:
        self.client = client
        self.upstream = upstream

    def close(self) -> None:
        for sock in (self.client, self.upstream):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()


class FaultProxy:
    """Forwards ``127.0.0.1:<port>`` to ``target``, losing what it is told to."""

    def __init__(self, target: tuple[str, int]) -> None:
        #: Where new connections go (read at each accept).
        self.target = target
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._links: list[_Link] = []
        self._lose_up = False
        self._lose_down = False
        self._closed = False
        #: Connections accepted and cut so far; bytes lost each way.
        self.accepted = 0
        self.cuts = 0
        self.lost_to_relay = 0
        self.lost_to_clients = 0
        threading.Thread(target=self._accept, name="fault-proxy", daemon=True).start()

    def lose_to_relay(self, lose: bool = True) -> None:
        """From now on, drop what clients send (on every connection, new ones included)."""
        with self._lock:
            self._lose_up = lose

    def lose_to_clients(self, lose: bool = True) -> None:
        """From now on, drop what the relay sends."""
        with self._lock:
            self._lose_down = lose

    def cut(self) -> int:
        """Reset every open connection; returns how many."""
        with self._lock:
            links, self._links = self._links, []
            self.cuts += len(links)
        for link in links:
            link.close()
        return len(links)

    def cut_one(self, rng: random.Random) -> bool:
        """Reset one open connection chosen by ``rng``; False if none is open."""
        with self._lock:
            if not self._links:
                return False
            link = self._links.pop(rng.randrange(len(self._links)))
            self.cuts += 1
        link.close()
        return True

    @property
    def open_links(self) -> int:
        with self._lock:
            return len(self._links)

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(OSError):
            self._listener.close()
        self.cut()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()  # nobody at the target: the client sees a reset
                continue
            upstream.settimeout(None)
            link = _Link(client, upstream)
            with self._lock:
                self._links.append(link)
                self.accepted += 1
            for source, sink, up in ((client, upstream, True), (upstream, client, False)):
                threading.Thread(
                    target=self._pump, args=(link, source, sink, up), daemon=True
                ).start()

    def _pump(self, link: _Link, source: socket.socket, sink: socket.socket, up: bool) -> None:
        try:
            while data := source.recv(65536):
                with self._lock:
                    lost = self._lose_up if up else self._lose_down
                    if lost and up:
                        self.lost_to_relay += len(data)
                    elif lost:
                        self.lost_to_clients += len(data)
                if not lost:
                    sink.sendall(data)
        except OSError:
            pass
        finally:
            with self._lock:
                if link in self._links:
                    self._links.remove(link)
            link.close()
