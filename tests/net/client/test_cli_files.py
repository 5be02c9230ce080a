"""The terminal client's /send, /files and /save, with the real client library and a real relay.

A TerminalChat (its input a pipe, its output collected) beside a library client; the other
member's file names are hostile: they are printed escaped and saved only as
``filenames.safe_name`` makes them, inside the chosen folder, never over a file.
"""

from __future__ import annotations

import io
import os
import re
import threading
import time
from pathlib import Path

import pytest

from crypto.identity import Identity
from net.client import ChatClient, _transfer_upload
from net.client import events as ce
from net.client.cli import TerminalChat, _Printer
from net.client.cli_files import TerminalFiles
from tests.net.client_support import CHEAP
from tests.net.client_support import is_ as _is
from tests.net.helpers import PASSWORD
from tests.net.relay.support import wait_until


class _Terminal:
    """``main.py chat`` as alice: a TerminalChat with the real client, input from a pipe."""

    def __init__(self, port: int) -> None:
        self.out = io.StringIO()
        self.chat = TerminalChat(
            host="127.0.0.1",
            port=port,
            username="alice",
            password=PASSWORD,
            printer=_Printer(self.out, is_terminal=False),
            identity=Identity.generate(),
            client_factory=lambda **kw: ChatClient(kdf_cost=CHEAP, **kw),
        )
        read, write = os.pipe()
        self._stdin = open(read, encoding="utf-8")  # noqa: SIM115 - closed by end()
        self._typed = open(write, "w", encoding="utf-8")  # noqa: SIM115
        self.status: list[int] = []
        self._thread = threading.Thread(
            target=lambda: self.status.append(self.chat.run(self._stdin)), daemon=True
        )
        self._thread.start()

    def type(self, line: str) -> None:
        self._typed.write(line + "\n")
        self._typed.flush()

    def lines(self) -> list[str]:
        return self.out.getvalue().splitlines()

    def wait_line(self, pattern: str) -> str:
        regex = re.compile(pattern)
        wait_until(lambda: any(regex.search(line) for line in self.lines()), what=pattern)
        return next(line for line in self.lines() if regex.search(line))

    def end(self) -> list[int]:
        self._typed.close()
        self._thread.join(timeout=30)
        self._stdin.close()
        return self.status


@pytest.fixture
def terminal(relay):
    started: list[_Terminal] = []

    def start() -> _Terminal:
        term = _Terminal(relay.port)
        started.append(term)
        term.wait_line(r"^\* joined the room")
        return term

    yield start
    for term in started:
        term.chat.client.close()


def _offer(events) -> ce.MessageReceived:
    return events.wait_for(
        lambda e: isinstance(e, ce.MessageReceived) and isinstance(e.content, ce.FileContent)
    )


def test_send_uploads_the_file_and_offers_it_to_the_room(
    relay, clients, room_keys, terminal, tmp_path
):
    alice = terminal()
    bob, bob_events = clients(relay.port, "bob", keys=room_keys)
    bob_events.wait_for(_is(ce.Joined))
    alice.wait_line(r"^\* bob joined")  # so the offer is sealed for bob too
    data = os.urandom(3_000_000)
    (tmp_path / "holiday photos.zip").write_bytes(data)
    alice.type(f"/send {tmp_path / 'holiday photos.zip'}")
    alice.wait_line(r"^\* sending holiday photos\.zip \(3\.0 MB\)$")
    alice.wait_line(r"^\* holiday photos\.zip is on the relay; offering it to the room$")
    alice.wait_line(
        r"^\d\d:\d\d alice \(you\) sent a file: holiday photos\.zip \(3\.0 MB\) — /save 1$"
    )
    offer = _offer(bob_events)
    dest = tmp_path / "got.zip"
    transfer = bob.download(offer.message_id, dest)
    bob_events.wait_for(_is(ce.TransferFinished, transfer_id=transfer))
    assert dest.read_bytes() == data
    alice.type(f"/send {tmp_path / 'nothing here'}")
    alice.wait_line(r"^! not sent: There is no file named nothing here\.$")
    alice.type("/send")
    alice.wait_line(r"^! files: /send PATH")
    assert alice.end() == [0]


def test_input_that_ends_after_send_waits_for_the_upload_and_its_offer(
    relay, clients, room_keys, terminal, tmp_path
):
    alice = terminal()
    _bob, bob_events = clients(relay.port, "bob", keys=room_keys)
    bob_events.wait_for(_is(ce.Joined))
    alice.wait_line(r"^\* bob joined")  # so the offer is sealed for bob too
    (tmp_path / "last.bin").write_bytes(os.urandom(2_000_000))
    (tmp_path / "empty.txt").write_bytes(b"")  # done before send_file has even returned
    alice.type(f"/send {tmp_path / 'last.bin'}")
    alice.type(f"/send {tmp_path / 'empty.txt'}")
    started = time.monotonic()
    assert alice.end() == [0]  # left only once both offers were stored
    assert time.monotonic() - started < 30  # not the minute a silent transfer is given
    names = {_offer(bob_events).content.offer.name}
    names.add(
        bob_events.wait_for(
            lambda e: (
                isinstance(e, ce.MessageReceived)
                and isinstance(e.content, ce.FileContent)
                and e.content.offer.name not in names
            )
        ).content.offer.name
    )
    assert names == {"last.bin", "empty.txt"}
    assert "* empty.txt is on the relay; offering it to the room" in alice.lines()


