"""The connection banner: the countdown's arithmetic as plain functions, then the banner on
real Tk (its live ``after()`` countdown, Retry now, the keyboard), then the chat window fed
with the client's events (one line per loss in the conversation, none per attempt)."""

from __future__ import annotations

import time

import pytest

from gui.chat import ChatWindow
from gui.chat_text import loss_reason
from gui.connection import (
    BACK_TO_ROOMS,
    CONNECTING,
    REJOIN,
    RETRY_NOW,
    ConnectionBanner,
    LinkState,
    countdown_text,
    next_tick_ms,
)
from gui.theme import DARK, LIGHT, Palette
from net.client import PendingMessage, texts
from net.client import events as ce
from net.client.events import ErrorKind
from tests.gui.conftest import joined, members_of, pump_until, text_of

# -- the arithmetic ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("remaining", "words"),
    [
        (7.0, "Reconnecting in 7 s…"),
        (6.2, "Reconnecting in 7 s…"),
        (6.0, "Reconnecting in 6 s…"),
        (1.0, "Reconnecting in 1 s…"),
        (0.01, "Reconnecting in 1 s…"),
        (0.0, None),
        (-3.0, None),
    ],
)
def test_the_countdown_rounds_up_and_never_says_zero(remaining, words):
    assert countdown_text(remaining) == words


def test_the_next_tick_comes_when_the_text_changes():
    assert next_tick_ms(6.2) == 205  # 6.2 s reads "7 s" until 6.0
    assert next_tick_ms(7.0) == 1005
    assert next_tick_ms(0.001) == 10  # never a busy loop


@pytest.mark.parametrize(
    ("reason", "said"),
    [
        ("The relay is restarting; reconnecting.", "the relay is restarting"),
        ("The relay shut down; trying again until it is back.", "the relay shut down"),
        ("Lost; then found; reconnecting.", "lost; then found"),
        ("Reconnecting failed; the relay is gone.", "reconnecting failed; the relay is gone"),
        ("connection lost", "connection lost"),
        ("TLS  handshake\nfailed.", "TLS handshake failed"),
        ("", "no reason given"),
    ],
)
def test_the_loss_line_reads_as_one_sentence(reason, said):
    assert loss_reason(reason) == said


@pytest.mark.parametrize(
    "reason",
    [texts.RELAY_RESTARTING, texts.RELAY_SHUTTING_DOWN, texts.TAMPERED, texts.PASSWORD_SWITCHED],
)
def test_the_loss_line_says_why_not_what_the_client_does_next(reason):
    # The banner counts down to the next attempt; "… Back at 14:03." follows the cause.
    said = loss_reason(reason)
    assert said and "reconnect" not in said and "trying again" not in said


def _luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def _contrast(a: str, b: str) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


@pytest.mark.parametrize("palette", [LIGHT, DARK], ids=["light", "dark"])
def test_the_banner_is_readable_in_both_themes(palette: Palette):
    assert _contrast(palette.text, palette.info_surface) >= 4.5
    assert _contrast(palette.warning, palette.warning_surface) >= 4.5


# -- the banner on Tk ------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def banner(root):
    calls: list[str] = []
    clock = Clock()
    widget = ConnectionBanner(root, on_retry_now=lambda: calls.append("retry"), clock=clock)
    widget.grid(row=0, column=0, sticky="ew")
    widget.hide()
    root.update()
    widget.calls, widget.clock = calls, clock
    return widget


def test_hidden_while_connected(banner):
    assert banner.state is LinkState.CONNECTED and not banner.winfo_ismapped()


def test_counting_down_by_the_clock_then_connecting(banner, root):
    banner.waiting(7.0)
    root.update()
    assert banner.winfo_ismapped()
    assert banner.text.get() == "Reconnecting in 7 s…"
    assert list(banner.buttons) == [RETRY_NOW]
    assert banner.label.cget("background") == LIGHT.info_surface
    banner.clock.now += 0.5
    banner.tick()
    assert banner.text.get() == "Reconnecting in 7 s…"
    banner.clock.now += 0.6
    banner.tick()
    assert banner.text.get() == "Reconnecting in 6 s…"
    banner.clock.now += 6.0
    banner.tick()
    assert banner.text.get() == CONNECTING and banner.state is LinkState.CONNECTING
    assert banner.buttons == {}  # nothing to hurry any more


def test_the_countdown_runs_by_itself_on_after_and_never_says_zero(root):
    seen: list[str] = []
    widget = ConnectionBanner(root)  # the real monotonic clock, the real after() timer
    widget.grid(row=0, column=0, sticky="ew")
    widget.text.trace_add("write", lambda *_: seen.append(widget.text.get()))
    started = time.monotonic()
    widget.waiting(1.5)
    pump_until(root, lambda: widget.state is LinkState.CONNECTING, timeout=5, what="the end")
    took = time.monotonic() - started
    assert 1.4 < took < 2.5
    assert seen[0] == "Reconnecting in 2 s…" and "Reconnecting in 1 s…" in seen
    assert seen[-1] == CONNECTING
    assert not any("0 s" in text for text in seen)


