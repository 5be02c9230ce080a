"""Links, mentions and the context menu in the real message list (Tk under Xvfb)."""

from __future__ import annotations

import itertools
import time

import pytest

from gui.chat import ChatWindow
from gui.messages import MessageList
from net.client import PendingMessage
from net.client import events as ce
from tests.gui.conftest import members_of, pump_until

NOW_MS = int(time.time() * 1000)
_ids = (i.to_bytes(16, "big") for i in itertools.count(1))


@pytest.fixture
def opened():
    return []


@pytest.fixture
def messages(root, opened):
    widget = MessageList(root, open_url=opened.append)
    widget.mention_name = "alice"
    widget.pack(fill="both", expand=True)
    root.update()
    return widget


def add(widget: MessageList, sender: str, text: str, **options) -> None:
    widget.add_message(sender, text, NOW_MS, message_id=next(_ids), **options)
    widget.flush()
    widget.update()


def tagged(widget: MessageList, tag: str) -> list[str]:
    ranges = widget.text.tag_ranges(tag)
    return [widget.text.get(ranges[i], ranges[i + 1]) for i in range(0, len(ranges), 2)]


def centre_of(widget: MessageList, text: str) -> tuple[int, int]:
    """Widget coordinates of the middle of the first occurrence of ``text``."""
    start = widget.text.search(text, "1.0", "end")
    assert start, text
    widget.text.see(start)
    widget.update()
    box = widget.text.bbox(f"{start} + {len(text) // 2} chars")
    assert box is not None, f"{text!r} is not on screen"
    x, y, width, height = box
    return x + width // 2, y + height // 2


def click(widget: MessageList, x: int, y: int) -> None:
    widget.text.event_generate("<Motion>", x=x, y=y, warp=False)
    widget.text.event_generate("<ButtonPress-1>", x=x, y=y)
    widget.text.event_generate("<ButtonRelease-1>", x=x, y=y)
    widget.update()


def test_links_are_underlined_and_exactly_what_detection_found(messages):
    add(messages, "bob", "docs at https://example.org/a_(b). and (https://example.org/c)")
    add(messages, "bob", "fake https://exa\u200bmple.org and https://\u0430pple.com")
    assert tagged(messages, "link") == ["https://example.org/a_(b)", "https://example.org/c"]
    assert messages.text.tag_cget("link", "underline") in ("1", 1, True)


def test_click_opens_http_links_in_the_browser_with_the_exact_url(messages, opened, root):
    url = "https://example.org/path?q=1&r=2#frag"
    add(messages, "bob", f"look: {url}.")
    click(messages, *centre_of(messages, "example.org/path"))
    assert opened == [url]
    assert "Opening" in messages.flash_label.cget("text")


@pytest.mark.parametrize(
    "url", ["javascript:alert(document.cookie)", "file:///etc/passwd", "steam://run/440"]
)
def test_click_on_other_schemes_copies_and_says_so(messages, opened, root, url):
    add(messages, "bob", f"try {url}")
    click(messages, *centre_of(messages, url[:8]))
    assert opened == []
    assert root.clipboard_get() == url
    notice = str(messages.flash_label.cget("text"))
    assert "Copied" in notice and "only http and https" in notice
    assert messages.flash_label.winfo_ismapped()


def test_a_drag_that_selects_text_is_not_a_click(messages, opened):
    add(messages, "bob", "https://example.org/selected")
    x, y = centre_of(messages, "example.org")
    messages.text.event_generate("<ButtonPress-1>", x=x, y=y)
    messages.text.tag_add("sel", "1.0", "end")
    messages.text.event_generate("<ButtonRelease-1>", x=x, y=y)
    assert opened == []


def test_hover_shows_the_full_target_in_a_tooltip(messages):
    url = "https://example.org/" + "long-path/" * 30
    add(messages, "bob", url)
    x, y = centre_of(messages, "example.org")
    messages.text.event_generate("<Enter>", x=x, y=y)
    messages.text.event_generate("<Motion>", x=x, y=y)
    messages.update()
    assert messages.tooltip_text == f"Opens in your browser:\n{url}"
    assert messages.text.cget("cursor") == "hand2"
    messages.text.event_generate("<Motion>", x=2, y=2)
    messages.update()
    assert messages.tooltip_text == ""


