"""Files through the relay (section 13): one member sends a file, another saves it.

* :func:`transfer_rows` — a file of 50 MB (``--quick``: 5 MB) from one ``ChatClient`` to
  another through a real relay (``bench.relay_server``, its own process, pinned to the relay's
  core; files in SQLite next to the room file): ``send_file`` until the relay holds it all
  (upload), the offer's arrival, then ``download`` until the file is checked and renamed
  (download); end to end is from ``send_file`` to the saved file. Against it, in the same run:
  the same bytes read from the same file, through a plain TCP forwarder (a process on the same
  core that copies one connection into another, :func:`_forward`) into a file. Target: end to
  end at least 30 % of the plain copy's rate.
* :func:`memory_rows` — the relay's memory while it takes and serves files of 10 MB and
  50 MB, in relays that trace Python's allocations (``BENCH_RELAY_TRACEMALLOC``): the peak of
  what Python held during the transfer above what it held before, and the process's RSS before
  and its peak (``VmHWM``) after. Target: no growth with the file's size.

Both clients run in this process (the load generator's core), each on its worker thread.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import queue
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bench import report
from bench.loadgen import ROOT, BenchError, RelayProcess, cpu_seconds, pin_relay
from crypto.filechunk import CHUNK_SIZE, seal_chunk
from crypto.identity import Identity
from crypto.kdf import RoomKeys
from net.client import ChatClient
from net.client import events as ce
from net.relay.roomfile import RoomSecret

MB = 1_000_000
TARGET = 0.30  # end to end against the plain copy
_WAIT = 300.0  # the longest one transfer may take before the row fails
_COPY_BUFFER = 256 * 1024


@dataclass(frozen=True)
class Halves:
    """One file sent and saved: seconds, and CPU seconds of the clients and of the relay."""

    upload: float
    download: float
    end_to_end: float
    upload_cpu: float = 0.0  # the sending client (this process)
    download_cpu: float = 0.0  # the saving client (this process)
    relay_upload_cpu: float = 0.0
    relay_download_cpu: float = 0.0


@dataclass(frozen=True)
class Trial:
    size: int
    halves: Halves
    plain: float


@dataclass(frozen=True)
class Memory:
    size: int
    traced_before: int
    traced_peak: int  # the peak during the transfers (reset just before them)
    rss_before: int
    hwm_after: int


class _Member:
    """A ChatClient whose events land in a queue with the time they came."""

    def __init__(self, port: int, name: str, keys: RoomKeys) -> None:
        self.events: queue.Queue[tuple[float, ce.ClientEvent]] = queue.Queue()
        self.client = ChatClient(
            host="127.0.0.1",
            port=port,
            username=name,
            keys=keys,
            identity=Identity.generate(),
            on_event=lambda event: self.events.put((time.perf_counter(), event)),
        )
        self.client.start()

    def until(self, match: type, test: object = None, wait: float = _WAIT) -> tuple[float, object]:
        """The first event of type ``match`` (and ``test(event)``, if given): (when, event)."""
        deadline = time.monotonic() + wait
        while True:
            try:
                when, event = self.events.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise BenchError(f"no {match.__name__} in {wait:.0f} s") from None
            if isinstance(event, ce.Failed):
                raise BenchError(f"member failed: {event.message}")
            if isinstance(event, ce.TransferFailed):
                raise BenchError(f"transfer failed: {event.reason.value}: {event.detail}")
            if isinstance(event, match) and (test is None or test(event)):  # type: ignore[operator]
                return when, event


def _random_file(path: Path, size: int) -> str:
    """Write ``size`` random bytes to ``path``; their SHA-256 in hex."""
    digest = hashlib.sha256()
    with path.open("wb") as out:
        left = size
        while left:
            block = os.urandom(min(left, 4 * MB))
            digest.update(block)
            out.write(block)
            left -= len(block)
    return digest.hexdigest()


def _file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while block := source.read(4 * MB):
            digest.update(block)
    return digest.hexdigest()


def _joined_pair(port: int, keys: RoomKeys) -> tuple[_Member, _Member]:
    sender = _Member(port, "sender", keys)
    sender.until(ce.Joined)
    receiver = _Member(port, "receiver", keys)
    receiver.until(ce.Joined)
    sender.until(ce.MemberJoined)  # the offer is sealed for the receiver too
    return sender, receiver


def _send_and_save(
    sender: _Member, receiver: _Member, source: Path, dest: Path, relay: RelayProcess
) -> Halves:
    """One file from sender to receiver: how long each half took, and at what CPU cost."""
    relay_0, cpu_0 = relay.times()[0], cpu_seconds()
    started = time.perf_counter()
    upload_id = sender.client.send_file(source)
    uploaded, _ = sender.until(ce.TransferFinished, lambda e: e.transfer_id == upload_id)
    relay_1, cpu_1 = relay.times()[0], cpu_seconds()
    _, offer = receiver.until(ce.MessageReceived, lambda e: isinstance(e.content, ce.FileContent))
    relay_2, cpu_2 = relay.times()[0], cpu_seconds()
    asked = time.perf_counter()
    assert isinstance(offer, ce.MessageReceived)
    download_id = receiver.client.download(offer.message_id, dest)
    saved, _ = receiver.until(ce.TransferFinished, lambda e: e.transfer_id == download_id)
    relay_3, cpu_3 = relay.times()[0], cpu_seconds()
    return Halves(
        upload=uploaded - started,
        download=saved - asked,
        end_to_end=saved - started,
        upload_cpu=cpu_1 - cpu_0,
        download_cpu=cpu_3 - cpu_2,
        relay_upload_cpu=relay_1 - relay_0,
        relay_download_cpu=relay_3 - relay_2,
    )


# -- the plain copy ---------------------------------------------------------------------------


def _forward(port_file: str) -> None:
    """The plain forwarder (``python -m bench.files --forward FILE``): accept two connections,
    copy everything the first sends into the second, then exit. Writes its port to FILE."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        Path(port_file).write_text(str(listener.getsockname()[1]), encoding="ascii")
        source, _ = listener.accept()
        sink, _ = listener.accept()
    buffer = bytearray(_COPY_BUFFER)
    view = memoryview(buffer)
    with source, sink:
        while count := source.recv_into(buffer):
            sink.sendall(view[:count])


