"""A diagnostic start: load what the packaged app carries as data, report, exit.

``SOCKETCHAT_SELFTEST=1 socketchat`` (or ``python main.py``) runs :func:`run` instead of the
app: it imports the whole app and estimates a password's strength (zxcvbn), computes one
name skeleton (confusable_homoglyphs' ``confusables.json``, which build.spec must bundle),
creates a hidden Tk root, applies the Sun Valley theme (sv-ttk's Tcl files), puts the
icon on the window (``assets/icon-*.png``; ``icon.ico`` must exist too) and reads the
passphrase word list, loads the UPnP and mDNS libraries (miniupnpc, zeroconf, ifaddr: imported
only when hosting or browsing, so a missing one would otherwise show up late), decodes a small
PNG, JPEG, GIF and WebP made on the spot into Tk images (Pillow's plugins and libraries, which
build.spec trims to those four), prints one line
and exits: 0 when everything loaded, 1 if something did
not (the line says what), 2 without a display. It opens no window, no socket and writes no
file. The build's tests use it to prove that the data files are really inside the bundle.

``SOCKETCHAT_SELFTEST=crash`` raises :class:`DeliberateCrash` instead, so that the tests can
see the crash report (``gui/crash.py``: a log file and a dialog) work in the packaged app.
"""

from __future__ import annotations

import sys
import tkinter as tk
from tkinter import ttk

from gui.icon import assets_dir, set_app_icon
from gui.theme import apply_theme

ENV_VAR = "SOCKETCHAT_SELFTEST"
EXPECTED_THEME = "sun-valley-light"
EXPECTED_ICONS = 6
# A name that only the confusables data can tell looks like "alice" (U+0430 is Cyrillic).
SKELETON_PROBE, EXPECTED_SKELETON = "\u0430lice", "alice"
EXIT_OK, EXIT_FAILED, EXIT_NO_DISPLAY = 0, 1, 2


def check(root: tk.Tk) -> tuple[list[str], list[str]]:
    """Load the theme, icon and word list on ``root``; return (facts, problems)."""
    import gui.app  # noqa: F401  - every module the app imports (no hidden-import surprise)
    from crypto.passphrase import load_wordlist
    from crypto.password import estimate_strength

    facts: list[str] = []
    problems: list[str] = []
    estimate_strength("correct horse battery")  # zxcvbn's frequency lists, as the Host dialog
    apply_theme(root)
    theme = ttk.Style(root).theme_use()
    facts.append(f"theme={theme}")
    if theme != EXPECTED_THEME:
        problems.append(f"theme is {theme!r}, not {EXPECTED_THEME!r} (sv-ttk missing?)")
    icons = set_app_icon(root)
    facts.append(f"icons={len(icons)}")
    if len(icons) != EXPECTED_ICONS:
        problems.append(f"{len(icons)} of {EXPECTED_ICONS} icon sizes loaded")
    if not (assets_dir() / "icon.ico").is_file():
        problems.append("assets/icon.ico is missing")
    try:
        words = len(load_wordlist())
    except (OSError, ValueError) as error:
        words = 0
        problems.append(f"word list: {error}")
    facts.append(f"wordlist={words}")
    name_data = check_name_data()
    facts.append(f"skeleton={'ok' if name_data is None else 'FAILED'}")
    if name_data is not None:
        problems.append(name_data)
    facts.extend(_network_libraries(problems))
    facts.append(_pictures(root, problems))
    facts.append(_drop(root, problems))
    facts.append(f"frozen={bool(getattr(sys, 'frozen', False))}")
    return facts, problems


def check_name_data() -> str | None:
    """Compute one name skeleton (the look-alike data); None if right, else what went wrong."""
    from net.client import name_skeleton

    try:
        looks = name_skeleton(SKELETON_PROBE)
    except (ImportError, OSError, ValueError) as error:  # the data missing from the bundle
        return f"confusables data: {error}"
    if looks != EXPECTED_SKELETON:
        return f"confusables data: skeleton of U+0430 + 'lice' is {looks!a}, not 'alice'"
    return None


def _network_libraries(problems: list[str]) -> list[str]:
    """The libraries hosting imports only when used (UPnP, mDNS): present and loadable? A
    ServiceInfo is built to load zeroconf's compiled parts; nothing is sent."""
    facts = []
    try:
        import miniupnpc

        miniupnpc.UPnP()  # the C extension's object; discovery would be the first packet
        facts.append("upnp=ok")
    except Exception as error:  # any failure to load is what this test is for
        problems.append(f"miniupnpc: {error}")
    try:
        import ifaddr
        from zeroconf import ServiceInfo

        from net.reach import SERVICE_TYPE

        ServiceInfo(
            SERVICE_TYPE, f"selftest.{SERVICE_TYPE}", port=1, parsed_addresses=["192.0.2.1"]
        )
        ifaddr.get_adapters()
        facts.append("mdns=ok")
    except Exception as error:
        problems.append(f"zeroconf: {error}")
    return facts


def _drop(root: tk.Misc, problems: list[str]) -> str:
    """Load tkdnd (drag and drop of files onto the conversation) into ``root``: its shared
    library for this platform is in the bundle and Tk accepts it."""
    from gui.file_sending import enable_drop

    target = tk.Frame(root)
    try:
        if not enable_drop([target], lambda _paths: None):
            problems.append("drag and drop: tkdnd could not be loaded")
            return "drop=FAILED"
        version = target.tk.call("package", "present", "tkdnd")
    finally:
        target.destroy()
    return f"drop=ok (tkdnd {version})"


def _pictures(root: tk.Misc, problems: list[str]) -> str:
    """Make a picture in each format previews accept, decode it as a received one, show it in
    Tk: the plugins and their libraries (libjpeg, libwebp, zlib) are in the bundle."""
    kind = "Pillow"
    try:
        import io

        from PIL import Image

        from gui.pictures import ALLOWED_FORMATS, decode_preview, photo_image

        for kind in ALLOWED_FORMATS:
            encoded = io.BytesIO()
            Image.new("RGB", (48, 32), (200, 30, 30)).save(encoded, kind)
            image = photo_image(decode_preview(encoded.getvalue(), max_side=24), root)
            if (image.width(), image.height()) != (24, 16):
                problems.append(f"{kind} preview is {image.width()}x{image.height()}, not 24x16")
                return "pictures=FAILED"
    except Exception as error:  # a missing plugin or library shows up here, whatever it is
        problems.append(f"pictures: {kind}: {error!r}")
        return "pictures=FAILED"
    return "pictures=ok"


def run() -> int:
    """Run the self-test; print one line; return the exit status."""
    try:
        root = tk.Tk(className="socketchat")
    except tk.TclError as error:
        print(f"SocketChat selftest: no display ({error})", file=sys.stderr)
        return EXIT_NO_DISPLAY
    root.withdraw()
    try:
        facts, problems = check(root)
        root.update_idletasks()
    finally:
        root.destroy()
    if problems:
        print("selftest FAILED: " + "; ".join(problems) + " (" + " ".join(facts) + ")")
        return EXIT_FAILED
    print("selftest ok: " + " ".join(facts))
    return EXIT_OK


class DeliberateCrash(RuntimeError):
    """Raised by :func:`crash`; nothing else raises it."""


def crash() -> int:
    """``SOCKETCHAT_SELFTEST=crash``: fail the way an unexpected bug would."""
    raise DeliberateCrash("SOCKETCHAT_SELFTEST=crash: a deliberate crash to test the crash report")
