"""Reader/Writer primitives and every payload codec: round trips and each decode failure."""

from __future__ import annotations

from typing import Any

import pytest

from net.proto._codec import Reader, Writer
from net.proto._errors import DecodeError, LocalProtocolError
from net.proto._frames import Reason
from net.proto._messages import (
    MAX_ACKED,
    MAX_PAGE_ITEMS,
    MAX_SECRET,
    MAX_WANTED,
    SHARE_BLOB_SIZE,
    ChatItem,
    ClientHello,
    ClientOpen,
    ClientPake,
    Join,
    JoinedItem,
    LeftItem,
    MemberInfo,
    Refusal,
    RelayHello,
    WantedItem,
    Welcome,
    chat_item_prefix,
    decode_ack,
    decode_chat,
    decode_code_text,
    decode_fixed,
    decode_history_page,
    decode_history_request,
    decode_items,
    decode_secret,
    decode_secrets,
    decode_share,
    decode_shares,
    decode_token,
    decode_verifier,
    decode_wanted,
    encode_ack,
    encode_chat,
    encode_chat_item,
    encode_code_text,
    encode_history_page,
    encode_history_request,
    encode_item,
    encode_items,
    encode_secret,
    encode_secrets,
    encode_share,
    encode_shares,
    encode_token,
    encode_verifier,
    encode_wanted,
    encode_wanted_item,
)

MID = bytes(range(16))
KEY_A, KEY_B = b"A" * 32, b"B" * 32


def chat_item(sender: str = "alice", envelope: bytes = MID + b"s" * 200) -> ChatItem:
    return ChatItem(sender=sender, envelope=envelope)


def member(name: str = "bob", flags: int = 0) -> MemberInfo:
    return MemberInfo(name=name, signing_key=KEY_A, dh_key=KEY_B, flags=flags)


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


# -- handshake payloads --------------------------------------------------------------------


def test_client_hello_round_trip_and_layout() -> None:
    payload = ClientHello(versions=(2,)).encode()
    assert payload == b"SocketChat\x01\x00\x02"  # what every v2 client sends
    assert ClientHello.decode(payload) == ClientHello(versions=(2,))
    assert ClientHello.decode(b"SocketChat\x02\x00\x02\x00\x01").versions == (2, 1)


@pytest.mark.parametrize(
    "payload",
    [
        b"SocketChaT\x01\x00\x02",
        b"SocketChat\x00",
        b"SocketChat\x02\x00\x02",
        b"SocketChat\x01\x00\x02\x00",
        b"Sock",
    ],
)
def test_client_hello_decode_failures(payload: bytes) -> None:
    with pytest.raises(DecodeError):
        ClientHello.decode(payload)


def test_client_open_round_trip_and_layout() -> None:
    opening = ClientOpen(room_id=MID, nonce=b"n" * 32)
    assert opening.encode() == MID + b"n" * 32
    assert ClientOpen.decode(opening.encode()) == opening
    for bad in (opening.encode()[:-1], opening.encode() + b"\x00"):
        with pytest.raises(DecodeError):
            ClientOpen.decode(bad)
    with pytest.raises(LocalProtocolError, match="room id"):
        ClientOpen(room_id=MID[:15], nonce=b"n" * 32).encode()
    with pytest.raises(LocalProtocolError, match="nonce"):
        ClientOpen(room_id=MID, nonce=b"n" * 31).encode()


def relay_hello(**changes: bytes | int) -> RelayHello:
    fields: dict[str, Any] = dict(
        version=2,
        room_id=MID,
        relay_key=KEY_A,
        nonce=b"n" * 32,
        share=b"\x04" + b"s" * 64,
        signature=b"g" * 64,
    )
    fields.update(changes)
    return RelayHello(**fields)


def test_relay_hello_round_trip_and_layout() -> None:
    hello = relay_hello()
    encoded = hello.encode()
    assert encoded == b"\x00\x02" + MID + KEY_A + b"n" * 32 + b"\x04" + b"s" * 64 + b"g" * 64
    assert len(encoded) == 211
    assert hello.unsigned() == encoded[:-64]  # what the signature covers
    assert RelayHello.decode(encoded) == hello
    for bad in (encoded[:-1], encoded + b"\x00", encoded[:147]):
        with pytest.raises(DecodeError):
            RelayHello.decode(bad)


