"""Replies and private messages with the real client library and a real relay on 127.0.0.1.

A private message is a box (``crypto.private``) carried as an ordinary room message: every
member receives it, only its two people can open it, and it takes the same path as any text —
outbox, acknowledgement, resend with the same id and the same box, history. These tests check
what each member is told (and that the others are told nothing), that a box moved into another
envelope or altered is never shown, that replies carry their quote (a claim), and that the
room's limit counts what is sealed, exactly.
"""

from __future__ import annotations

import os
import time
from dataclasses import replace

import pytest

from crypto.identity import Identity
from crypto.private import seal_private
from net import proto
from net.client import events as ce
from net.client import texts
from net.client.content import PRIVATE_FIXED, REPLY_FIXED, private_size
from net.client.trust import TrustStore
from net.proto import ContentType, PendingMessage
from net.relay import RelayConfig, RelayThread
from tests.net.client.test_delivery import _reconnect_now, _room, _sync
from tests.net.client_support import is_ as _is

LONG = "\n".join(f"line {n}" for n in range(10_000))


def _three(clients, relay, room_keys, **alice_options):
    """alice, bob and carol joined, each knowing the others (events recorded)."""
    alice, alice_events = clients(relay.port, "alice", keys=room_keys, **alice_options)
    alice_events.wait_for(_is(ce.Joined))
    bob, bob_events = clients(relay.port, "bob", keys=room_keys)
    bob_events.wait_for(_is(ce.Joined))
    carol, carol_events = clients(relay.port, "carol", keys=room_keys)
    carol_events.wait_for(_is(ce.Joined, members=("alice", "bob", "carol")))
    for events in (alice_events, bob_events):
        events.wait_for(lambda e: isinstance(e, ce.MemberJoined) and e.name == "carol")
    return (alice, alice_events), (bob, bob_events), (carol, carol_events)


def _about(events, message_id):
    """Every event a member got about ``message_id``."""
    return [e for e in events.events if getattr(e, "message_id", None) == message_id]


def _key(client) -> bytes:
    return client.identity.signing_public


def test_a_private_message_reaches_its_recipient_and_the_senders_echo_and_nobody_else(
    relay, clients, room_keys
):
    (alice, alice_events), (bob, bob_events), (_carol, carol_events) = _three(
        clients, relay, room_keys
    )
    sent = alice.send_private(_key(bob), "just for you, bob")
    assert sent.content_type == ContentType.PRIVATE
    assert sent.text == "just for you, bob"
    # The box is sealed once, exactly as large as the limit check said.
    assert len(sent.body) == private_size("bob", "text/plain", len(b"just for you, bob"))
    assert b"just for you" not in sent.body

    received = bob_events.wait_for(_is(ce.MessageReceived, message_id=sent.message_id))
    assert received.private_with == _key(alice)
    assert received.private_name == "alice"
    assert received.sender == "alice" and not received.own
    assert received.text == "just for you, bob"
    assert received.content == ce.TextContent(text="just for you, bob")

    echo = alice_events.wait_for(_is(ce.MessageReceived, message_id=sent.message_id))
    assert echo.own
    assert echo.private_with == _key(bob)  # the other person, for our own message too
    assert echo.private_name == "bob"
    assert echo.text == "just for you, bob"

    _sync(bob, bob_events, alice_events, carol_events)
    # Nothing to show, not even a warning: only "drop a placeholder if you have one".
    assert _about(carol_events, sent.message_id) == [ce.MessageHidden(message_id=sent.message_id)]
    assert "just for you, bob" not in carol_events.texts()
    # It still took its place in the room: carol counts it (the relay stored it first).
    carol_sync = carol_events.wait_for(_is(ce.MessageReceived, text="sync"))
    bob_sync = bob_events.wait_for(_is(ce.MessageReceived, text="sync"))
    assert carol_sync.position == bob_sync.position == received.position + 1