def _plain_copy(source: Path, dest: Path, folder: Path) -> float:
    """Seconds to copy ``source`` into ``dest`` through the plain forwarder, from the first
    byte read to the last one written."""
    port_file = folder / f"forward-{time.monotonic_ns()}.port"
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.files", "--forward", str(port_file)], cwd=ROOT
    )
    pin_relay(proc.pid)
    try:
        deadline = time.monotonic() + 30
        while not port_file.exists() or not port_file.read_text(encoding="ascii"):
            if time.monotonic() > deadline or proc.poll() is not None:
                raise BenchError("the plain forwarder did not start")
            time.sleep(0.01)
        port = int(port_file.read_text(encoding="ascii"))
        sender = socket.create_connection(("127.0.0.1", port))
        receiver = socket.create_connection(("127.0.0.1", port))
        done = threading.Event()

        def receive() -> None:
            buffer = bytearray(_COPY_BUFFER)
            view = memoryview(buffer)
            with receiver, dest.open("wb") as out:
                while count := receiver.recv_into(buffer):
                    out.write(view[:count])
            done.set()

        thread = threading.Thread(target=receive, daemon=True)
        thread.start()
        started = time.perf_counter()
        with sender, source.open("rb") as data:
            while block := data.read(_COPY_BUFFER):
                sender.sendall(block)
        thread.join(_WAIT)
        if not done.is_set():
            raise BenchError("the plain copy did not finish")
        return time.perf_counter() - started
    finally:
        proc.wait(timeout=30)


# -- the rows ---------------------------------------------------------------------------------


@contextlib.contextmanager
def _relay(keys: RoomKeys, folder: Path, *, traced: bool = False) -> Iterator[RelayProcess]:
    room_file = folder / f"room-{time.monotonic_ns()}.room"
    RoomSecret.from_room_keys(keys).save(room_file)
    os.environ["BENCH_RELAY_TRACEMALLOC"] = "1" if traced else "0"
    try:
        relay = RelayProcess("socketchat", room=str(room_file))
    finally:
        del os.environ["BENCH_RELAY_TRACEMALLOC"]
    try:
        yield relay
    finally:
        relay.close()