@pytest.mark.parametrize("field", ["room_id", "relay_key", "nonce", "share", "signature"])
def test_relay_hello_refuses_fields_of_the_wrong_size(field: str) -> None:
    value = getattr(relay_hello(), field)
    with pytest.raises(LocalProtocolError):
        relay_hello(**{field: value[:-1]}).encode()


def test_client_pake_round_trip_and_failures() -> None:
    pake = ClientPake(share=b"\x04" + b"s" * 64, confirmation=b"c" * 32)
    assert pake.encode() == b"\x04" + b"s" * 64 + b"c" * 32
    assert ClientPake.decode(pake.encode()) == pake
    for bad in (pake.encode()[:-1], pake.encode() + b"\x00", pake.encode()[:65]):
        with pytest.raises(DecodeError):
            ClientPake.decode(bad)
    with pytest.raises(LocalProtocolError):
        ClientPake(share=b"\x04" * 64, confirmation=b"c" * 32).encode()


def test_refusal_round_trip_keeps_unknown_codes() -> None:
    refusal = Refusal(code=Reason.NO_SUCH_ROOM, retry_after_ms=1500, text="no such room")
    assert refusal.encode() == b"\x11\x00\x00\x05\xdc\x00\x0cno such room"
    assert Refusal.decode(refusal.encode()) == refusal
    future = Refusal.decode(b"\xc8\x00\x00\x00\x00\x00\x02hi")
    assert future.code == 200 and future.text == "hi"
    with pytest.raises(DecodeError):
        Refusal.decode(refusal.encode()[:-1])


# -- encrypted unicast payloads -------------------------------------------------------------


def test_small_payload_codecs_round_trip_and_fail() -> None:
    assert decode_code_text(encode_code_text(Reason.REPLACED, "bye")) == (Reason.REPLACED, "bye")
    assert decode_token(encode_token(2**64 - 1)) == 2**64 - 1
    assert decode_fixed(b"x" * 32, 32, "confirmation") == b"x" * 32
    for call in (
        lambda: decode_code_text(b"\x01\x00\x05abc"),
        lambda: decode_token(b"\x00" * 9),
        lambda: decode_fixed(b"x" * 31, 32, "confirmation"),
        lambda: decode_fixed(b"x" * 33, 32, "confirmation"),
    ):
        with pytest.raises(DecodeError):
            call()


def test_join_round_trip_and_layout() -> None:
    join = Join(name="Zoë", signing_key=KEY_A, dh_key=KEY_B, proof=b"p" * 64, tag=b"t" * 32)
    head = b"\x04Zo\xc3\xab" + KEY_A + KEY_B + b"p" * 64 + b"t" * 32
    # A device that holds nothing of the room resumes after 0 (PROTOCOL.md 3.5).
    assert join.encode() == head + bytes(8)
    assert Join.decode(join.encode()) == join
    resumed = Join(
        name="Zoë",
        signing_key=KEY_A,
        dh_key=KEY_B,
        proof=b"p" * 64,
        tag=b"t" * 32,
        resume_after=0x0102030405060708,
    )
    assert resumed.encode() == head + bytes(range(1, 9))  # u64, big-endian, last
    assert Join.decode(resumed.encode()) == resumed
    most = Join(
        name="a",
        signing_key=KEY_A,
        dh_key=KEY_B,
        proof=b"p" * 64,
        tag=KEY_A,
        resume_after=2**64 - 1,
    )
    assert Join.decode(most.encode()).resume_after == 2**64 - 1
    with pytest.raises(LocalProtocolError):
        Join(
            name="a",
            signing_key=KEY_A,
            dh_key=KEY_B,
            proof=b"p" * 64,
            tag=KEY_A,
            resume_after=2**64,
        ).encode()


