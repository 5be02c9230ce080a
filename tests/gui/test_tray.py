"""The tray icon (``gui/tray.py``, ``gui/tray_xembed.py``, ``gui/app_tray.py``): the whole app
on real Tk under Xvfb with a real XEmbed system tray (``trayer``) on the same display.

What is checked from outside the app, with the X tools a person's desktop would use: the icon's
window is embedded in the tray (``xdotool search``, ``xwininfo -tree``), its tooltip
(``xprop WM_NAME``), its picture (``import -window``); clicks are real X button presses
(``xdotool click``) on the icon and on its menu. Without a tray, without pystray, or with the
setting off, the close box quits as it always did. Tests that need a tool skip, saying which,
where it is missing (CI installs trayer, xdotool, x11-utils and imagemagick).
"""

from __future__ import annotations

import io
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace

import pytest

from gui.app import App
from gui.app_tray import SETTING
from gui.notify import DesktopNotifications
from gui.settings import Settings, load_settings, save_settings
from gui.tray import TrayAction, TrayGone, TrayIcon, TrayProblem, tray_title
from tests.gui.apptest import ROOT, app_threads, free_port, log_in, wait_for
from tests.gui.conftest import TIMEOUT, pump_until
from tests.gui.test_app_e2e import open_host_dialog

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="X11 tray")

ICON_CLASS = "socketchatSystemTrayIcon"  # the icon window's WM_CLASS instance (pystray's)


# -- the words, and the setting in the settings file -------------------------------------------


def test_the_tooltip_counts_unread_messages():
    assert tray_title(0) == "SocketChat"
    assert tray_title(1) == "SocketChat: 1 unread message"
    assert tray_title(12) == "SocketChat: 12 unread messages"


def test_the_setting_is_off_by_default_and_kept_in_the_settings_file(tmp_path):
    assert Settings().keep_in_tray is False
    assert load_settings(tmp_path).keep_in_tray is False  # no file yet
    save_settings(replace(Settings(), keep_in_tray=True), tmp_path)
    assert load_settings(tmp_path).keep_in_tray is True
    (tmp_path / "settings.json").write_text('{"keep_in_tray": "yes"}', encoding="utf-8")
    assert load_settings(tmp_path).keep_in_tray is False  # a wrong type falls back


# -- X helpers ---------------------------------------------------------------------------------


def _need(*tools: str) -> None:
    for tool in tools:
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (CI installs it in .ci/run)")


def tray_owner() -> int:
    """The window that owns the screen's system tray selection (0: there is no tray)."""
    import Xlib.display

    display = Xlib.display.Display()
    try:
        atom = display.intern_atom(f"_NET_SYSTEM_TRAY_S{display.get_default_screen()}")
        owner = display.get_selection_owner(atom)
        return int(getattr(owner, "id", owner) or 0)
    finally:
        display.close()


def icon_windows() -> list[int]:
    """The app's tray icon windows on the display, found by their class."""
    found = subprocess.run(
        ["xdotool", "search", "--classname", ICON_CLASS], capture_output=True, text=True
    )
    return [int(line) for line in found.stdout.split()]


def embedded(window: int) -> bool:
    """Whether ``window`` sits in another window (the tray's) rather than on the screen."""
    tree = subprocess.run(
        ["xwininfo", "-tree", "-id", str(window)], capture_output=True, text=True
    ).stdout
    root = re.search(r"Root window id: (0x[0-9a-f]+)", tree)
    parent = re.search(r"Parent window id: (0x[0-9a-f]+)", tree)
    return root is not None and parent is not None and root.group(1) != parent.group(1)


def the_icon(app: App) -> int:
    """Wait for the app's icon to be in the tray; return its window."""
    pump_until(app.root, lambda: app.tray_flow.shown, what="the icon in the tray")
    [window] = icon_windows()
    assert embedded(window), "the tray embedded the icon's window"
    return window


def tooltip(window: int) -> str:
    out = subprocess.run(
        ["xprop", "-id", str(window), "WM_NAME"], capture_output=True, text=True
    ).stdout
    found = re.search(r'= "(.*)"', out)
    return found.group(1) if found else ""


def click(window: int, button: int) -> None:
    subprocess.run(
        ["xdotool", "mousemove", "--window", str(window), "6", "6", "click", str(button)],
        check=True,
    )


