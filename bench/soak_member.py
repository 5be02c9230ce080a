"""One soak member as a process of its own (``python -m bench.soak_member``), so it can be killed.

The soak (:mod:`bench.soak`) kills it with SIGKILL and starts it again, as a crash or a power
cut would end the app. It is one device: its identity, trust records and archive (local
history and outbox, under a key kept in a file next to them) live in ``--data``. Each line of
standard input is sent as a message; every event that matters to the soak's ledger is printed
as one JSON line on standard output, flushed:

- ``{"e": "sent", "id": HEX, "text": TEXT}`` once ``send()`` returned (the message is in the
  archive's outbox by then: it must reach the room even if this process is killed next);
- ``{"e": "stored", "id": HEX}`` when the relay confirmed one (MessageStored);
- ``{"e": "recv", "id": HEX, "sender": NAME, "text": TEXT, "position": N}``;
- ``{"e": "restored", "ids": [HEX, ...]}``, ``{"e": "joined"}``, ``{"e": "disconnected"}``;
- ``{"e": "failed", "kind": KIND}`` and then the process exits 4 (the soak starts it again,
  as a person would press Rejoin).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import threading
from pathlib import Path

from net.client import ChatClient, ClientStopped, storage
from net.client import events as ce
from net.client.archive import Archive

EXIT_FAILED = 4

_out_lock = threading.Lock()


def _say(**fields: object) -> None:
    with _out_lock:
        sys.stdout.write(json.dumps(fields) + "\n")
        sys.stdout.flush()


def _on_event(event: ce.ClientEvent, failed: threading.Event) -> None:
    match event:
        case ce.MessageStored(message_id=message_id):
            _say(e="stored", id=message_id.hex())
        case ce.MessageReceived():
            _say(
                e="recv",
                id=event.message_id.hex(),
                sender=event.sender,
                text=event.text,
                position=event.position,
            )
        case ce.OutboxRestored(messages=messages):
            _say(e="restored", ids=[m.message_id.hex() for m in messages])
        case ce.Joined():
            _say(e="joined")
        case ce.Disconnected():
            _say(e="disconnected")
        case ce.Failed(kind=kind):
            _say(e="failed", kind=kind.value)
            failed.set()
        case _:
            pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak_member")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--room", required=True, help="room id, hex")
    parser.add_argument("--password-file", type=Path, required=True)
    parser.add_argument("--data", type=Path, required=True)
    args = parser.parse_args(argv)
    os.environ[storage.ENV_VAR] = str(args.data)
    args.data.mkdir(parents=True, exist_ok=True)
    key_file = args.data / "archive.key"
    if not key_file.exists():
        key_file.write_bytes(os.urandom(32))
    failed = threading.Event()
    client = ChatClient(
        host="127.0.0.1",
        port=args.port,
        username=args.name,
        password=args.password_file.read_text(encoding="utf-8").strip(),
        identity=storage.load_identity(),
        trust=storage.open_trust(),
        room_id=bytes.fromhex(args.room),
        archive=functools.partial(
            Archive.open, args.data / "history.sqlite3", key_file.read_bytes()
        ),
        on_event=lambda event: _on_event(event, failed),
    )
    client.start()

    def read_lines() -> None:
        for line in sys.stdin:
            text = line.rstrip("\n")
            try:
                message = client.send(text)
            except ClientStopped:
                return
            _say(e="sent", id=message.message_id.hex(), text=text)
        failed.set()  # end of input: leave

    threading.Thread(target=read_lines, daemon=True).start()
    failed.wait()
    client.close()
    return EXIT_FAILED if client.stopped and client.stopped.kind is not None else 0


if __name__ == "__main__":
    sys.exit(main())