def test_a_private_reply_and_a_room_reply_carry_their_quote(relay, clients, room_keys):
    (alice, alice_events), (bob, bob_events), (_carol, carol_events) = _three(
        clients, relay, room_keys
    )
    original = bob.send("shall we meet at five?")
    heard = alice_events.wait_for(_is(ce.MessageReceived, message_id=original.message_id))
    quote = ce.ReplyTo(message_id=heard.message_id, sender=heard.sender, excerpt=heard.text)

    answer = alice.send("yes, at the station", reply_to=quote)
    assert answer.content_type == ContentType.REPLY and answer.text == "yes, at the station"
    for events in (bob_events, carol_events):
        reply = events.wait_for(_is(ce.MessageReceived, message_id=answer.message_id))
        assert reply.content == ce.ReplyContent(reply_to=quote, text="yes, at the station")
        assert reply.text == "yes, at the station"
        assert reply.private_with is None

    aside = alice.send_private(_key(bob), "bring the tickets", reply_to=quote)
    private = bob_events.wait_for(_is(ce.MessageReceived, message_id=aside.message_id))
    assert private.content == ce.ReplyContent(reply_to=quote, text="bring the tickets")
    assert private.private_with == _key(alice)
    echo = alice_events.wait_for(_is(ce.MessageReceived, message_id=aside.message_id))
    assert echo.content == private.content and echo.private_with == _key(bob)
    _sync(bob, bob_events, carol_events)
    assert _about(carol_events, aside.message_id) == [ce.MessageHidden(message_id=aside.message_id)]
    # What the sender will see of its own messages before their echo, and after a restart.
    assert alice.content_of(aside) == ce.SentContent(
        content=private.content, private_with=_key(bob), private_name="bob"
    )
    assert alice.content_of(answer) == ce.SentContent(content=reply.content)


def test_a_reply_to_a_message_nobody_holds_shows_what_it_claims(relay, clients, room_keys):
    alice, _alice_events, _bob, bob_events = _two(clients, relay, room_keys)
    claim = ce.ReplyTo(message_id=os.urandom(16), sender="mallory", excerpt="I never said this")
    sent = alice.send("you did", reply_to=claim)
    reply = bob_events.wait_for(_is(ce.MessageReceived, message_id=sent.message_id))
    assert reply.content == ce.ReplyContent(reply_to=claim, text="you did")


def _two(clients, relay, room_keys):
    alice, alice_events = clients(relay.port, "alice", keys=room_keys)
    alice_events.wait_for(_is(ce.Joined))
    bob, bob_events = clients(relay.port, "bob", keys=room_keys)
    bob_events.wait_for(_is(ce.Joined))
    alice_events.wait_for(lambda e: isinstance(e, ce.MemberJoined) and e.name == "bob")
    return alice, alice_events, bob, bob_events


def _raw(client, content_type: str, body: bytes, message_id: bytes | None = None):
    """Queue a message of any content type and body, as another client could send it."""
    message = PendingMessage(
        text="",
        message_id=message_id or os.urandom(16),
        timestamp_ms=int(time.time() * 1000),
        content_type=content_type,
        body=body,
    )
    return client._queue(message)