class TrayHost:
    """``trayer``, a small XEmbed system tray, at the bottom right of the Xvfb screen."""

    def __init__(self) -> None:
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        assert tray_owner() == 0, "another tray runs on this display"
        self.process = subprocess.Popen(
            [
                *("trayer", "--edge", "bottom", "--align", "right", "--widthtype", "request"),
                *("--height", "32", "--SetDockType", "false"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(lambda: tray_owner() != 0, "trayer to own the system tray")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(TIMEOUT)
            self.process = None
        wait_for(lambda: tray_owner() == 0, "the tray to be gone")


@pytest.fixture(autouse=True)
def _pointer_back() -> Iterator[None]:
    """The pointer goes back where it was: the clicks here leave it on the tray, and with no
    window manager the keyboard follows the pointer, so the next tests' windows would get no
    key events."""
    if shutil.which("xdotool") is None:
        yield
        return
    where = subprocess.run(
        ["xdotool", "getmouselocation", "--shell"], capture_output=True, text=True
    ).stdout
    place = dict(line.split("=", 1) for line in where.split() if "=" in line)
    yield
    if "X" in place and "Y" in place:
        subprocess.run(["xdotool", "mousemove", place["X"], place["Y"]], check=False)


@pytest.fixture
def tray_host(root) -> Iterator[TrayHost]:
    _need("trayer", "xdotool", "xwininfo", "xprop")
    host = TrayHost()
    host.start()
    yield host
    host.stop()


@pytest.fixture
def no_tray(root) -> None:
    _need("xdotool")
    if tray_owner() != 0:
        pytest.skip("a system tray runs on this display")


def _tray_app(make_app, tmp_path, **options) -> App:
    """An app whose settings file says the setting was turned on before."""
    save_settings(replace(Settings(), keep_in_tray=True), tmp_path / "settings")
    return make_app(**options)


def _join(app: App, port: int) -> None:
    log_in(app, port, "alice")
    pump_until(app.root, lambda: app.chat is not None and app.chat.connected, what="joined")


def _tray_threads() -> list[str]:
    return [name for name in app_threads() if name.startswith("socketchat-tray")]


def _tray_entry(app: App) -> int:
    menu = app.view_menu
    assert menu is not None
    last = menu.index("end")
    assert last is not None
    for index in range(last + 1):
        if menu.type(index) == "checkbutton" and str(menu.entrycget(index, "label")).startswith(
            SETTING
        ):
            return index
    raise AssertionError("no tray entry in the View menu")


def _choose_from_the_icons_menu(app: App, window: int, action: TrayAction) -> None:
    """A right click on the icon, then a click on ``action`` in the menu that opens."""
    click(window, 3)
    pump_until(
        app.root,
        lambda: app.tray_flow.menu is not None and app.tray_flow.menu.winfo_ismapped(),
        what="the icon's menu",
    )
    menu = app.tray_flow.menu
    assert menu is not None
    assert [menu.entrycget(i, "label") for i in range(2)] == [a.value for a in TrayAction]
    index = [a for a in TrayAction].index(action)
    x = menu.winfo_rootx() + 20
    y = menu.winfo_rooty() + menu.yposition(index) + 5
    subprocess.run(["xdotool", "mousemove", str(x), str(y)], check=True)
    app.root.update()
    subprocess.run(["xdotool", "click", "1"], check=True)


# -- with a real tray ----------------------------------------------------------------------------


def test_the_close_box_hides_the_window_to_a_real_tray_and_a_click_brings_it_back(
    make_app, tray_host, relay, members, keys, tmp_path
):
    notified: list[tuple[str, str]] = []

    async def record(title: str, body: str) -> None:
        notified.append((title, body))

    notifications = DesktopNotifications(sender=record, min_interval=0)
    app = make_app(notifications=notifications)
    _join(app, relay.port)
    assert icon_windows() == [], "no icon while the setting is off"

    # View → Keep running in the tray…: the icon comes, and the choice is remembered.
    menu = app.view_menu
    assert menu is not None
    menu.invoke(_tray_entry(app))
    assert load_settings(tmp_path / "settings").keep_in_tray is True
    window = the_icon(app)
    assert menu.entrycget(_tray_entry(app), "label") == SETTING
    wait_for(lambda: tooltip(window) == "SocketChat", "the tooltip")

    # The close box hides the window; the room stays connected and messages still notify.
    app.request_close()
    assert app.root.state() == "withdrawn" and not app.closed
    bob, _ = members(relay.port, "bob", keys)
    pump_until(
        app.root,
        lambda: app.chat is not None and "bob" in [m.name for m in app.chat.members],
        what="bob",
    )
    bob.send("are you still there?")
    pump_until(app.root, lambda: app.chat is not None and app.chat.unread == 1, what="unread")
    notifications.wait_idle()
    assert notified == [("bob", "are you still there?")]
    wait_for(lambda: tooltip(window) == "SocketChat: 1 unread message", "the unread tooltip")
    assert app.root.state() == "withdrawn"

    # A click on the icon (a real X button press) brings the window back.
    click(window, 1)
    pump_until(app.root, lambda: app.root.state() == "normal", what="the window back")
    assert app.root.winfo_viewable()
    assert app.chat is not None and app.chat.connected

    # Quit from the icon's menu: nothing waits, so nothing is asked; the icon goes too.
    _choose_from_the_icons_menu(app, window, TrayAction.QUIT)
    pump_until(app.root, lambda: app.closed, what="quit")
    assert icon_windows() == []
    wait_for(lambda: not _tray_threads(), "the tray's threads to end")


def test_quit_from_the_tray_asks_in_front_of_the_window_when_a_hosted_room_would_close(
    make_app, tray_host, tmp_path
):
    asked: list[tuple[str, str]] = []
    answers = [False, True]

    def confirm(title: str, text: str, button: str) -> bool:
        asked.append((title, app.root.state()))
        return answers.pop(0)

    app = _tray_app(make_app, tmp_path, confirm=confirm)
    dialog = open_host_dialog(app, free_port())
    dialog.ok()
    pump_until(app.root, lambda: app.chat is not None and app.chat.connected, what="hosting")
    window = the_icon(app)
    app.request_close()
    assert app.root.state() == "withdrawn" and asked == [], "hiding asks nothing"

    _choose_from_the_icons_menu(app, window, TrayAction.QUIT)
    pump_until(app.root, lambda: bool(asked), what="the question")
    assert asked == [("Close the room?", "normal")], "asked with the window shown"
    assert not app.closed and app.tray_flow.shown, "Cancel keeps everything"

    _choose_from_the_icons_menu(app, window, TrayAction.QUIT)
    pump_until(app.root, lambda: app.closed, what="quit")
    assert [title for title, _ in asked] == ["Close the room?", "Close the room?"]


def test_a_tray_that_goes_away_brings_the_window_back_and_one_that_comes_is_used(
    make_app, tray_host, tmp_path
):
    app = _tray_app(make_app, tmp_path)
    app.tray_flow.retry_ms = 200
    the_icon(app)
    app.request_close()
    assert app.root.state() == "withdrawn"

    tray_host.stop()  # the panel crashes while the window is hidden
    pump_until(app.root, lambda: app.root.state() == "normal", what="the window back")
    assert app.tray_flow.problem is TrayProblem.LOST and not app.tray_flow.shown
    assert app.tray_flow.setting_label() == f"{SETTING} (not available: the system tray went away)"

    tray_host.start()  # the panel is back: the app puts its icon there again by itself
    window = the_icon(app)
    assert app.tray_flow.setting_label() == SETTING
    app.request_close()
    assert app.root.state() == "withdrawn"
    click(window, 1)
    pump_until(app.root, lambda: app.root.state() == "normal", what="the window back")


def test_turning_the_setting_off_takes_the_icon_away_and_the_close_box_quits(
    make_app, tray_host, relay, tmp_path
):
    app = _tray_app(make_app, tmp_path)
    _join(app, relay.port)
    the_icon(app)
    menu = app.view_menu
    assert menu is not None
    menu.invoke(_tray_entry(app))  # off
    assert app.keep_in_tray.get() is False
    assert load_settings(tmp_path / "settings").keep_in_tray is False
    assert app.tray_flow.icon is None
    wait_for(lambda: icon_windows() == [], "the icon to go")
    wait_for(lambda: not _tray_threads(), "the tray's threads to end")
    app.request_close()
    assert app.closed


def test_the_icon_keeps_its_shape_on_the_trays_background(make_app, tray_host, tmp_path):
    _need("import")
    from PIL import Image

    app = _tray_app(make_app, tmp_path)
    window = the_icon(app)
    time.sleep(0.2)  # the first expose has been painted
    shot = subprocess.run(
        ["import", "-window", str(window), "png:-"], capture_output=True, check=True
    ).stdout
    with Image.open(io.BytesIO(shot)) as picture:
        image = picture.convert("RGB")
    width, height = image.size
    side = min(width, height)
    top = (height - side) // 2
    left = (width - side) // 2
    red, _, blue = image.getpixel(
        (left + side // 6, top + side // 2)
    )  # the bubble, left of the lock
    assert blue > 150 and red < 120, "the icon's blue"
    corner = image.getpixel((width - 1, top + side - 1))  # beside the bubble's tail: transparent
    assert corner != (0, 0, 0), "the tray's background shows where the icon is transparent"


def test_the_app_process_with_its_icon_ends_on_sigterm_and_takes_the_icon_away(tray_host, tmp_path):
    """``python main.py`` with the setting on: its icon is in the tray, and a logout's SIGTERM
    ends the process all the same (the tray's threads never keep it alive)."""
    config = tmp_path / "config"
    save_settings(replace(Settings(), keep_in_tray=True), config / "SocketChat")
    env = {
        **os.environ,
        "HOME": str(tmp_path / "home"),
        "XDG_CONFIG_HOME": str(config),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "DBUS_SESSION_BUS_ADDRESS": "disabled:",  # no keyring: nothing of this machine's
    }
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "main.py")],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: any(embedded(window) for window in icon_windows()), "the app's icon")
        process.send_signal(signal.SIGTERM)
        assert process.wait(TIMEOUT) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(TIMEOUT)
    assert icon_windows() == []
    assert process.stderr is not None and "Traceback" not in process.stderr.read()


# -- without a tray, without pystray, or with the setting off ------------------------------------


def test_with_the_setting_off_there_is_no_icon_and_the_close_box_quits(make_app, tray_host):
    app = make_app()
    assert app.keep_in_tray.get() is False and app.tray_flow.icon is None
    app.root.update()
    assert icon_windows() == []
    app.request_close()
    assert app.closed


def test_without_a_tray_the_setting_says_so_and_the_close_box_quits(
    make_app, no_tray, relay, tmp_path
):
    app = _tray_app(make_app, tmp_path)
    _join(app, relay.port)
    pump_until(app.root, lambda: app.tray_flow.problem is not None, what="the tray's answer")
    assert app.tray_flow.problem is TrayProblem.NO_TRAY and not app.tray_flow.shown
    menu = app.view_menu
    assert menu is not None
    label = menu.entrycget(_tray_entry(app), "label")
    assert label == f"{SETTING} (not available: no system tray on this desktop)"
    assert app.keep_in_tray.get() is True, "the choice stays, for a desktop with a tray"
    assert icon_windows() == []
    app.request_close()
    assert app.closed, "the close box quits: a hidden window could not be brought back"


def test_without_pystray_the_setting_says_so_and_the_close_box_quits(
    make_app, root, tmp_path, monkeypatch
):
    monkeypatch.setitem(sys.modules, "pystray", None)  # `import pystray` raises ImportError
    app = _tray_app(make_app, tmp_path)
    pump_until(app.root, lambda: app.tray_flow.problem is not None, what="the tray's answer")
    assert app.tray_flow.problem is TrayProblem.NO_LIBRARY
    assert "not available: the tray library (pystray) is not installed" in (
        app.tray_flow.setting_label()
    )
    app.request_close()
    assert app.closed


def test_an_icon_whose_picture_cannot_be_read_says_so_and_leaves_no_thread(root, tmp_path):
    events: queue.SimpleQueue[object] = queue.SimpleQueue()
    icon = TrayIcon(events.put, image=tmp_path / "missing.png")
    icon.start()
    gone = events.get(timeout=TIMEOUT)
    assert isinstance(gone, TrayGone) and gone.problem is TrayProblem.NO_IMAGE
    icon.stop()
    assert not icon.alive and events.empty()
