"""net.proto.Room: names bound to identities, look-alike names, joins and leaves, seal-once
broadcasts, history and its trimming, and the actions of a room with an owner.

No I/O: members are plain strings standing in for connections, identities are fixed keys, and
broadcasts are opened with a BroadcastOpener exactly as a client would. Envelopes are opaque
bytes here, as they are to the relay (it never opens one).
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from crypto.genesis import Genesis
from crypto.identity import Identity
from crypto.transport import BroadcastOpener, BroadcastSealer
from net.proto import Action, ActionKind, ActionRefused, Authority, LocalProtocolError, MemberInfo
from net.proto._frames import MAX_RELAY_FRAME, FrameType, Reason
from net.proto._history import HistoryStore, MemoryHistory
from net.proto._messages import (
    ActionItem,
    BroadcastItem,
    ChatItem,
    JoinedItem,
    LeftItem,
    WantedItem,
    Welcome,
    WelcomeArgs,
    decode_items,
    encode_item,
    encode_wanted,
)
from net.proto._relay import encode_broadcast
from net.proto._room import JoinRejected, Room
from tests.net.helpers import split_frames

KEY = bytes(range(32))
#: A few identities, made once (key generation is the slow part of a join here).
ALICE, BOB, CAROL, DAVE = (Identity.from_secret(bytes([n]) * 64) for n in range(1, 5))


def envelope(n: int, size: int = 177) -> bytes:
    """An opaque envelope: message id ``n``, then filler where the signing key, epoch and
    ciphertext would be (the room never looks inside; 177 bytes is the smallest there is)."""
    return n.to_bytes(16, "big") + bytes([n % 256]) * (size - 16)


def info(name: str, identity: Identity = ALICE) -> MemberInfo:
    return MemberInfo(name=name, signing_key=identity.signing_public, dh_key=identity.dh_public)


def open_all(data: bytes, opener: BroadcastOpener) -> list[list[BroadcastItem]]:
    """Every broadcast frame in ``data``, opened in order: a list of item lists."""
    out = []
    for body in split_frames(data):
        assert body[0] == FrameType.BROADCAST
        out.append(list(decode_items(opener.open(FrameType.BROADCAST, body[1:]))))
    return out


def item(encoded: bytes) -> BroadcastItem:
    """One encoded item (a history entry) decoded."""
    (decoded,) = decode_items(b"\x00\x01" + encoded)
    return decoded


def chat_ids(history: tuple[bytes, ...]) -> list[int]:
    """The message numbers (see :func:`envelope`) of encoded CHAT items."""
    ids = []
    for encoded in history:
        chat = item(encoded)
        assert isinstance(chat, ChatItem)
        ids.append(int.from_bytes(chat.message_id, "big"))
    return ids


def history_ids(room: Room[str]) -> list[int]:
    return chat_ids(room.history)


@pytest.fixture
def room() -> Room[str]:
    return Room(broadcast_key=KEY, max_members=3, history_limit=5)


def add(room: Room[str], username: str, identity: Identity = ALICE) -> str:
    name = room.check_join(username, identity.signing_public)
    room.join(info(name, identity), f"conn-{name}")
    return name


def rejected(room: Room[str], username: str, identity: Identity) -> JoinRejected:
    with pytest.raises(JoinRejected) as caught:
        room.check_join(username, identity.signing_public)
    return caught.value


# -- names and membership -------------------------------------------------------------------


def test_names_are_unique_ignoring_case(room) -> None:
    add(room, "Alice", ALICE)
    for clash in ("alice", "ALICE", "Alice"):
        refusal = rejected(room, clash, BOB)
        assert refusal.code is Reason.NAME_TAKEN
        assert "belongs to another member" in refusal.text


@pytest.mark.parametrize("bad", ["", " alice", "a" * 33, "bad\x00name", "zero\u200bwidth"])
def test_invalid_names_are_rejected_in_plain_words(room, bad) -> None:
    refusal = rejected(room, bad, ALICE)
    assert refusal.code is Reason.NAME_INVALID
    assert refusal.text  # validate_username's sentence, for the person joining


def test_names_are_nfc_normalised(room) -> None:
    assert add(room, "Jose\u0301", ALICE) == "Jos\u00e9"
    assert rejected(room, "JOS\u00c9", BOB).code is Reason.NAME_TAKEN


def test_room_full_at_max_members(room) -> None:
    for name, identity in (("a", ALICE), ("b", BOB), ("c", CAROL)):
        add(room, name, identity)
    assert rejected(room, "d", DAVE).code is Reason.ROOM_FULL
    # A member joining again (the driver replaces its old connection) is not a newcomer,
    # whatever name it asks for this time.
    assert room.check_join("a", ALICE.signing_public) == "a"
    assert room.check_join("ally", ALICE.signing_public) == "ally"
    room.leave("b", Reason.LEAVING)
    assert room.check_join("d", DAVE.signing_public) == "d"


def test_join_twice_without_leave_is_a_bug(room) -> None:
    add(room, "alice")
    with pytest.raises(LocalProtocolError):
        room.join(info("ALICE"), "conn-2")


def test_leave_with_a_stale_handle_keeps_the_new_member(room) -> None:
    room.join(info("alice"), "old-conn")
    assert room.leave("alice", Reason.CONNECTION_LOST, handle="old-conn")
    room.flush()
    room.join(info("alice"), "new-conn")
    # The old connection finishes closing later: it must not remove the reconnected alice.
    assert not room.leave("alice", Reason.CONNECTION_LOST, handle="old-conn")
    assert room.members == ("alice",)
    assert room.handles() == ["new-conn"]
    assert room.handle_of("ALICE") == "new-conn"
    assert room.handle_of("bob") is None
    assert room.handle_of_identity(ALICE.signing_public) == "new-conn"
    assert room.handle_of_identity(BOB.signing_public) is None
    assert not room.leave("nobody", Reason.LEAVING)


# -- names bound to identities ----------------------------------------------------------------


def test_a_name_stays_bound_to_its_identity_while_its_holder_is_away(room) -> None:
    add(room, "alice", ALICE)
    assert room.bindings == {"alice": ALICE.signing_public}
    room.leave("alice", Reason.LEAVING)
    assert room.members == ()
    for asked in ("alice", "Alice", "ALICE"):
        assert rejected(room, asked, BOB).code is Reason.NAME_TAKEN
    assert room.check_join("alice", ALICE.signing_public) == "alice"  # hers to come back to
    assert room.check_join("Alice", ALICE.signing_public) == "Alice"  # in any case she likes


def test_the_first_identity_to_use_a_name_keeps_it(room) -> None:
    add(room, "alice", ALICE)
    room.leave("alice", Reason.LEAVING)
    add(room, "Alice", ALICE)  # the same identity, another case: still bound to her
    room.leave("alice", Reason.LEAVING)
    assert room.bindings == {"alice": ALICE.signing_public}


def test_one_identity_may_hold_several_names(room) -> None:
    add(room, "alice", ALICE)
    room.leave("alice", Reason.LEAVING)
    add(room, "ally", ALICE)
    assert room.bindings == {"alice": ALICE.signing_public, "ally": ALICE.signing_public}
    assert rejected(room, "alice", BOB).code is Reason.NAME_TAKEN


def test_bindings_from_an_earlier_run_are_honoured() -> None:
    room: Room[str] = Room(broadcast_key=KEY, bindings={"alice": ALICE.signing_public})
    assert rejected(room, "Alice", BOB).code is Reason.NAME_TAKEN
    assert rejected(room, "a1ice", BOB).code is Reason.NAME_LOOKALIKE
    add(room, "alice", ALICE)
    assert not room.bindings_changed  # nothing new to save
    add(room, "bob", BOB)
    assert room.bindings_changed
    assert room.bindings == {"alice": ALICE.signing_public, "bob": BOB.signing_public}


def test_bindings_are_a_copy(room) -> None:
    add(room, "alice", ALICE)
    room.bindings["alice"] = BOB.signing_public
    assert rejected(room, "alice", BOB).code is Reason.NAME_TAKEN


@pytest.mark.parametrize(
    ("held", "asked"),
    [
        pytest.param("alice", "ａｌｉｃｅ", id="fullwidth"),
        pytest.param("alice", "a1ice", id="digit-one"),
        pytest.param("ace", "асе", id="all-cyrillic"),
        pytest.param("scope", "ѕсоре", id="all-cyrillic-2"),
    ],
)
@pytest.mark.parametrize("present", [True, False], ids=["present", "away"])
def test_a_name_that_looks_like_another_identitys_name_is_refused(
    room, held: str, asked: str, present: bool
) -> None:
    add(room, held, ALICE)
    if not present:
        room.leave(held, Reason.LEAVING)
    refusal = rejected(room, asked, BOB)
    assert refusal.code is Reason.NAME_LOOKALIKE
    assert held in refusal.text
    assert room.check_join(asked, ALICE.signing_public) == asked  # her own look-alike is fine


@pytest.mark.parametrize(
    "asked",
    [
        pytest.param("аlice", id="cyrillic-a-among-latin"),
        pytest.param("alice\u034f", id="grapheme-joiner"),
    ],
)
def test_look_alikes_that_break_the_name_rules_are_refused_as_invalid(room, asked) -> None:
    add(room, "alice", ALICE)
    for identity in (BOB, ALICE):  # whoever asks: no one may use such a name
        assert rejected(room, asked, identity).code is Reason.NAME_INVALID


def test_the_holder_of_a_name_may_use_it_in_another_case(room) -> None:
    add(room, "alice", ALICE)
    assert room.check_join("Alice", ALICE.signing_public) == "Alice"
    assert rejected(room, "Alice", BOB).code is Reason.NAME_TAKEN


# -- broadcasts -----------------------------------------------------------------------------


def test_flush_with_nothing_pending_seals_nothing(room) -> None:
    assert room.flush() is None
    assert room.broadcasts_sealed == 0


def test_everything_pending_goes_out_in_one_sealed_broadcast(room) -> None:
    add(room, "alice", ALICE)
    add(room, "bob", BOB)
    room.flush()  # the joins
    opener = BroadcastOpener(KEY, next_seq=room.next_seq)
    room.submit("alice", [envelope(1), envelope(2)])
    room.submit("bob", [memoryview(envelope(3))])  # views into a receive buffer are fine
    room.leave("bob", Reason.LEAVING)
    before = room.broadcasts_sealed
    data = room.flush()
    assert data is not None
    assert room.broadcasts_sealed == before + 1
    (items,) = open_all(data, opener)
    assert items == [
        ChatItem(sender="alice", envelope=envelope(1)),  # attested, and exactly as sent
        ChatItem(sender="alice", envelope=envelope(2)),
        ChatItem(sender="bob", envelope=envelope(3)),
        LeftItem(name="bob", code=Reason.LEAVING),
    ]
    assert room.flush() is None


def test_a_chat_item_is_the_envelope_as_sent_behind_the_attested_sender(room) -> None:
    add(room, "Zoë", ALICE)
    sent = envelope(7, size=300)
    room.submit("zoë", [sent])  # any case: the member's own name is attested
    room.flush()
    (kept,) = room.history
    assert kept == encode_item(ChatItem(sender="Zoë", envelope=sent))
    assert kept.endswith(len(sent).to_bytes(4, "big") + sent)


def test_a_join_is_announced_with_the_next_flush_which_the_joiner_gets_too(room) -> None:
    add(room, "alice", ALICE)
    room.flush()
    opener = BroadcastOpener(KEY, next_seq=room.next_seq)
    room.submit("alice", [envelope(1)])
    name = room.check_join("bob", BOB.signing_public)
    sealed = room.broadcasts_sealed
    assert room.join(info(name, BOB), "conn-bob") is None  # nothing sealed yet
    assert room.broadcasts_sealed == sealed
    welcome = room.welcome("bob")
    # The welcome lists the room as it is now, bob included; alice's message is not flushed
    # yet, so it is not in bob's history: bob gets it once, in the broadcast below.
    assert welcome.members == (info("alice", ALICE), info("bob", BOB))
    assert history_ids(room) == []
    assert welcome.history == ()
    assert welcome.next_seq == room.next_seq
    assert welcome.broadcast_key == KEY
    assert welcome.max_message_bytes == room.max_message_bytes
    assert room.handles() == ["conn-alice", "conn-bob"]  # who gets the flush: both
    data = room.flush()
    assert data is not None
    assert room.broadcasts_sealed == sealed + 1
    expected = [ChatItem(sender="alice", envelope=envelope(1)), JoinedItem(member=info("bob", BOB))]
    assert open_all(data, opener) == [expected]
    # The same bytes open for bob from his welcome's next_seq: the first broadcast he gets.
    assert open_all(data, BroadcastOpener(KEY, next_seq=welcome.next_seq)) == [expected]
    assert history_ids(room) == [1]


def test_joins_and_leaves_between_flushes_share_one_broadcast(room) -> None:
    add(room, "alice", ALICE)
    room.flush()
    opener = BroadcastOpener(KEY, next_seq=room.next_seq)
    add(room, "bob", BOB)
    add(room, "carol", CAROL)
    room.leave("bob", Reason.LEAVING)
    data = room.flush()
    assert data is not None
    assert open_all(data, opener) == [
        [
            JoinedItem(member=info("bob", BOB)),
            JoinedItem(member=info("carol", CAROL)),
            LeftItem(name="bob", code=Reason.LEAVING),
        ]
    ]


def test_a_want_is_broadcast_attested_with_the_members_key_and_kept_out_of_history(room) -> None:
    add(room, "Zoë", ALICE)
    add(room, "bob", BOB)
    room.flush()
    opener = BroadcastOpener(KEY, next_seq=room.next_seq)
    payload = encode_wanted([(BOB.signing_public, 2), (CAROL.signing_public, 5)])
    room.want("zoë", payload)  # any case, as for chat
    room.submit("bob", [envelope(1)])
    data = room.flush()
    assert data is not None
    assert open_all(data, opener) == [
        [
            WantedItem(
                requester=ALICE.signing_public,
                wanted=((BOB.signing_public, 2), (CAROL.signing_public, 5)),
            ),
            ChatItem(sender="bob", envelope=envelope(1)),
        ]
    ]
    assert history_ids(room) == [1]  # the message only: a request is not worth replaying
    assert room.welcome("bob").history == room.history
    with pytest.raises(LocalProtocolError):
        room.want("carol", payload)  # not a member: a driver bug


def test_members_signing_keys_by_name(room) -> None:
    add(room, "Zoë", ALICE)
    assert room.signing_key_of("Zoë") == ALICE.signing_public
    assert room.signing_key_of("ZOË") == ALICE.signing_public
    assert room.signing_key_of("bob") is None
    assert room.handle_of_identity(ALICE.signing_public) == "conn-Zoë"
    room.leave("zoë", Reason.LEAVING)
    assert room.signing_key_of("Zoë") is None


def test_history_is_added_at_flush_in_broadcast_order(room) -> None:
    add(room, "alice")
    room.submit("alice", [envelope(1)])
    assert room.history == ()  # pending is not history yet: a joiner gets it by broadcast
    room.flush()
    room.submit("alice", [envelope(2), envelope(3)])
    room.flush()
    assert history_ids(room) == [1, 2, 3]


def test_history_keeps_the_last_n_chat_items_only(room) -> None:
    add(room, "alice")
    for n in range(1, 9):
        room.submit("alice", [envelope(n)])
        add(room, f"m{n}", Identity.from_secret(bytes([100 + n]) * 64))  # JOINED items
        room.leave(f"m{n}", Reason.LEAVING)  # and LEFT ones: never history
        room.flush()
    assert history_ids(room) == [4, 5, 6, 7, 8]


def test_history_zero_keeps_nothing() -> None:
    room: Room[str] = Room(broadcast_key=KEY, history_limit=0)
    room.join(info("alice"), "a")
    room.submit("alice", [envelope(1)])
    room.flush()
    assert room.history == ()


def test_broadcast_over_the_frame_cap_is_split_in_order() -> None:
    room: Room[str] = Room(broadcast_key=KEY, history_limit=100)
    room.join(info("alice"), "a")
    room.flush()
    opener = BroadcastOpener(KEY, next_seq=room.next_seq)
    # 40 messages of 60 KB: ~2.4 MB, over the 1 MiB client cap.
    room.submit("alice", [envelope(n, size=60_000) for n in range(40)])
    data = room.flush()
    assert data is not None
    groups = open_all(data, opener)
    assert len(groups) == 3
    assert all(len(body) <= MAX_RELAY_FRAME for body in split_frames(data))
    flat = [chat.envelope for group in groups for chat in group if isinstance(chat, ChatItem)]
    assert flat == [envelope(n, size=60_000) for n in range(40)]


def test_welcome_history_is_trimmed_to_fit_the_client_cap() -> None:
    room: Room[str] = Room(broadcast_key=KEY, history_limit=100, max_members=300)
    names = [f"member number {n:03d} with a long name"[:32] for n in range(200)]
    for n, name in enumerate(names):
        member = MemberInfo(name=name, signing_key=bytes([n]) * 32, dh_key=bytes(32))
        room.join(member, f"c{n}")
    for n in range(100):
        room.submit(names[0], [envelope(n, size=30_000)])
        room.flush()
    # 100 × 30 KB would be 3 MB; what is kept is bounded, and the welcome fits 1 MiB.
    assert sum(len(kept) for kept in room.history) <= MAX_RELAY_FRAME
    welcome = room.welcome(names[199])
    encoded = Welcome(
        your_name=welcome.name,
        members=welcome.members,
        broadcast_key=welcome.broadcast_key,
        next_seq=welcome.next_seq,
        next_position=welcome.next_position,
        max_message_bytes=welcome.max_message_bytes,
        history=tuple(welcome.history),
    ).encode()
    assert 1 + len(encoded) + 16 <= MAX_RELAY_FRAME
    ids = chat_ids(welcome.history)
    assert 20 < len(ids) < 100
    assert ids[-1] == 99  # the newest ones are the ones kept
    assert ids == sorted(ids)


def test_broadcast_size_is_the_items_and_a_fixed_overhead() -> None:
    items = [
        encode_item(ChatItem(sender="Zoë", envelope=envelope(7, size=300))),
        encode_item(JoinedItem(member=info("Zoë"))),
        encode_item(LeftItem(name="bob", code=Reason.SLOW_READER)),
    ]
    frame = encode_broadcast(BroadcastSealer(KEY), items)
    body_len = int.from_bytes(frame[:4], "big")
    assert body_len == 1 + 8 + 2 + sum(len(i) for i in items) + 16


def test_each_room_gets_its_own_random_broadcast_key() -> None:
    assert Room().broadcast_key != Room().broadcast_key
    assert len(Room().broadcast_key) == 32


def test_member_list_follows_joins_and_leaves_and_sizes_the_welcome() -> None:
    room: Room[str] = Room(broadcast_key=KEY)
    for name, identity in (("alice", ALICE), ("Zoë", BOB), ("bob", CAROL)):
        room.join(info(name, identity), name)
    assert room.members == ("alice", "Zoë", "bob")
    assert room.member_infos is room.member_infos  # cached between changes
    room.leave("zoë", Reason.LEAVING)
    assert room.members == ("alice", "bob")
    room.join(info("Ünïcødé", DAVE), "u")
    assert room.members == ("alice", "bob", "Ünïcødé")
    welcome = room.welcome("Ünïcødé")
    encoded = Welcome(
        your_name=welcome.name,
        members=welcome.members,
        broadcast_key=welcome.broadcast_key,
        next_seq=welcome.next_seq,
        next_position=welcome.next_position,
        max_message_bytes=welcome.max_message_bytes,
        history=(),
    ).encode()
    decoded, _ = Welcome.decode(encoded)
    assert decoded.members == (info("alice", ALICE), info("bob", CAROL), info("Ünïcødé", DAVE))
    # The running byte count equals what the member list encodes to.
    assert room._member_bytes == sum(m.encoded_size() for m in room.member_infos)


# -- actions (a room with an owner: net.proto._authority) ----------------------------------

#: Alice owns the room; the nonce is fixed so the genesis is the same in every run.
GENESIS = Genesis.create(ALICE, nonce=bytes(16))


def owned_room(*actions: Action, history_limit: int = 100) -> Room[str]:
    authority = Authority(GENESIS)
    authority.apply_all(actions)
    return Room(broadcast_key=KEY, authority=authority, history_limit=history_limit)


def sign(
    room: Room[str], actor: Identity, kind: ActionKind, target: bytes = bytes(32), detail: str = ""
) -> Action:
    assert room.authority is not None
    return room.authority.sign(actor, kind, target, detail)


def flushed_items(room: Room[str]) -> list[BroadcastItem]:
    opener = BroadcastOpener(KEY, next_seq=room.next_seq)
    data = room.flush()
    assert data is not None
    (items,) = open_all(data, opener)
    return items


def test_an_action_is_applied_queued_for_everyone_and_kept_out_of_the_history() -> None:
    room = owned_room()
    add(room, "alice", ALICE)
    add(room, "bob", BOB)
    room.flush()
    action = sign(room, ALICE, ActionKind.MAKE_ADMIN, BOB.signing_public)
    assert room.act(action) is None  # nobody to disconnect
    assert room.actions_changed
    assert room.authority is not None and room.authority.admins == {BOB.signing_public}
    assert flushed_items(room) == [
        ActionItem(action=action.encode())
    ]  # exactly as its actor signed it
    assert room.history == ()


def test_a_removal_returns_the_removed_members_handle_and_bars_its_identity() -> None:
    room = owned_room()
    add(room, "alice", ALICE)
    add(room, "carol", CAROL)
    room.flush()
    removal = sign(room, ALICE, ActionKind.REMOVE, CAROL.signing_public)
    handle = room.act(removal)
    assert handle == "conn-carol"
    # The driver closes it and leaves it with REMOVED: the LEFT goes after the action.
    assert room.leave("carol", Reason.REMOVED, handle=handle)
    assert flushed_items(room) == [
        ActionItem(action=removal.encode()),
        LeftItem(name="carol", code=Reason.REMOVED),
    ]
    # Refused from now on, under its name or any other; other identities are not.
    for asked in ("carol", "carol2", "Someone Else"):
        assert rejected(room, asked, CAROL).code is Reason.REMOVED
    assert room.check_join("dave", DAVE.signing_public) == "dave"


def test_removing_an_identity_that_is_not_here_returns_none() -> None:
    room = owned_room()
    add(room, "alice", ALICE)
    assert room.act(sign(room, ALICE, ActionKind.REMOVE, DAVE.signing_public)) is None
    assert rejected(room, "dave", DAVE).code is Reason.REMOVED


def test_an_admin_removes_a_member_whoever_joins_under_which_name() -> None:
    made_admin = Authority(GENESIS).sign(ALICE, ActionKind.MAKE_ADMIN, BOB.signing_public)
    room = owned_room(made_admin)
    add(room, "bob", BOB)
    add(room, "Carol", CAROL)
    assert room.act(sign(room, BOB, ActionKind.REMOVE, CAROL.signing_public)) == "conn-Carol"


def test_a_refused_action_changes_nothing() -> None:
    room = owned_room()
    add(room, "alice", ALICE)
    add(room, "bob", BOB)
    room.flush()
    assert room.authority is not None
    # Bob is no admin: he may not remove alice, nor anybody; a forged signature fails too.
    forged = Action(
        seq=1,
        kind=ActionKind.MAKE_ADMIN,
        actor=ALICE.signing_public,
        target=BOB.signing_public,
        detail="",
        signature=bytes(64),
    )
    late = sign(room, ALICE, ActionKind.MAKE_ADMIN, BOB.signing_public)
    room.act(late)
    room.flush()
    room.actions_changed = False
    not_admin = Authority(GENESIS).sign(ALICE, ActionKind.MAKE_ADMIN, CAROL.signing_public)
    for bad in (forged, not_admin, late):  # late: seq 1 again, after seq 1 was taken
        with pytest.raises(ActionRefused):
            room.act(bad)
    assert not room.actions_changed
    assert not room.pending
    assert room.authority.admins == {BOB.signing_public}
    assert len(room.authority.actions) == 1


def test_a_room_without_an_owner_refuses_every_action(room) -> None:
    add(room, "alice", ALICE)
    room.flush()
    action = Authority(GENESIS).sign(ALICE, ActionKind.MAKE_ADMIN, BOB.signing_public)
    with pytest.raises(ActionRefused, match="no owner"):
        room.act(action)
    assert not room.pending and not room.actions_changed


def test_a_released_name_is_free_for_another_identity() -> None:
    room = owned_room()
    add(room, "alice", ALICE)
    add(room, "carol", CAROL)
    room.leave("carol", Reason.LEAVING)
    assert rejected(room, "Carol", DAVE).code is Reason.NAME_TAKEN
    assert rejected(room, "caro1", DAVE).code is Reason.NAME_LOOKALIKE
    room.bindings_changed = False
    room.act(sign(room, ALICE, ActionKind.RELEASE_NAME, detail="Carol"))
    assert room.bindings_changed  # the driver saves the names file
    assert "carol" not in room.bindings
    assert room.check_join("carol", DAVE.signing_public) == "carol"
    assert room.check_join("caro1", DAVE.signing_public) == "caro1"


def test_the_welcome_carries_the_genesis_and_every_action() -> None:
    first = Authority(GENESIS).sign(ALICE, ActionKind.MAKE_ADMIN, BOB.signing_public)
    room = owned_room(first)
    add(room, "alice", ALICE)
    second = sign(room, ALICE, ActionKind.REMOVE, CAROL.signing_public, detail="spam")
    room.act(second)
    add(room, "dave", DAVE)
    welcome = room.welcome("dave")
    assert welcome.genesis == GENESIS.encode()
    assert welcome.actions == (first.encode(), second.encode())
    decoded, _ = Welcome.decode(_encode(welcome))
    assert decoded.genesis == GENESIS.encode()
    assert decoded.actions == (first.encode(), second.encode())
    # A room without an owner sends an empty genesis and no actions.
    plain: Room[str] = Room(broadcast_key=KEY)
    plain.join(info("alice", ALICE), "a")
    assert (plain.welcome("alice").genesis, plain.welcome("alice").actions) == (b"", ())


def _encode(welcome: WelcomeArgs) -> bytes:
    return Welcome(
        your_name=welcome.name,
        members=welcome.members,
        broadcast_key=welcome.broadcast_key,
        next_seq=welcome.next_seq,
        next_position=welcome.next_position,
        max_message_bytes=welcome.max_message_bytes,
        history=tuple(welcome.history),
        genesis=welcome.genesis,
        actions=welcome.actions,
    ).encode()


def _many_actions(count: int) -> list[Action]:
    """``count`` actions with the longest detail there is (128 bytes): the owner releasing
    names, one after the other."""
    authority = Authority(GENESIS)
    for n in range(count):
        authority.apply(authority.sign(ALICE, ActionKind.RELEASE_NAME, detail=f"{n:04d}" * 32))
    return authority.actions


def test_the_welcome_size_accounting_counts_the_actions_and_fits_the_frame_cap() -> None:
    actions = _many_actions(600)  # about 160 KB of actions
    room = owned_room(*actions[:400], history_limit=100)
    names = [f"member number {n:03d} with a long name"[:32] for n in range(200)]
    for n, name in enumerate(names):
        member = MemberInfo(name=name, signing_key=bytes([n]) * 32, dh_key=bytes(32))
        room.join(member, f"c{n}")
    for action in actions[400:]:  # taken while the room runs, counted as they come
        room.act(action)
    for n in range(100):
        room.submit(names[0], [envelope(n, size=30_000)])
        room.flush()
    welcome = room.welcome(names[199])
    assert len(welcome.actions) == 600
    frame_size = 1 + len(_encode(welcome)) + 16  # type, body, AEAD tag
    assert frame_size <= MAX_RELAY_FRAME
    # ...and the history fills what is left: one more item would not have fitted.
    assert MAX_RELAY_FRAME - frame_size < 30_000 + 64
    ids = chat_ids(welcome.history)
    assert ids[-1] == 99 and ids == sorted(ids)


# -- stored positions, acknowledgements, resends, pages (PROTOCOL.md 3.5) ----------------------


def big_store(limit: int = 1000) -> MemoryHistory:
    """A memory store that keeps ``limit`` items whatever their size (a relay's history)."""
    return MemoryHistory(limit, max_bytes=10**9)


def stored(store: HistoryStore) -> dict[int, int]:
    """Every kept item of ``store``: position → message number (see :func:`envelope`)."""
    first, items = store.page(after=0, before=store.next_position, limit=10**9, max_bytes=10**12)
    return {first + offset: n for offset, n in enumerate(chat_ids(tuple(items)))}


def test_positions_are_taken_in_flush_order_across_flushes_and_split_broadcasts() -> None:
    store = big_store()
    room: Room[str] = Room(broadcast_key=KEY, history=store)
    add(room, "alice")
    add(room, "bob", BOB)
    room.flush()  # the joins: presence takes no position
    assert room.next_position == store.next_position == 1
    opener = BroadcastOpener(KEY, next_seq=room.next_seq)
    room.submit("alice", [envelope(1), envelope(2)])
    room.submit("bob", [envelope(3)])
    first = room.flush()
    assert first is not None and room.next_position == 4
    # Then one flush over the client's frame cap (three frames), with presence in between.
    room.submit("bob", [envelope(n, size=60_000) for n in range(10, 40)])
    add(room, "carol", CAROL)
    room.want("alice", encode_wanted([(BOB.signing_public, 1)]))
    room.submit("alice", [envelope(n, size=60_000) for n in range(40, 60)])
    second = room.flush()
    assert second is not None and len(split_frames(second)) == 3
    assert room.next_position == 54
    # A member counts the chat items of every frame in order, from its WELCOME's
    # next_position (1 here): exactly the store's positions.
    counted: dict[int, int] = {}
    for group in open_all(first + second, opener):
        for chat in group:
            if isinstance(chat, ChatItem):
                counted[len(counted) + 1] = int.from_bytes(chat.message_id, "big")
    assert counted == stored(store) == dict(enumerate([1, 2, 3, *range(10, 60)], start=1))


def test_a_flushed_message_is_acknowledged_to_its_sender_only_and_once() -> None:
    room: Room[str] = Room(broadcast_key=KEY)
    add(room, "alice")
    add(room, "bob", BOB)
    add(room, "carol", CAROL)
    room.submit("alice", [envelope(1), envelope(2)])
    room.submit("bob", [envelope(3)])
    room.want("carol", encode_wanted([(ALICE.signing_public, 1)]))
    assert room.take_acks() == []  # not stored yet: nothing to acknowledge
    room.flush()
    assert room.take_acks() == [
        ("conn-alice", [(1).to_bytes(16, "big"), (2).to_bytes(16, "big")]),
        ("conn-bob", [(3).to_bytes(16, "big")]),
    ]
    assert room.take_acks() == []  # taken once
    add(room, "dave", DAVE)  # presence alone stores nothing and acknowledges nothing
    room.leave("carol", Reason.LEAVING)
    room.flush()
    assert room.take_acks() == []


def test_a_message_is_stored_before_its_broadcast_is_sealed() -> None:
    room: Room[str]
    sealed_at: list[int] = []  # how many broadcasts were sealed when each append came

    class Watching(MemoryHistory):
        def append(self, items: Sequence[tuple[bytes, bytes]]) -> None:
            sealed_at.append(room.broadcasts_sealed)
            super().append(items)

    store = Watching(100, max_bytes=10**6)
    room = Room(broadcast_key=KEY, history=store)
    add(room, "alice")
    room.flush()
    room.submit("alice", [envelope(1)])
    room.flush()
    assert sealed_at == [1]  # the join's broadcast only: this one came after the append
    assert room.broadcasts_sealed == 2


def test_a_flush_whose_messages_cannot_be_stored_sends_and_acknowledges_nothing() -> None:
    class Disk(MemoryHistory):
        full = True

        def append(self, items: Sequence[tuple[bytes, bytes]]) -> None:
            if self.full:
                raise OSError(28, "No space left on device")
            super().append(items)

    disk = Disk(100, max_bytes=10**6)
    room: Room[str] = Room(broadcast_key=KEY, history=disk)
    add(room, "alice")
    room.submit("alice", [envelope(1)])
    add(room, "bob", BOB)
    with pytest.raises(OSError):
        room.flush()
    assert room.broadcasts_sealed == 0 and room.take_acks() == []
    assert room.next_position == 1
    # The joins wait for the next flush; the message is gone (its sender resends it, and the
    # resend is new to the room: it was never stored).
    disk.full = False  # the disk has room again
    opener = BroadcastOpener(KEY, next_seq=room.next_seq)
    data = room.flush()
    assert data is not None
    assert open_all(data, opener) == [
        [JoinedItem(member=info("alice")), JoinedItem(member=info("bob", BOB))]
    ]
    assert room.submit("alice", [envelope(1)]) == 1


def test_a_resend_of_a_stored_message_is_acknowledged_again_never_broadcast_again() -> None:
    store = big_store()
    room: Room[str] = Room(broadcast_key=KEY, history=store)
    add(room, "alice")
    add(room, "bob", BOB)
    room.submit("alice", [envelope(1)])
    room.flush()
    room.take_acks()
    sealed = room.broadcasts_sealed
    # Alice's ACK was lost: she sends it again (same id, after a reconnect).
    assert room.submit("alice", [envelope(1)]) == 0
    assert not room.pending and room.flush() is None
    assert room.broadcasts_sealed == sealed
    assert room.take_acks() == [("conn-alice", [(1).to_bytes(16, "big")])]
    # Bob's copy of the id (whatever its envelope says) is no news either; he is told it is
    # stored, and nothing is broadcast. A new id in the same frame goes out as usual.
    assert room.submit("bob", [envelope(1, size=300), envelope(2)]) == 1
    opener = BroadcastOpener(KEY, next_seq=room.next_seq)
    data = room.flush()
    assert data is not None
    assert open_all(data, opener) == [[ChatItem(sender="bob", envelope=envelope(2))]]
    assert room.take_acks() == [("conn-bob", [(1).to_bytes(16, "big"), (2).to_bytes(16, "big")])]
    assert stored(store) == {1: 1, 2: 2}


def test_an_id_already_pending_is_queued_once_and_acknowledged_to_each_who_sent_it() -> None:
    room: Room[str] = Room(broadcast_key=KEY)
    add(room, "alice")
    add(room, "bob", BOB)
    # Twice in one frame, again in the next frame before the flush, and from bob too.
    assert room.submit("alice", [envelope(1), envelope(1)]) == 1
    assert room.submit("alice", [envelope(1)]) == 0
    assert room.submit("bob", [envelope(1, size=400), envelope(3)]) == 1
    opener = BroadcastOpener(KEY, next_seq=room.next_seq)
    data = room.flush()
    assert data is not None
    (items,) = open_all(data, opener)
    chats = [i for i in items if isinstance(i, ChatItem)]
    assert chats == [
        ChatItem(sender="alice", envelope=envelope(1)),
        ChatItem(sender="bob", envelope=envelope(3)),
    ]
    one, three = (1).to_bytes(16, "big"), (3).to_bytes(16, "big")
    acks = dict(room.take_acks())
    assert sorted(acks["conn-alice"]) == [one, one, one]  # one per copy she sent
    assert sorted(acks["conn-bob"]) == [one, three]
    assert room.next_position == 3
    # Once flushed, the id is free of "pending" but stored: still not queued again.
    assert room.submit("bob", [envelope(1)]) == 0


def test_welcome_history_starts_after_the_joiners_resume_point() -> None:
    room: Room[str] = Room(broadcast_key=KEY, history_limit=3, history=big_store())
    add(room, "alice")
    for n in range(1, 8):
        room.submit("alice", [envelope(n)])
        room.flush()
    add(room, "bob", BOB)
    # A newcomer: the newest history_limit items; they hold positions next - 3 … next - 1.
    fresh = room.welcome("bob")
    assert fresh.next_position == 8 and chat_ids(fresh.history) == [5, 6, 7]
    # A device that holds up to 5: only 6 and 7; one that holds 7 or more: nothing.
    assert chat_ids(room.welcome("bob", resume_after=5).history) == [6, 7]
    assert chat_ids(room.welcome("bob", resume_after=6).history) == [7]
    for holds in (7, 8, 2**64 - 1):
        welcome = room.welcome("bob", resume_after=holds)
        assert (welcome.history, welcome.next_position) == ((), 8)
    # One that holds up to 2 missed 3 … 7: it gets the newest three (5 … 7) and pages back.
    assert chat_ids(room.welcome("bob", resume_after=2).history) == [5, 6, 7]
    # Messages queued but not flushed are no history: they reach the joiner live, at 8.
    room.submit("alice", [envelope(8)])
    late = room.welcome("bob", resume_after=6)
    assert (chat_ids(late.history), late.next_position) == ([7], 8)
    assert Welcome.decode(_encode(late))[0].next_position == 8


def test_a_page_is_the_newest_kept_items_below_before_oldest_first() -> None:
    room: Room[str] = Room(broadcast_key=KEY, history_limit=2, history=big_store(limit=6))
    add(room, "alice")
    for n in range(1, 11):  # positions 1 … 10; the store keeps 5 … 10
        room.submit("alice", [envelope(n)])
        room.flush()
    assert room.next_position == 11

    def page(before: int, limit: int = 1000) -> tuple[int, list[int]]:
        first, items = room.page(before, limit)
        return first, chat_ids(tuple(items))

    assert page(9) == (5, [5, 6, 7, 8])
    assert page(9, limit=2) == (7, [7, 8])  # the newest ones that fit the limit
    assert page(11) == (5, [5, 6, 7, 8, 9, 10])
    # Beyond what is stored: as if asked for below next_position.
    assert page(50) == page(2**64 - 1) == page(11)
    # At or below the oldest kept: nothing older is kept (count 0).
    assert page(6) == (5, [5])
    for before in (5, 4, 2):
        assert page(before) == (before, [])


def test_a_page_fits_one_frame() -> None:
    # Items of 30 KB: a page holds what fits the frame cap, the newest of them, in order.
    room: Room[str] = Room(broadcast_key=KEY, history_limit=5, history=big_store())
    add(room, "alice")
    for n in range(1, 101):
        room.submit("alice", [envelope(n, size=30_000)])
        room.flush()
    first, items = room.page(101, 1000)
    frame = 1 + 8 + 2 + sum(map(len, items)) + 16  # type, first position, count, items, tag
    assert frame <= MAX_RELAY_FRAME < frame + len(items[0])  # one more would not fit
    assert chat_ids(tuple(items)) == list(range(first, 101))
    assert first > 60


def test_memory_history_drops_the_oldest_but_positions_go_on() -> None:
    store = MemoryHistory(3, max_bytes=10**6)
    ids = [n.to_bytes(16, "big") for n in range(1, 8)]
    store.append([(ids[0], b"\x01a"), (ids[1], b"\x01b")])
    store.append([(i, b"\x01" + bytes([n])) for n, i in enumerate(ids[2:5], start=3)])
    assert store.next_position == 6 and len(store) == 3
    assert store.page(after=0, before=6, limit=10, max_bytes=100) == (
        3,
        [b"\x01\x03", b"\x01\x04", b"\x01\x05"],
    )
    assert not store.contains(ids[0]) and not store.contains(ids[1])  # dropped: not kept
    assert store.contains(ids[4]) and store.contains(ids[4] + b"rest of an envelope")
    # A burst of more than the limit: the newest stay, every one takes a position.
    store.append([(n.to_bytes(16, "big"), bytes([1, n])) for n in range(10, 20)])
    assert store.next_position == 16 and store.items == (b"\x01\x11", b"\x01\x12", b"\x01\x13")
    # By bytes too: the oldest go first.
    small = MemoryHistory(10, max_bytes=5)
    small.append([(ids[0], b"\x01abc"), (ids[1], b"\x01de")])
    assert small.items == (b"\x01de",) and small.next_position == 3
    # Keeping nothing still counts (a room that keeps no history has positions).
    none = MemoryHistory(0, max_bytes=10**6)
    none.append([(ids[0], b"\x01a")])
    assert (none.next_position, none.items, none.contains(ids[0])) == (2, (), False)
    assert none.page(after=0, before=2, limit=10, max_bytes=100) == (2, [])
    # A store that carries on from a position (a relay whose history restarts there).
    later = MemoryHistory(5, max_bytes=10**6, next_position=41)
    later.append([(ids[0], b"\x01a")])
    assert later.page(after=0, before=100, limit=5, max_bytes=100) == (41, [b"\x01a"])
    with pytest.raises(ValueError):
        MemoryHistory(-1, max_bytes=10)
    with pytest.raises(ValueError):
        MemoryHistory(1, max_bytes=10, next_position=0)
