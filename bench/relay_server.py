"""The relay under test, alone in its process: ``python -m bench.relay_server --kind KIND``.

KIND is ``socketchat`` (the real :class:`net.relay.Relay`, given a room file with ``--room``),
``plain``, ``plain-coalesced`` or ``select`` (:mod:`bench.baselines`). It listens on
127.0.0.1 (``--port 0``: a free port), prints the port on one line, then answers each line on
stdin with one JSON line of its own resource use, read from inside the process::

    {"cpu": <user+system seconds>, "rss": <VmRSS bytes>, "connections": <n>, "verifies": <n>}

With ``--limits default`` the relay keeps the product's admission limits (handshake slots, the
queue, silent connections, the login throttle), lifting only the member cap; the join storm
uses it, with every client on an address of its own. Otherwise the per-address limits are
lifted, since every simulated member comes from 127.0.0.1.

``verifies`` counts the Ed25519 signature checks the process has made (pycryptodome's
``EdDSASigScheme.verify``, wrapped here with a counter): a SocketChat relay checks one per JOIN
(the proof of the joiner's identity key) and never one per message, which the fan-out rows show.

The line ``trim`` first returns the C heap's free memory to the system (see ``_trim``). With
``BENCH_RELAY_TRACEMALLOC=1`` the process traces Python's allocations from its start
(``tracemalloc``, which slows it: for memory figures, not timings), each answer adds ``traced``
and ``traced_peak`` (bytes), and the line ``reset-peak`` starts a new peak. It exits when stdin
closes. ``--profile FILE`` runs it under cProfile and writes the stats to
FILE on exit (for ``python -m bench --profile``).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import dataclasses
import json
import logging
import os
import resource
import socket
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.baselines import PlainRelay, serve_select

if TYPE_CHECKING:
    from net.proto._history import HistoryStore

# The benchmark's members send far faster than people type: lift the per-member message rate
# limit (the operator's setting; everything else is the product's default or wider), and the
# share budget with it: a sender moves to a new sender key every 500 messages and seals it to
# every member, so at the benchmark's rates its shares come as much faster as its messages.
_MEMBERS_CAP = 20_000
KINDS = ("socketchat", "plain", "plain-coalesced", "select")


def usage() -> dict[str, float]:
    """This process's CPU seconds (user + system) and resident memory in bytes."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    rss = 0
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) * 1024
                break
    return {"cpu": ru.ru_utime + ru.ru_stime, "rss": rss}


_VERIFIES = [0]


def _count_verifies() -> None:
    """Count every Ed25519 verification made in this process (see the module docstring)."""
    from Crypto.Signature import eddsa

    original = eddsa.EdDSASigScheme.verify

    def verify(self: eddsa.EdDSASigScheme, msg_or_hash: Any, signature: bytes) -> None:
        _VERIFIES[0] += 1
        original(self, msg_or_hash, signature)

    eddsa.EdDSASigScheme.verify = verify  # type: ignore[method-assign]