_JOIN_HEAD = b"\x01a" + KEY_A + KEY_B + b"p" * 64


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        pytest.param(_JOIN_HEAD + b"t" * 31, "truncated membership tag", id="short tag"),
        pytest.param(_JOIN_HEAD, "truncated membership tag", id="no tag (version 1)"),
        pytest.param(_JOIN_HEAD + b"t" * 32, "truncated resume after", id="no resume_after"),
        pytest.param(_JOIN_HEAD + b"t" * 32 + bytes(7), "truncated resume", id="short resume"),
        pytest.param(_JOIN_HEAD + b"t" * 32 + bytes(9), "trailing", id="trailing"),
        pytest.param(
            b"\x02a" + KEY_A + KEY_B + b"p" * 64 + b"t" * 32 + bytes(8),
            "truncated resume after",
            id="the name takes a key byte",
        ),
        pytest.param(
            b"\x01\xff" + KEY_A + KEY_B + b"p" * 64 + b"t" * 32 + bytes(8), "UTF-8", id="bad UTF-8"
        ),
        pytest.param(b"\x01a", "truncated", id="name only"),
    ],
)
def test_join_decode_failures(payload: bytes, words: str) -> None:
    with pytest.raises(DecodeError, match=words):
        Join.decode(payload)


def test_join_refuses_keys_of_the_wrong_size() -> None:
    with pytest.raises(LocalProtocolError):
        Join(name="a", signing_key=KEY_A[:31], dh_key=KEY_B, proof=b"p" * 64, tag=KEY_A).encode()
    with pytest.raises(LocalProtocolError):
        Join(name="a", signing_key=KEY_A, dh_key=KEY_B, proof=b"p" * 63, tag=KEY_A).encode()
    with pytest.raises(LocalProtocolError):
        Join(name="a", signing_key=KEY_A, dh_key=KEY_B, proof=b"p" * 64, tag=KEY_A[:31]).encode()


# -- sender keys: SHARES, SHARE, WANT (PROTOCOL.md 3.2) ----------------------------------------

BLOB_1, BLOB_2 = b"1" * SHARE_BLOB_SIZE, bytes(range(SHARE_BLOB_SIZE))


def test_share_blob_size_is_the_crypto_share_size() -> None:
    from crypto.epoch import SHARE_SIZE

    # owner (32) · u32 epoch · HPKE enc (32) · sealed key (32) · tag (16) · signature (64)
    assert SHARE_BLOB_SIZE == SHARE_SIZE == 32 + 4 + 32 + 32 + 16 + 64 == 180


def test_shares_layout_and_round_trip() -> None:
    encoded = encode_shares([(KEY_A, BLOB_1), (KEY_B, BLOB_2)])
    assert encoded == b"\x00\x02" + KEY_A + BLOB_1 + KEY_B + BLOB_2
    assert len(encoded) == 2 + 2 * (32 + 180)
    assert decode_shares(encoded) == [(KEY_A, BLOB_1), (KEY_B, BLOB_2)]


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        (b"\x00\x00", "empty"),
        (b"\x00\x00" + KEY_A + BLOB_1, "empty"),  # none announced, one there
        (b"\x00\x02" + KEY_A + BLOB_1, "truncated"),  # more announced than there
        (b"\xff\xff" + KEY_A + BLOB_1, "truncated"),
        (b"\x00\x01" + KEY_A + BLOB_1 + b"\x00", "trailing"),
        (b"\x00\x01" + KEY_A + BLOB_1[:-1], "truncated"),  # a share one byte short
        (b"\x00", "truncated"),
        (b"", "truncated"),
    ],
)
def test_shares_decode_failures(payload: bytes, words: str) -> None:
    with pytest.raises(DecodeError, match=words):
        decode_shares(payload)


def test_shares_refuse_fields_of_the_wrong_size() -> None:
    with pytest.raises(LocalProtocolError):
        encode_shares([(KEY_A[:31], BLOB_1)])
    with pytest.raises(LocalProtocolError):
        encode_shares([(KEY_A, BLOB_1 + b"x")])


