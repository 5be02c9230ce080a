"""Replies, file offers and private messages in the device's archive, across a restart.

The archive keeps what was shown — for a private message, the content inside its box and who
the other person is — sealed at rest, so that reopening the app shows the private
conversations and replies again, search finds their texts, and exports say what they were
without ever writing a file's key. Its outbox keeps what is sealed (the private box itself), so
a message typed before quitting goes out after the restart as the same bytes, once. Real relay
on 127.0.0.1, real archive files read back through an Archive of the test's own.
"""

from __future__ import annotations

import functools
import json
import os
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from crypto.identity import Identity
from net import proto
from net.client import events as ce
from net.client.archive import Archive
from net.client.export import ExportFormat, export
from net.client.trust import TrustStore
from net.proto import ContentType, PendingMessage
from tests.net.client.test_delivery import _sync
from tests.net.client_support import is_ as _is
from tests.net.relay.support import wait_until


@pytest.fixture
def key() -> bytes:
    return os.urandom(32)


@pytest.fixture
def history(tmp_path: Path) -> Path:
    return tmp_path / "device" / "history.sqlite3"


def _opener(history: Path, key: bytes):
    return functools.partial(Archive.open, history, key)


def _offer() -> proto.FileOffer:
    return proto.FileOffer(
        file_id=os.urandom(16),
        file_key=os.urandom(32),
        size=2_500_000,
        sha256=os.urandom(32),
        name="minutes.pdf",
        media_type="application/pdf",
    )


def _send_offer(client, offer: proto.FileOffer) -> PendingMessage:
    message = PendingMessage(
        text=offer.name,
        message_id=os.urandom(16),
        timestamp_ms=int(time.time() * 1000),
        content_type=ContentType.FILE.value,
        body=proto.encode_file_offer(offer),
    )
    return client._queue(message)  # what the transfers send once the file is stored


