"""crypto.password_share: a new room password sealed to one member, signed by who changed it."""

from __future__ import annotations

import pytest

from crypto import password_share as ps
from crypto.errors import AuthenticationError
from crypto.identity import Identity

from ._reference import flip

ROOM = bytes(range(16))
OLD_MEMBER_KEY = bytes(range(32, 64))
ALICE, BOB, CAROL = (Identity.generate() for _ in range(3))


def share(
    to: Identity = BOB, *, password: str = "new-pass-phrase", seq: int = 7, key=OLD_MEMBER_KEY
):
    return ps.seal_password(
        password,
        distributor=ALICE,
        recipient_signing=to.signing_public,
        recipient_dh=to.dh_public,
        room_id=ROOM,
        seq=seq,
        member_key=key,
    )


def opened(to: Identity, blob: bytes, *, by: Identity = ALICE, key=OLD_MEMBER_KEY):
    return ps.open_password(to, blob, distributor=by.signing_public, room_id=ROOM, member_key=key)


def test_the_member_opens_its_share():
    assert opened(BOB, share(password="neue Lösung 🔑")) == (7, "neue Lösung 🔑")


@pytest.mark.parametrize(
    "why",
    ["another member", "wrong distributor", "without the old password", "every byte", "cut"],
)
def test_nobody_else_opens_it_and_nothing_can_be_changed(why):
    blob = share()
    cases = {
        "another member": lambda: opened(CAROL, blob),
        "wrong distributor": lambda: opened(BOB, blob, by=CAROL),
        "without the old password": lambda: opened(BOB, share(key=bytes(32))),
        "every byte": lambda: [opened(BOB, flip(blob, i)) for i in range(len(blob))],
        "cut": lambda: opened(BOB, blob[:-1]),
    }
    if why == "every byte":
        for index in range(len(blob)):
            with pytest.raises(AuthenticationError):
                opened(BOB, flip(blob, index))
        return
    with pytest.raises(AuthenticationError):
        cases[why]()


def test_passwords_are_bounded():
    with pytest.raises(ValueError):
        share(password="")
    with pytest.raises(ValueError):
        share(password="x" * 257)
    assert opened(BOB, share(password="x" * 256))[1] == "x" * 256
