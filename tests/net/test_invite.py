"""net.client.invite: the invite string, every part checked, hostile text refused cleanly."""

from __future__ import annotations

import base64
import contextlib
import hashlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from net.client import (
    Invite,
    InviteError,
    InvitePart,
    TrustStore,
    format_invite,
    looks_like_invite,
    parse_invite,
    pin_invite,
    relay_address,
)

ROOM = bytes(range(16))
KEY = bytes(range(100, 132))
PASSPHRASE = "cactus-ripple-mammal-sprint-lantern-oyster-gravel"
INVITE = Invite("chat.example.org", 7777, ROOM, KEY, PASSPHRASE)
TEXT = format_invite(INVITE)


def _part(text: str) -> InvitePart:
    with pytest.raises(InviteError) as caught:
        parse_invite(text)
    return caught.value.part


def test_an_invite_reads_back_as_written() -> None:
    assert TEXT.startswith("socketchat://chat.example.org:7777/v1/")
    assert TEXT.endswith("#" + PASSPHRASE)  # a generated passphrase reads as itself
    assert parse_invite(TEXT) == INVITE
    assert parse_invite(f"  {TEXT}\n") == INVITE  # as pasted, with a newline
    assert PASSPHRASE not in repr(parse_invite(TEXT))


def test_the_invite_is_exactly_the_documented_construction() -> None:
    # PROTOCOL.md, "Invites": base32 ids, a SHA-256 check over the fields, the passphrase last.
    room = base64.b32encode(ROOM).decode().rstrip("=").lower()
    key = base64.b32encode(KEY).decode().rstrip("=").lower()
    material = f"chat.example.org|7777|{room}|{key}|{PASSPHRASE}".encode()
    check = hashlib.sha256(b"SocketChat invite v1|" + material).digest()[:5]
    spelled = base64.b32encode(check).decode().lower()
    assert (f"socketchat://chat.example.org:7777/v1/{room}/{key}/{spelled}#{PASSPHRASE}") == TEXT
    assert base64.b32decode(room.upper() + "======") == ROOM
    assert base64.b32decode(key.upper() + "====") == KEY


@pytest.mark.parametrize(
    "host, shown",
    [
        ("2001:db8::1", "[2001:db8::1]:7777"),
        ("192.0.2.7", "192.0.2.7:7777"),
        ("Chat.Example.ORG.", "chat.example.org:7777"),
        ("bücher.example", "xn--bcher-kva.example:7777"),
    ],
)
def test_hosts_are_written_in_one_spelling(host: str, shown: str) -> None:
    text = format_invite(Invite(host, 7777, ROOM, KEY, PASSPHRASE))
    assert text.startswith(f"socketchat://{shown}/")
    assert parse_invite(text).port == 7777


def test_any_room_password_travels_percent_encoded() -> None:
    password = "pässwörd with spaces, a # and a % and 🦊"
    text = format_invite(Invite("192.0.2.7", 1, ROOM, KEY, password))
    assert " " not in text and "🦊" not in text
    assert parse_invite(text).passphrase == password


def test_upper_case_ids_are_accepted() -> None:
    head, secret = TEXT.split("#")
    scheme, rest = head.split("://")
    authority, tail = rest.split("/", 1)
    assert parse_invite(f"{scheme}://{authority}/{tail.upper().replace('V1', 'v1')}#{secret}")


@pytest.mark.parametrize(
    "text, part",
    [
        ("", InvitePart.NOT_AN_INVITE),
        ("https://chat.example.org", InvitePart.NOT_AN_INVITE),
        ("correct horse battery staple", InvitePart.NOT_AN_INVITE),
        (TEXT + "x" * 2000, InvitePart.NOT_AN_INVITE),
        (TEXT.replace("/v1/", "/v2/"), InvitePart.VERSION),
        (TEXT.split("#")[0], InvitePart.PASSPHRASE),
        (TEXT.replace("/v1/", "/v1/extra/"), InvitePart.LAYOUT),
        (TEXT.rsplit("/", 1)[0] + "#" + PASSPHRASE, InvitePart.LAYOUT),
        (TEXT.replace("chat.example.org", "chat..example.org"), InvitePart.HOST),
        (TEXT.replace("chat.example.org", "chat_example.org"), InvitePart.HOST),
        (TEXT.replace("chat.example.org", "-chat.example.org"), InvitePart.HOST),
        (TEXT.replace("chat.example.org", "300.1.2.3"), InvitePart.HOST),
        (TEXT.replace("chat.example.org:", "[2001:db8::g]:"), InvitePart.HOST),
        (TEXT.replace("chat.example.org:", "2001:db8::1:"), InvitePart.HOST),
        (TEXT.replace(":7777", ""), InvitePart.PORT),
        (TEXT.replace(":7777", ":0"), InvitePart.PORT),
        (TEXT.replace(":7777", ":65536"), InvitePart.PORT),
        (TEXT.replace(":7777", ":77x7"), InvitePart.PORT),
        (TEXT.replace("#" + PASSPHRASE, "#"), InvitePart.PASSPHRASE),
        (TEXT.replace("#" + PASSPHRASE, "#pass%00word"), InvitePart.PASSPHRASE),
        (TEXT.replace("#" + PASSPHRASE, "#%ff%fe"), InvitePart.PASSPHRASE),
        (TEXT.replace("#" + PASSPHRASE, "#" + PASSPHRASE[:-1]), InvitePart.CHECK),
        (TEXT.replace("chat.example.org", "chat.example.net"), InvitePart.CHECK),
        (TEXT.replace(":7777", ":7778"), InvitePart.CHECK),
    ],
)
def test_each_wrong_part_is_named(text: str, part: InvitePart) -> None:
    assert _part(text) is part