def test_share_layout_and_round_trip() -> None:
    encoded = encode_share(KEY_A, BLOB_2)
    assert encoded == KEY_A + BLOB_2 and len(encoded) == 212
    assert decode_share(encoded) == (KEY_A, BLOB_2)
    for bad in (encoded[:-1], encoded + b"\x00", KEY_A, b""):
        with pytest.raises(DecodeError):
            decode_share(bad)
    with pytest.raises(LocalProtocolError):
        encode_share(KEY_A, BLOB_2[:-1])


def test_want_layout_and_round_trip() -> None:
    encoded = encode_wanted([(KEY_A, 1), (KEY_B, 2**32 - 1)])
    assert encoded == b"\x00\x02" + KEY_A + b"\x00\x00\x00\x01" + KEY_B + b"\xff\xff\xff\xff"
    assert len(encoded) == 2 + 2 * 36
    assert decode_wanted(encoded) == ((KEY_A, 1), (KEY_B, 2**32 - 1))
    most = encode_wanted([(KEY_A, n) for n in range(MAX_WANTED)])
    assert MAX_WANTED == 64 and len(most) == 2 + 64 * 36
    assert len(decode_wanted(most)) == 64


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        (b"\x00\x00", "1 to 64"),  # asks for nothing
        (b"\x00\x41" + (KEY_A + bytes(4)) * 65, "1 to 64"),  # 65: one too many
        (b"\xff\xff", "1 to 64"),
        (b"\x00\x02" + KEY_A + bytes(4), "truncated"),
        (b"\x00\x01" + KEY_A + bytes(4) + b"\x00", "trailing"),
        (b"\x00\x01" + KEY_A + bytes(3), "truncated"),
        (b"", "truncated"),
    ],
)
def test_want_decode_failures(payload: bytes, words: str) -> None:
    with pytest.raises(DecodeError, match=words):
        decode_wanted(payload)


def test_want_refuses_empty_or_oversized_requests() -> None:
    for wanted in ([], [(KEY_A, 1)] * (MAX_WANTED + 1)):
        with pytest.raises(LocalProtocolError, match="1 to 64"):
            encode_wanted(wanted)
    with pytest.raises(LocalProtocolError):
        encode_wanted([(KEY_A, 2**32)])


def test_chat_round_trip_and_failures() -> None:
    envelopes = [MID + b"x" * 200, MID[::-1] + b"y" * 180]
    encoded = encode_chat(envelopes)
    assert encoded[:2] == b"\x00\x02" and encoded[2:6] == (216).to_bytes(4, "big")
    decoded = decode_chat(encoded)
    assert all(isinstance(v, memoryview) for v in decoded)  # views: nothing copied
    assert [bytes(v) for v in decoded] == envelopes
    for bad, words in (
        (encode_chat([]), "empty"),
        (encoded[:-1], "truncated"),
        (encoded + b"\x00", "trailing"),
        (b"\x00", "truncated"),
        (b"\x00\x01\x00\x00", "truncated"),
    ):
        with pytest.raises(DecodeError, match=words):
            decode_chat(bad)


# -- broadcast items and WELCOME --------------------------------------------------------------


def test_broadcast_items_round_trip() -> None:
    items = (
        chat_item(),
        JoinedItem(member=member()),
        LeftItem(name="bob", code=Reason.LEAVING),
        LeftItem(name="carol", code=200),  # a code from a newer relay stays a number
    )
    assert decode_items(encode_items(encode_item(i) for i in items)) == items
    assert decode_items(encode_items(())) == ()
    assert chat_item().message_id == MID


def test_chat_item_layout_and_the_relays_fast_path() -> None:
    item = chat_item("bob", MID + b"e" * 10)
    encoded = encode_item(item)
    assert encoded == b"\x01\x03bob" + (26).to_bytes(4, "big") + MID + b"e" * 10
    # The relay builds items from a cached prefix and the envelope view it received.
    assert encode_chat_item(chat_item_prefix("bob"), memoryview(MID + b"e" * 10)) == encoded


