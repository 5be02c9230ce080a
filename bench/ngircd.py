"""ngIRCd, a C IRC daemon, as a same-run peer relay: install it, configure it, run it.

:func:`available` installs the Debian package ``ngircd`` when it is missing (only as root with
apt-get; bounded in time) and otherwise says why the ngIRCd rows are skipped; it never fails a
run. :class:`NgircdProcess` runs ``ngircd --nodaemon`` on 127.0.0.1 with a configuration written
to a temporary directory, and has the interface of :class:`bench.loadgen.RelayProcess`
(``port``, ``stats()``, ``close()``), reading the daemon's CPU and RSS from ``/proc/<pid>``.

The configuration lifts every limit ngIRCd lets a configuration lift (see ``_CONFIG``); what
it cannot lift is compiled in (``src/ngircd/defines.h`` and ``conn.c`` of ngIRCd 26):

* at most 3 commands per client per pass of its event loop (10 for a client with user mode
  ``F``, which only an IRC operator may set: the senders become operators and set it);
* reads of at most 2,048 bytes, and none while 513 bytes of unparsed input are waiting;
* a client whose output buffer would pass 32 KiB is disconnected ("Write buffer space
  exhausted"), so the load generator must keep reading;
* a listen backlog of 10 (a join storm overflows it: the kernel drops SYNs, clients retry).
"""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from bench.loadgen import BenchError, pin_relay, proc_times, run_queue_seconds

CHANNEL = "#bench"
OPER = ("bench", "bench-oper-password")  # name, password of the [Operator] block
_INSTALL_TIMEOUT = 300.0
_START_TIMEOUT = 10.0
_skip_reason: str | None = None
_checked = False

# {port}, {dir}, {uid} are filled in. Knobs and why (see docs/BENCHMARKS.md, "ngIRCd"):
_CONFIG = """\
[Global]
Name = bench.invalid
Info = SocketChat benchmark peer
AdminInfo1 = benchmark
AdminEMail = nobody@bench.invalid
Listen = 127.0.0.1
Ports = {port}
# No MOTD, no help text, no PID file (all would be files outside the temporary directory).
MotdFile = {dir}/no-motd
MotdPhrase =
HelpFile =
PidFile =
{uid}
[Limits]
# No cap on connections in total or per address (every member comes from 127.0.0.1).
MaxConnections = 0
MaxConnectionsIP = 0
# Any number of channels per member (the benchmark uses one).
MaxJoins = 0
# Penalties ("flood protection"): 0 turns them off. Without it a client that sends more than
# 3 commands in one pass, or 256 bytes in a second, is not read for a second.
MaxPenaltyTime = 0
# Idle members are not pinged (or dropped) during a run.
PingTimeout = 3600
PongTimeout = 3600
MaxNickLength = 16
[Options]
# No DNS, IDENT or PAM lookups on connect; no include directory outside this one.
DNS = no
Ident = no
PAM = no
IncludeDir = {dir}/conf.d
[Operator]
Name = {oper}
Password = {password}
[Channel]
Name = {channel}
Modes = +P
"""


def available() -> str | None:
    """None if ngIRCd can run here (installing it if needed), else why its rows are skipped."""
    global _skip_reason, _checked
    if _checked:
        return _skip_reason
    _checked = True
    if _binary() is None:
        _install()
    if _binary() is None:
        _skip_reason = "skipped: ngircd not installed"
    return _skip_reason


def _binary() -> str | None:
    return shutil.which("ngircd") or next(
        (p for p in ("/usr/sbin/ngircd", "/usr/local/sbin/ngircd") if os.access(p, os.X_OK)), None
    )


