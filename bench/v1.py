"""Protocol version 1 in the same run: its own relay, client core and load generator.

v2's price per message (a signature made by the sender and checked by every receiver, bigger
envelopes) is measured against v1 *in the same run*, on the same machine, since this shared
machine's absolute figures move from run to run. v1 is git commit :data:`V1_COMMIT`. Nothing of
v1 is re-implemented here: its tree is extracted with ``git archive`` into a temporary
directory, and a driver (:data:`_DRIVER`, run there as ``python -c`` with that tree first on
the path) uses v1's own ``bench`` package — its ``python -m bench.relay_server`` relay process,
its members, its latency definition — to measure, for each room size, the paced latency (p50,
p99 at 5,000 deliveries/s, as :func:`bench.fanout.latency` does) and, at 10 and 50 members,
the relay's CPU per delivery at one message per CHAT frame.

Two things the driver adds around v1's code, both for parity with v2's rows: the v1 relay
process is pinned to the relay's core and the driver to the load generator's (v1's bench did
not pin), and the relay's CPU is read from ``/proc/<pid>/schedstat`` instead of v1's
``stats`` round trip (which made the load generator wait for a busy relay mid-window).

Without git or the commit (a tarball checkout) every v1 row says "skipped: needs the git
history".
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.loadgen import _CPUS, ROOT, BenchError

V1_COMMIT = "117ef5a"
SKIP_NO_HISTORY = "skipped: needs the git history"
_TIMEOUT = 600.0  # the whole v1 run (joins, three rooms, two capacity rows): normally ~40 s

# Runs inside the v1 tree. Reads its arguments as JSON from argv[1]; prints one JSON line.
_DRIVER = r"""
import json, os, sys
args = json.loads(sys.argv[1])
cpus = args["cpus"]
if len(cpus) >= 2:
    os.sched_setaffinity(0, {cpus[-1]})
from bench import fanout, loadgen
from crypto.kdf import derive_room_keys

def proc_cpu(pid):
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/schedstat") as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return total / 1e9

def stats(self):
    return {"cpu": proc_cpu(self.proc.pid), "rss": 0, "connections": 0}

loadgen.RelayProcess.stats = stats  # CPU from /proc: never waits for a busy relay
keys = derive_room_keys(args["password"], room_id=bytes.fromhex(args["room_id"]))
out = {}
with fanout.temp_dir() as tmp:
    for size in args["sizes"]:
        room = fanout.open_room("socketchat", size, keys, tmp)
        try:
            if len(cpus) >= 2:
                os.sched_setaffinity(room.relay.proc.pid, {cpus[0]})
            row = {}
            if size in args["capacity_sizes"]:
                cap = fanout.capacity(
                    room, seconds=args["capacity_seconds"],
                    messages_per_sender=args["presealed"], batch=1,
                )
                row["cpu_per_delivery"] = cap.relay_cpu / max(cap.deliveries, 1)
                row["rate"] = cap.deliveries / cap.seconds
            lat = fanout.latency(room, members=size, seconds=args["latency_seconds"])
            row["p50"] = fanout.percentile(lat.latencies, 0.5)
            row["p99"] = fanout.percentile(lat.latencies, 0.99)
            row["samples"] = len(lat.latencies)
            row["rate_paced"] = lat.deliveries / lat.seconds
        finally:
            room.close()
        out[str(size)] = row
        print("  v1", size, row, file=sys.stderr, flush=True)
print(json.dumps(out))
"""


@dataclass
class V1Row:
    """v1's figures at one room size (``cpu_per_delivery`` only where a capacity row ran)."""

    p50: float
    p99: float
    samples: int
    cpu_per_delivery: float | None = None
    rate: float | None = None


def extract(dest: Path, commit: str = V1_COMMIT) -> str | None:
    """Put v1's tree (or ``commit``'s) in ``dest``; None on success, or why not
    ("skipped: ...")."""
    try:
        found = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--verify", "--quiet", f"{commit}^{{commit}}"],
            capture_output=True,
            timeout=30,
            check=False,
        )
        if found.returncode != 0:
            return SKIP_NO_HISTORY
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", "--format=tar", commit],
            capture_output=True,
            timeout=120,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return SKIP_NO_HISTORY
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(dest, filter="data")
        else:  # Python < 3.11.4: our own archive from our own repository
            tar.extractall(dest)
    return None


def run(
    tmp: str,
    *,
    password: str,
    room_id: bytes,
    sizes: tuple[int, ...],
    capacity_sizes: tuple[int, ...],
    latency_seconds: float,
    capacity_seconds: float,
    presealed: int,
) -> dict[int, V1Row] | str:
    """Measure v1 at ``sizes``; the rows by size, or a reason ("skipped: ...", "failed: ...")."""
    tree = Path(tmp) / "socketchat-v1"
    why = extract(tree)
    if why is not None:
        return why
    args = {
        "cpus": _CPUS,
        "password": password,
        "room_id": room_id.hex(),
        "sizes": list(sizes),
        "capacity_sizes": list(capacity_sizes),
        "latency_seconds": latency_seconds,
        "capacity_seconds": capacity_seconds,
        "presealed": presealed,
    }
    env = {**os.environ, "PYTHONPATH": str(tree)}
    try:
        proc = subprocess.run(
            [sys.executable, "-c", _DRIVER, json.dumps(args)],
            cwd=tree,
            env=env,
            capture_output=True,
            text=True,
            timeout=_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return f"failed: the v1 run took over {_TIMEOUT:.0f} s"
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return f"failed: {tail[:200]}"
    data: dict[str, dict[str, Any]] = json.loads(lines[-1])
    rows = {}
    for size, row in data.items():
        rows[int(size)] = V1Row(
            p50=row["p50"],
            p99=row["p99"],
            samples=row["samples"],
            cpu_per_delivery=row.get("cpu_per_delivery"),
            rate=row.get("rate"),
        )
    return rows


def check_available() -> None:
    """BenchError unless v1's tree can be had (for a test or a manual check)."""
    with contextlib.suppress(FileNotFoundError):
        found = subprocess.run(
            ["git", "-C", str(ROOT), "cat-file", "-t", V1_COMMIT],
            capture_output=True,
            timeout=30,
            check=False,
        )
        if found.returncode == 0:
            return
    raise BenchError(SKIP_NO_HISTORY)