def test_member_layout_and_size() -> None:
    zoe = MemberInfo(name="Zoë", signing_key=KEY_A, dh_key=KEY_B, tag=b"t" * 32, flags=0)
    encoded = encode_item(JoinedItem(member=zoe))
    assert encoded == b"\x02\x04Zo\xc3\xab" + KEY_A + KEY_B + b"t" * 32 + b"\x00"
    assert zoe.encoded_size() == len(encoded) - 1
    assert decode_items(encode_items([encoded])) == (JoinedItem(member=zoe),)


def test_member_decode_failures() -> None:
    entry = member("Zoë").encode()
    assert len(entry) == 1 + 4 + 32 + 32 + 32 + 1
    for bad in (
        entry[:-1],  # no flags
        entry[:-33],  # no tag (a version 1 member record)
        b"\x05Zo\xc3\xab" + entry[5:],  # the name takes a key byte: the rest is short
    ):
        with pytest.raises(DecodeError, match="truncated"):
            decode_items(b"\x00\x01\x02" + bad)
    with pytest.raises(DecodeError, match="trailing"):
        decode_items(b"\x00\x01\x02" + entry + b"\x00")
    with pytest.raises(LocalProtocolError):
        MemberInfo(name="x", signing_key=KEY_A, dh_key=KEY_B, tag=KEY_A[:31]).encode()


def test_wanted_item_layout_and_round_trip() -> None:
    want = encode_wanted([(KEY_B, 3)])
    encoded = encode_wanted_item(KEY_A, want)
    # kind 4 · requester (32) · the WANT payload as sent
    assert encoded == b"\x04" + KEY_A + b"\x00\x01" + KEY_B + b"\x00\x00\x00\x03"
    item = WantedItem(requester=KEY_A, wanted=((KEY_B, 3),))
    assert encode_item(item) == encoded
    assert decode_items(encode_items([encoded, encode_item(chat_item())])) == (item, chat_item())


@pytest.mark.parametrize(
    ("item", "words"),
    [
        (b"\x04" + KEY_A + b"\x00\x00", "1 to 64"),
        (b"\x04" + KEY_A + b"\x00\x41" + (KEY_B + bytes(4)) * 65, "1 to 64"),
        (b"\x04" + KEY_A + b"\x00\x02" + KEY_B + bytes(4), "truncated"),
        (b"\x04" + KEY_A[:31], "truncated"),
        (b"\x04" + KEY_A + b"\x00\x01" + KEY_B + bytes(4) + b"\x00", "trailing"),
    ],
)
def test_wanted_item_failures(item: bytes, words: str) -> None:
    with pytest.raises(DecodeError, match=words):
        decode_items(b"\x00\x01" + item)


def test_broadcast_item_failures() -> None:
    with pytest.raises(DecodeError, match="kind"):
        decode_items(b"\x00\x01\x09")
    with pytest.raises(DecodeError):
        decode_items(encode_items([encode_item(JoinedItem(member=member()))])[:-1])
    with pytest.raises(DecodeError, match="UTF-8"):
        decode_items(b"\x00\x01\x03\x01\xff\x0d")
    with pytest.raises(DecodeError, match="trailing"):
        decode_items(encode_items([encode_item(chat_item())]) + b"\x00")
    with pytest.raises(LocalProtocolError):
        encode_item("not an item")  # type: ignore[arg-type]  # the wrong type is the test
    with pytest.raises(LocalProtocolError):
        encode_items([b"\x01"] * 0x10000)


def welcome(**changes: Any) -> Welcome:
    fields: dict[str, Any] = dict(
        your_name="alice",
        members=(member("alice"), member("bob", flags=0)),
        broadcast_key=b"k" * 32,
        next_seq=7,
        next_position=12,
        max_message_bytes=4000,
        history=(encode_item(chat_item()), encode_item(chat_item("bob"))),
    )
    fields.update(changes)
    return Welcome(**fields)


