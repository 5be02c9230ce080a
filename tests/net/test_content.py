"""net.proto content bodies: replies and file offers round-trip; malformed ones are refused."""

from __future__ import annotations

import secrets

import pytest

from net import proto


def offer(**changes: object) -> proto.FileOffer:
    args: dict[str, object] = dict(
        file_id=secrets.token_bytes(16),
        file_key=secrets.token_bytes(32),
        size=150_000,
        sha256=secrets.token_bytes(32),
        name="holiday.png",
        media_type="image/png",
        width=640,
        height=480,
    )
    args.update(changes)
    return proto.FileOffer(**args)  # type: ignore[arg-type]


def test_reply_round_trip():
    reply = proto.Reply(
        to_message_id=bytes(16), quoted_sender="bob", quoted_excerpt="see you", text="me too ✓"
    )
    assert proto.decode_reply(proto.encode_reply(reply)) == reply


def test_file_offer_round_trip_and_chunks():
    one = offer()
    assert proto.decode_file_offer(proto.encode_file_offer(one)) == one
    assert one.chunk_count == 3
    assert one.stored_size == 150_000 + 3 * proto.SEALED_CHUNK_OVERHEAD


def test_excerpt_cuts_at_a_character():
    assert proto.excerpt("é" * 200) == "é" * 150
    assert proto.excerpt("short") == "short"


@pytest.mark.parametrize(
    "body",
    [
        b"",
        bytes(15),
        bytes(16) + b"\x05ab",  # sender runs past the end
        bytes(16) + b"\x00" + b"\xff\xff",  # quote longer than what is left
        bytes(16) + b"\x00\x00\x00" + b"\xff\xfe",  # text not UTF-8
        bytes(16) + b"\x00\x01\x40" + b"a" * 320,  # quote over 300 bytes
    ],
)
def test_malformed_replies(body):
    with pytest.raises(proto.ContentError):
        proto.decode_reply(body)


def test_malformed_file_offers():
    good = proto.encode_file_offer(offer())
    for bad in (b"", good[:-1], good + b"x", good[:88] + b"\x03\xff\xfe\xfd" + good[92:]):
        with pytest.raises(proto.ContentError):
            proto.decode_file_offer(bad)
    huge = good[:48] + (2**64 - 1).to_bytes(8, "big") + good[56:]
    with pytest.raises(proto.ContentError):
        proto.decode_file_offer(huge)


def test_encoders_refuse_what_cannot_be_sent():
    with pytest.raises(ValueError):
        proto.encode_file_offer(offer(name="x" * 256))
    with pytest.raises(ValueError):
        proto.encode_file_offer(offer(file_id=b"short"))
    with pytest.raises(ValueError):
        proto.encode_reply(
            proto.Reply(
                to_message_id=bytes(16), quoted_sender="b", quoted_excerpt="q" * 301, text=""
            )
        )


def test_pending_messages_seal_the_body_for_other_types():
    text = proto.PendingMessage("hi", bytes(16), 0)
    assert text.wire_body() == b"hi"
    other = proto.PendingMessage("a.png", bytes(16), 0, proto.ContentType.FILE, b"\x01\x02")
    assert other.wire_body() == b"\x01\x02"