def _trim() -> None:
    """Give the C heap's free memory back to the system (glibc ``malloc_trim``), so that RSS
    counts what is live, not the high-water mark of buffers freed since (a join storm's
    WELCOMEs and write buffers). Nothing where there is no glibc."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if name:
        libc = ctypes.CDLL(name)
        if hasattr(libc, "malloc_trim"):
            libc.malloc_trim(0)


def _answer(connections: int, command: str = "stats") -> None:
    if command.strip() == "trim":
        _trim()
    answer = {**usage(), "connections": connections, "verifies": _VERIFIES[0]}
    if tracemalloc.is_tracing():
        answer["traced"], answer["traced_peak"] = tracemalloc.get_traced_memory()
        if command.strip() == "reset-peak":
            tracemalloc.reset_peak()
    sys.stdout.write(json.dumps(answer) + "\n")
    sys.stdout.flush()


def _raise_nofile() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _history(room: str, room_id: bytes) -> HistoryStore | None:
    """The room's history: in memory (None), or in SQLite next to the room file when
    ``BENCH_RELAY_HISTORY`` is ``sqlite-normal`` or ``sqlite-full`` (bench.persisted)."""
    mode = os.environ.get("BENCH_RELAY_HISTORY", "memory")
    if mode == "memory":
        return None
    from net.relay.history import HistoryOptions, Sync, open_history

    sync = Sync.FULL if mode == "sqlite-full" else Sync.NORMAL
    return open_history(Path(room), room_id, HistoryOptions(sync=sync))


async def _serve_asyncio(kind: str, room: str | None, port: int, limits: str = "lifted") -> None:
    loop = asyncio.get_running_loop()
    count: Callable[[], int]
    if kind == "socketchat":
        from net.relay import Relay, RelayConfig
        from net.relay.roomfile import RoomSecret

        if room is None:
            raise SystemExit("--room is required for --kind socketchat")
        config = RelayConfig(
            host="127.0.0.1",
            port=port,
            max_members=_MEMBERS_CAP,
            idle_ping=3600.0,
            idle_timeout=7200.0,
            message_rate=1e9,
            message_burst=1e9,
            share_burst_min=10**9,
        )
        if limits == "lifted":
            # Every simulated member comes from 127.0.0.1: lift the per-address caps (the
            # handshake cap, connections not yet heard from, and the PAKEs in flight, which
            # follow the free login failures).
            config = dataclasses.replace(
                config,
                max_handshakes_per_source=4096,
                max_silent_per_source=4096,
                max_queued_per_source=4096,
                login_free_failures=4096,
            )
        secret = RoomSecret.load(room)
        relay = Relay(secret, config, history=_history(room, secret.room_id))
        bound = await relay.start()

        def count() -> int:
            return relay.stats().connections
    else:
        plain = PlainRelay(coalesce=kind == "plain-coalesced")
        server = await loop.create_server(plain.protocol, "127.0.0.1", port, backlog=1024)
        bound = server.sockets[0].getsockname()[1]

        def count() -> int:
            return len(plain.transports)

    done = loop.create_future()

    def on_stdin() -> None:
        line = sys.stdin.readline()
        if not line:
            loop.remove_reader(sys.stdin.fileno())
            done.set_result(None)
        else:
            _answer(count(), line)

    loop.add_reader(sys.stdin.fileno(), on_stdin)
    print(bound, flush=True)
    await done
    if kind == "socketchat":
        await relay.stop()


def _serve_select(port: int) -> None:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(1024)
    print(listener.getsockname()[1], flush=True)
    connections = [0]

    def on_command() -> bool:
        line = sys.stdin.readline()
        if not line:
            return False
        # Every open fd but stdio and the listener is a member.
        import os

        connections[0] = max(0, len(os.listdir("/proc/self/fd")) - 5)
        _answer(connections[0], line)
        return True

    serve_select(listener, on_command, sys.stdin.fileno())
    listener.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", choices=KINDS, required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--room", help="room file (socketchat only)")
    parser.add_argument("--profile", help="write cProfile stats here on exit")
    parser.add_argument("--log", help="append the relay's log (INFO and up) to this file")
    parser.add_argument(
        "--limits",
        choices=("lifted", "default"),
        default="lifted",
        help="socketchat: lift the per-address admission limits (default), or keep them all",
    )
    args = parser.parse_args(argv)
    if args.log:
        logging.basicConfig(filename=args.log, level=logging.INFO, format="%(message)s")
    _raise_nofile()
    _count_verifies()
    if os.environ.get("BENCH_RELAY_TRACEMALLOC") == "1":
        tracemalloc.start()
    # On-CPU time, not wall time: on this shared machine a profile in wall time also counts the
    # moments the relay was runnable but another process had its core.
    profiler = cProfile.Profile(time.process_time) if args.profile else None
    if profiler is not None:
        profiler.enable()
    try:
        if args.kind == "select":
            _serve_select(args.port)
        else:
            asyncio.run(_serve_asyncio(args.kind, args.room, args.port, args.limits))
    finally:
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(args.profile)


if __name__ == "__main__":
    main()
