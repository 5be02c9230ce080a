"""Reader/Writer primitives and every payload codec: round trips and each decode failure."""

from __future__ import annotations

from typing import Any

import pytest

from net.proto._codec import Reader, Writer
from net.proto._errors import DecodeError, LocalProtocolError
from net.proto._frames import Reason
from net.proto._messages import (
    ChatItem,
    ClientHello,
    JoinedItem,
    LeftItem,
    OutgoingMessage,
    Refusal,
    RelayHello,
    Welcome,
    decode_chat,
    decode_code_text,
    decode_fixed,
    decode_items,
    decode_join,
    decode_token,
    encode_chat,
    encode_code_text,
    encode_items,
    encode_join,
    encode_token,
)

MID = bytes(range(16))


def chat_item(sender: str = "alice", sealed: bytes = b"s" * 40) -> ChatItem:
    return ChatItem(
        sender=sender, message_id=MID, timestamp_ms=2**40, content_type="text/plain", sealed=sealed
    )


# -- primitives ----------------------------------------------------------------------------


def test_writer_reader_round_trip_every_field() -> None:
    data = (
        Writer()
        .u8(255)
        .u16(65535)
        .u32(2**32 - 1)
        .u64(2**64 - 1)
        .raw(b"abc", 3)
        .bytes32(b"\x00" * 5)
        .str8("héllo")
        .str16("ü" * 300)
        .getvalue()
    )
    r = Reader(data)
    assert (r.u8(), r.u16(), r.u32(), r.u64()) == (255, 65535, 2**32 - 1, 2**64 - 1)
    assert r.raw(3) == b"abc"
    assert r.bytes32() == b"\x00" * 5
    assert r.str8() == "héllo"
    assert r.str16() == "ü" * 300
    r.finish()
    assert r.remaining == 0


@pytest.mark.parametrize(
    ("method", "value"),
    [("u8", 256), ("u16", 65536), ("u32", 2**32), ("u64", 2**64), ("u8", -1)],
)
def test_writer_rejects_out_of_range_integers(method: str, value: int) -> None:
    with pytest.raises(LocalProtocolError, match="does not fit"):
        getattr(Writer(), method)(value)


def test_writer_rejects_strings_too_long_for_their_prefix() -> None:
    with pytest.raises(LocalProtocolError):
        Writer().str8("x" * 256)
    with pytest.raises(LocalProtocolError):
        Writer().str8("é" * 128)  # 256 bytes of UTF-8: the byte length is what counts
    with pytest.raises(LocalProtocolError):
        Writer().str16("x" * 65536)
    with pytest.raises(LocalProtocolError, match="must be 3 bytes"):
        Writer().raw(b"ab", 3)


@pytest.mark.parametrize(
    ("data", "read"),
    [
        (b"", lambda r: r.u8()),
        (b"\x00", lambda r: r.u16()),
        (b"\x00\x00\x00", lambda r: r.u32()),
        (b"\x00" * 7, lambda r: r.u64()),
        (b"ab", lambda r: r.raw(3)),
        (b"\x05abcd", lambda r: r.str8()),
        (b"\x00\x05abcd", lambda r: r.str16()),
        (b"\xff\xff\xff\xff" + b"x" * 10, lambda r: r.bytes32()),  # 4 GiB announced, 10 present
    ],
)
def test_reader_truncation_is_a_decode_error(data: bytes, read) -> None:
    with pytest.raises(DecodeError, match="truncated"):
        read(Reader(data))