def test_retry_now_asks_once_and_says_connecting(banner):
    banner.waiting(30.0)
    banner.buttons[RETRY_NOW].invoke()
    assert banner.calls == ["retry"]
    assert banner.text.get() == CONNECTING and banner.buttons == {}
    banner.retry_now()  # nothing left to hurry
    assert banner.calls == ["retry"]


def test_retry_now_from_the_keyboard(banner, root):
    banner.waiting(30.0)
    root.update()
    button = banner.buttons[RETRY_NOW]
    button.focus_force()
    root.update()
    button.event_generate("<KeyPress-space>")  # the button goes: it did its work
    root.update()
    assert banner.calls == ["retry"]


def test_queued_and_failed(banner, root):
    banner.queued(3)
    assert banner.text.get() == "Reconnecting: number 3 in line…"
    pressed: list[str] = []
    banner.failed(
        "Disconnected: gone.",
        [(REJOIN, lambda: pressed.append(REJOIN)), (BACK_TO_ROOMS, lambda: pressed.append("b"))],
    )
    root.update()
    assert list(banner.buttons) == [REJOIN, BACK_TO_ROOMS]
    assert banner.label.cget("foreground") == LIGHT.warning
    assert banner.label.cget("background") == LIGHT.warning_surface
    assert banner.press_first() and pressed == [REJOIN]
    banner.apply_palette(DARK)
    assert banner.label.cget("background") == DARK.warning_surface
    banner.hide()
    root.update()
    assert not banner.winfo_ismapped() and banner.buttons == {}


# -- the chat window -----------------------------------------------------------------------------


def _chat(root, **options) -> ChatWindow:
    clock = Clock()

    def send(text: str) -> PendingMessage:
        return PendingMessage(
            text=text, message_id=time.time_ns().to_bytes(16, "big"), timestamp_ms=0
        )

    window = ChatWindow(
        root,
        room="example.org:7777",
        username="alice",
        members=members_of("alice", "bob"),
        send=send,
        clock=clock,
        **options,
    )
    window.grid(row=0, column=0, sticky="nsew")
    window.handle(joined("alice", "bob"))
    root.update()
    return window


def test_many_attempts_make_one_line_and_no_noise(root):
    asked: list[str] = []
    chat = _chat(root, on_retry_now=lambda: asked.append("retry"))
    lines_before = text_of(chat.messages.text).count("\n")
    for attempt in range(2, 18):  # a relay that stays away for a while
        chat.handle(ce.Disconnected(reason="connection refused", retry_in=attempt % 5))
        chat.handle(ce.Connecting(attempt=attempt))
    chat.handle(ce.Disconnected(reason="connection refused", retry_in=7.0))
    assert chat.banner_texts == ["Reconnecting in 7 s…"]
    shown = text_of(chat.messages.text)
    assert shown.count("\n") == lines_before + 1
    assert "Reconnecting" not in shown and "attempt" not in shown
    # Ctrl+R from the compose box presses Retry now.
    chat.entry.focus_force()
    root.update()
    chat.entry.event_generate("<Control-r>")
    assert asked == ["retry"] and chat.banner_texts == [CONNECTING]
    chat.handle(joined("alice", "bob", reconnected=True))
    assert chat.banner_texts == [] and not chat.connection.winfo_ismapped()
    shown = text_of(chat.messages.text)
    assert shown.count("\n") == lines_before + 1  # the same line, now saying it is back
    assert "Connection lost at" in shown and ". Back at" in shown


def test_a_final_failure_takes_the_place_of_the_loss_line(root):
    back: list[str] = []
    chat = _chat(root, on_reconnect=lambda: None, on_back=lambda: back.append("back"))
    lines_before = text_of(chat.messages.text).count("\n")
    chat.handle(ce.Disconnected(reason="the relay is restarting", retry_in=1.0))
    chat.handle(ce.Connecting(attempt=2))
    chat.handle(ce.Failed(kind=ErrorKind.ROOM_CLOSED, message=""))
    shown = text_of(chat.messages.text)
    assert shown.count("\n") == lines_before + 1
    assert "Disconnected: The host closed the room." in shown
    assert "Connection lost" not in shown
    assert list(chat.connection.buttons) == [REJOIN, BACK_TO_ROOMS]
    chat.connection.buttons[BACK_TO_ROOMS].invoke()
    assert back == ["back"]
    # A late event from the stopped client changes nothing.
    chat.handle(ce.Disconnected(reason="late", retry_in=3.0))
    assert chat.connection.state is LinkState.FAILED


def test_removed_offers_back_to_rooms_only(root):
    chat = _chat(root, on_reconnect=lambda: None, on_back=lambda: None)
    chat.handle(ce.Failed(kind=ErrorKind.REMOVED, message=""))
    assert list(chat.connection.buttons) == [BACK_TO_ROOMS]
