"""The soak's members and its ledger (:mod:`bench.soak` drives them).

:class:`Fleet` keeps the members: real ChatClients on threads of this process, each a device
with its own identity, trust store and archive file, and one member as a process of its own
(:mod:`bench.soak_member`). :class:`Ledger` writes down what was sent (and when), what was
acknowledged, who was in the room from when, and what each member received at which position;
:meth:`Ledger.check` says whether the promise held. :class:`bench.faultproxy.FaultProxy`
resets connections.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import os
import random
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from crypto.identity import Identity
from crypto.kdf import RoomKeys
from net.client import ChatClient, ClientStopped, TrustStore
from net.client import events as ce
from net.client.archive import Archive
from net.proto import DEFAULT_ROOM

ROOT = Path(__file__).resolve().parents[1]
PROCESS = "p0"  # the process member's name
_REJOIN_AFTER = 1.0  # seconds before a failed member joins again (a person pressing Rejoin)
_RESTART_AFTER = 2.0  # seconds before the killed process member is started again
#: Failures a member is joined again after, as a person would press Rejoin or Connect: a
#: first join while the relay is down (REFUSED, TIMED_OUT, NETWORK, BUSY), a reset that lands
#: between our key confirmation and the relay's (LOGIN_INTERRUPTED: by design the client never
#: retries that alone, since the password was at stake), ROOM_CLOSED (not expected).
_REJOINABLE = {
    ce.ErrorKind.ROOM_CLOSED,
    ce.ErrorKind.REFUSED,
    ce.ErrorKind.TIMED_OUT,
    ce.ErrorKind.NETWORK,
    ce.ErrorKind.BUSY,
    ce.ErrorKind.LOGIN_INTERRUPTED,
}


@dataclass(frozen=True)
class _Sent:
    sender: str
    seq: int
    at: float


@dataclass
class Check:
    """The ledger's verdict. A delivery is *expected* for each acknowledged (or kept) message
    and each member present from a margin before its send to the end. It is *delivered* when
    the member opened it (MessageReceived), *unreadable* when the message reached the member
    but stayed locked (MessageLocked, never opened: the member lacks its sender key), and
    *missing* when it never came at all."""

    sent: int = 0
    acknowledged: int = 0
    expected: int = 0
    delivered: int = 0
    unreadable: int = 0
    duplicates: int = 0
    reorderings: int = 0
    extra: int = 0
    kept: int = 0  # of the expected messages, those the process member's archive kept
    lost: list[str] = field(default_factory=list)  # missing or unreadable, a sample
    unreadable_messages: int = 0  # distinct messages some member could not read
    unreadable_at: int = 0  # distinct members with something they could not read

    @property
    def missing(self) -> int:
        return self.expected - self.delivered - self.unreadable


class Ledger:
    """What happened, from every member's events (any thread)."""

    def __init__(self, *, margin: float) -> None:
        self.margin = margin
        self._lock = threading.Lock()
        self._sent: dict[bytes, _Sent] = {}
        self._acked: set[bytes] = set()
        self._kept: set[bytes] = set()  # accepted by the process member's send(): on its disk
        self._receipts: dict[str, list[tuple[bytes, int]]] = {}
        self._joined: dict[str, float] = {}
        self._left: dict[str, float] = {}
        self._locked: set[tuple[str, bytes]] = set()  # (receiver, id) shown locked at first

    def sent(self, sender: str, message_id: bytes, seq: int, *, kept: bool = False) -> None:
        with self._lock:
            self._sent[message_id] = _Sent(sender, seq, time.monotonic())
            if kept:
                self._kept.add(message_id)

    def stored(self, message_id: bytes) -> None:
        with self._lock:
            self._acked.add(message_id)

    def received(self, receiver: str, message_id: bytes, position: int) -> None:
        with self._lock:
            self._receipts.setdefault(receiver, []).append((message_id, position))

    def locked(self, receiver: str, message_id: bytes) -> None:
        with self._lock:
            self._locked.add((receiver, message_id))

    def joined(self, member: str) -> None:
        with self._lock:
            self._joined.setdefault(member, time.monotonic())

    def left(self, member: str) -> None:
        with self._lock:
            self._left.setdefault(member, time.monotonic())

    def unacknowledged(self, sender: str) -> int:
        with self._lock:
            return sum(
                1 for i in self._kept if self._sent[i].sender == sender and i not in self._acked
            )

    def check(self) -> Check:
        """Every acknowledged (or kept) message at every member present from a margin before
        its send to the end: once, in its sender's order by position."""
        with self._lock:
            result = Check(sent=len(self._sent))
            expected = [
                (i, s) for i, s in self._sent.items() if i in self._acked or i in self._kept
            ]
            result.acknowledged = sum(1 for i in self._sent if i in self._acked)
            result.kept = len(self._kept)
            counts = {r: Counter(i for i, _ in got) for r, got in self._receipts.items()}
            stayed = {member: at for member, at in self._joined.items() if member not in self._left}
            unreadable_ids: set[bytes] = set()
            unreadable_at: set[str] = set()
            sampled: Counter[str] = Counter()
            for message_id, sent in expected:
                for member, joined_at in stayed.items():
                    if joined_at + self.margin > sent.at:
                        continue
                    result.expected += 1
                    if counts.get(member, Counter())[message_id]:
                        result.delivered += 1
                        continue
                    locked = (member, message_id) in self._locked
                    result.unreadable += locked
                    if locked:
                        unreadable_ids.add(message_id)
                        unreadable_at.add(member)
                    sampled[member] += 1
                    if len(result.lost) < 50 and sampled[member] <= 3:
                        how = "locked" if locked else "missing"
                        acked = "acknowledged" if message_id in self._acked else "kept"
                        result.lost.append(
                            f"{sent.sender}#{sent.seq} ({message_id.hex()[:8]}, {acked}, {how})"
                            f" at {member}"
                        )
            result.unreadable_messages = len(unreadable_ids)
            result.unreadable_at = len(unreadable_at)
            for tally in counts.values():
                result.duplicates += sum(n - 1 for n in tally.values() if n > 1)
                result.extra += sum(1 for i in tally if i not in self._sent)
            for receipts in self._receipts.values():
                by_sender: dict[str, list[tuple[int, int]]] = {}
                for received_id, position in receipts:
                    known = self._sent.get(received_id)
                    if known is not None:
                        by_sender.setdefault(known.sender, []).append((position, known.seq))
                for pairs in by_sender.values():
                    seqs = [seq for _, seq in sorted(set(pairs))]
                    result.reorderings += sum(1 for a, b in itertools.pairwise(seqs) if b < a)
            return result