def test_welcome_round_trip() -> None:
    decoded, history = Welcome.decode(welcome().encode())
    assert decoded == welcome(history=())  # the history comes back decoded, beside it
    assert history == (chat_item(), chat_item("bob"))
    assert Welcome.decode(welcome(history=(), members=()).encode()) == (
        welcome(history=(), members=()),
        (),
    )


def test_welcome_decode_failures() -> None:
    encoded = welcome().encode()
    for bad in (encoded[:-1], encoded + b"\x00", encoded[:40]):
        with pytest.raises(DecodeError):
            Welcome.decode(bad)
    # A history entry that is not a chat item.
    no_history = welcome(history=()).encode()
    joined = encode_item(JoinedItem(member=member("x")))
    # The history count sits before the (empty) genesis and action count (2 + 2 + 2 bytes)
    # and the trailing max_file_bytes (8).
    body, files = no_history[:-8], no_history[-8:]
    with pytest.raises(DecodeError, match="non-chat"):
        Welcome.decode(body[:-6] + b"\x00\x01" + joined + body[-4:] + files)
    # A genesis of the wrong size; an action count with no actions after it.
    with pytest.raises(DecodeError, match="genesis"):
        Welcome.decode(body[:-4] + b"\x00\x01\xff" + body[-2:] + files)
    with pytest.raises(DecodeError):
        Welcome.decode(body[:-2] + b"\x00\x01" + files)
    # Without the trailing max_file_bytes (a WELCOME of before files): refused.
    with pytest.raises(DecodeError):
        Welcome.decode(body)
    with pytest.raises(LocalProtocolError):
        welcome(history=(joined,)).encode()


def test_welcome_layout_has_next_position_after_next_seq() -> None:
    item = encode_item(chat_item())
    encoded = welcome(
        members=(), next_seq=7, next_position=9, history=(item,), max_file_bytes=5 << 20
    ).encode()
    assert encoded == (
        b"\x05alice"
        + b"\x00\x00"  # no members
        + b"k" * 32
        + (7).to_bytes(8, "big")  # next_seq
        + (9).to_bytes(8, "big")  # next_position: the history item holds position 8
        + (4000).to_bytes(4, "big")
        + b"\x00\x01"
        + item
        + b"\x00\x00"  # no genesis
        + b"\x00\x00"  # no actions
        + (5 << 20).to_bytes(8, "big")  # max_file_bytes, the last field
    )
    decoded, history = Welcome.decode(encoded)
    assert (decoded.next_seq, decoded.next_position, history) == (7, 9, (chat_item(),))
    assert decoded.max_file_bytes == 5 << 20


@pytest.mark.parametrize(
    ("count", "next_position"),
    [(0, 0), (1, 1), (2, 2), (2, 1)],
    ids=["empty room at 0", "one item at 0", "two items at 0 and 1", "two items below 1"],
)
def test_welcome_with_history_reaching_below_position_1_is_refused(
    count: int, next_position: int
) -> None:
    # History items hold next_position - count … next_position - 1, and positions start at 1.
    history = tuple(encode_item(chat_item()) for _ in range(count))
    with pytest.raises(LocalProtocolError, match="next_position"):
        welcome(history=history, next_position=next_position).encode()
    # The same bytes from a relay: the count field sits in the same place.
    good = welcome(history=history, next_position=count + 1).encode()
    offset = good.index((count + 1).to_bytes(8, "big") + (4000).to_bytes(4, "big"))
    bad = good[:offset] + next_position.to_bytes(8, "big") + good[offset + 8 :]
    with pytest.raises(DecodeError, match="next_position"):
        Welcome.decode(bad)
    decoded, _ = Welcome.decode(good)  # one more is fine
    assert decoded.next_position == count + 1


# -- stored messages: ACK, HISTORY, HISTORY_PAGE (PROTOCOL.md 3.2 and 3.5) ---------------------

ID_1, ID_2 = bytes(range(16)), bytes(range(16, 32))


