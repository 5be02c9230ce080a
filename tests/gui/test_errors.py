"""Every failure says what happened and what to do; no display needed."""

from __future__ import annotations

import errno

import pytest

from gui.errors import (
    CONNECT_AGAIN,
    TRUST_NEW_RELAY,
    failure_action,
    failure_text,
    host_error_text,
    trust_relay_question,
)
from net.client import texts
from net.client.events import ErrorKind

EXPECTED = {
    ErrorKind.REFUSED: ("connection was refused", "Is the room running? Is the port right?"),
    ErrorKind.TIMED_OUT: ("timed out", "forward the port"),
    ErrorKind.HOST_NOT_FOUND: ("was not found", "spelling"),
    ErrorKind.NETWORK: ("network failed", "try again"),
    ErrorKind.WRONG_PASSWORD: ("Wrong room password", "exact password"),
    # The client's own message names the broken character: it is shown as is.
    ErrorKind.BAD_PASSWORD: ("client text", "visible characters"),
    ErrorKind.NAME_TAKEN: ("The name 'alice' belongs to another member", "Pick another name"),
    ErrorKind.NAME_LOOKALIKE: (
        "refused the name 'alice': it looks too much like the name of another member",
        "looks different",
    ),
    ErrorKind.NAME_INVALID: ("did not accept the name", "1 to 32"),
    ErrorKind.ROOM_FULL: ("room is full", "Try again later"),
    ErrorKind.BUSY: ("busy with other people joining", "Wait a few seconds"),
    ErrorKind.TOO_MANY_ATTEMPTS: ("Too many failed attempts", "Wait"),
    ErrorKind.INCOMPATIBLE_VERSION: ("cannot talk to", "same SocketChat version"),
    ErrorKind.ROOM_CLOSED: ("The host closed the room", "rejoin once they host it again"),
    ErrorKind.PROTOCOL_ERROR: ("did not understand", "same SocketChat version"),
    ErrorKind.RELAY_CHANGED: (
        "This is not the room's relay you joined before",
        "choose to trust the new relay",
    ),
    ErrorKind.LOGIN_INTERRUPTED: (
        "ended while the room password was being checked",
        "does not try again on its own",
    ),
    ErrorKind.NO_SUCH_ROOM: ("does not host the room you asked for", "Ask the host"),
    ErrorKind.REPLACED: ("joined this room again as 'alice'", "connect again here"),
    ErrorKind.IDENTITY_UNAVAILABLE: ("identity file cannot be read", "will not make a new"),
    ErrorKind.REMOVED: ("removed from this room by its owner or an admin", "cannot join again"),
    ErrorKind.PASSWORD_CHANGED: ("was not given the new one", "Ask the room's owner for it"),
}


def test_every_error_kind_has_a_message():
    assert set(EXPECTED) == set(ErrorKind)


@pytest.mark.parametrize("kind", list(ErrorKind))
def test_failure_text_says_what_happened_and_what_to_do(kind):
    text = failure_text(kind, "client text", host="example.org", port=7777, username="alice")
    happened, todo = EXPECTED[kind]
    assert happened in text
    assert todo in text


def test_addresses_appear_in_network_failures():
    assert "example.org:7777" in failure_text(ErrorKind.REFUSED, host="example.org", port=7777)
    assert "'nowhere.invalid'" in failure_text(ErrorKind.HOST_NOT_FOUND, host="nowhere.invalid")


def test_bad_password_without_details():
    assert failure_text(ErrorKind.BAD_PASSWORD).startswith("This room password cannot be used.")


def test_unknown_kind_falls_back_to_the_clients_message():
    assert failure_text("SOMETHING_NEW", "The client explains.") == "The client explains."
    assert failure_text("SOMETHING_NEW") == "Could not join the room."


def test_port_in_use_is_explained_with_a_way_out():
    text = host_error_text(OSError(errno.EADDRINUSE, "Address already in use"), 7777)
    assert "Port 7777 is already in use" in text
    assert "7778" in text


def test_other_host_errors():
    assert "above 1024" in host_error_text(OSError(errno.EACCES, "Permission denied"), 80)
    assert "Could not open port 7777" in host_error_text(OSError(errno.EINVAL, "bad"), 7777)
    assert "Could not start the room" in host_error_text(ValueError("boom"), 7777)


def test_only_a_changed_relay_and_an_interrupted_login_offer_a_button():
    assert failure_action(ErrorKind.RELAY_CHANGED) == TRUST_NEW_RELAY
    assert failure_action(ErrorKind.LOGIN_INTERRUPTED) == CONNECT_AGAIN
    others = set(ErrorKind) - {ErrorKind.RELAY_CHANGED, ErrorKind.LOGIN_INTERRUPTED}
    assert all(failure_action(kind) is None for kind in others)


def test_trusting_a_new_relay_is_asked_with_the_risk_spelled_out():
    question = trust_relay_question("chat.example.org", 7777)
    assert "chat.example.org:7777" in question
    for words in ("set the room up again", "pretending to be the room", "Ask the host first"):
        assert words in question


def test_a_relays_own_words_are_never_shown_for_a_refused_name():
    # GOODBYE text comes from the relay: the app words the refusal itself.
    text = failure_text(
        ErrorKind.NAME_LOOKALIKE, "The relay refused the name: click evil.example", username="b0b"
    )
    assert "evil.example" not in text and "'b0b'" in text


def test_a_closed_room_reads_as_the_client_words_it_beside_rejoin():
    # The terminal client says HOST_CLOSED; the app offers Rejoin beside the same words, not
    # "ask the host" (the person can rejoin by themselves once the room is back).
    assert failure_text(ErrorKind.ROOM_CLOSED, "anything") == texts.HOST_CLOSED
    assert "rejoin" in failure_text(ErrorKind.ROOM_CLOSED)
