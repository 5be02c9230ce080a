"""The churn-and-faults soak: does every acknowledged message reach everyone, exactly once?

``python -m bench.soak --minutes 25`` (or ``python -m bench --soak [MINUTES]``) runs the full
length; ``tests/e2e/test_soak.py`` runs a two-minute version in CI with the same code.

A real relay process serves a room file (history in SQLite next to it) on a fixed port behind
a proxy that resets connections. Members are real :class:`~net.client.ChatClient`\\ s on threads
of this process, each a device with its own identity, trust records and archive; one more is a
process of its own (:mod:`bench.soak_member`), killed with SIGKILL and started again. While
members send at a steady rate, the soak makes members leave and new ones join, cuts single
connections and all of them, kills the relay with SIGKILL and stops it with SIGTERM (each time
starting it again from the same room file), and kills the process member. A member whose
client fails for good is joined again after a second, as a person pressing Rejoin would (the
same archive: what it kept goes out then); the report counts these.

At the end it waits for things to settle and checks the promise (PROTOCOL.md 3.5): every
message acknowledged to its sender (MessageStored) — and every message the process member's
``send()`` accepted, which its archive kept — was received by every in-process member present
from a second before its send to the end, exactly once, and in its sender's order (by the
relay's positions). It reports delivered / expected, duplicates, reorderings, what was lost,
and the relay's memory growth per hour (RSS from /proc, fitted over each relay process's life
after its first fifth).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.faultproxy import FaultProxy
from bench.soak_fleet import Fleet, Ledger

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "soak test password, not a secret"  # a throwaway room's
DEFAULT_MINUTES = 25.0


@dataclass(frozen=True)
class SoakConfig:
    """What the soak does. The defaults are the full run; the CI test scales them down."""

    seconds: float = DEFAULT_MINUTES * 60
    members: int = 40  # in-process members at any time
    rate: float = 14.0  # messages per second, all members together
    churn_every: float = 1.6  # one member leaves and a new one joins
    cut_one_every: float = 1.0  # one connection reset
    cut_all_every: float = 90.0  # every connection reset at once
    relay_kills: tuple[float, ...] = (0.25, 0.7)  # SIGKILL, as fractions of the run
    relay_stops: tuple[float, ...] = (0.45, 0.9)  # SIGTERM
    member_kills: tuple[float, ...] = (0.3, 0.6)  # the process member, SIGKILL
    process_member: bool = True
    # Most seconds to wait at the end for everything to arrive: a member that was away catches
    # up through history pages, which the relay charges against its message rate.
    settle: float = 300.0
    sample_every: float = 5.0  # relay RSS
    margin: float = 1.0  # a receiver counts as present once joined this long before a send
    seed: int = 16


@dataclass
class SoakResult:
    seconds: float
    sent: int
    acknowledged: int
    expected: int
    delivered: int
    unreadable: int  # reached the member, but its sender key never did (stayed locked)
    unreadable_messages: int  # ...distinct messages
    unreadable_at: int  # ...distinct members
    duplicates: int
    reorderings: int
    lost: list[str]
    extra: int
    kept: int  # messages the process member's send() accepted (kept in its archive)
    counts: Counter[str]
    rss_slopes: list[tuple[float, float, int]]  # (MiB/hour, minutes fitted, samples)
    rss_last_mib: float
    settled: bool  # everything arrived (or stayed locked) before the settle time ran out
    harness_cpu: float  # this process (every in-process member): cores busy on average
    relay_cpu: float  # the relay processes: cores busy on average
    problems: list[str] = field(default_factory=list)

    @property
    def rss_slope(self) -> float | None:
        """MiB/hour over the longest relay life fitted."""
        if not self.rss_slopes:
            return None
        return max(self.rss_slopes, key=lambda s: s[1])[0]

    @property
    def missing(self) -> int:
        return self.expected - self.delivered - self.unreadable

    def failures(self) -> list[str]:
        """What breaks delivery (every acknowledged message reaches every member present,
        once, in order); empty if it held. Messages that arrived but stayed unreadable are
        :meth:`unreadable_failures`."""
        failed = list(self.problems)
        if self.missing:
            failed.append(f"missing: {self.missing} of {self.expected}")
        if self.duplicates:
            failed.append(f"duplicates: {self.duplicates}")
        if self.reorderings:
            failed.append(f"reorderings: {self.reorderings}")
        return failed

    def unreadable_failures(self) -> list[str]:
        """Messages that reached a member who never got the key to open them."""
        if not self.unreadable:
            return []
        return [f"unreadable (stayed locked): {self.unreadable} of {self.expected}"]

    def report(self) -> str:
        slope = self.rss_slope
        lines = [
            f"soak: {self.seconds / 60:.1f} min, {self.sent} messages sent,"
            f" {self.acknowledged} acknowledged, {self.kept} from the process member",
            f"  settled: {'yes' if self.settled else 'no (what is missing may only be late)'}",
            f"  delivered / expected: {self.delivered} / {self.expected}"
            f" (arrived but stayed locked: {self.unreadable}, {self.unreadable_messages}"
            f" messages at {self.unreadable_at} members; missing: {self.missing})",
            f"  duplicates: {self.duplicates}, reorderings: {self.reorderings},"
            f" unexpected extra: {self.extra}",
            "  faults: "
            + ", ".join(f"{name} {count}" for name, count in sorted(self.counts.items())),
            "  relay RSS slope: "
            + ("-" if slope is None else f"{slope:+.1f} MiB/hour")
            + f" (last {self.rss_last_mib:.1f} MiB; per relay life: "
            + ", ".join(f"{s:+.1f} over {m:.1f} min" for s, m, _ in self.rss_slopes)
            + ")",
            f"  CPU: members (this process) {self.harness_cpu:.2f} cores, relay"
            f" {self.relay_cpu:.2f} cores, on {os.cpu_count()} — "
            + (
                "the members' process was saturated: what is late or locked may be the "
                "machine's doing"
                if self.harness_cpu > 0.85
                else "not saturated"
            ),
        ]
        lines += [f"  lost: {item}" for item in self.lost[:10]]
        lines += [f"  problem: {item}" for item in self.problems[:10]]
        return "\n".join(lines)


class RelayProcess:
    """``main.py relay`` on a room file and a fixed port; killed and started again."""

    def __init__(self, room_file: Path, port: int, env: dict[str, str]) -> None:
        self.room_file, self.port, self.env = room_file, port, env
        self.proc: subprocess.Popen[str] | None = None
        self.lives = 0

    def start(self) -> None:
        deadline = time.monotonic() + 30
        while True:  # the port may be held a moment by the process that just died
            self.proc = subprocess.Popen(
                [
                    *(sys.executable, str(ROOT / "main.py"), "relay", "--bind", "127.0.0.1"),
                    *("--port", str(self.port), "--room-file", str(self.room_file)),
                ],
                cwd=ROOT,
                env=self.env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            if self._listening():
                self.lives += 1
                threading.Thread(target=self._drain, args=(self.proc,), daemon=True).start()
                return
            self.proc.kill()
            self.proc.wait()
            if time.monotonic() > deadline:
                raise RuntimeError("the relay did not start")
            time.sleep(0.5)

    def _listening(self) -> bool:
        assert self.proc is not None and self.proc.stdout is not None
        return any(re.search(r"listening on 127\.0\.0\.1:\d+", ln) for ln in self.proc.stdout)

    @staticmethod
    def _drain(proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for _ in proc.stdout:
            pass

    def signal(self, sig: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=30)

    def cpu_seconds(self) -> float | None:
        """The running relay's CPU time so far (user + system), from /proc."""
        if self.proc is None or self.proc.poll() is not None:
            return None
        try:
            stat = Path(f"/proc/{self.proc.pid}/stat").read_text(encoding="ascii")
        except OSError:
            return None
        fields = stat.rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss(self) -> int | None:
        """Resident memory in bytes, from /proc (None if not running or not Linux)."""
        if self.proc is None or self.proc.poll() is not None:
            return None
        try:
            status = Path(f"/proc/{self.proc.pid}/status").read_text(encoding="ascii")
        except OSError:
            return None
        found = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
        return int(found.group(1)) * 1024 if found else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _create_room(room_file: Path, password_file: Path, env: dict[str, str]) -> None:
    subprocess.run(
        [
            *(sys.executable, str(ROOT / "main.py"), "room", "create"),
            *("--out", str(room_file), "--password-file", str(password_file)),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )


def _slope(samples: list[tuple[float, int]]) -> tuple[float, float, int] | None:
    """Least-squares MiB/hour over one relay life's samples after its first fifth."""
    if len(samples) < 5:
        return None
    start, end = samples[0][0], samples[-1][0]
    kept = [(t, rss) for t, rss in samples if t >= start + (end - start) / 5]
    if len(kept) < 4 or kept[-1][0] - kept[0][0] < 10:
        return None
    n = len(kept)
    mean_t = sum(t for t, _ in kept) / n
    mean_r = sum(r for _, r in kept) / n
    var = sum((t - mean_t) ** 2 for t, _ in kept)
    cov = sum((t - mean_t) * (r - mean_r) for t, r in kept)
    return cov / var * 3600 / 2**20, (kept[-1][0] - kept[0][0]) / 60, n


def run(config: SoakConfig, workdir: Path, log: Callable[[str], object] = print) -> SoakResult:
    """Run the soak in ``workdir`` (room file, histories, devices) and check the ledger."""
    rng = random.Random(config.seed)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOCKETCHAT_")}
    env.update(PYTHONUNBUFFERED="1", HOME=str(workdir))
    password_file = workdir / "password"
    password_file.write_text(PASSWORD + "\n", encoding="utf-8")
    room_file = workdir / "soak.room"
    _create_room(room_file, password_file, env)
    relay = RelayProcess(room_file, _free_port(), env)
    relay.start()
    proxy = FaultProxy(("127.0.0.1", relay.port))
    ledger = Ledger(margin=config.margin)
    counts: Counter[str] = Counter()
    samples: list[tuple[int, float, int]] = []  # (relay life, time, rss)
    relay_cpu: dict[int, float] = {}  # relay life: CPU seconds (the last reading)
    harness_cpu = 0.0
    settled = False
    stop = threading.Event()
    fleet = Fleet(
        port=proxy.port,
        password=PASSWORD,
        password_file=password_file,
        workdir=workdir,
        env=env,
        ledger=ledger,
        counts=counts,
        rng=rng,
    )
    try:
        fleet.start(config.members, config.process_member)
        started = time.monotonic()
        cpu_started = time.process_time()
        log(f"soak: {config.members} members joined; running {config.seconds:.0f} s")
        plan = sorted(
            [(f, "relay SIGKILL") for f in config.relay_kills]
            + [(f, "relay SIGTERM") for f in config.relay_stops]
            + (
                [(f, "member SIGKILL") for f in config.member_kills]
                if config.process_member
                else []
            )
        )
        next_send = next_churn = next_cut = started
        next_cut_all = started + config.cut_all_every
        next_sample = started
        while (now := time.monotonic()) < started + config.seconds:
            if plan and now >= started + plan[0][0] * config.seconds:
                _, what = plan.pop(0)
                counts[what] += 1
                log(f"soak: {what} at {now - started:.0f} s")
                if what == "member SIGKILL":
                    fleet.kill_process_member()
                else:
                    relay_cpu[relay.lives] = relay.cpu_seconds() or relay_cpu.get(relay.lives, 0)
                    relay.signal(signal.SIGKILL if what == "relay SIGKILL" else signal.SIGTERM)
                    samples.append((relay.lives, now, -1))
                    time.sleep(rng.uniform(0.2, 1.5))  # down a moment
                    relay.start()
            if now >= next_send:
                fleet.send_one()
                next_send += rng.expovariate(config.rate)
            if now >= next_churn:
                fleet.churn()
                next_churn += config.churn_every
            if now >= next_cut:
                if proxy.cut_one(rng):
                    counts["connection reset"] += 1
                next_cut += config.cut_one_every
            if now >= next_cut_all:
                counts["every connection reset"] += 1
                proxy.cut()
                next_cut_all += config.cut_all_every
            if now >= next_sample:
                rss = relay.rss()
                relay_cpu[relay.lives] = relay.cpu_seconds() or relay_cpu.get(relay.lives, 0)
                if rss is not None:
                    samples.append((relay.lives, now, rss))
                next_sample += config.sample_every
            fleet.tick()
            stop.wait(0.005)
        harness_cpu = (time.process_time() - cpu_started) / (time.monotonic() - started)
        relay_cpu[relay.lives] = relay.cpu_seconds() or relay_cpu.get(relay.lives, 0)
        log(f"soak: settling (at most {config.settle:.0f} s)")
        settled = fleet.settle(config.settle)
        if not settled:
            log("soak: did not settle in time")
    finally:
        fleet.close()
        proxy.close()
        relay.signal(signal.SIGTERM)
    lives: dict[int, list[tuple[float, int]]] = {}
    for life, t, rss in samples:
        if rss >= 0:
            lives.setdefault(life, []).append((t, rss))
    slopes = [s for s in (_slope(v) for v in lives.values()) if s is not None]
    check = ledger.check()
    last = next((rss for _, _, rss in reversed(samples) if rss >= 0), 0)
    return SoakResult(
        seconds=config.seconds,
        sent=check.sent,
        acknowledged=check.acknowledged,
        expected=check.expected,
        delivered=check.delivered,
        unreadable=check.unreadable,
        unreadable_messages=check.unreadable_messages,
        unreadable_at=check.unreadable_at,
        duplicates=check.duplicates,
        reorderings=check.reorderings,
        lost=check.lost,
        extra=check.extra,
        kept=check.kept,
        counts=counts + fleet.counts_extra(),
        rss_slopes=slopes,
        rss_last_mib=last / 2**20,
        settled=settled,
        harness_cpu=harness_cpu,
        relay_cpu=sum(relay_cpu.values()) / config.seconds,
        problems=fleet.problems,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.soak", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--minutes", type=float, default=DEFAULT_MINUTES)
    parser.add_argument("--members", type=int, default=SoakConfig.members)
    parser.add_argument("--rate", type=float, default=SoakConfig.rate, help="messages/s in all")
    parser.add_argument(
        "--churn-every", type=float, default=SoakConfig.churn_every, help="s between departures"
    )
    parser.add_argument(
        "--cut-every", type=float, default=SoakConfig.cut_one_every, help="s between resets"
    )
    parser.add_argument(
        "--settle", type=float, default=SoakConfig.settle, help="most s to wait at the end"
    )
    parser.add_argument("--seed", type=int, default=SoakConfig.seed)
    parser.add_argument("--json", action="store_true", help="also print the result as JSON")
    args = parser.parse_args(argv)
    config = SoakConfig(
        seconds=args.minutes * 60,
        members=args.members,
        rate=args.rate,
        churn_every=args.churn_every,
        cut_one_every=args.cut_every,
        settle=args.settle,
        seed=args.seed,
    )
    with tempfile.TemporaryDirectory(prefix="socketchat-soak-") as tmp:
        result = run(config, Path(tmp))
    print(result.report(), flush=True)
    if args.json:
        print(json.dumps({**result.__dict__, "counts": dict(result.counts)}, default=str))
    failures = result.failures() + result.unreadable_failures()
    for failure in failures:
        print(f"FAILED: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
