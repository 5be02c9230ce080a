"""A real Secret Service for the keychain tests: GNOME Keyring on a private session bus.

The :func:`secret_service_fixture` fixture (requested as ``secret_service``; import it into a
test module) starts ``dbus-daemon`` with a bus configuration of its own, which activates no
service (so nothing from this machine starts on it, and no unlock prompt can appear), then
``gnome-keyring-daemon --unlock --components=secrets --foreground`` on that bus with its
keyrings in a temporary folder. It points ``DBUS_SESSION_BUS_ADDRESS`` at the bus, has keyring
detect its backend again (the Secret Service), and afterwards restores keyring's backend and
stops both processes. The desktop's own bus and keyrings are never touched.

Without ``gnome-keyring-daemon`` or ``dbus-daemon`` the tests are skipped, except under CI
(``CI`` set), where they fail: CI installs both (``.ci/run``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import keyring
import keyring.backend
import keyring.core
import pytest

TOOLS = ("dbus-daemon", "gnome-keyring-daemon")
SECRETS_NAME = "org.freedesktop.secrets"
PASSWORD = b"socketchat-test-keyring"
_START_TIMEOUT = 15.0

# A session bus that activates nothing: without <servicedir> no gcr-prompter (which would wait
# for a person on the test display) and no second keyring daemon can be started on demand.
_BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir={folder}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def unavailable(reason: str) -> NoReturn:
    """Skip the test, or fail it under CI, where everything it needs is installed."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true: CI must install it, see .ci/run)", pytrace=False)
    pytest.skip(reason)


def redetect_backend() -> None:
    """Have keyring choose its backend again, as a new process would: it looks only once
    (``get_all_keyring`` keeps its first answer) and a test changes what there is to find."""
    forget_detection()
    keyring.core.init_backend()


def forget_detection() -> None:
    """Drop keyring's remembered list of backends (jaraco's ``once``; KeyError if empty)."""
    with contextlib.suppress(KeyError):
        keyring.backend.get_all_keyring.reset()


@dataclass
class SecretService:
    """The running test service; ``address`` is its bus."""

    address: str
    folder: Path

    def lock_default_collection(self) -> None:
        """Lock the default collection, as a desktop does on a timeout or screen lock."""
        import secretstorage  # only on Linux, where these tests run

        connection = secretstorage.dbus_init()
        try:
            secretstorage.get_default_collection(connection).lock()
        finally:
            connection.close()


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in reversed(processes):
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
    for process in reversed(processes):
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def _name_has_owner(address: str, name: str) -> bool:
    # jeepney (keyring's D-Bus library on Linux) ships no type information.
    from jeepney.bus_messages import message_bus  # type: ignore[import-untyped]
    from jeepney.io.blocking import open_dbus_connection  # type: ignore[import-untyped]

    with open_dbus_connection(bus=address) as connection:
        reply = connection.send_and_get_reply(message_bus.NameHasOwner(name), timeout=5)
    return bool(reply.body[0])


@contextlib.contextmanager
def running_secret_service() -> Iterator[SecretService]:
    """Start bus and keyring daemon in a temporary folder; stop both and remove it on exit."""
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        unavailable(
            f"{', '.join(missing)} not installed, so there is no Secret Service to test against"
            " (Debian: apt install gnome-keyring dbus-daemon)"
        )
    # A short path of our own: tmp_path can be too long for a Unix socket's name.
    folder = Path(tempfile.mkdtemp(prefix="sc-keyring-"))
    processes: list[subprocess.Popen[bytes]] = []
    try:
        config = folder / "bus.conf"
        config.write_text(_BUS_CONFIG.format(folder=folder), encoding="utf-8")
        bus = subprocess.Popen(
            ["dbus-daemon", f"--config-file={config}", "--nofork", "--print-address=1"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        processes.append(bus)
        assert bus.stdout is not None
        address = bus.stdout.readline().decode().strip()
        if not address:
            pytest.fail("dbus-daemon printed no address", pytrace=False)
        for sub in ("data", "runtime", "config"):
            (folder / sub).mkdir(mode=0o700)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(folder),
            "DBUS_SESSION_BUS_ADDRESS": address,
            "XDG_DATA_HOME": str(folder / "data"),  # its keyrings/ folder lives here
            "XDG_RUNTIME_DIR": str(folder / "runtime"),
            "XDG_CONFIG_HOME": str(folder / "config"),
        }
        with (folder / "gnome-keyring.log").open("wb") as log:
            daemon = subprocess.Popen(
                ["gnome-keyring-daemon", "--unlock", "--components=secrets", "--foreground"],
                stdin=subprocess.PIPE,
                stdout=log,
                stderr=log,
                env=env,
            )
        processes.append(daemon)
        assert daemon.stdin is not None
        daemon.stdin.write(PASSWORD)  # --unlock reads the login keyring's password up to EOF
        daemon.stdin.close()
        deadline = time.monotonic() + _START_TIMEOUT
        while not _name_has_owner(address, SECRETS_NAME):
            if daemon.poll() is not None or time.monotonic() > deadline:
                output = (folder / "gnome-keyring.log").read_text(errors="replace")
                pytest.fail(f"gnome-keyring-daemon did not start: {output[-2000:]}")
            time.sleep(0.02)
        yield SecretService(address=address, folder=folder)
    finally:
        _stop(processes)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(name="secret_service")
def secret_service_fixture(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[SecretService]:
    """A fresh, unlocked Secret Service that ``keyring`` uses for the length of one test."""
    previous = keyring.get_keyring()
    with running_secret_service() as service:
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", service.address)
        monkeypatch.delenv("PYTHON_KEYRING_BACKEND", raising=False)
        monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))  # no keyringrc.cfg of the user's
        redetect_backend()  # now that the bus has a Secret Service
        try:
            chosen = type(keyring.get_keyring())
            assert f"{chosen.__module__}.{chosen.__qualname__}" == (
                "keyring.backends.SecretService.Keyring"
            ), f"keyring chose {chosen} on the test bus"
            yield service
        finally:
            keyring.set_keyring(previous)
            forget_detection()  # what it found here dies with the bus
