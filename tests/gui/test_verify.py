"""Safety codes on screen: what the dialogs say and offer (plain functions, no display), then
the two dialogs on real Tk widgets."""

from __future__ import annotations

import re

import pytest

from crypto.identity import Identity, pair_safety_code, safety_code
from gui.verify import (
    VERIFY_HELP,
    SafetyCodeDialog,
    VerifyDialog,
    badge,
    code_rows,
    public_identity,
    verify_view,
    your_code,
)
from net.client import Trust
from tests.gui.conftest import identity_of

ALICE = identity_of("alice").public
BOB = identity_of("bob").public


# -- plain logic -------------------------------------------------------------------------


def test_badges():
    assert badge(Trust.VERIFIED) == "✓"
    assert badge(Trust.CHANGED) == "⚠"
    assert badge(Trust.KNOWN) == badge(Trust.NEW) == ""


def test_your_code_is_30_digits_in_groups_of_five_to_read_aloud():
    code = your_code(ALICE)
    assert re.fullmatch(r"\d{5}( \d{5}){5}", code)
    assert code == safety_code(ALICE)
    assert code_rows(code, 3) == [code[:17], code[18:]]


def test_the_pair_code_is_the_same_on_both_screens():
    mine = verify_view(ALICE, "bob", BOB, Trust.KNOWN)
    theirs = verify_view(BOB, "alice", ALICE, Trust.KNOWN)
    assert mine.code == theirs.code == pair_safety_code(BOB, ALICE)
    assert re.fullmatch(r"\d{5}( \d{5}){11}", mine.code)
    # Each half is one person's own code, so "Your safety code" can be found in it.
    assert your_code(ALICE) in mine.code and your_code(BOB) in mine.code
    rows = code_rows(mine.code, 3)
    assert len(rows) == 4
    # Each person's own code fills two rows, as in their "Your safety code" dialog.
    assert {" ".join(rows[:2]), " ".join(rows[2:])} == {your_code(ALICE), your_code(BOB)}


def test_an_unverified_member_can_be_marked_verified():
    view = verify_view(ALICE, "bob", BOB, Trust.KNOWN)
    assert view.heading == "Verify bob"
    assert view.explanation == VERIFY_HELP.format(name="bob")
    assert "read it aloud" in view.explanation and "in person or on a call" in view.explanation
    assert view.can_verify and not view.can_accept and not view.warning
    assert view.status.startswith("Not verified yet")


def test_a_verified_member_says_so_and_offers_nothing_to_record():
    view = verify_view(ALICE, "bob", BOB, Trust.VERIFIED)
    assert view.status == "✓ You verified bob."
    assert not view.can_verify and not view.can_accept


@pytest.mark.parametrize("was_verified", [False, True])
def test_a_changed_key_is_explained_and_can_be_accepted(was_verified):
    view = verify_view(ALICE, "bob", BOB, Trust.CHANGED, was_verified=was_verified)
    assert "bob's safety code changed" in view.warning
    assert "someone else" in view.warning
    assert ("You had verified the old code" in view.warning) is was_verified
    assert "until you accept the new key" in view.warning
    assert view.code == pair_safety_code(ALICE, BOB), "the new code is shown"
    assert view.can_accept and view.can_verify


def test_a_member_not_in_the_room_has_no_code_but_a_change_can_be_accepted():
    view = verify_view(ALICE, "bob", None, Trust.CHANGED)
    assert view.code == "" and "not in the room right now" in view.explanation
    assert view.can_accept and not view.can_verify


def test_names_in_the_dialog_are_made_safe():
    view = verify_view(ALICE, "b\u200bob", BOB, Trust.CHANGED)
    assert "\u200b" not in view.heading + view.warning + view.explanation
    assert "b⟨U+200B⟩ob" in view.heading


def test_keys_no_device_has_give_no_identity():
    assert public_identity(BOB.signing_public, BOB.dh_public) == BOB
    assert public_identity(BOB.signing_public, b"") is None
    assert public_identity(bytes(32), bytes(32)) is None  # small-order points


# -- the dialogs on Tk ---------------------------------------------------------------------


def test_your_safety_code_dialog_shows_the_code_and_copies_it(root):
    dialog = SafetyCodeDialog(root, ALICE)
    root.update()
    assert dialog.winfo_viewable()
    shown = str(dialog.code_label.cget("text"))
    assert shown.split("\n") == code_rows(safety_code(ALICE), 3)
    dialog.copy_button.invoke()
    assert root.clipboard_get() == safety_code(ALICE)
    assert dialog.copied.get() == "Copied to the clipboard."
    dialog.event_generate("<Escape>")
    root.update()
    assert not dialog.winfo_exists()


def test_verify_dialog_records_only_on_a_deliberate_click(root):
    calls: list[str] = []
    view = verify_view(ALICE, "bob", BOB, Trust.KNOWN)
    dialog = VerifyDialog(
        root, view, on_verify=lambda: calls.append("verify"), on_accept=lambda: calls.append("x")
    )
    root.update()
    assert dialog.accept_button is None and dialog.verify_button is not None
    assert dialog.code_label is not None
    assert str(dialog.code_label.cget("text")).split("\n") == code_rows(view.code, 3)
    assert dialog.focus_get() is dialog.close_button, "Close is the default"
    dialog.event_generate("<Return>")
    root.update()
    assert calls == [] and dialog.result is None and not dialog.winfo_exists()

    dialog = VerifyDialog(
        root, view, on_verify=lambda: calls.append("verify"), on_accept=lambda: calls.append("x")
    )
    dialog.verify_button.invoke()
    assert calls == ["verify"] and dialog.result == "verified"
    assert not dialog.winfo_exists()


def test_verify_dialog_for_a_changed_key_offers_accept(root):
    calls: list[str] = []
    view = verify_view(ALICE, "bob", BOB, Trust.CHANGED, was_verified=True)
    dialog = VerifyDialog(
        root,
        view,
        on_verify=lambda: calls.append("verify"),
        on_accept=lambda: calls.append("accept"),
    )
    root.update()
    texts = [
        str(child.cget("text"))
        for child in dialog.body.winfo_children()
        if child.winfo_class() in ("TLabel", "Label")
    ]
    assert any(text.startswith("⚠ bob's safety code changed") for text in texts)
    assert dialog.accept_button is not None
    assert dialog.accept_button.cget("text") == "Accept the new key"
    dialog.accept_button.invoke()
    assert calls == ["accept"] and dialog.result == "accepted"


def test_a_new_identity_gets_a_new_code():
    other = Identity.generate().public
    assert your_code(other) != your_code(ALICE)
    assert pair_safety_code(ALICE, other) != pair_safety_code(ALICE, BOB)
