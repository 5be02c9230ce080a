"""A joiner verifying the room's history: the client core opening a WELCOME of signed messages.

Protocol v2 signs every message with its sender's identity key, and a joiner checks every
signature of the history its WELCOME carries before it can show any of it. Measured here on the
client side only, in this process (:mod:`bench.corepair`, no sockets): five members each send
20 messages (100 bytes of text, signed and sealed by their own client cores, one CHAT frame
each, each flushed as a broadcast, so the room's history holds 100), then a new member joins
and the time is taken of its client core's work from the WELCOME frame to 100 verified
``ChatOpened`` messages: transport open, WELCOME decode and, for each message, the
XChaCha20-Poly1305 open, the plaintext parse and the Ed25519 check.

With sender keys a joiner does not hold the keys of what was said before it came: the WELCOME
gives it 100 locked messages (``ChatLocked``) and its client asks for the keys (WANT); the
members present answer with shares of their keys (SHARE frames, one per sender: HPKE open and
Ed25519 check of the share), and the client opens the held messages as each key arrives. The
time is the joiner's two parts together — WELCOME to ``Welcomed``, then the five SHARE frames
to the last ``ChatOpened`` — and not the round trip between them (the relay, and the other
members' devices sealing their answers, which the room does untimed, in memory).

Each trial is a new joiner, as cold as a new process: the cache of checked public keys
(:func:`crypto._curve25519.ed25519_public_key`) is cleared first, so the five senders' keys
are checked again (the strict small-order and canonical checks). Target: under 300 ms.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

from bench.corepair import CoreError, MemoryRoom
from crypto import _curve25519
from crypto.kdf import RoomKeys
from net import proto

MESSAGES = 100
SENDERS = 5
TEXT = "x" * 100


@dataclass
class HistoryResult:
    """Per trial: the joiner's seconds from WELCOME bytes to the verified history (and the
    part of them spent on the SHARE frames: the keys, then the messages they open)."""

    seconds: list[float]
    messages: int
    keys_seconds: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def worst(self) -> float:
        return max(self.seconds)


def run(keys: RoomKeys, *, trials: int) -> HistoryResult:
    """Fill a room's history with ``MESSAGES`` signed messages; time ``trials`` joiners."""
    room = MemoryRoom(keys, history_limit=MESSAGES)
    senders = [f"sender{i}" for i in range(SENDERS)]
    for name in senders:
        room.join(name)
    now_ms = int(time.time() * 1000)
    for n in range(MESSAGES):
        name = senders[n % SENDERS]
        room.say(name, [TEXT], [n.to_bytes(16, "big")], now_ms + n)
        room.flush()
    seconds: list[float] = []
    key_parts: list[float] = []
    for trial in range(trials):
        member, welcome = room.join(f"joiner{trial}", hold_welcome=True)
        _curve25519.ed25519_public_key.cache_clear()  # as cold as a new process
        client = member.client
        started = time.perf_counter()
        client.receive_data(welcome)
        events = client.events_received()
        welcome_part = time.perf_counter() - started
        welcomed = [e for e in events if isinstance(e, proto.Welcomed)]
        if not welcomed:
            raise CoreError(f"joiner {trial} was not welcomed: {events}")
        opened = [e for e in welcomed[0].history if isinstance(e, proto.ChatOpened)]
        shares = room.answer_wants(member.name)  # WANT out, the members' SHAREs back: untimed
        started = time.perf_counter()
        client.receive_data(shares)
        later = client.events_received()
        keys_part = time.perf_counter() - started
        opened += [e for e in later if isinstance(e, proto.ChatOpened) and e.from_history]
        if len(opened) != MESSAGES:
            raise CoreError(f"{len(opened)} of {MESSAGES} history messages verified")
        seconds.append(welcome_part + keys_part)
        key_parts.append(keys_part)
    return HistoryResult(seconds, MESSAGES, key_parts)
