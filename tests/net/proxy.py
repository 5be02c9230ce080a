"""A TCP proxy for tests: records what crosses the wire and can cut every connection.

It stands where a network attacker would: between a client and the relay, on 127.0.0.1.
It can also stand for a broken network path: :meth:`RecordingProxy.cut` drops every
connection, :meth:`RecordingProxy.mute` silently loses what the relay sends. Assigning
:attr:`RecordingProxy.target` sends the next connections elsewhere (another relay now answers
at the address the client knows).
"""

from __future__ import annotations

import contextlib
import socket
import threading


class RecordingProxy:
    """Forwards ``127.0.0.1:<port>`` to ``target``; ``captured()`` returns all bytes seen."""

    def __init__(self, target: tuple[str, int]) -> None:
        #: Where new connections go (read at each accept: assign to switch relays).
        self.target = target
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._upstreams: list[socket.socket] = []
        self._muted: set[socket.socket] = set()
        self.connections = 0
        self._to_relay = bytearray()
        self._to_client = bytearray()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def captured(self) -> tuple[bytes, bytes]:
        """(client → relay, relay → client) bytes over all connections so far."""
        with self._lock:
            return bytes(self._to_relay), bytes(self._to_client)

    def cut(self) -> None:
        """Drop every open connection abruptly, as a network failure would."""
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def mute(self) -> None:
        """From now on, lose what the relay sends on the open connections, as a path that
        silently drops packets would; the client's bytes still reach the relay."""
        with self._lock:
            self._muted.update(self._upstreams)

    def close(self) -> None:
        self._closed = True
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
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._sockets += [client, upstream]
                self._upstreams.append(upstream)
                self.connections += 1
            threading.Thread(
                target=self._pump, args=(client, upstream, self._to_relay), daemon=True
            ).start()
            threading.Thread(
                target=self._pump, args=(upstream, client, self._to_client), daemon=True
            ).start()

    def _pump(self, source: socket.socket, sink: socket.socket, record: bytearray) -> None:
        try:
            while data := source.recv(65536):
                with self._lock:
                    record += data
                    lost = source in self._muted
                if not lost:
                    sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