def test_a_box_moved_into_another_envelope_or_altered_is_never_shown(relay, clients, room_keys):
    (alice, alice_events), (bob, bob_events), (carol, carol_events) = _three(
        clients, relay, room_keys
    )
    genuine = alice.send_private(_key(bob), "the real one")
    bob_events.wait_for(_is(ce.MessageReceived, message_id=genuine.message_id))

    # carol sends alice's box as her own message (she cannot open it, but can copy it).
    moved = _raw(carol, ContentType.PRIVATE, genuine.body)
    # alice's box, in a message with another id than it was sealed for.
    renamed = _raw(alice, ContentType.PRIVATE, genuine.body)
    # A box sealed properly, then one byte of its content altered.
    message_id = os.urandom(16)
    box = seal_private(
        sender=alice.identity,
        recipient_signing=_key(bob),
        recipient_dh=bob.identity.public.dh_public,
        recipient_name="bob",
        room_id=alice.room_id,
        message_id=message_id,
        content_type="text/plain",
        body=b"altered on the way",
    )
    altered = _raw(alice, ContentType.PRIVATE, box[:-1] + bytes([box[-1] ^ 1]), message_id)
    # The commitment altered: the content key no longer matches it.
    message_id = os.urandom(16)
    box = seal_private(
        sender=alice.identity,
        recipient_signing=_key(bob),
        recipient_dh=bob.identity.public.dh_public,
        recipient_name="bob",
        room_id=alice.room_id,
        message_id=message_id,
        content_type="text/plain",
        body=b"committed to another key",
    )
    committed = _raw(alice, ContentType.PRIVATE, box[:170] + bytes([box[170] ^ 1]) + box[171:])
    bad = (moved, renamed, altered, committed)
    for message, sender_events in zip(
        bad, (carol_events, alice_events, alice_events, alice_events), strict=True
    ):
        # Stored and acknowledged like any message: only its content is refused.
        sender_events.wait_for(_is(ce.MessageStored, message_id=message.message_id))
    _sync(carol, carol_events, bob_events, alice_events)
    for message in bad:
        for events in (alice_events, bob_events, carol_events):
            shown = [e for e in _about(events, message.message_id) if not _stored(e)]
            assert shown in ([], [ce.MessageHidden(message_id=message.message_id)])
    first = bob_events.wait_for(_is(ce.MessageReceived, message_id=genuine.message_id))
    after = bob_events.wait_for(_is(ce.MessageReceived, text="sync"))
    assert after.position == first.position + len(bad) + 1  # they were counted, not shown


def _stored(event) -> bool:
    return isinstance(event, ce.MessageStored)


def test_content_that_does_not_parse_is_unreadable_and_unknown_types_say_so(
    relay, clients, room_keys
):
    alice, alice_events, bob, bob_events = _two(clients, relay, room_keys)
    broken = _raw(alice, ContentType.REPLY, b"too short for a reply")
    future = _raw(alice, "application/x-socketchat-poll", b"\x00\x01 anything")
    offer = proto.FileOffer(
        file_id=os.urandom(16),
        file_key=os.urandom(32),
        size=1_500_000,
        sha256=os.urandom(32),
        name="holiday.jpg",
        media_type="image/jpeg",
        width=800,
        height=600,
    )
    offered = _raw(alice, ContentType.FILE, proto.encode_file_offer(offer))
    nested = alice.send_private(_key(bob), "placeholder")  # made into a box in a box below
    box_in_box = seal_private(
        sender=alice.identity,
        recipient_signing=_key(bob),
        recipient_dh=bob.identity.public.dh_public,
        recipient_name="bob",
        room_id=alice.room_id,
        message_id=(inner_id := os.urandom(16)),
        content_type=ContentType.PRIVATE.value,
        body=nested.body,
    )
    nested_twice = _raw(alice, ContentType.PRIVATE, box_in_box, inner_id)

    forged = bob_events.wait_for(_is(ce.ForgedMessage, message_id=broken.message_id))
    assert forged.claimed_sender == "alice" and forged.why == texts.CONTENT_UNREADABLE
    unknown = bob_events.wait_for(_is(ce.MessageReceived, message_id=future.message_id))
    assert unknown.content == ce.UnknownContent(content_type="application/x-socketchat-poll")
    assert unknown.text == ""
    file = bob_events.wait_for(_is(ce.MessageReceived, message_id=offered.message_id))
    assert file.content == ce.FileContent(offer=offer)
    assert file.text == "holiday.jpg"
    bob_events.wait_for(_is(ce.ForgedMessage, message_id=nested_twice.message_id))
    _sync(bob, bob_events, alice_events)
    assert [e for e in bob_events.of(ce.MessageReceived) if e.message_id == broken.message_id] == []


