"""The built executable's headless commands, run as a user would, on 127.0.0.1."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.packaging.elf import needed_libraries
from tests.procs import TIMEOUT, Proc
from version import __version__

PASSWORD = "smoke test correct horse battery"
# The newest glibc the Linux build may need: Ubuntu 22.04's.
GLIBC_CEILING = (2, 35)


def run(
    binary: Path, *args: str, env: dict[str, str], cwd: Path, timeout: float = TIMEOUT
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(binary), *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_version(binary, clean_env, tmp_path):
    result = run(binary, "--version", env=clean_env, cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert result.stdout == f"SocketChat {__version__}\n"


def test_help_lists_the_commands_and_usage_errors_exit_2(binary, clean_env, tmp_path):
    helped = run(binary, "--help", env=clean_env, cwd=tmp_path)
    wrong = run(binary, "relay", "--password", "x", env=clean_env, cwd=tmp_path)

    assert helped.returncode == 0
    for command in ("relay", "chat", "room", "install-desktop-entry"):
        assert command in helped.stdout
    assert wrong.returncode == 2
    assert wrong.stderr.startswith("usage: ")


@pytest.fixture
def password_file(tmp_path: Path) -> Path:
    path = tmp_path / "room-password"
    path.write_text(PASSWORD + "\n", encoding="utf-8")
    return path


def test_relay_and_two_terminal_clients_exchange_a_message(
    binary, clean_env, tmp_path, password_file
):
    # An ASCII locale (or a Windows code page): UTF-8 mode (build.spec) must carry "✓" anyway.
    env = dict(clean_env, LC_ALL="C", LANG="C")
    started: list[Proc] = []

    def start(*args: str, device: str = "") -> Proc:
        # Each member on a device of its own: one install is one identity, and the relay
        # lists an identity once (a second connection of it replaces the first).
        own = {"SOCKETCHAT_DATA_DIR": str(tmp_path / device)} if device else {}
        proc = Proc([str(binary), *args], env={**env, **own}, cwd=tmp_path)
        started.append(proc)
        return proc

    try:
        relay = start(
            "relay", "--bind", "127.0.0.1", "--port", "0", "--password-file", str(password_file)
        )
        port = relay.wait_line(r"SocketChat relay listening on 127\.0\.0\.1:(\d+)").group(1)
        chat = ("chat", "127.0.0.1", port)
        alice = start(*chat, "alice", "--password-file", str(password_file), device="alice")
        alice.wait_line(r"^\* joined the room at 127\.0\.0\.1:\d+ as alice ")
        bob = start(*chat, "bob", "--password-file", str(password_file), device="bob")
        bob.wait_line(r"^\* joined the room at 127\.0\.0\.1:\d+ as bob ")
        alice.wait_line(r"^\* bob joined")

        alice.say("hello from the packaged build ✓")
        bob.wait_line(r"^\d\d:\d\d alice: hello from the packaged build ✓$")
        bob.say("and back")
        alice.wait_line(r"^\d\d:\d\d bob: and back$")

        assert bob.end_input() == 0
        assert alice.end_input() == 0
        if sys.platform != "win32":  # Windows has no SIGTERM to send a console process
            relay.popen.send_signal(signal.SIGTERM)
            assert relay.popen.wait(timeout=TIMEOUT) == 0
            relay.wait_line(r"user bob \(127\.0\.0\.1:\d+\) disconnected")
    finally:
        for proc in started:
            proc.stop()


def test_room_create_writes_a_private_room_file(binary, clean_env, tmp_path, password_file):
    out = tmp_path / "office.room"
    result = run(
        binary,
        "room",
        "create",
        "--out",
        str(out),
        "--password-file",
        str(password_file),
        env=clean_env,
        cwd=tmp_path,
    )

    assert result.returncode == 0, result.stderr
    assert '"format": "socketchat-room"' in out.read_text(encoding="utf-8")
    assert PASSWORD not in out.read_text(encoding="utf-8")


@pytest.mark.skipif(sys.platform == "win32", reason="Windows always has a display")
def test_the_desktop_app_without_a_display_says_so(gui_binary, clean_env, tmp_path):
    env = {k: v for k, v in clean_env.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    result = run(gui_binary, env=env, cwd=tmp_path)

    assert result.returncode == 2
    assert "needs a graphical display" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


@pytest.mark.skipif(sys.platform != "linux", reason="desktop entries are for Linux desktops")
def test_install_desktop_entry_points_at_the_binary(binary, clean_env, tmp_path):
    home = Path(clean_env["HOME"])
    installed = run(binary, "install-desktop-entry", env=clean_env, cwd=tmp_path)

    assert installed.returncode == 0, installed.stderr
    entry = (home / ".local/share/applications/socketchat.desktop").read_text(encoding="utf-8")
    assert f"\nExec={binary}\n" in entry or f'\nExec="{binary}"\n' in entry
    assert "\nStartupWMClass=Socketchat\n" in entry
    assert (home / ".local/share/icons/hicolor/48x48/apps/socketchat.png").is_file()
    removed = run(binary, "uninstall-desktop-entry", env=clean_env, cwd=tmp_path)
    assert removed.returncode == 0
    assert not (home / ".local/share/applications/socketchat.desktop").exists()


def _extract_elves(binary: Path) -> dict[str, bytes]:
    readers = pytest.importorskip(
        "PyInstaller.archive.readers", reason="PyInstaller reads the bundle's table of contents"
    )
    archive = readers.CArchiveReader(str(binary))
    found = {"(bootloader)": binary.read_bytes()[:1_000_000]}
    for name, entry in archive.toc.items():
        if entry[-1] != "b":  # binaries: the shared libraries and extension modules
            continue
        data = archive.extract(name)
        if data and data[:4] == b"\x7fELF":
            found[name] = data
    return found


@pytest.mark.skipif(sys.platform != "linux", reason="glibc is Linux's")
def test_no_bundled_library_needs_a_glibc_newer_than_ubuntu_22_04(binary):
    # A library's versioned symbol needs show up as GLIBC_x.y strings in its dynamic string
    # table; the newest one decides where it can run.
    needs = {}
    for name, data in _extract_elves(binary).items():
        versions = {tuple(map(int, v)) for v in re.findall(rb"GLIBC_(\d+)\.(\d+)", data)}
        if versions:
            needs[name] = max(versions)
    assert needs, "no ELF file found in the bundle"
    too_new = {name: v for name, v in needs.items() if v > GLIBC_CEILING}
    assert not too_new, f"needs a glibc newer than {GLIBC_CEILING}: {too_new}"
    assert "libtk8.6.so" in needs  # Tk travels with the app...
    assert not any(
        name.startswith(("libX11.", "libfontconfig.", "libexpat.")) for name in needs
    )  # ...the X11 and font stack is the system's


# What a fresh Ubuntu 22.04+ desktop always has: glibc, zlib and bzip2 (priority "required"),
# and the X11/font stack every desktop session uses. The bundle may lean on these, nothing else.
SYSTEM_SONAMES = {
    "libc.so.6",
    "libm.so.6",
    "libdl.so.2",
    "libpthread.so.0",
    "librt.so.1",
    "libutil.so.1",
    "ld-linux-x86-64.so.2",
    "libgcc_s.so.1",
    "libz.so.1",
    "libbz2.so.1.0",
    "libX11.so.6",
    "libXext.so.6",
    "libXrender.so.1",
    "libXau.so.6",
    "libXdmcp.so.6",
    "libxcb.so.1",
    "libfontconfig.so.1",
    "libfreetype.so.6",
    "libexpat.so.1",
}


@pytest.mark.skipif(sys.platform != "linux", reason="ELF shared libraries are Linux's")
def test_every_library_the_bundle_needs_is_bundled_or_on_every_ubuntu_desktop(binary):
    # A clean machine has no Python and no Tcl/Tk: the bundle must carry them, and may leave
    # only the system's own libraries out (build.spec's _SYSTEM_LIBRARIES).
    elves = _extract_elves(binary)
    carried = {name.rsplit("/", 1)[-1] for name in elves}
    missing = {}
    for name, data in elves.items():
        for soname in needed_libraries(data):
            if soname not in carried and soname not in SYSTEM_SONAMES:
                missing.setdefault(soname, []).append(name)
    assert not missing, f"needed, not bundled, not on a clean Ubuntu desktop: {missing}"
    assert {"libtcl8.6.so", "libtk8.6.so", "libpython3.11.so.1.0"} & carried


def test_the_bundle_carries_the_data_files(binary):
    readers = pytest.importorskip("PyInstaller.archive.readers")
    names = set(readers.CArchiveReader(str(binary)).toc)
    for name in (
        "assets/icon.ico",
        "assets/icon-256.png",
        "assets/wordlist.txt",
        "sv_ttk/sv.tcl",
        "sv_ttk/theme/light.tcl",
    ):
        assert name in names, f"{name} is not in the bundle"
    assert not any(name.startswith(("_tcl_data/tzdata/", "_tk_data/demos/")) for name in names)
    # The budget was 20 MB until the app kept rooms and history in the OS keyring: on Linux
    # the keyring library talks to the Secret Service through SecretStorage, which needs
    # cryptography (its Rust module alone is 4.1 MB compressed; docs/INSTALL.md). It was 24 MB
    # until received pictures got previews: Pillow, trimmed in build.spec to the formats and
    # modules the app uses, added 2.3 MB (22.0 to 24.3 MB; 27.7 MB with all of Pillow).
    assert os.path.getsize(binary) < 25_000_000
