"""Steady state against the previous protocol (one room key for every member), in the same run.

Sender keys change what a client does per message (a keyring; a message key derived from the
sender key of each envelope's epoch) and add shares; the relay's message path is meant to stay
as it was. The previous protocol is git commit :data:`PREVIOUS_COMMIT`, the last before sender
keys: every member sealed and opened every message under one room key derived from the
password. As for v1 (:mod:`bench.v1`), nothing of it is re-implemented: its tree is extracted
with ``git archive``, and one driver (:data:`_DRIVER`), run as ``python -c`` once in that tree
and once in this one (each tree first on the path), measures both with each tree's own code:

* **client, per message**, in memory (each tree's :mod:`bench.corepair`: real cores, no
  sockets): a room of bob and alice; alice's ``ClientProtocol.send_messages`` of one 100-byte
  message and ``data_to_send`` (sign, seal, frame: the *send*), then, after the relay cores
  and the ``Room`` (untimed), bob's ``ClientProtocol.receive_data`` of what the relay writes
  him (the broadcast, after any SHARE) up to ``ChatOpened`` (transport open, message key,
  envelope open, signature check: the *receive*). Alice's first messages go untimed (her key
  reaches bob with the first); then rounds of messages, the mean per message of each round,
  and the median of the rounds. Timed in CPU time (``time.thread_time``), so that the moments
  another process has the core are not counted (this machine is shared).
* **relay CPU per delivery**: each tree's own fan-out capacity rows (``bench.fanout``: its
  relay process, its members, its measurement), at the sizes and messages per frame given.

**Steady** means here that the shares are distributed already: in this tree the driver sets
the keyring's ``MAX_MESSAGES`` out of reach, so no sender moves to a new key during the run;
the only shares are those of each sender's first message, sent before anything is timed. What
moving on every 500 messages adds is reported beside it: the driver times one share seal (HPKE
and Ed25519) and one message-key derivation, and section 1's rows (the product's behaviour,
re-keying included) are compared with the previous relay too.

The client part runs in both trees ``client_passes`` times, alternately (previous, current,
previous, ...), since this shared machine's speed drifts; the relay rows once each. Without
git or the commit every row says "skipped: needs the git history".
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.loadgen import _CPUS, ROOT
from bench.v1 import extract

PREVIOUS_COMMIT = "047a332"
_TIMEOUT = 600.0

# Runs in either tree. Reads its arguments as JSON from argv[1]; prints one JSON line.
_DRIVER = r"""
import json, os, statistics, sys, time
args = json.loads(sys.argv[1])
cpus = args["cpus"]
if len(cpus) >= 2:
    os.sched_setaffinity(0, {cpus[-1]})
try:
    import net.proto._keyring as keyring
except ImportError:
    keyring = None  # the previous protocol: one room key, nothing to hand out
if keyring is not None:
    keyring.MAX_MESSAGES = 2**31  # steady: no new sender key within the run
from bench import fanout
from bench.corepair import MemoryRoom
from crypto.kdf import RoomKeys
from net import proto

keys = RoomKeys.from_master(bytes.fromhex(args["master"]), room_id=bytes.fromhex(args["room_id"]))
shares_event = getattr(proto, "SharesSubmitted", None)
TEXT = "x" * 100
out = {"sender_keys": keyring is not None}


def client_costs(messages, rounds, members):
    room = MemoryRoom(keys)
    room.join("bob")
    for n in range(members - 2):
        room.join(f"m{n}")
    room.join("alice")
    bob, alice = room.members["bob"], room.members["alice"]
    presence = room.flush()  # alice's JOINED (this tree's room hands it out itself)
    if presence:
        bob.client.receive_data(presence)
        bob.client.events_received()
    bob_key = bob.client.identity.signing_public
    alice_key = alice.client.identity.signing_public
    now_ms = int(time.time() * 1000)

    def one(n):
        message_id = n.to_bytes(16, "big")
        started = time.thread_time()
        alice.client.send_messages([proto.PendingMessage(TEXT, message_id, now_ms)])
        up = alice.client.data_to_send()
        sent = time.thread_time()
        alice.relay.receive_data(up)
        down = b""
        for event in alice.relay.events_received():
            if isinstance(event, proto.MessagesSubmitted):
                room.room.submit("alice", event.envelopes)
            elif shares_event is not None and isinstance(event, shares_event):
                for recipient, share in event.shares:
                    if bytes(recipient) == bob_key and bob.relay.send_share(alice_key, share):
                        down += bob.relay.data_to_send()
            else:
                raise RuntimeError(f"relay core: {event}")
        down += room.room.flush()
        received = time.thread_time()
        bob.client.receive_data(down)
        events = bob.client.events_received()
        opened = time.thread_time()
        if [type(e).__name__ for e in events] != ["ChatOpened"]:
            raise RuntimeError(f"bob: {events}")
        return sent - started, opened - received

    for n in range(50):
        one(n)
    send, receive = [], []
    per_round = messages // rounds
    for r in range(rounds):
        costs = [one(1000 + r * per_round + k) for k in range(per_round)]
        send.append(statistics.fmean(c[0] for c in costs))
        receive.append(statistics.fmean(c[1] for c in costs))
    return {"send": send, "receive": receive}