def transfer_rows(
    keys: RoomKeys, folder: Path, *, size: int, trials: int, rooms: Path | None = None
) -> list[Trial]:
    """``trials`` transfers of a file of ``size`` bytes, each beside a plain copy of it and
    through a relay of its own (a room's earlier files would be evicted in the middle), whose
    room file and files are in ``rooms`` (default ``folder``)."""
    source = folder / f"source-{size}.bin"
    digest = _random_file(source, size)
    results = []
    for n in range(trials):
        plain_dest = folder / f"plain-{size}-{n}.bin"
        plain = _plain_copy(source, plain_dest, folder)
        if _file_hash(plain_dest) != digest:
            raise BenchError("the plain copy differs from its source")
        plain_dest.unlink()
        dest = folder / f"saved-{size}-{n}.bin"
        with _relay(keys, rooms or folder) as relay:
            sender, receiver = _joined_pair(relay.port, keys)
            try:
                halves = _send_and_save(sender, receiver, source, dest, relay)
            finally:
                sender.client.close()
                receiver.client.close()
        if _file_hash(dest) != digest:
            raise BenchError("the saved file differs from the one sent")
        dest.unlink()
        results.append(Trial(size, halves, plain))
    source.unlink()
    return results


def memory_row(keys: RoomKeys, folder: Path, *, size: int) -> Memory:
    """A relay tracing its allocations takes and serves one file of ``size`` bytes."""
    source = folder / f"memory-{size}.bin"
    _random_file(source, size)
    with _relay(keys, folder, traced=True) as relay:
        sender, receiver = _joined_pair(relay.port, keys)
        try:
            before = relay.stats("trim")
            relay.stats("reset-peak")
            _send_and_save(sender, receiver, source, folder / f"memory-saved-{size}.bin", relay)
            after = relay.stats()
            hwm = _vm_hwm(relay.proc.pid)
        finally:
            sender.client.close()
            receiver.client.close()
    source.unlink()
    (folder / f"memory-saved-{size}.bin").unlink()
    return Memory(
        size=size,
        traced_before=int(before["traced"]),
        traced_peak=int(after["traced_peak"]),
        rss_before=int(before["rss"]),
        hwm_after=hwm,
    )


