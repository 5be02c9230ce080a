"""Desktop notifications: what the chat window asks for (recording fakes, real Tk), and what a
real notification daemon receives (dunst on a private session bus, seen by dbus-monitor)."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time

import pytest

from gui.chat import ChatWindow
from gui.chat_text import PREVIEW_CHARS, notification_text
from gui.notify import DesktopNotifications, plain_summary, summarise
from net.client import PendingMessage
from net.client import events as ce
from tests.gui import notification_daemon
from tests.gui.conftest import members_of

NOW_MS = int(time.time() * 1000)
_ids = (i.to_bytes(16, "big") for i in itertools.count(1))


def received(sender: str, text: str, *, own: bool = False, history: bool = False):
    return ce.MessageReceived(
        sender=sender,
        text=text,
        message_id=next(_ids),
        timestamp_ms=NOW_MS,
        from_history=history,
        own=own,
    )


class Recorder:
    """Stands in for the app's DesktopNotifications.show."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def __call__(self, title: str, body: str) -> None:
        self.calls.append((title, body))


@pytest.fixture
def window(root):
    recorder = Recorder()
    focused = {"value": False}
    chat = ChatWindow(
        root,
        room="example.org:7777",
        username="alice",
        members=members_of("alice", "bob"),
        send=lambda text: PendingMessage(text=text, message_id=next(_ids), timestamp_ms=NOW_MS),
        is_focused=lambda: focused["value"],
        notify=recorder,
    )
    chat.grid(row=0, column=0, sticky="nsew")
    root.update()
    chat.recorder, chat.focused = recorder, focused
    return chat


# -- what to say (plain functions) -------------------------------------------------------------


def test_notification_text_is_the_cleaned_name_and_a_short_one_line_preview():
    title, body = notification_text("b\u200bob\n", "line one\n\n\nline two\u202e " + "x" * 500)
    assert title == "b⟨U+200B⟩ob⟨U+000A⟩"
    assert "\n" not in body
    assert body.startswith("line one line two⟨U+202E⟩ xxx")
    assert len(body) == PREVIEW_CHARS and body.endswith("…")


def test_a_burst_is_summed_up():
    assert summarise([("bob", "hi")]) == ("bob", "hi")
    title, body = summarise([("bob", "1"), ("carol", "2"), ("bob", "3")])
    assert title == "3 new messages"
    assert body == "From bob, carol. Latest, bob: 3"


def test_summary_for_daemons_that_parse_markup_has_no_markup_characters():
    assert plain_summary("<b>x</b> & y") == "‹b›x‹/b› ＆ y"


# -- when to notify (real widgets, recording notifier) -------------------------------------


def test_unfocused_window_notifies_with_name_and_preview(window):
    window.handle(received("bob", "lunch at noon?"))
    assert window.recorder.calls == [("bob", "lunch at noon?")]
    assert window.unread == 1
    assert window.winfo_toplevel().title().startswith("(1) ")


def test_focused_window_own_and_history_messages_do_not_notify(window):
    window.focused["value"] = True
    window.handle(received("bob", "seen it"))
    window.focused["value"] = False
    window.handle(received("alice", "mine", own=True))
    window.handle(received("bob", "old", history=True))
    assert window.recorder.calls == []


def test_muted_room_counts_unread_but_stays_quiet_except_for_mentions(window):
    window.muted.set(True)
    window.handle(received("bob", "chatter"))
    assert window.recorder.calls == []
    assert window.unread == 1
    window.handle(received("bob", "@Alice please look"))
    assert window.recorder.calls == [("bob mentioned you", "@Alice please look")]
    window.handle(received("bob", "@alicia is someone else"))
    assert len(window.recorder.calls) == 1


def test_mute_switch_is_in_the_window(window):
    window.mute_button.invoke()
    assert window.muted.get() is True


# -- the notification thread (recording sender: no daemon needed) ---------------------------


def test_show_returns_at_once_and_sends_on_its_own_thread():
    threads: list[str] = []
    release = threading.Event()

    async def slow_sender(title: str, body: str) -> None:
        threads.append(threading.current_thread().name)
        await asyncio.get_running_loop().run_in_executor(None, release.wait, 5)

    notifications = DesktopNotifications(sender=slow_sender, min_interval=0)
    started = time.monotonic()
    notifications.show("bob", "hi")
    assert time.monotonic() - started < 0.1  # a stuck daemon never blocks the Tk thread
    release.set()
    notifications.wait_idle()
    notifications.close()
    assert threads == ["socketchat-notify"]


def test_burst_gives_one_notification_then_a_summary():
    async def sender(title: str, body: str) -> None:
        return None

    notifications = DesktopNotifications(sender=sender, min_interval=0.3)
    for number in range(50):
        notifications.show("bob", f"message {number}")
    notifications.wait_idle()
    notifications.close()
    # The first goes out at once (alone, or with what arrived before the loop ran it); the
    # rest wait for the interval and come as one summary.
    assert 1 <= len(notifications.sent) <= 2
    assert notifications.sent[-1][1].endswith("bob: message 49")
    counts = [1 if title == "bob" else int(title.split()[0]) for title, _ in notifications.sent]
    assert sum(counts) == 50


def test_a_failing_sender_is_counted_not_raised():
    async def broken(title: str, body: str) -> None:
        raise OSError("no daemon")

    notifications = DesktopNotifications(sender=broken, min_interval=0)
    notifications.show("bob", "hi")
    notifications.wait_idle()
    notifications.close()
    assert notifications.failures == 1


def test_close_without_use_and_show_after_close_are_harmless():
    notifications = DesktopNotifications(sender=lambda *_: asyncio.sleep(0))
    notifications.close()
    notifications.show("bob", "too late")
    assert notifications.sent == []


# -- a real daemon ------------------------------------------------------------------------


@pytest.fixture
def daemon(tmp_path, monkeypatch):
    try:
        running = notification_daemon.start(tmp_path)
    except notification_daemon.Unavailable as error:
        pytest.skip(f"no notification daemon for this test: {error}")
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", running.address)
    yield running
    running.stop()


def test_real_daemon_receives_the_notification_with_markup_escaped(daemon):
    notifications = DesktopNotifications()
    notifications.show("bob <b>&", 'see <a href="https://evil.example">this</a> & that')
    notifications.wait_idle()
    notifications.close()
    assert notifications.failures == 0
    seen = daemon.wait_for(1)
    assert seen == [
        (
            "SocketChat",
            "bob ‹b›＆",
            'see &lt;a href="https://evil.example"&gt;this&lt;/a&gt; &amp; that',
        )
    ]


def test_real_daemon_gets_a_message_from_the_chat_window(daemon, root):
    notifications = DesktopNotifications()
    chat = ChatWindow(
        root,
        room="example.org:7777",
        username="alice",
        members=members_of("alice", "bob"),
        send=lambda text: PendingMessage(text=text, message_id=next(_ids), timestamp_ms=NOW_MS),
        is_focused=lambda: False,
        notify=notifications.show,
    )
    chat.grid(row=0, column=0, sticky="nsew")
    chat.handle(received("bob", "is the build green?\nasking for a friend"))
    seen = daemon.wait_for(1)
    notifications.close()
    assert seen == [("SocketChat", "bob", "is the build green? asking for a friend")]