def test_replies_files_and_private_messages_are_kept_and_shown_again_after_a_restart(
    relay, proxy, clients, room_keys, history, key, tmp_path
):
    room = room_keys.room_id
    identity = Identity.generate()

    def alice_client(port: int):
        return clients(
            port,
            "alice",
            keys=room_keys,
            identity=identity,
            room_id=room,
            trust=TrustStore(tmp_path / "trust.json"),
            archive=_opener(history, key),
        )

    alice, alice_events = alice_client(proxy.port)
    alice_events.wait_for(_is(ce.Joined))
    bob, bob_events = clients(relay.port, "bob", keys=room_keys)
    bob_events.wait_for(_is(ce.Joined))
    carol, carol_events = clients(relay.port, "carol", keys=room_keys)
    carol_events.wait_for(_is(ce.Joined, members=("alice", "bob", "carol")))
    for events in (alice_events, bob_events):
        events.wait_for(lambda e: isinstance(e, ce.MemberJoined) and e.name == "carol")
    bob_key = bob.identity.signing_public

    original = bob.send("the agenda is attached")
    alice_events.wait_for(_is(ce.MessageReceived, message_id=original.message_id))
    quote = ce.ReplyTo(message_id=original.message_id, sender="bob", excerpt=original.text)
    answer = alice.send("thanks, reading it", reply_to=quote)
    offer = _offer()
    offered = _send_offer(bob, offer)
    to_alice = bob.send_private(
        identity.signing_public, "secret for alice, about the agenda", reply_to=quote
    )
    to_bob = alice.send_private(bob_key, "secret for bob")
    between_others = carol.send_private(bob_key, "secret between bob and carol")
    for message in (answer, offered, to_alice, to_bob, between_others):
        bob_events.wait_for(_is(ce.MessageReceived, message_id=message.message_id))
    _sync(carol, carol_events, alice_events, bob_events)

    proxy.lose_to_relay()
    waiting = alice.send_private(bob_key, "typed before quitting", reply_to=quote)
    alice.close()
    assert alice_events.wait_for(_is(ce.NotSent)).messages == (waiting,)

    with Archive.open(history, key) as archive:
        kept = {m.message_id: m for m in archive.latest(room, 100)}
        assert [m.message_id for m in archive.outgoing(room)] == [waiting.message_id]
        outgoing = archive.outgoing(room)[0]
        assert (outgoing.content_type, outgoing.body) == (waiting.content_type, waiting.body)
        found = {m.message_id for m in archive.search("secret", room_id=room)}
        assert found == {to_alice.message_id, to_bob.message_id}
        assert {m.message_id for m in archive.search("READING")} == {answer.message_id}
        assert {m.message_id for m in archive.search("minutes")} == {offered.message_id}
    assert between_others.message_id not in kept  # never shown here, so never kept
    assert kept[answer.message_id].content == ce.ReplyContent(
        reply_to=quote, text="thanks, reading it"
    )
    assert kept[answer.message_id].private_with is None
    assert kept[offered.message_id].content == ce.FileContent(offer=offer)
    assert kept[offered.message_id].text == "minutes.pdf"
    mine = kept[to_bob.message_id]
    assert (mine.own, mine.private_with, mine.private_name) == (True, bob_key, "bob")
    assert mine.content == ce.TextContent(text="secret for bob")
    assert mine.content_type == "text/plain" and mine.body == b""  # the box is not kept
    theirs = kept[to_alice.message_id]
    assert (theirs.own, theirs.private_with, theirs.private_name) == (False, bob_key, "bob")
    assert theirs.content == ce.ReplyContent(
        reply_to=quote, text="secret for alice, about the agenda"
    )

    # The exports say what each was, and never hold the file's key.
    stamp = datetime(2026, 11, 30, tzinfo=timezone.utc)
    messages = sorted(kept.values(), key=lambda m: m.position or 0)
    written = {}
    for fmt in ExportFormat:
        out = tmp_path / f"room.{fmt.value}"
        export(messages, room_label="team", fmt=fmt, out=out, now=stamp)
        written[fmt] = out.read_text(encoding="utf-8")
        assert offer.file_key.hex() not in written[fmt]
        assert offer.file_key.hex().upper() not in written[fmt]
    text = written[ExportFormat.TEXT].splitlines()
    assert "    > bob: the agenda is attached" in text
    assert any(line.endswith("] alice (private, to bob): secret for bob") for line in text)
    assert any(line.endswith("] bob (private, to you):") for line in text)
    assert any(line.endswith("] bob: (file: minutes.pdf, 2.5 MB)") for line in text)
    document = json.loads(written[ExportFormat.JSON])
    by_id = {bytes.fromhex(m["id"]): m for m in document["messages"]}
    assert by_id[answer.message_id]["reply_to"] == {
        "id": original.message_id.hex(),
        "sender": "bob",
        "excerpt": "the agenda is attached",
    }
    assert by_id[offered.message_id]["file"] == {
        "name": "minutes.pdf",
        "size": 2_500_000,
        "media_type": "application/pdf",
    }
    assert by_id[to_bob.message_id]["private"] == {
        "with": bob_key.hex(),
        "name": "bob",
        "to_you": False,
    }
    assert by_id[to_alice.message_id]["private"]["to_you"] is True

    # The next run sends what was kept: the same box, once, still private.
    proxy.lose_to_relay(False)
    again, again_events = alice_client(relay.port)
    restored = again_events.wait_for(_is(ce.OutboxRestored))
    assert restored.messages == (waiting,)
    assert again.content_of(waiting) == ce.SentContent(
        content=ce.ReplyContent(reply_to=quote, text="typed before quitting"),
        private_with=bob_key,
        private_name="bob",
    )
    got = bob_events.wait_for(_is(ce.MessageReceived, message_id=waiting.message_id))
    assert got.private_with == identity.signing_public
    assert got.content == ce.ReplyContent(reply_to=quote, text="typed before quitting")
    _sync(bob, bob_events, again_events, carol_events, text="after the restart")
    # carol is told nothing of it (at most a placeholder while the new sender key was on its
    # way, when the resend went out right after the restart, and then that the placeholder
    # goes): never a message, never a warning.
    about = [e for e in carol_events.events if getattr(e, "message_id", b"") == got.message_id]
    assert about[-1] == ce.MessageHidden(message_id=got.message_id), about
    assert all(isinstance(e, ce.MessageLocked) for e in about[:-1]), about
    assert [m for m in bob_events.of(ce.MessageReceived) if m.message_id == got.message_id] == [got]
    wait_until(lambda: _outgoing(history, key, room) == [], what="the outbox emptied")


def _outgoing(history: Path, key: bytes, room: bytes) -> list[bytes]:
    with Archive.open(history, key) as archive:
        return [m.message_id for m in archive.outgoing(room)]
