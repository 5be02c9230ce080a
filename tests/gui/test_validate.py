"""Login and host dialog validation: plain functions, no display needed."""

from __future__ import annotations

import pytest

from gui.host import validate_host_request
from gui.login import LoginRequest, validate_login
from gui.validate import (
    check_address,
    check_password,
    check_port,
    check_username,
    format_address,
)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("example.org", ("example.org", None)),
        ("  192.168.1.20 ", ("192.168.1.20", None)),
        ("::1", ("::1", None)),
        ("2001:db8::1", ("2001:db8::1", None)),
        ("[2001:db8::1]", ("2001:db8::1", None)),
        ("[2001:db8::1]:7777", ("2001:db8::1", 7777)),
        ("[fe80::1]", ("fe80::1", None)),
        ("fe80::1%eth0", ("fe80::1%eth0", None)),
        ("[fe80::1%eth0]:8000", ("fe80::1%eth0", 8000)),
        ("::ffff:192.0.2.1", ("::ffff:192.0.2.1", None)),
        ("example.org:7777", ("example.org", 7777)),
        ("192.168.1.20:7000", ("192.168.1.20", 7000)),
        ("bücher.example", ("bücher.example", None)),
    ],
)
def test_good_hosts(text, expected):
    assert check_address(text) == (*expected, None)


@pytest.mark.parametrize(
    "text, words",
    [
        ("", "Please enter the host"),
        ("my host", "cannot contain spaces"),
        ("example.org:77x7", "whole number from 1 to 65535"),
        ("example.org:", "Please enter the port"),
        (":7777", "before the colon"),
        ("2001:db8::g", "not a valid IPv6 address"),
        ("[2001:db8::1", "not a valid IPv6 address"),
        ("[2001:db8::1]7777", "not a valid IPv6 address"),
        ("[example.org]:7777", "not a valid IPv6 address"),
        ("[2001:db8::1]:0", "whole number from 1 to 65535"),
        ("fe80::1%", "not a valid IPv6 address"),
        ("http://example.org", "without http://"),
        ("exam\u200bple.org", "invisible character"),
        ("a" * 254, "too long"),
    ],
)
def test_bad_hosts_say_what_is_wrong(text, words):
    host, port, message = check_address(text)
    assert host is None and port is None
    assert message is not None and words in message


def test_addresses_are_shown_with_brackets_around_ipv6():
    assert format_address("2001:db8::1", 7777) == "[2001:db8::1]:7777"
    assert format_address("example.org", 7777) == "example.org:7777"


def test_a_port_in_the_host_field_wins_over_the_port_field():
    request, errors = validate_login("[2001:db8::1]:7000", "not a port", "hunter22", "alice")
    assert errors == {}
    assert request == LoginRequest("2001:db8::1", 7000, "hunter22", "alice")


@pytest.mark.parametrize("text, expected", [("7777", 7777), (" 1 ", 1), ("65535", 65535)])
def test_good_ports(text, expected):
    assert check_port(text) == (expected, None)


@pytest.mark.parametrize("text", ["0", "65536", "77a7", "-1", "7777.0", "٣٣", "1e3"])
def test_bad_ports_give_the_range(text):
    value, message = check_port(text)
    assert value is None
    assert message == "The port must be a whole number from 1 to 65535."


def test_empty_port_mentions_the_default():
    assert check_port("")[1] == "Please enter the port (the default is 7777)."


@pytest.mark.parametrize(
    "text, words",
    [
        ("", "Please enter a name."),
        (" alice", "cannot start or end with a space"),
        ("a" * 33, "at most 32 characters"),
        ("al\u200bice", "invisible formatting character"),
        ("al\x07ice", "control character"),
    ],
)
def test_bad_usernames(text, words):
    value, message = check_username(text)
    assert value is None
    assert words in message


def test_usernames_are_nfc_and_may_hold_emoji():
    assert check_username("Zoe\u0301 🦊") == ("Zoé 🦊", None)


def test_passwords_keep_their_typed_form_and_explain_rejections():
    assert check_password("ｃａｆé x") == ("ｃａｆé x", None)
    assert "Please enter the room password" in check_password("")[1]
    assert "invisible formatting character" in check_password("pass\u200dword")[1]


def test_validate_login_returns_a_request_or_every_error_at_once():
    request, errors = validate_login(" example.org ", "7777", "hunter22", "alice")
    assert request == LoginRequest("example.org", 7777, "hunter22", "alice")
    assert errors == {}

    request, errors = validate_login("", "99999", "", "")
    assert request is None
    assert set(errors) == {"host", "port", "password", "username"}


def test_validate_host_request():
    request, errors = validate_host_request("7777", "a-b-c-d", "alice")
    assert request is not None and request.port == 7777 and errors == {}

    request, errors = validate_host_request("", "", " bob")
    assert request is None
    assert set(errors) == {"port", "password", "username"}
    assert "New passphrase" in errors["password"]


def test_requests_never_show_the_password():
    from gui.host import HostRequest

    assert "hunter22" not in repr(LoginRequest("example.org", 7777, "hunter22", "alice"))
    assert "hunter22" not in repr(HostRequest(7777, "hunter22", "alice"))


@pytest.mark.parametrize("timestamp_ms", [0, 2**53, 2**63, 2**64 - 1])
def test_any_claimed_timestamp_formats_without_error(timestamp_ms):
    from gui.messages import format_time

    assert format_time(timestamp_ms)  # a sender controls it: never an exception