class _Member:
    """An in-process member: one device, rejoined after a failure, until it leaves."""

    def __init__(self, fleet: Fleet, name: str) -> None:
        self.fleet, self.name = fleet, name
        self.identity = Identity.generate()
        self.trust = TrustStore()
        self.history = fleet.workdir / "devices" / name / "history.sqlite3"
        self.key = os.urandom(32)
        self.client: ChatClient | None = None
        self.seq = 0
        self.gone = False
        self.rejoin_at: float | None = None
        self.joined = threading.Event()

    def connect(self) -> None:
        fleet = self.fleet
        self.client = ChatClient(
            host="127.0.0.1",
            port=fleet.port,
            username=self.name,
            on_event=self._on_event,
            identity=self.identity,
            trust=self.trust,
            keys=fleet.keys,
            password=fleet.password if fleet.keys is None else None,
            room_id=fleet.room_id or DEFAULT_ROOM,
            archive=functools.partial(Archive.open, self.history, self.key),
        )
        self.client.start()

    def _on_event(self, event: ce.ClientEvent) -> None:
        fleet = self.fleet
        match event:
            case ce.Joined(room_id=room_id):
                fleet.ledger.joined(self.name)
                fleet.learn_room(room_id, self.client)
                self.joined.set()
            case ce.MessageStored(message_id=message_id):
                fleet.ledger.stored(message_id)
            case ce.MessageReceived(message_id=message_id, position=position):
                fleet.ledger.received(self.name, message_id, position)
            case ce.MessageLocked(message_id=message_id):
                fleet.ledger.locked(self.name, message_id)
            case ce.NotSent(messages=messages, kept=kept):
                fleet.count("messages handed back (NotSent, kept)" if kept else "NotSent lost")
                if not kept:
                    fleet.problem(f"{self.name}: {len(messages)} message(s) not kept")
            case ce.RateLimited():
                fleet.count("told to slow down (NOTICE RATE_LIMITED)")
            case ce.ArchiveFailed(reason=reason):
                fleet.problem(f"{self.name}: archive failed: {reason}")
            case ce.Failed(kind=kind):
                fleet.count(f"failed for good ({kind.value}), joined again")
                if self.gone:
                    return
                if kind not in _REJOINABLE:
                    fleet.problem(f"{self.name}: failed: {kind.value}")
                    return
                self.rejoin_at = time.monotonic() + _REJOIN_AFTER
            case _:
                pass

    def send(self) -> None:
        client = self.client
        if client is None or self.gone:
            return
        try:
            message = client.send(f"{self.name}#{self.seq}")
        except (ClientStopped, ValueError):
            return  # failed (a rejoin is due) or the outbox is full: not sent, nothing promised
        self.fleet.ledger.sent(self.name, message.message_id, self.seq)
        self.seq += 1

    def tick(self) -> None:
        if self.rejoin_at is not None and time.monotonic() >= self.rejoin_at and not self.gone:
            self.rejoin_at = None
            self.connect()

    def settled(self) -> bool:
        client = self.client
        return (
            client is not None
            and self.rejoin_at is None
            and client.stopped is None
            and client.pending() == ()
            and bool(client.members)
        )

    def leave(self) -> None:
        self.gone = True
        self.fleet.ledger.left(self.name)
        client = self.client
        if client is not None:
            threading.Thread(target=client.close, daemon=True).start()