def test_a_private_message_to_someone_unknown_or_before_joining_is_refused_in_words(
    relay, clients, room_keys
):
    early, _early_events = clients(relay.port, "early", keys=room_keys, start=False)
    with pytest.raises(ValueError, match="not in the room yet"):
        early.send_private(os.urandom(32), "hello")
    alice, _alice_events, bob, _bob_events = _two(clients, relay, room_keys)
    with pytest.raises(ValueError, match="does not remember them") as refused:
        alice.send_private(os.urandom(32), "to a stranger")
    assert str(refused.value) == texts.UNKNOWN_PEER
    with pytest.raises(ValueError, match="someone else"):
        alice.send_private(_key(alice), "to myself")
    with pytest.raises(ValueError, match="Type a message"):
        alice.send_private(_key(bob), "   ")
    assert alice.pending() == ()
    assert alice.peer_named("BOB") == _key(bob)  # as the member list shows it, any case
    assert alice.peer_named("nobody") is None


def test_a_private_message_to_a_member_who_is_away_waits_in_the_history_for_them(
    relay, clients, room_keys
):
    trust = TrustStore()  # what alice's device remembers of the room
    alice, alice_events = clients(relay.port, "alice", keys=room_keys, trust=trust)
    alice_events.wait_for(_is(ce.Joined))
    bob_identity = Identity.generate()
    bob, bob_events = clients(relay.port, "bob", keys=room_keys, identity=bob_identity)
    bob_events.wait_for(_is(ce.Joined))
    alice_events.wait_for(lambda e: isinstance(e, ce.MemberJoined) and e.name == "bob")
    bob.close()
    alice_events.wait_for(lambda e: isinstance(e, ce.MemberLeft) and e.name == "bob")

    assert alice.peer_named("bob") == bob_identity.signing_public  # remembered, with its keys
    sent = alice.send_private(bob_identity.signing_public, "while you were away")
    alice_events.wait_for(_is(ce.MessageStored, message_id=sent.message_id))
    echo = alice_events.wait_for(_is(ce.MessageReceived, message_id=sent.message_id))
    assert echo.private_name == "bob"

    _again, again_events = clients(relay.port, "bob", keys=room_keys, identity=bob_identity)
    waiting = again_events.wait_for(_is(ce.MessageReceived, message_id=sent.message_id))
    assert waiting.from_history and waiting.private_with == alice.identity.signing_public
    assert waiting.text == "while you were away"
    _sync(alice, alice_events, again_events)
    shown = [e for e in _about(again_events, sent.message_id) if isinstance(e, ce.MessageReceived)]
    assert shown == [waiting]  # once (a placeholder may come first, until its key arrives)


def test_a_private_message_lost_on_its_way_is_resent_with_the_same_box_and_arrives_once(
    relay, proxy, clients, room_keys
):
    alice, alice_events, bob, bob_events = _room(clients, relay, proxy, room_keys)
    alice_events.wait_for(lambda e: isinstance(e, ce.MemberJoined) and e.name == "bob")
    proxy.lose_to_relay()
    lost = alice.send_private(_key(bob), "through the outage")
    _sync(bob, bob_events, alice_events)
    assert alice.pending() == (lost,)  # the same box, waiting

    proxy.lose_to_relay(False)
    proxy.cut()
    _reconnect_now(relay, alice, alice_events, 1)
    alice_events.wait_for(_is(ce.MessageStored, message_id=lost.message_id))
    got = bob_events.wait_for(_is(ce.MessageReceived, message_id=lost.message_id))
    assert got.private_with == _key(alice) and got.text == "through the outage"
    _sync(bob, bob_events, alice_events, text="after")
    assert (
        len([e for e in bob_events.of(ce.MessageReceived) if e.message_id == got.message_id]) == 1
    )


# -- limits --------------------------------------------------------------------------------------


@pytest.fixture
def small_relay(secret):
    thread = RelayThread(secret, RelayConfig(host="127.0.0.1", port=0, max_message_bytes=1000))
    thread.port = thread.start()
    yield thread
    thread.stop()