def _vm_hwm(pid: int) -> int:
    """Process ``pid``'s peak resident memory (bytes)."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def _aead_ms_per_mb(rounds: int = 200) -> float:
    """What sealing costs on this machine: ms of CPU per MB, in chunks of CHUNK_SIZE."""
    key, file_id, chunk = os.urandom(32), os.urandom(16), os.urandom(CHUNK_SIZE)
    started = time.process_time()
    for _ in range(rounds):
        seal_chunk(file_key=key, file_id=file_id, index=0, count=1, chunk=chunk)
    return (time.process_time() - started) * 1000 / (rounds * CHUNK_SIZE / MB)


def _rate(size: int, seconds: float) -> float:
    return size / seconds / MB if seconds else 0.0


_TMPFS = Path("/dev/shm")  # the relay's files in memory: its path without the disk


def section(keys: RoomKeys, tmp: str, *, quick: bool) -> str:
    """Section 13 of BENCHMARKS.md, as Markdown."""
    folder = Path(tempfile.mkdtemp(dir=tmp, prefix="files-"))
    size = 5 * MB if quick else 50 * MB
    trials = 1 if quick else 3
    title = "### 13. Files: one member sends, another saves\n\n"
    places = [("disk", folder)]
    if not quick and _TMPFS.is_dir() and os.access(_TMPFS, os.W_OK):
        places.append(("tmpfs", Path(tempfile.mkdtemp(dir=_TMPFS, prefix="socketchat-files-"))))
    try:
        runs = [
            (where, transfer_rows(keys, folder, size=size, trials=trials, rooms=rooms))
            for where, rooms in places
        ]
        memory = [memory_row(keys, folder, size=n * MB) for n in ((2, 5) if quick else (10, 50))]
    except BenchError as exc:
        print(f"  files: failed: {exc}", flush=True)
        return title + f"failed: {exc}"
    finally:
        for where, rooms in places:
            if where == "tmpfs":
                shutil.rmtree(rooms, ignore_errors=True)
    med = statistics.median
    rows, cpu_rows = [], []
    for where, results in runs:
        upload = med(t.halves.upload for t in results)
        download = med(t.halves.download for t in results)
        end_to_end = med(t.halves.end_to_end for t in results)
        plain = med(t.plain for t in results)
        ratio = plain / end_to_end
        print(
            f"  files: {size // MB} MB, relay files on {where}: end to end"
            f" {_rate(size, end_to_end):.0f} MB/s (upload {_rate(size, upload):.0f}, download"
            f" {_rate(size, download):.0f}); plain copy {_rate(size, plain):.0f} MB/s;"
            f" {ratio:.0%}",
            flush=True,
        )
        rows.append(
            [
                f"{size // MB} MB",
                where,
                f"{_rate(size, upload):.0f} ({upload:.2f} s)",
                f"{_rate(size, download):.0f} ({download:.2f} s)",
                f"{_rate(size, end_to_end):.0f} ({end_to_end:.2f} s)",
                f"{_rate(size, plain):.0f} ({plain:.2f} s)",
                f"{ratio:.0%}",
                "met" if ratio >= TARGET else "missed",
            ]
        )
        per_mb = 1000 * MB / size  # CPU seconds for the file -> ms per MB

        def cpu(part: str, results: list[Trial] = results, per_mb: float = per_mb) -> str:
            return f"{med(getattr(t.halves, part) for t in results) * per_mb:.2f}"

        cpu_rows.append(
            [
                where,
                cpu("upload_cpu"),
                cpu("relay_upload_cpu"),
                cpu("relay_download_cpu"),
                cpu("download_cpu"),
            ]
        )
    text = title + report.table(
        [
            "file",
            "relay's files on",
            "upload MB/s",
            "download MB/s",
            "end to end MB/s",
            "plain TCP copy MB/s",
            "end to end / plain",
            f"≥ {TARGET:.0%}",
        ],
        rows,
    )
    floor = _aead_ms_per_mb()
    text += "\n\n" + report.table(
        [
            "CPU ms per MB, relay's files on",
            "sending client",
            "relay, upload",
            "relay, download",
            "saving client",
        ],
        cpu_rows,
    )
    text += (
        f"\n\nOne XChaCha20-Poly1305 pass (seal_chunk, pycryptodome) costs {floor:.2f} ms per"
        " MB here; each half costs a client two such passes per byte (the chunk's end-to-end"
        " seal and the connection's) and a SHA-256."
    )
    for m in memory:
        print(
            f"  files: relay memory with a {m.size // MB} MB file: Python peak"
            f" +{(m.traced_peak - m.traced_before) / 2**20:.2f} MiB, RSS peak"
            f" {m.hwm_after / 2**20:.1f} MiB",
            flush=True,
        )
    text += "\n\n" + report.table(
        [
            "file",
            "relay Python heap before MiB",
            "its peak during the transfer, above it MiB",
            "relay RSS before MiB",
            "relay RSS peak after MiB",
        ],
        [
            [
                f"{m.size // MB} MB",
                f"{m.traced_before / 2**20:.2f}",
                f"{(m.traced_peak - m.traced_before) / 2**20:.2f}",
                f"{m.rss_before / 2**20:.1f}",
                f"{m.hwm_after / 2**20:.1f}",
            ]
            for m in memory
        ],
    )
    trial_count = len(runs[0][1])
    return text + (
        f"\n\nMedian of {trial_count} trial(s) per row, each beside a plain copy. Upload: from"
        " send_file until the relay holds every chunk (TransferFinished); download: from"
        " download() until the file is checked and renamed; end to end: from send_file until"
        " then (upload, the offer through the room, download). Plain copy: the file read in"
        " 256 KiB blocks into a socket, through a forwarder process on the relay's core"
        " (recv_into, sendall) into another socket and a file; no crypto, no storage. Each"
        " trial has a relay of its own (bench.relay_server, its files in SQLite next to the"
        " room file: on this machine's disk, or on tmpfs to show the path without the disk)."
        " CPU: the clients' process (both clients and the benchmark, pinned to one core) and"
        " the relay's, during each half. Memory: relays tracing their allocations (slower; not"
        " the timed ones), each taking one file and serving it once; the peak is Python's"
        " allocations during the transfer above what the relay held before it."
    )


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--forward":
        _forward(sys.argv[2])
    else:
        from bench.loadgen import pin_loadgen
        from crypto.kdf import derive_room_keys

        pin_loadgen()
        bench_keys = derive_room_keys("bench password, not a secret", room_id=bytes(range(16)))
        with tempfile.TemporaryDirectory() as scratch:
            print(section(bench_keys, scratch, quick="--quick" in sys.argv))