def _install() -> None:
    """``apt-get install -y ngircd`` as root, bounded; one ``apt-get update`` and retry if the
    first attempt fails (a fresh machine may have no package lists yet)."""
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    deadline = time.monotonic() + _INSTALL_TIMEOUT
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", "ngircd"]
    for command in (install, ["apt-get", "update", "-q"], install):
        left = deadline - time.monotonic()
        if left <= 0 or _binary() is not None:
            return
        print(f"  ngIRCd: {' '.join(command)}", flush=True)
        with contextlib.suppress(subprocess.TimeoutExpired, OSError):
            subprocess.run(
                command,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                timeout=left,
                check=False,
            )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _lift_nofile() -> None:  # runs in the child before exec
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class NgircdProcess:
    """``ngircd --nodaemon --passive`` in a child process, pinned to the relay's core.

    Unprivileged it runs as the caller; as root the configuration makes it drop to
    nobody/nogroup (65534) once its port is open. It writes nothing outside ``tmp``: its log
    (stdout and stderr) goes to ``tmp/ngircd-<port>/log``.
    """

    kind = "ngircd"

    def __init__(self, tmp: str) -> None:
        binary = _binary()
        if binary is None:
            raise BenchError("ngircd is not installed")
        self.proc: subprocess.Popen[bytes] | None = None
        for _attempt in range(3):  # the free port may be taken between probe and bind
            self.port = _free_port()
            self.dir = Path(tmp) / f"ngircd-{self.port}"
            (self.dir / "conf.d").mkdir(parents=True, exist_ok=True)
            conf = self.dir / "ngircd.conf"
            root = os.geteuid() == 0
            conf.write_text(
                _CONFIG.format(
                    port=self.port,
                    dir=self.dir,
                    uid="ServerUID = 65534\nServerGID = 65534" if root else "",
                    oper=OPER[0],
                    password=OPER[1],
                    channel=CHANNEL,
                ),
                encoding="ascii",
            )
            with open(self.dir / "log", "wb") as log:
                self.proc = subprocess.Popen(
                    [binary, "--nodaemon", "--passive", "--config", str(conf)],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    preexec_fn=_lift_nofile,  # the load generator is single-threaded
                    cwd=self.dir,
                )
            pin_relay(self.proc.pid)
            if self._wait_listening():
                return
            self.close()
        raise BenchError(f"ngircd did not start; its log: {self._log_tail()}")

    def _wait_listening(self) -> bool:
        deadline = time.monotonic() + _START_TIMEOUT
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                return False
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=1),
            ):
                return True
            time.sleep(0.05)
        return False

    def _log_tail(self) -> str:
        with contextlib.suppress(OSError):
            return (self.dir / "log").read_text(errors="replace")[-500:]
        return "(no log)"

    def stats(self) -> dict[str, float]:
        """ngIRCd's CPU seconds so far, RSS bytes, open sockets but the listener, and seconds
        spent waiting for a CPU (as :meth:`bench.loadgen.RelayProcess.stats`).

        CPU is the scheduler's on-CPU time from ``/proc/<pid>/schedstat`` (nanoseconds; what
        ``getrusage`` splits into user and system time for the Python relays), or
        ``utime + stime`` from ``/proc/<pid>/stat`` (clock ticks) where that file is missing.
        RSS is ``VmRSS`` from ``/proc/<pid>/status``, as the Python relays read their own.
        """
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise BenchError(f"ngircd exited (status {self.proc.returncode}): {self._log_tail()}")
        proc = Path(f"/proc/{self.proc.pid}")
        try:
            cpu = int((proc / "schedstat").read_text().split()[0]) / 1e9
        except (OSError, ValueError, IndexError):
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        rss = 0
        for line in (proc / "status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) * 1024
                break
        sockets = 0
        for fd in (proc / "fd").iterdir():
            with contextlib.suppress(OSError):
                sockets += os.readlink(fd).startswith("socket:")
        return {
            "cpu": cpu,
            "rss": rss,
            "connections": max(0, sockets - 1),
            "wait": run_queue_seconds(self.proc.pid),
        }

    def times(self) -> tuple[float, float]:
        """CPU seconds and run-queue wait (as :meth:`bench.loadgen.RelayProcess.times`)."""
        assert self.proc is not None
        cpu, wait = proc_times(self.proc.pid)
        return (cpu, wait) if cpu else (self.stats()["cpu"], 0.0)

    def close(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self) -> NgircdProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
