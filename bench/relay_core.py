"""``python -m bench.relay_core`` — the relay core's CPU per message, in memory, without sockets.

A steadier instrument than the fan-out rows for before/after comparisons of the relay's
per-message path on this shared machine: a room of 10 members (:mod:`bench.corepair`); one
member's client core signs and seals CHAT frames beforehand; then, timed, the relay core for
that member is fed 160 messages' worth of frames at a time (what one socket read brings under
load) and does what the asyncio relay does with them: ``RelayProtocol.receive_data`` (framing,
dispatch, ChaCha20-Poly1305 open, CHAT decode and size checks), ``Room.submit`` for each
``MessagesSubmitted``, and one ``Room.flush`` (items, history, one broadcast seal); and, when
the sender moves to a new sender key (every 500 messages, as the product does), the SHARE for
each member, sealed by that member's relay core (``SharesSubmitted``, ``send_share``). The
sender's first message, whose shares reach the room before any timed read, is sent first. Not
included: the asyncio driver, the socket reads and the writes to every member. Prints, per
messages-per-frame, the minimum, first quartile and median over the reads of the time per
message (the minimum is the least disturbed by other work on the machine).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from bench.corepair import MemoryRoom
from crypto.kdf import RoomKeys
from net import proto

PER_READ = 160
MEMBERS = 10


def measure(batch: int, reads: int) -> list[float]:
    """Seconds per message for each of ``reads`` reads of ``PER_READ`` messages."""
    keys = RoomKeys.from_master(bytes(32), room_id=bytes(range(16)))
    room = MemoryRoom(keys)
    for i in range(MEMBERS):
        room.join(f"m{i}")
    sender = room.members["m0"]
    room.say("m0", ["x" * 100], [os.urandom(16)], 1)  # the first shares go out untimed
    room.flush()
    relays = {m.client.identity.signing_public: m.relay for m in room.members.values()}
    distributor = sender.client.identity.signing_public
    chunks = []
    for _ in range(reads):
        data = bytearray()
        for _ in range(PER_READ // batch):
            sender.client.send_messages(
                [proto.PendingMessage("x" * 100, os.urandom(16), 1) for _ in range(batch)]
            )
            data += sender.client.data_to_send()
        chunks.append(bytes(data))
    per_message = []
    relay, messages = sender.relay, (PER_READ // batch) * batch
    for chunk in chunks:
        started = time.perf_counter()
        relay.receive_data(chunk)
        for event in relay.events_received():
            if isinstance(event, proto.MessagesSubmitted):
                room.room.submit("m0", event.envelopes)
            elif isinstance(event, proto.SharesSubmitted):
                for recipient, share in event.shares:
                    target = relays.get(bytes(recipient))
                    if target is not None and target.send_share(distributor, share):
                        target.data_to_send()
        relay.data_to_send()
        room.room.flush()
        per_message.append((time.perf_counter() - started) / messages)
    return per_message


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reads", type=int, default=80, help="timed reads per row")
    args = parser.parse_args(argv)
    for batch in (1, 16):
        times = sorted(measure(batch, args.reads))
        print(
            f"{batch:>2} msg/frame: µs per message min {times[0] * 1e6:.2f},"
            f" p25 {times[len(times) // 4] * 1e6:.2f}, median {statistics.median(times) * 1e6:.2f}"
        )


if __name__ == "__main__":
    main()