def test_the_limit_counts_what_is_sealed_exactly(small_relay, clients, room_keys):
    alice, alice_events, bob, bob_events = _two(clients, small_relay, room_keys)
    assert alice.max_message_bytes == 1000
    quote = ce.ReplyTo(message_id=os.urandom(16), sender="bob", excerpt="q" * 50)
    reply_room = 1000 - REPLY_FIXED - len("bob") - 50
    private_room = 1000 - PRIVATE_FIXED - len("bob") - len("text/plain")
    private_reply_room = (
        1000 - PRIVATE_FIXED - len("bob") - len(ContentType.REPLY.value) - (1000 - reply_room)
    )
    fits = [
        alice.send("x" * 1000),
        alice.send("r" * reply_room, reply_to=quote),
        alice.send_private(_key(bob), "p" * private_room),
        alice.send_private(_key(bob), "s" * private_reply_room, reply_to=quote),
    ]
    with pytest.raises(ValueError, match="limit is 1,000 bytes"):
        alice.send("x" * 1001)
    with pytest.raises(ValueError) as reply_refused:
        alice.send("r" * (reply_room + 1), reply_to=quote)
    assert str(reply_refused.value) == texts.reply_too_long(reply_room + 1, reply_room)
    with pytest.raises(ValueError) as private_refused:
        alice.send_private(_key(bob), "p" * (private_room + 1))
    assert str(private_refused.value) == texts.private_too_long(private_room + 1, private_room)
    with pytest.raises(ValueError, match="private message"):
        alice.send_private(_key(bob), "s" * (private_reply_room + 1), reply_to=quote)
    assert all(len(m.wire_body()) == 1000 for m in fits)  # right at the room's limit
    for message in fits:  # and the relay and everyone took them
        alice_events.wait_for(_is(ce.MessageStored, message_id=message.message_id))
        bob_events.wait_for(_is(ce.MessageReceived, message_id=message.message_id))
    assert alice.pending() == ()


def test_a_reply_to_a_ten_thousand_line_message_quotes_its_start_only(relay, clients, room_keys):
    alice, _alice_events, bob, bob_events = _two(clients, relay, room_keys)
    flood = ce.ReplyTo(message_id=os.urandom(16), sender="m" * 300, excerpt=LONG)
    sent = alice.send("that was long", reply_to=flood)
    assert len(sent.body) <= 4000
    reply = bob_events.wait_for(_is(ce.MessageReceived, message_id=sent.message_id))
    quoted = reply.content.reply_to
    assert len(quoted.excerpt.encode("utf-8")) <= proto.MAX_EXCERPT_BYTES
    assert LONG.startswith(quoted.excerpt) and quoted.excerpt.count("\n") < 50
    assert quoted.sender == "m" * 255  # a name is at most 255 bytes on the wire
    with pytest.raises(ValueError, match="with its quote the limit is") as refused:
        alice.send(LONG, reply_to=flood)
    assert "bytes long" in str(refused.value)
    with pytest.raises(ValueError, match="private message"):
        alice.send_private(_key(bob), LONG, reply_to=flood)
    assert alice.pending() in ((), (sent,))


def test_a_quote_with_a_broken_character_or_a_bad_id_is_refused(relay, clients, room_keys):
    alice, _alice_events, bob, _bob_events = _two(clients, relay, room_keys)
    with pytest.raises(ValueError, match="16 bytes"):
        alice.send("hi", reply_to=ce.ReplyTo(message_id=b"short", sender="bob", excerpt="x"))
    lone = ce.ReplyTo(message_id=os.urandom(16), sender="bob", excerpt="bad \udc80 half")
    with pytest.raises(ValueError, match="broken character"):
        alice.send("hi", reply_to=lone)
    with pytest.raises(ValueError, match="broken character"):
        alice.send_private(_key(bob), "hi", reply_to=replace(lone, excerpt="ok", sender="\udc80"))
    assert alice.pending() == ()