def test_ids_of_the_wrong_length_or_letters_are_named() -> None:
    parts = TEXT.split("/")
    room, key = parts[4], parts[5]
    assert _part(TEXT.replace(room, room[:-1])) is InvitePart.ROOM
    assert _part(TEXT.replace(room, room[:-1] + "1")) is InvitePart.ROOM  # 1 is not base32
    assert _part(TEXT.replace(key, key + "a")) is InvitePart.RELAY_KEY
    # The same bytes spelled with the unused low bits set: refused, one spelling only.
    last = "abcdefghijklmnopqrstuvwxyz234567"
    twin = key[:-1] + last[last.index(key[-1]) ^ 1]
    assert _part(TEXT.replace(key, twin)) is InvitePart.RELAY_KEY
    # A changed letter that keeps its length is caught by the check.
    other = room[:-2] + ("a" if room[-2] != "a" else "b") + room[-1]
    assert _part(TEXT.replace(room, other)) is InvitePart.CHECK


def test_looks_like_invite_is_about_the_scheme_only() -> None:
    assert looks_like_invite("  SocketChat://whatever")
    assert not looks_like_invite("join socketchat://x")
    assert not looks_like_invite("")


def test_format_refuses_what_no_invite_can_carry() -> None:
    for invite, part in [
        (Invite("", 7777, ROOM, KEY, PASSPHRASE), InvitePart.HOST),
        (Invite("h", 0, ROOM, KEY, PASSPHRASE), InvitePart.PORT),
        (Invite("h", 1, ROOM[:-1], KEY, PASSPHRASE), InvitePart.ROOM),
        (Invite("h", 1, ROOM, KEY + b"x", PASSPHRASE), InvitePart.RELAY_KEY),
        (Invite("h", 1, ROOM, KEY, ""), InvitePart.PASSPHRASE),
        (Invite("h", 1, ROOM, KEY, "bad\u202epassword"), InvitePart.PASSPHRASE),
    ]:
        with pytest.raises(InviteError) as caught:
            format_invite(invite)
        assert caught.value.part is part


def test_pinning_an_invite_expects_its_relay_key_for_its_room() -> None:
    trust = TrustStore()
    address = relay_address("chat.example.org", 7777, ROOM)
    trust.pin_relay(address, bytes(32))  # an older room on that port
    pin_invite(trust, parse_invite(TEXT))
    assert trust.relay_key(address) == KEY


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_any_text_is_an_invite_or_an_invite_error(text: str) -> None:
    with contextlib.suppress(InviteError):
        parse_invite("socketchat://" + text)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, len(TEXT) - 1), st.characters())
def test_a_changed_character_is_never_read_as_another_room(index: int, char: str) -> None:
    changed = TEXT[:index] + char + TEXT[index + 1 :]
    if changed.lower() == TEXT.lower():
        return  # the same invite, in other case where case does not matter
    try:
        invite = parse_invite(changed)
    except InviteError:
        return
    # Only a change that keeps every field's meaning parses (host letter case, a percent-
    # encoding of the same character).
    assert invite == INVITE


def test_the_protocol_documents_examples_are_what_the_code_writes() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "PROTOCOL.md").read_text("utf-8")
    section = doc.split("### 7.4 Invites", 1)[1].split("\n## ", 1)[0]
    examples = [line for line in section.splitlines() if line.startswith("socketchat://")]
    assert examples[0] == "socketchat://HOST:PORT/v1/ROOM/RELAYKEY/CHECK#PASSPHRASE"
    examples = examples[1:]
    assert examples == [
        format_invite(Invite("chat.example.org", 7777, ROOM, KEY, PASSPHRASE)),
        format_invite(Invite("2001:db8::1", 7777, ROOM, KEY, "correct horse battery staple")),
    ]
    assert [parse_invite(example).room_id for example in examples] == [ROOM, ROOM]