def test_status_line_shows_the_link_target_while_hovering(root):
    chat = ChatWindow(
        root,
        room="example.org:7777",
        username="alice",
        members=members_of("alice", "bob"),
        send=lambda text: PendingMessage(text=text, message_id=next(_ids), timestamp_ms=NOW_MS),
        is_focused=lambda: True,
    )
    chat.pack(fill="both", expand=True)
    chat.handle(
        ce.MessageReceived(
            sender="bob",
            text="see javascript:void(0)",
            message_id=next(_ids),
            timestamp_ms=NOW_MS,
            from_history=False,
            own=False,
        )
    )
    chat.flush()
    root.update()
    before = chat.status.get()
    x, y = centre_of(chat.messages, "javascript")
    chat.messages.text.event_generate("<Motion>", x=x, y=y)
    root.update()
    assert chat.status.get() == "Link: javascript:void(0)"
    assert chat.messages.tooltip_text.startswith("Not a web link; a click copies it:")
    chat.messages.text.event_generate("<Motion>", x=2, y=2)
    root.update()
    assert chat.status.get() == before


def test_context_menu_offers_copy_link_and_copy_message(messages, root):
    add(messages, "bob", "first line\nsee https://example.org/x please")
    add(messages, "alice", "my own reply", own=True, pending="sending…")
    index = messages.text.search("example.org", "1.0")
    menu = messages.build_menu(index)
    labels = [
        menu.entrycget(i, "label")
        for i in range(menu.index("end") + 1)
        if menu.type(i) == "command"
    ]
    assert labels == ["Copy link", "Copy message", "Copy", "Select all"]
    menu.invoke(0)
    assert root.clipboard_get() == "https://example.org/x"
    menu.invoke(1)
    assert root.clipboard_get() == "first line\nsee https://example.org/x please"
    # An own pending message: the body, without the "sending…" note.
    own = messages.build_menu(messages.text.search("own reply", "1.0"))
    own.invoke(0)
    assert root.clipboard_get() == "my own reply"
    # On a header too; not on a notice.
    assert messages.message_at(messages.text.search("bob", "1.0")) is not None
    messages.add_notice("carol joined the room.")
    messages.flush()
    notice_menu = messages.build_menu(messages.text.search("carol joined", "1.0"))
    assert notice_menu.entrycget(0, "label") == "Copy"


def test_context_menu_opens_on_right_click_and_from_the_keyboard(messages):
    add(messages, "bob", "https://example.org/menu")
    x, y = centre_of(messages, "example.org")
    messages.after(50, lambda: messages.menu.unpost() if messages.menu else None)
    messages.text.event_generate("<Button-3>", x=x, y=y, rootx=10, rooty=10)
    assert messages.menu is not None
    assert messages.menu.entrycget(0, "label") == "Copy link"
    messages.menu.unpost()
    messages.text.focus_force()
    messages.text.mark_set("insert", messages.text.search("example", "1.0"))
    messages.after(50, lambda: messages.menu.unpost() if messages.menu else None)
    messages.text.event_generate("<Shift-F10>")
    assert messages.menu.entrycget(0, "label") == "Copy link"
    messages.menu.unpost()


def test_mentions_of_me_are_highlighted_in_others_messages_only(messages):
    add(messages, "bob", "@Alice and @alicebob and mail alice@example.org, @ALICE!")
    add(messages, "alice", "note to self @alice", own=True)
    assert tagged(messages, "mention") == ["@Alice", "@ALICE"]
    assert messages.text.tag_cget("mention", "background")


def test_link_detection_keeps_a_burst_fast(root):
    widget = MessageList(root)
    widget.mention_name = "alice"
    widget.pack(fill="both", expand=True)
    started = time.perf_counter()
    for number in range(1000):
        widget.add_message(
            "bob",
            f"@alice see https://example.org/{number} (and http://x.example/{number}).",
            NOW_MS,
            message_id=next(_ids),
        )
    widget.flush()
    pump_until(root, lambda: True)
    assert len(widget.text.tag_ranges("link")) == 4000  # 2 links × 1,000, start and end
    assert time.perf_counter() - started < 10
