"""net.client.archive with replies, file offers and private messages: what a row keeps of them,
the bounds of the new fields, and files written before they existed (row and outbox format
version 1), which must still read."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from crypto.aead import seal_random
from crypto.kdf import derive
from net import proto
from net.client import events as ce
from net.client._archive_rows import message_aad, outbox_aad
from net.client.archive import MAX_TEXT_BYTES, Archive, OutgoingMessage, StoredMessage
from net.client.content import reply_body

KEY = bytes(range(32))
ROOM = b"A" * 16
BASE_MS = 1_790_000_000_000
PEER = b"\x09" * 32
QUOTE = ce.ReplyTo(message_id=b"\x01" * 16, sender="bob", excerpt="the start of it")
OFFER = proto.FileOffer(
    file_id=b"\x02" * 16,
    file_key=b"\x03" * 32,
    size=12_345,
    sha256=b"\x04" * 32,
    name="notes.txt",
    media_type="text/plain",
)


def mid(number: int) -> bytes:
    return number.to_bytes(16, "big")


def msg(number: int, **fields: object) -> StoredMessage:
    values: dict[str, object] = {
        "room_id": ROOM,
        "message_id": mid(number),
        "position": number,
        "sender": "alice",
        "signing_key": b"\x07" * 32,
        "timestamp_ms": BASE_MS + number * 1000,
        "text": f"message {number}",
        "own": False,
    }
    values.update(fields)
    return StoredMessage(**values)  # type: ignore[arg-type]


KINDS = [
    msg(1, text="plain"),
    msg(
        2,
        text="an answer",
        content_type=proto.ContentType.REPLY.value,
        body=reply_body(QUOTE, "an answer"),
    ),
    msg(
        3,
        text="notes.txt",
        content_type=proto.ContentType.FILE.value,
        body=proto.encode_file_offer(OFFER),
    ),
    msg(4, text="between us", private_with=PEER, private_name="bob", own=True),
    msg(
        5,
        sender="bob",
        signing_key=PEER,
        text="a private answer",
        content_type=proto.ContentType.REPLY.value,
        body=reply_body(QUOTE, "a private answer"),
        private_with=PEER,
        private_name="bob",
    ),
    msg(6, text="", content_type="application/x-later", body=b"\x00kept as it came"),
]


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "history" / "archive.db"


def test_every_kind_of_message_is_kept_whole_and_reads_its_content_back(path):
    with Archive.open(path, KEY) as archive:
        archive.add(KINDS)
    with Archive.open(path, KEY) as archive:
        kept = archive.latest(ROOM)
        assert kept == KINDS
        assert [m.content for m in kept] == [
            ce.TextContent(text="plain"),
            ce.ReplyContent(reply_to=QUOTE, text="an answer"),
            ce.FileContent(offer=OFFER),
            ce.TextContent(text="between us"),
            ce.ReplyContent(reply_to=QUOTE, text="a private answer"),
            ce.UnknownContent(content_type="application/x-later"),
        ]
        # Search looks through what people read: replies' and private messages' texts, and
        # file names.
        assert [m.message_id for m in archive.search("ANSWER")] == [mid(5), mid(2)]
        assert [m.message_id for m in archive.search("between")] == [mid(4)]
        assert [m.message_id for m in archive.search("notes")] == [mid(3)]
    with sqlite3.connect(path) as db:
        sealed = b"".join(row[0] for row in db.execute("SELECT body FROM messages"))
    for secret in (b"between us", OFFER.file_key, b"the start of it", PEER, b"notes.txt"):
        assert secret not in sealed  # sealed at rest, the file's key among them


@pytest.mark.parametrize(
    "fields",
    [
        {"private_with": b""},
        {"private_with": b"k" * 31},
        {"private_with": b"k" * 33},
        {"private_with": "not bytes" * 4},
        {"private_name": "n" * 256},
        {"private_name": "lone \ud800"},
        {"body": b"b" * (MAX_TEXT_BYTES + 1)},
        {"body": "not bytes"},
    ],
)
def test_out_of_bounds_content_fields_store_nothing(path, fields):
    with Archive.open(path, KEY) as archive:
        with pytest.raises(ValueError):
            archive.add([msg(1), msg(2, **fields)])
        assert archive.latest(ROOM) == []


def test_a_row_whose_body_no_longer_parses_reads_as_a_type_it_cannot_show():
    broken = msg(1, content_type=proto.ContentType.REPLY.value, body=b"short", text="x")
    assert broken.content == ce.UnknownContent(content_type=proto.ContentType.REPLY.value)


def test_the_outbox_keeps_what_is_sealed(path):
    box = os.urandom(300)
    with Archive.open(path, KEY) as archive:
        archive.queue_outgoing(ROOM, mid(1), "plain", BASE_MS)
        archive.queue_outgoing(
            ROOM,
            mid(2),
            "private",
            BASE_MS + 1,
            content_type=proto.ContentType.PRIVATE.value,
            body=box,
        )
        with pytest.raises(ValueError):
            archive.queue_outgoing(ROOM, mid(3), "x", 1, body=b"b" * (MAX_TEXT_BYTES + 1))
        with pytest.raises(ValueError):
            archive.queue_outgoing(ROOM, mid(3), "x", 1, content_type="t" * 256)
    with Archive.open(path, KEY) as archive:
        assert archive.outgoing(ROOM) == [
            OutgoingMessage(ROOM, mid(1), "plain", BASE_MS),
            OutgoingMessage(
                ROOM, mid(2), "private", BASE_MS + 1, "application/vnd.socketchat.private", box
            ),
        ]
    with sqlite3.connect(path) as db:
        assert not any(box[:32] in row[0] for row in db.execute("SELECT body FROM outbox"))


def _v1_message(key: bytes, number: int, text: str, content_type: str = "text/plain") -> tuple:
    """A message row as the archive wrote it before version 2 (text only)."""
    sender, signing = b"carol", b"\x05" * 32
    plain = b"".join(
        (
            bytes((1, len(sender))),
            sender,
            bytes((len(signing),)),
            signing,
            bytes((len(content_type),)),
            content_type.encode(),
            text.encode("utf-8"),
        )
    )
    timestamp = BASE_MS + number
    aad = message_aad(ROOM, mid(number), timestamp, False)
    return (ROOM, mid(number), None, timestamp, 0, seal_random(key, plain, aad=aad))


def test_rows_of_the_first_format_still_read(path):
    with Archive.open(path, KEY) as archive:
        archive.add([msg(1)])  # makes the file
    message_key, outbox_key = derive(KEY, "archive message"), derive(KEY, "archive outbox")
    with sqlite3.connect(path, isolation_level=None) as db:
        db.execute(
            "INSERT INTO messages (room, message_id, position, timestamp_ms, own, body)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            _v1_message(message_key, 7, "written by an older version ✉"),
        )
        aad = outbox_aad(ROOM, mid(8), BASE_MS)
        db.execute(
            "INSERT INTO outbox (room, message_id, created_ms, body) VALUES (?, ?, ?, ?)",
            (ROOM, mid(8), BASE_MS, seal_random(outbox_key, b"\x01typed long ago", aad=aad)),
        )
    with Archive.open(path, KEY) as archive:
        old = next(m for m in archive.latest(ROOM) if m.message_id == mid(7))
        assert (old.sender, old.text, old.content_type) == (
            "carol",
            "written by an older version ✉",
            "text/plain",
        )
        assert (old.body, old.private_with, old.private_name) == (b"", None, "")
        assert old.content == ce.TextContent(text="written by an older version ✉")
        assert archive.outgoing(ROOM) == [OutgoingMessage(ROOM, mid(8), "typed long ago", BASE_MS)]
        assert archive.damaged == 0


def test_a_row_of_an_unknown_version_is_damage(path):
    with Archive.open(path, KEY) as archive:
        archive.add([msg(1)])
    message_key = derive(KEY, "archive message")
    row = list(_v1_message(message_key, 7, "x"))
    plain = b"\x03" + b"\x00" * 20  # a version this app does not know
    row[5] = seal_random(message_key, plain, aad=message_aad(ROOM, mid(7), row[3], False))
    with sqlite3.connect(path, isolation_level=None) as db:
        db.execute(
            "INSERT INTO messages (room, message_id, position, timestamp_ms, own, body)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            row,
        )
    with Archive.open(path, KEY) as archive:
        assert [m.message_id for m in archive.latest(ROOM)] == [mid(1)]
        assert archive.damaged == 1