def test_a_hostile_name_is_shown_escaped_and_saved_inside_the_folder_never_over_a_file(
    relay, clients, room_keys, terminal, tmp_path, monkeypatch
):
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    monkeypatch.chdir(downloads)  # /save's default folder
    alice = terminal()
    bob, bob_events = clients(relay.port, "bob", keys=room_keys)
    bob_events.wait_for(_is(ce.Joined))
    alice.wait_line(r"^\* bob joined")  # so the offer is sealed for bob too
    # bob's client offers the file under a name that climbs out of the folder, hides its
    # extension behind a right-to-left override and is a shell script.
    hostile = "../../\u202etxt.sh"
    monkeypatch.setattr(_transfer_upload, "safe_name", lambda name: hostile)
    data = b"#!/bin/sh\necho pwned\n"
    (tmp_path / "script").write_bytes(data)
    sent = bob.send_file(tmp_path / "script")
    bob_events.wait_for(_is(ce.TransferFinished, transfer_id=sent))
    line = alice.wait_line(r"bob sent a file: ")
    assert line.endswith(r"bob sent a file: ../../\u202etxt.sh (21 bytes) — /save 1")
    assert "\u202e" not in alice.out.getvalue()

    alice.type("/save 1")
    alice.wait_line(r"^! txt\.sh is a program or script \(application/octet-stream\): ")
    alice.wait_line(r"^\* saved txt\.sh to " + re.escape(str(downloads / "txt.sh")) + "$")
    alice.type("/save 1")  # again: a free name, never over the first
    alice.wait_line(r"^\* saved txt \(2\)\.sh to ")
    (downloads / "sub").mkdir()
    alice.type("/save 1 sub")
    alice.wait_line(r"^\* saved txt\.sh to .*sub/txt\.sh$")
    alice.type(f"/save 1 {downloads / 'txt.sh'}")
    alice.wait_line(r"^! not saved: .*exists already")
    alice.type("/save 7")
    alice.wait_line(r"^! no file number 7: /files lists them")
    alice.type("/files")
    alice.wait_line(r"^\* /save 1: bob, \.\./\.\./\\u202etxt\.sh \(21 bytes\) \[saved to ")
    assert alice.end() == [0]

    saved = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert saved == ["downloads/sub/txt.sh", "downloads/txt (2).sh", "downloads/txt.sh", "script"]
    for path in (downloads / "txt.sh", downloads / "txt (2).sh", downloads / "sub" / "txt.sh"):
        assert path.read_bytes() == data
        assert not path.stat().st_mode & 0o111  # saved, never made executable or run


def test_a_transfer_that_ends_before_its_start_returns_is_still_said_and_not_awaited(tmp_path):
    said: list[str] = []
    files: TerminalFiles

    class Quick:
        """send_file whose transfer's last event comes (from the worker) before it returns."""

        def send_file(self, path: Path) -> bytes:
            event = ce.TransferFinished(
                transfer_id=b"t" * 16, message_id=b"m" * 16, name=path.name, path=path, upload=True
            )
            line = files.describe(event)
            assert line is None  # not followed yet: its start will say it
            return b"t" * 16

    files = TerminalFiles(Quick(), said.append)
    (tmp_path / "a.txt").write_bytes(b"x")
    assert files.command("send", str(tmp_path / "a.txt"))
    assert said == ["* sending a.txt (1 byte)", "* a.txt is on the relay; offering it to the room"]
    stopped = threading.Event()
    started = time.monotonic()
    files.wait_done(stopped, stall=5)
    assert time.monotonic() - started < 1  # nothing left to wait for


def test_progress_lines_leave_out_the_start_and_the_end(tmp_path):
    said: list[str] = []
    transfer = b"t" * 16

    class Slow:
        def send_file(self, path: Path) -> bytes:
            return transfer

    now = [100.0]
    files = TerminalFiles(Slow(), said.append, clock=lambda: now[0])
    (tmp_path / "big.bin").write_bytes(b"x" * 10)
    assert files.command("send", str(tmp_path / "big.bin"))

    def progress(done: int) -> str | None:
        now[0] += 5  # past the pace: only the amounts decide
        event = ce.TransferProgress(
            transfer_id=transfer,
            message_id=b"m" * 16,
            name="big.bin",
            done_bytes=done,
            total_bytes=10,
            upload=True,
        )
        return files.describe(event)

    assert progress(0) is None  # "sending big.bin (10 bytes)" said it
    assert progress(5) == "* sending big.bin: 50% (5 bytes of 10 bytes)"
    assert progress(10) is None  # "… is on the relay" says it