@pytest.mark.parametrize("bad", [b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xc0\xaf"])
def test_reader_rejects_invalid_utf8(bad: bytes) -> None:
    with pytest.raises(DecodeError, match="UTF-8"):
        Reader(bytes([len(bad)]) + bad).str8()


def test_reader_finish_rejects_trailing_bytes() -> None:
    r = Reader(b"\x01\x02")
    r.u8()
    with pytest.raises(DecodeError, match="trailing"):
        r.finish()


# -- payloads ------------------------------------------------------------------------------


def test_client_hello_round_trip_and_layout() -> None:
    payload = ClientHello(versions=(1,)).encode()
    assert payload == b"SocketChat\x01\x00\x01"
    assert ClientHello.decode(payload) == ClientHello(versions=(1,))
    assert ClientHello.decode(b"SocketChat\x02\x00\x02\x00\x01").versions == (2, 1)


@pytest.mark.parametrize(
    "payload",
    [
        b"SocketChaT\x01\x00\x01",
        b"SocketChat\x00",
        b"SocketChat\x02\x00\x01",
        b"SocketChat\x01\x00\x01\x00",
        b"Sock",
    ],
)
def test_client_hello_decode_failures(payload: bytes) -> None:
    with pytest.raises(DecodeError):
        ClientHello.decode(payload)


def test_relay_hello_round_trip() -> None:
    hello = RelayHello(version=1, room_id=MID)
    assert hello.encode() == b"\x00\x01" + MID
    assert RelayHello.decode(hello.encode()) == hello
    for bad in (b"\x00\x01" + MID[:15], b"\x00\x01" + MID + b"\x00"):
        with pytest.raises(DecodeError):
            RelayHello.decode(bad)


def test_refusal_round_trip_keeps_unknown_codes() -> None:
    refusal = Refusal(code=Reason.ROOM_FULL, retry_after_ms=1500, text="room is full")
    assert Refusal.decode(refusal.encode()) == refusal
    future = Refusal.decode(b"\xc8\x00\x00\x00\x00\x00\x02hi")
    assert future.code == 200 and future.text == "hi"
    with pytest.raises(DecodeError):
        Refusal.decode(refusal.encode()[:-1])


def test_small_payload_codecs_round_trip_and_fail() -> None:
    assert decode_code_text(encode_code_text(Reason.LEAVING, "bye")) == (Reason.LEAVING, "bye")
    assert decode_token(encode_token(2**64 - 1)) == 2**64 - 1
    assert decode_join(encode_join("Zoë")) == "Zoë"
    assert decode_fixed(b"x" * 32, 32, "confirmation") == b"x" * 32
    for call in (
        lambda: decode_code_text(b"\x01\x00\x05abc"),
        lambda: decode_token(b"\x00" * 9),
        lambda: decode_join(b"\x02a"),
        lambda: decode_join(b"\x01\xff"),
        lambda: decode_fixed(b"x" * 31, 32, "confirmation"),
        lambda: decode_fixed(b"x" * 33, 32, "confirmation"),
    ):
        with pytest.raises(DecodeError):
            call()


def test_chat_round_trip_and_failures() -> None:
    messages = [
        OutgoingMessage(
            message_id=MID, timestamp_ms=5, content_type="text/plain", sealed=b"x" * 30
        ),
        OutgoingMessage(
            message_id=MID[::-1], timestamp_ms=6, content_type="text/plain", sealed=b""
        ),
    ]
    assert decode_chat(encode_chat(messages)) == tuple(messages)
    with pytest.raises(DecodeError, match="empty"):
        decode_chat(encode_chat([]))
    with pytest.raises(DecodeError):
        decode_chat(encode_chat(messages)[:-1])
    with pytest.raises(DecodeError):
        decode_chat(encode_chat(messages) + b"\x00")


def test_broadcast_items_round_trip() -> None:
    items = (chat_item(), JoinedItem(name="bob"), LeftItem(name="bob", code=Reason.LEAVING))
    assert decode_items(encode_items(items)) == items
    assert decode_items(encode_items(())) == ()


def test_broadcast_item_failures() -> None:
    with pytest.raises(DecodeError, match="kind"):
        decode_items(b"\x00\x01\x09")
    with pytest.raises(DecodeError):
        decode_items(encode_items([JoinedItem(name="bob")])[:-1])
    with pytest.raises(DecodeError, match="UTF-8"):
        decode_items(b"\x00\x01\x02\x01\xff")
    with pytest.raises(LocalProtocolError):
        encode_items(["not an item"])  # type: ignore[list-item]  # the wrong type is the test


def welcome(**changes) -> Welcome:
    fields: dict[str, Any] = dict(
        your_name="alice",
        members=("alice", "bob"),
        broadcast_key=b"k" * 32,
        next_seq=7,
        max_message_bytes=4000,
        history=(chat_item(), chat_item("bob")),
    )
    fields.update(changes)
    return Welcome(**fields)


def test_welcome_round_trip() -> None:
    assert Welcome.decode(welcome().encode()) == welcome()
    assert Welcome.decode(welcome(history=(), members=()).encode()) == welcome(
        history=(), members=()
    )


def test_welcome_decode_failures() -> None:
    encoded = welcome().encode()
    for bad in (encoded[:-1], encoded + b"\x00", encoded[:40]):
        with pytest.raises(DecodeError):
            Welcome.decode(bad)
    # A history entry that is not a chat item.
    no_history = welcome(history=()).encode()
    with pytest.raises(DecodeError, match="non-chat"):
        Welcome.decode(no_history[:-2] + b"\x00\x01" + encode_items([JoinedItem(name="x")])[2:])
    with pytest.raises(LocalProtocolError):
        welcome(history=(JoinedItem(name="x"),)).encode()


# -- bulk str8 lists (WELCOME member lists) ---------------------------------------------------


def test_str8s_writes_what_str8_one_by_one_writes_and_reads_back() -> None:
    names = ["alice", "Ünïcødé", "", "x" * 255, "🦊"]
    one_by_one = Writer()
    for name in names:
        one_by_one.str8(name)
    assert Writer().str8s(names).getvalue() == one_by_one.getvalue()
    reader = Reader(one_by_one.getvalue())
    assert reader.str8s(len(names)) == tuple(names)
    reader.finish()


def test_str8s_refuses_a_name_too_long_and_reads_zero_names() -> None:
    with pytest.raises(LocalProtocolError, match="8 bits"):
        Writer().str8s(["ok", "x" * 256])
    assert Reader(b"").str8s(0) == ()


@pytest.mark.parametrize("data", [b"", b"\x03ab", b"\x02ab\x05"])
def test_str8s_truncation_is_a_decode_error(data: bytes) -> None:
    with pytest.raises(DecodeError, match="truncated member"):
        Reader(data).str8s(2, "member")


def test_str8s_rejects_invalid_utf8() -> None:
    with pytest.raises(DecodeError, match="invalid UTF-8 in member"):
        Reader(b"\x01a\x02\xc3\x28").str8s(2, "member")