def test_ack_layout_and_round_trip() -> None:
    assert encode_ack([ID_1, ID_2]) == b"\x00\x02" + ID_1 + ID_2
    assert decode_ack(b"\x00\x02" + ID_1 + ID_2) == (ID_1, ID_2)
    most = [i.to_bytes(16, "big") for i in range(MAX_ACKED)]
    assert MAX_ACKED == 1000
    assert decode_ack(encode_ack(most)) == tuple(most)


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        pytest.param(b"\x00\x00", "1 to 1000", id="no ids"),
        pytest.param(b"\x03\xe9" + ID_1 * 1001, "1 to 1000", id="1001 ids"),
        pytest.param(b"\x00\x02" + ID_1, "truncated message id", id="one id short"),
        pytest.param(b"\x00\x01" + ID_1[:15], "truncated message id", id="short id"),
        pytest.param(b"\x00\x01" + ID_1 + b"\x00", "trailing", id="trailing"),
        pytest.param(b"\x00", "truncated", id="half a count"),
        pytest.param(b"", "truncated", id="empty"),
    ],
)
def test_ack_decode_failures(payload: bytes, words: str) -> None:
    with pytest.raises(DecodeError, match=words):
        decode_ack(payload)


def test_ack_refuses_to_encode_outside_its_limits() -> None:
    with pytest.raises(LocalProtocolError, match="1 to 1000"):
        encode_ack([])
    with pytest.raises(LocalProtocolError, match="1 to 1000"):
        encode_ack([ID_1] * (MAX_ACKED + 1))
    with pytest.raises(LocalProtocolError, match="message id"):
        encode_ack([ID_1[:15]])


def test_history_request_layout_and_round_trip() -> None:
    assert encode_history_request(2, 1) == (2).to_bytes(8, "big") + b"\x00\x01"
    assert encode_history_request(2**64 - 1, 1000) == b"\xff" * 8 + b"\x03\xe8"
    assert MAX_PAGE_ITEMS == 1000
    for before, limit in [(2, 1), (501, 500), (2**64 - 1, 1000)]:
        assert decode_history_request(encode_history_request(before, limit)) == (before, limit)


@pytest.mark.parametrize(
    ("before", "limit"),
    [(0, 10), (1, 10), (2, 0), (2, 1001), (1, 0)],
    ids=["before 0", "before 1 (nothing is older)", "limit 0", "limit 1001", "both"],
)
def test_history_request_outside_its_limits(before: int, limit: int) -> None:
    with pytest.raises(LocalProtocolError, match="1 to 1000"):
        encode_history_request(before, limit)
    with pytest.raises(DecodeError, match="1 to 1000"):
        decode_history_request(before.to_bytes(8, "big") + limit.to_bytes(2, "big"))


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        (5).to_bytes(8, "big"),
        (5).to_bytes(8, "big") + b"\x00",
        (5).to_bytes(8, "big") + bytes(3),
    ],
    ids=["empty", "no limit", "half a limit", "trailing"],
)
def test_history_request_decode_failures(payload: bytes) -> None:
    with pytest.raises(DecodeError, match=r"truncated|trailing"):
        decode_history_request(payload)


def test_history_page_layout_and_round_trip() -> None:
    first, second = encode_item(chat_item()), encode_item(chat_item("bob", ID_2 + b"t" * 180))
    encoded = encode_history_page(41, [first, second])
    assert encoded == (41).to_bytes(8, "big") + b"\x00\x02" + first + second
    assert decode_history_page(encoded) == (41, (chat_item(), chat_item("bob", ID_2 + b"t" * 180)))
    # Nothing older kept: count 0, whatever the position says (even 0).
    assert encode_history_page(7, []) == (7).to_bytes(8, "big") + b"\x00\x00"
    assert decode_history_page((7).to_bytes(8, "big") + b"\x00\x00") == (7, ())
    assert decode_history_page(bytes(10)) == (0, ())