def crypto_costs():
    from crypto import epoch
    from crypto.identity import Identity

    if keyring is None:
        return {}
    a, b = Identity.generate(), Identity.generate()
    key, room_id = epoch.new_sender_key(), keys.room_id
    runs = 200
    started = time.perf_counter()
    for _ in range(runs):
        epoch.seal_share(
            key, distributor=a, owner=a.signing_public, epoch=1,
            recipient_signing=b.signing_public, recipient_dh=b.dh_public,
            room_id=room_id, member_key=keys.member,
        )
    seal = (time.perf_counter() - started) / runs
    share = epoch.seal_share(
        key, distributor=a, owner=a.signing_public, epoch=1,
        recipient_signing=b.signing_public, recipient_dh=b.dh_public,
        room_id=room_id, member_key=keys.member,
    )
    started = time.perf_counter()
    for _ in range(runs):
        epoch.open_share(
            b, share, distributor=a.signing_public, room_id=room_id, member_key=keys.member
        )
    opened = (time.perf_counter() - started) / runs
    started = time.perf_counter()
    for _ in range(runs * 10):
        epoch.message_key(key, room_id=room_id, signing_key=a.signing_public, epoch=1)
    derive = (time.perf_counter() - started) / (runs * 10)
    return {"share_seal": seal, "share_open": opened, "message_key": derive}


if args["client_messages"]:
    out["client"] = {
        str(members): client_costs(args["client_messages"], args["client_rounds"], members)
        for members in args["client_sizes"]
    }
    out["crypto"] = crypto_costs()
out["relay"] = {}
with fanout.temp_dir() as tmp:
    for size, batch in args["relay_rows"]:
        room = fanout.open_room("socketchat", size, keys, tmp)
        try:
            cap = fanout.capacity(
                room, seconds=args["seconds"], batch=batch,
                messages_per_sender=args["presealed"][str(size)],
            )
        finally:
            room.close()
        out["relay"][f"{size}x{batch}"] = {
            "cpu_per_delivery": cap.relay_cpu / max(cap.deliveries, 1),
            "rate": cap.rate,
            "relay_busy": cap.relay_busy,
            "shares": getattr(cap, "shares", 0),
        }
        print("  ", args["label"], size, batch, out["relay"][f"{size}x{batch}"], file=sys.stderr)
print(json.dumps(out))
"""


@dataclass
class RelayRow:
    """One capacity row of one tree."""

    cpu_per_delivery: float
    rate: float
    relay_busy: float
    shares: int


@dataclass
class ClientCosts:
    """Seconds per message at one room size, each a list over rounds and passes."""

    send_old: list[float] = field(default_factory=list)
    send_new: list[float] = field(default_factory=list)
    receive_old: list[float] = field(default_factory=list)
    receive_new: list[float] = field(default_factory=list)


@dataclass
class PreviousResult:
    """Client costs by room size; relay rows by (size, messages per frame)."""

    client: dict[int, ClientCosts] = field(default_factory=dict)
    relay_old: dict[tuple[int, int], RelayRow] = field(default_factory=dict)
    relay_new: dict[tuple[int, int], RelayRow] = field(default_factory=dict)
    crypto: dict[str, float] = field(default_factory=dict)  # share_seal, share_open, message_key

    @staticmethod
    def median(values: list[float]) -> float:
        return statistics.median(values) if values else 0.0


def _drive(tree: Path, label: str, args: dict[str, Any]) -> dict[str, Any] | str:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    try:
        proc = subprocess.run(
            [sys.executable, "-c", _DRIVER, json.dumps({**args, "label": label})],
            cwd=tree,
            env=env,
            capture_output=True,
            text=True,
            timeout=_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return f"failed: the {label} run took over {_TIMEOUT:.0f} s"
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return f"failed ({label}): {tail[:200]}"
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def run(
    tmp: str,
    *,
    rows: tuple[tuple[int, int], ...],
    seconds: float,
    presealed: dict[int, int],
    client_sizes: tuple[int, ...],
    client_messages: int,
    client_rounds: int,
    client_passes: int,
) -> PreviousResult | str:
    """Measure the previous protocol and this one (see the module docstring); or why not."""
    tree = Path(tmp) / "socketchat-previous"
    why = extract(tree, PREVIOUS_COMMIT)
    if why is not None:
        return why
    base = {
        "cpus": _CPUS,
        "master": os.urandom(32).hex(),
        "room_id": bytes(range(16)).hex(),
        "seconds": seconds,
        "presealed": {str(k): v for k, v in presealed.items()},
        "client_sizes": list(client_sizes),
        "client_messages": client_messages,
        "client_rounds": client_rounds,
    }
    result = PreviousResult()
    for n in range(client_passes):
        relay_rows = [list(row) for row in rows] if n == 0 else []
        for label, where in (("previous", tree), ("current", ROOT)):
            out = _drive(where, label, {**base, "relay_rows": relay_rows})
            if isinstance(out, str):
                return out
            if out["sender_keys"] != (label == "current"):
                return f"failed: the {label} tree is not the protocol it should be"
            old = label == "previous"
            for members, costs in out.get("client", {}).items():
                into = result.client.setdefault(int(members), ClientCosts())
                (into.send_old if old else into.send_new).extend(costs["send"])
                (into.receive_old if old else into.receive_new).extend(costs["receive"])
            if not old:
                result.crypto.update(out.get("crypto", {}))
            for key, row in out["relay"].items():
                size, batch = (int(part) for part in key.split("x"))
                (result.relay_old if old else result.relay_new)[(size, batch)] = RelayRow(
                    row["cpu_per_delivery"], row["rate"], row["relay_busy"], row["shares"]
                )
    return result