class _ProcessMember:
    """The member in a process of its own, killed and started again."""

    def __init__(self, fleet: Fleet) -> None:
        self.fleet = fleet
        self.data = fleet.workdir / "devices" / PROCESS
        self.proc: subprocess.Popen[str] | None = None
        self.lives = 0
        self.seq = 0
        self.restart_at: float | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        fleet = self.fleet
        assert fleet.room_id is not None
        self.lives += 1
        self.proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "bench.soak_member", "--port", str(fleet.port)),
                *("--name", PROCESS, "--room", fleet.room_id.hex()),
                *("--password-file", str(fleet.password_file), "--data", str(self.data)),
            ],
            cwd=ROOT,
            env=fleet.env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            bufsize=1,
        )
        threading.Thread(target=self._read, args=(self.proc, self.lives), daemon=True).start()

    def _read(self, proc: subprocess.Popen[str], life: int) -> None:
        assert proc.stdout is not None
        ledger = self.fleet.ledger
        for line in proc.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            kind = event.get("e")
            if kind == "sent":
                seq = int(event["text"].rpartition("#")[2])
                ledger.sent(PROCESS, bytes.fromhex(event["id"]), seq, kept=True)
            elif kind == "stored":
                ledger.stored(bytes.fromhex(event["id"]))
            elif kind == "recv":
                ledger.received(f"{PROCESS}/{life}", bytes.fromhex(event["id"]), event["position"])
            elif kind == "restored":
                self.fleet.count("process member messages restored", len(event["ids"]))
        code = proc.wait()
        if code not in (0, -9) and self.restart_at is None:
            self.fleet.count(f"process member exited {code}, started again")
            self.restart_at = time.monotonic() + _RESTART_AFTER

    def send(self) -> None:
        proc = self.proc
        if proc is None or proc.poll() is not None or proc.stdin is None:
            return
        try:
            proc.stdin.write(f"{PROCESS}#{self.seq}\n")
            proc.stdin.flush()
        except OSError:
            return
        self.seq += 1

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.restart_at = time.monotonic() + _RESTART_AFTER

    def tick(self) -> None:
        if self.restart_at is not None and time.monotonic() >= self.restart_at:
            self.restart_at = None
            self.start()

    def close(self) -> None:
        proc = self.proc
        if proc is None:
            return
        with contextlib.suppress(OSError):
            if proc.stdin is not None:
                proc.stdin.close()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Fleet:
    """Every member of the soak; driven from the soak's loop (one thread), events from many."""

    def __init__(
        self,
        *,
        port: int,
        password: str,
        password_file: Path,
        workdir: Path,
        env: dict[str, str],
        ledger: Ledger,
        counts: Counter[str],
        rng: random.Random,
    ) -> None:
        self.port, self.password, self.password_file = port, password, password_file
        self.workdir, self.env, self.ledger, self.rng = workdir, env, ledger, rng
        self.keys: RoomKeys | None = None
        self.room_id: bytes | None = None
        self.members: list[_Member] = []
        self.gone: list[_Member] = []
        self.process: _ProcessMember | None = None
        self.problems: list[str] = []
        self._counts: Counter[str] = Counter()
        self._counts_lock = threading.Lock()
        self._names = 0

    def count(self, what: str, n: int = 1) -> None:
        with self._counts_lock:
            self._counts[what] += n

    def counts_extra(self) -> Counter[str]:
        with self._counts_lock:
            return Counter(self._counts)

    def problem(self, what: str) -> None:
        with self._counts_lock:
            self.problems.append(what)

    def learn_room(self, room_id: bytes, client: ChatClient | None) -> None:
        if self.room_id is None and client is not None:
            self.room_id, self.keys = room_id, client.keys

    def _new_member(self) -> _Member:
        member = _Member(self, f"m{self._names:03d}")
        self._names += 1
        self.members.append(member)
        member.connect()
        return member

    def start(self, members: int, process_member: bool) -> None:
        first = self._new_member()  # stretches the password once; the others reuse the keys
        if not first.joined.wait(60):
            raise RuntimeError("the first member could not join")
        others = [self._new_member() for _ in range(members - 1)]
        for member in others:
            if not member.joined.wait(60):
                raise RuntimeError(f"{member.name} could not join")
        if process_member:
            self.process = _ProcessMember(self)
            self.process.start()

    def send_one(self) -> None:
        if self.process is not None and self.rng.random() < 1 / (len(self.members) + 1):
            self.process.send()
        elif self.members:
            self.rng.choice(self.members).send()

    def churn(self) -> None:
        if not self.members:
            return
        leaving = self.members.pop(self.rng.randrange(len(self.members)))
        leaving.leave()
        self.gone.append(leaving)
        self.count("members left")
        self._new_member()
        self.count("members joined")

    def kill_process_member(self) -> None:
        if self.process is not None:
            self.process.kill()

    def tick(self) -> None:
        for member in self.members:
            member.tick()
        if self.process is not None:
            self.process.tick()

    def settle(self, timeout: float, *, stuck_after: float = 5.0) -> bool:
        """No more faults or sends: wait until every member is in, nothing waits in any
        outbox, and every expected delivery arrived; messages still locked then get
        ``stuck_after`` seconds to open (their key asked for). False after ``timeout``."""
        deadline = time.monotonic() + timeout
        last, since = (-1, -1), time.monotonic()
        while time.monotonic() < deadline:
            self.tick()
            members_done = all(m.settled() for m in self.members)
            process_done = self.process is None or (
                self.process.restart_at is None and self.ledger.unacknowledged(PROCESS) == 0
            )
            check = self.ledger.check()
            if (check.delivered, check.unreadable) != last:
                last, since = (check.delivered, check.unreadable), time.monotonic()
            stuck = not check.unreadable or time.monotonic() - since >= stuck_after
            if members_done and process_done and not check.missing and stuck:
                return True
            time.sleep(0.2)
        return False

    def close(self) -> None:
        if self.process is not None:
            self.process.close()
        closers = [
            threading.Thread(target=m.client.close, daemon=True)
            for m in self.members + self.gone
            if m.client is not None
        ]
        for closer in closers:
            closer.start()
        for closer in closers:
            closer.join(10)
