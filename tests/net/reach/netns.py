"""Network namespaces for tests: created, used through ``ip netns exec``, always deleted.

A :class:`Lab` owns every namespace, veth pair and process it makes; :meth:`Lab.close` (called
from a fixture's ``finally``) ends those processes by their own ids, kills whatever still runs
inside its namespaces, and deletes the namespaces, which takes their veth ends with them.
Names carry a random suffix so two runs on one machine cannot collide.

Nothing in here reaches outside the namespaces it made: they have no link to the machine's
own network, and every process a test starts runs inside one of them.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import secrets
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]
TIMEOUT = 30.0


def missing_requirements(*tools: str) -> str | None:
    """Why namespace tests cannot run here (a sentence), or None if they can."""
    if not sys.platform.startswith("linux"):
        return "network namespaces are Linux-only"
    if os.geteuid() != 0:
        return "network namespaces need root"
    for tool in ("ip", *tools):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (CI installs it: see .ci/run)"
    probe = f"scprobe{secrets.token_hex(3)}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if made.returncode != 0:
        return f"cannot create a network namespace: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


class Process:
    """A process started in a namespace; its stdout read line by line in a thread."""

    def __init__(self, popen: subprocess.Popen[str], what: str) -> None:
        self.popen = popen
        self.what = what
        self.lines: queue.SimpleQueue[str] = queue.SimpleQueue()
        self.seen: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_line(self, match: Any, timeout: float = TIMEOUT) -> str:
        """The next line for which ``match(line)`` is true (earlier lines are kept in
        ``seen``); AssertionError with everything seen after ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{self.what}: nothing matched; saw {self.seen!r}")
            try:
                line = self.lines.get(timeout=remaining)
            except queue.Empty:
                continue
            self.seen.append(line)
            if match(line):
                return line

    def wait_event(self, name: str, timeout: float = TIMEOUT) -> dict[str, Any]:
        """The next JSON line whose "event" is ``name`` (the helper's output format)."""

        def matches(line: str) -> bool:
            try:
                return bool(json.loads(line).get("event") == name)
            except ValueError:
                return False

        return dict(json.loads(self.wait_line(matches, timeout)))

    def send(self, line: str) -> None:
        assert self.popen.stdin is not None
        self.popen.stdin.write(line + "\n")
        self.popen.stdin.flush()

    def stop(self, timeout: float = 10.0) -> None:
        """Terminate (SIGTERM), then kill if it does not end in ``timeout``."""
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout)
        for stream in (self.popen.stdin, self.popen.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()


class Lab:
    """Namespaces joined by veth pairs. Use as a context manager, or call :meth:`close`."""

    def __init__(self) -> None:
        self.tag = secrets.token_hex(3)
        self.namespaces: list[str] = []
        self.links: list[str] = []  # veth names created in the root namespace
        self.processes: list[Process] = []

    def namespace(self, role: str) -> str:
        name = f"sc{self.tag}-{role}"
        self._ip("netns", "add", name)
        self.namespaces.append(name)
        self.run(name, "ip", "link", "set", "lo", "up")
        return name

    def link(self, left: tuple[str, str, str], right: tuple[str, str, str]) -> None:
        """A veth pair: each side (namespace, interface name, address/prefix), up, with
        multicast on (mDNS needs it)."""
        a, b = f"sc{self.tag}a{len(self.links)}", f"sc{self.tag}b{len(self.links)}"
        self._ip("link", "add", a, "type", "veth", "peer", "name", b)
        self.links += [a, b]
        for temporary, (namespace, name, address) in ((a, left), (b, right)):
            self._ip("link", "set", temporary, "netns", namespace)
            self._ip("-n", namespace, "link", "set", temporary, "name", name)
            self._ip("-n", namespace, "addr", "add", address, "dev", name)
            self._ip("-n", namespace, "link", "set", name, "up", "multicast", "on")

    def run(self, namespace: str, *command: str, check: bool = True) -> str:
        result = subprocess.run(
            ["ip", "netns", "exec", namespace, *command],
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} in {namespace}: {result.stderr.strip()}")
        return result.stdout

    def start(self, namespace: str, *command: str, what: str = "") -> Process:
        """Start ``command`` in ``namespace`` (stdin and stdout piped, stderr to stdout)."""
        env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
        popen = subprocess.Popen(
            ["ip", "netns", "exec", namespace, *command],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=ROOT,
            env=env,
        )
        process = Process(popen, what or " ".join(command[:3]))
        self.processes.append(process)
        return process

    def helper(self, namespace: str, *args: str) -> Process:
        """``python -m tests.net.reach.ns_helper ARGS`` in ``namespace``."""
        return self.start(
            namespace, sys.executable, "-m", "tests.net.reach.ns_helper", *args, what=args[0]
        )

    def close(self) -> None:
        for process in self.processes:
            with contextlib.suppress(Exception):
                process.stop()
        for namespace in self.namespaces:
            pids = subprocess.run(
                ["ip", "netns", "pids", namespace], capture_output=True, text=True
            )
            for pid in pids.stdout.split():
                with contextlib.suppress(ProcessLookupError, ValueError):
                    os.kill(int(pid), 9)
            subprocess.run(["ip", "netns", "del", namespace], capture_output=True)
        for link in self.links:  # only left if a move into a namespace failed
            subprocess.run(["ip", "link", "del", link], capture_output=True)
        self.namespaces, self.links, self.processes = [], [], []

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _ip(self, *args: str) -> None:
        result = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=TIMEOUT)
        if result.returncode != 0:
            raise RuntimeError(f"ip {' '.join(args)}: {result.stderr.strip()}")
