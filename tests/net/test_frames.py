"""Framing: reassembly from any split, caps checked on the prefix before any allocation."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from net.proto import LocalProtocolError
from net.proto._frames import (
    MAX_HANDSHAKE_FRAME,
    FrameError,
    FrameReader,
    FrameType,
    Reason,
    encode_frame,
    reason,
)


def frames(*bodies: bytes) -> bytes:
    return b"".join(encode_frame(body) for body in bodies)


def test_encode_frame_prefixes_the_big_endian_length() -> None:
    assert encode_frame(b"\x13abc") == b"\x00\x00\x00\x04\x13abc"
    with pytest.raises(LocalProtocolError):
        encode_frame(b"")


def test_many_frames_in_one_chunk() -> None:
    bodies = [bytes([i]) * (i + 1) for i in range(1, 50)]
    reader = FrameReader(4096)
    assert list(reader.feed(frames(*bodies))) == bodies
    assert reader.buffered == 0 and not reader.mid_frame


def test_partial_frames_byte_by_byte() -> None:
    bodies = [b"\x01hello", b"\x02" * 300, b"\x03"]
    reader = FrameReader(4096)
    out: list[bytes] = []
    for byte in frames(*bodies):
        out += reader.feed(bytes([byte]))
    assert out == bodies
    assert not reader.mid_frame


@pytest.mark.parametrize("split", [1, 2, 3, 4, 5, 7, 100, 303])
def test_every_split_point(split: int) -> None:
    data = frames(b"\x01" * 10, b"\x02" * 290)
    reader = FrameReader(4096)
    out = list(reader.feed(data[:split])) + list(reader.feed(data[split:]))
    assert out == [b"\x01" * 10, b"\x02" * 290]


def test_zero_length_frame_is_an_error() -> None:
    with pytest.raises(FrameError, match="empty"):
        list(FrameReader(4096).feed(b"\x00\x00\x00\x00"))


def test_exact_cap_is_accepted_and_one_more_refused() -> None:
    reader = FrameReader(MAX_HANDSHAKE_FRAME)
    assert list(reader.feed(encode_frame(b"x" * MAX_HANDSHAKE_FRAME))) == [
        b"x" * MAX_HANDSHAKE_FRAME
    ]
    with pytest.raises(FrameError, match="exceeds"):
        list(reader.feed((MAX_HANDSHAKE_FRAME + 1).to_bytes(4, "big")))


def test_oversize_prefix_is_refused_before_any_body_is_buffered() -> None:
    reader = FrameReader(MAX_HANDSHAKE_FRAME)
    # The prefix arrives byte by byte: nothing but those bytes is ever held.
    prefix = (2**31).to_bytes(4, "big")
    for byte in prefix[:3]:
        assert list(reader.feed(bytes([byte]))) == []
        assert reader.buffered <= 4
    with pytest.raises(FrameError):
        list(reader.feed(prefix[3:] + b"x" * 100_000))
    assert reader.buffered <= 4


def test_buffer_never_exceeds_cap_while_a_large_frame_trickles_in() -> None:
    cap = 1000
    reader = FrameReader(cap)
    data = frames(b"y" * cap, b"z" * cap)
    out: list[bytes] = []
    for start in range(0, len(data), 333):
        out += reader.feed(data[start : start + 333])
        assert reader.buffered <= cap
    assert out == [b"y" * cap, b"z" * cap]


def test_cap_change_between_frames_applies_to_the_next_prefix() -> None:
    reader = FrameReader(10)
    out = []
    for body in reader.feed(frames(b"a", b"b" * 50)):
        out.append(body)
        reader.max_size = 100  # what the protocol does after the handshake
    assert out == [b"a", b"b" * 50]


def test_mid_frame_and_clear() -> None:
    reader = FrameReader(100)
    list(reader.feed(b"\x00\x00"))
    assert reader.mid_frame
    list(reader.feed(b"\x00\x05ab"))
    assert reader.mid_frame and reader.buffered == 2
    reader.clear()
    assert not reader.mid_frame and reader.buffered == 0


def test_reason_keeps_unknown_codes_as_int() -> None:
    assert reason(11) is Reason.PROTOCOL_ERROR
    assert reason(250) == 250 and not isinstance(reason(250), Reason)


def test_frame_types_and_reasons_are_the_documented_ones() -> None:
    # PROTOCOL.md 3: 0x04 and 0x05 were v1's RELAY_PAKE and CLIENT_CONFIRM, never reused.
    assert {t.name: t.value for t in FrameType} == {
        "CLIENT_HELLO": 0x01,
        "RELAY_HELLO": 0x02,
        "CLIENT_PAKE": 0x03,
        "RELAY_CONFIRM": 0x06,
        "AUTH_FAILED": 0x07,
        "REFUSED": 0x08,
        "CLIENT_OPEN": 0x09,
        "QUEUED": 0x0A,
        "JOIN": 0x10,
        "WELCOME": 0x11,
        "CHAT": 0x12,
        "PING": 0x13,
        "PONG": 0x14,
        "NOTICE": 0x15,
        "GOODBYE": 0x16,
        "SHARES": 0x17,
        "SHARE": 0x18,
        "WANT": 0x19,
        "ACT": 0x1A,
        "SECRETS": 0x1B,
        "SECRET": 0x1C,
        "VERIFIER": 0x1D,
        "ACK": 0x1E,
        "HISTORY": 0x1F,
        "BROADCAST": 0x20,
        "HISTORY_PAGE": 0x21,
        "FILE_OPEN": 0x22,
        "FILE_STATE": 0x23,
        "FILE_PUT": 0x24,
        "FILE_DROP": 0x25,
        "FILE_GET": 0x26,
        "FILE_DATA": 0x27,
    }
    assert [r.value for r in Reason] == list(range(1, 24))
    assert (Reason.RELAY_RESTARTING, Reason.ROOM_CLOSED) == (22, 23)
    assert (Reason.NAME_LOOKALIKE, Reason.NO_SUCH_ROOM, Reason.REPLACED) == (16, 17, 18)


def _section_3() -> str:
    text = (Path(__file__).resolve().parents[2] / "docs" / "PROTOCOL.md").read_text("utf-8")
    start = text.index("## 3. Frames")
    return text[start : text.index("\n## 4.", start)]


def test_the_documents_frame_and_reason_tables_list_exactly_these() -> None:
    # PROTOCOL.md 3.1 and 3.2 tabulate every frame but BROADCAST, whose layout 3.3 spells out
    # ("body = 0x20 ‖ …"); 3.4 tabulates every reason code. Neither side may have one more.
    section = _section_3()
    documented = {
        name: int(code, 16)
        for code, name in re.findall(r"^\| 0x([0-9A-F]{2}) \| ([A-Z_]+) \|", section, re.M)
    }
    assert "body = 0x20 ‖" in section
    assert documented | {"BROADCAST": 0x20} == {t.name: t.value for t in FrameType}
    reasons = section[section.index("### 3.4") :]
    reasons = reasons[: reasons.index("\n### ")]
    listed = {
        name: int(code) for code, name in re.findall(r"^\| (\d+) \| ([A-Z_]+) \|", reasons, re.M)
    }
    assert listed == {r.name: r.value for r in Reason}
