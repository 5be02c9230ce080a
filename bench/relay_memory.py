"""Relay memory per joined, idle connection: ``python bench/relay_memory.py [MEMBERS]``.

Starts a relay in a child process (so its RSS is the relay's alone), joins 50 warm-up members
as the baseline, then MEMBERS more over real sockets on 127.0.0.1, and prints a table: RSS
before and after, KiB per connection, joins per second (client-side PAKE included; every join
is also announced to every member, so this slows as the room grows). Target: <= 8 KiB per
joined connection at 5,000. Needs `ulimit -n` above 2 x MEMBERS + 200.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from crypto.kdf import derive_room_keys  # noqa: E402
from net import events as ev  # noqa: E402
from net.protocol import ClientProtocol  # noqa: E402
from net.roomfile import RoomSecret  # noqa: E402

_RELAY = """
import asyncio, os, sys
sys.path.insert(0, {root!r})
from net.relay import Relay, RelayConfig
from net.roomfile import RoomSecret

async def main():
    config = RelayConfig(host="127.0.0.1", port=0, max_members=100_000, max_handshakes=1_000,
                         idle_ping=3600, idle_timeout=7200)
    relay = Relay(RoomSecret.load({room!r}), config)
    print(await relay.start(), flush=True)
    loop = asyncio.get_running_loop()
    while await loop.run_in_executor(None, sys.stdin.readline):
        pages = int(open("/proc/self/statm").read().split()[1])
        print(pages * os.sysconf("SC_PAGE_SIZE"), len(relay.room), flush=True)

asyncio.run(main())
"""


def _join(port: int, name: str, keys) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port))
    proto = ClientProtocol(username=name, keys=keys)
    proto.initiate()
    sock.sendall(proto.data_to_send())
    while True:
        proto.receive_data(sock.recv(1 << 20))
        out = proto.data_to_send()
        if out:
            sock.sendall(out)
        if any(isinstance(e, ev.Welcomed) for e in proto.events_received()):
            return sock


def main(members: int) -> None:
    keys = derive_room_keys("bench password, not secret", room_id=bytes(16), n=2**10)
    with tempfile.TemporaryDirectory() as tmp:
        room = str(Path(tmp) / "room.json")
        RoomSecret.from_room_keys(keys).save(room)
        relay = subprocess.Popen(
            [sys.executable, "-c", _RELAY.format(root=str(ROOT), room=room)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        assert relay.stdin and relay.stdout
        port = int(relay.stdout.readline())

        def rss() -> tuple[int, int]:
            relay.stdin.write("x\n")
            relay.stdin.flush()
            size, count = relay.stdout.readline().split()
            return int(size), int(count)

        socks = [_join(port, f"warm{i}", keys) for i in range(50)]
        before, _ = rss()
        started = time.perf_counter()
        socks += [_join(port, f"m{i}", keys) for i in range(members)]
        elapsed = time.perf_counter() - started
        after, count = rss()
        relay.stdin.close()
        relay.wait()
        for sock in socks:
            sock.close()
    print(f"{'members':>8} {'RSS before':>11} {'RSS after':>10} {'KiB/conn':>9} {'joins/s':>8}")
    print(f"{count:>8} {before / 2**20:>9.1f}Mi {after / 2**20:>8.1f}Mi "
          f"{(after - before) / members / 1024:>9.2f} {members / elapsed:>8.0f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