def test_history_page_failures() -> None:
    item = encode_item(chat_item())
    page = encode_history_page(3, [item])
    joined = encode_item(JoinedItem(member=member()))
    wanted = encode_wanted_item(KEY_A, encode_wanted([(KEY_B, 1)]))
    for bad, words in [
        ((0).to_bytes(8, "big") + b"\x00\x01" + item, "positions start at 1"),
        ((3).to_bytes(8, "big") + b"\x00\x01" + joined, "non-chat"),
        ((3).to_bytes(8, "big") + b"\x00\x01" + wanted, "non-chat"),
        ((3).to_bytes(8, "big") + b"\x00\x02" + item + joined, "non-chat"),
        (page + b"\x00", "trailing"),
        (page[:-1], "truncated"),
        ((3).to_bytes(8, "big") + b"\x00\x02" + item, "truncated"),
        ((3).to_bytes(8, "big") + b"\x00", "truncated"),
        (b"\x00" * 7, "truncated"),
    ]:
        with pytest.raises(DecodeError, match=words):
            decode_history_page(bad)
    with pytest.raises(LocalProtocolError, match="chat items only"):
        encode_history_page(3, [item, joined])


# -- str8 records (WELCOME member lists) -----------------------------------------------------


def test_str8_records_reads_what_str8_and_raw_one_by_one_read() -> None:
    names = ["alice", "Ünïcødé", "", "x" * 255, "🦊"]
    w = Writer()
    for n, name in enumerate(names):
        w.str8(name).raw(bytes([n]) * 3, 3)
    reader = Reader(w.getvalue() + b"tail")
    assert reader.str8_records(len(names), 3, "member") == [
        (name, bytes([n]) * 3) for n, name in enumerate(names)
    ]
    assert reader.raw(4) == b"tail"
    reader.finish()
    assert Reader(b"").str8_records(0, 65, "member") == []


@pytest.mark.parametrize("data", [b"", b"\x03ab", b"\x02abXYZ\x05", b"\x01aXY", b"\x01aXYZ\x01bXY"])
def test_str8_records_truncation_is_a_decode_error(data: bytes) -> None:
    with pytest.raises(DecodeError, match="truncated member"):
        Reader(data).str8_records(2, 3, "member")


def test_str8_records_rejects_invalid_utf8() -> None:
    with pytest.raises(DecodeError, match="invalid UTF-8 in member"):
        Reader(b"\x01aXYZ\x02\xc3\x28XYZ").str8_records(2, 3, "member")


# -- SECRETS, SECRET, VERIFIER (a password change) ----------------------------------------------


def test_secrets_layout_round_trip_and_limits() -> None:
    secret = b"s" * 300
    encoded = encode_secrets([(KEY_A, secret), (KEY_B, b"t")])
    assert encoded == b"\x00\x02" + KEY_A + b"\x01\x2c" + secret + KEY_B + b"\x00\x01t"
    assert decode_secrets(encoded) == [(KEY_A, secret), (KEY_B, b"t")]
    for bad, words in [
        (b"\x00\x00", "empty"),
        (b"\x00\x01" + KEY_A + b"\x02\x01" + b"x" * 513, "over 512"),
        (b"\x00\x01" + KEY_A + b"\x00\x02x", "truncated"),
        (encoded + b"\x00", "trailing"),
    ]:
        with pytest.raises(DecodeError, match=words):
            decode_secrets(bad)
    with pytest.raises(LocalProtocolError):
        encode_secrets([(KEY_A, b"x" * (MAX_SECRET + 1))])


def test_secret_and_verifier_layouts() -> None:
    assert encode_secret(KEY_A, b"abc") == KEY_A + b"\x00\x03abc"
    assert decode_secret(KEY_A + b"\x00\x03abc") == (KEY_A, b"abc")
    too_long = KEY_A + b"\x02\x01" + b"x" * 513
    for bad in (KEY_A + b"\x00\x03ab", KEY_A + b"\x00\x03abcd", too_long, b""):
        with pytest.raises(DecodeError):
            decode_secret(bad)
    verifier = encode_verifier(7, KEY_B)
    assert verifier == b"\x00\x00\x00\x07" + KEY_B
    assert decode_verifier(verifier) == (7, KEY_B)
    for bad in (verifier[:-1], verifier + b"\x00"):
        with pytest.raises(DecodeError):
            decode_verifier(bad)
