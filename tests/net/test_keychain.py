"""net.client.keychain against a real Secret Service (GNOME Keyring on a private bus), an item
deleted while it is being read, and the keyrings it must refuse: none at all, keyring's fail and
null backends, an unknown backend, no D-Bus session, a locked collection."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import keyring
import keyring.backend
import keyring.backends.fail
import keyring.backends.null
import keyring.backends.SecretService
import keyring.core
import pytest
import secretstorage.exceptions
import secretstorage.item
from keyring.compat import properties

from net.client.archive import Archive
from net.client.keychain import (
    LOCAL_KEY_NAME,
    LOCAL_KEY_SIZE,
    Keychain,
    KeychainUnavailable,
)
from tests.net.keychain_support import (  # the fixture, requested as secret_service
    forget_detection,
    redetect_backend,
    secret_service_fixture,  # noqa: F401
)

SERVICE = "SocketChat-test"
REASON_START = "No keyring is available on this computer ("
REASON_END = "). SocketChat remembers nothing secret."


@pytest.fixture
def backend_restored() -> Iterator[None]:
    """Whatever a test sets with keyring.set_keyring is undone afterwards."""
    previous = keyring.get_keyring()
    yield
    keyring.set_keyring(previous)
    forget_detection()


def assert_plain_reason(error: KeychainUnavailable) -> None:
    text = str(error)
    assert text.startswith(REASON_START)
    assert text.endswith(REASON_END)
    assert error.detail and error.detail in text


# -- a real Secret Service --------------------------------------------------------------------


def test_round_trip(secret_service):
    chain = Keychain.open(SERVICE)
    assert chain.backend_name == "Keyring"
    assert chain.get("token") is None
    for value in (b"\x00\xff binary \n", b"", bytes(range(256))):
        chain.set("token", value)
        assert chain.get("token") == value
    # Another service name is another namespace.
    assert Keychain.open("SocketChat-other").get("token") is None


def test_values_are_stored_as_base64(secret_service):
    chain = Keychain.open(SERVICE)
    chain.set("token", b"\x00\x01secret")
    assert keyring.get_password(SERVICE, "token") == "AAFzZWNyZXQ="


def test_delete_and_delete_missing(secret_service):
    chain = Keychain.open(SERVICE)
    chain.set("token", b"value")
    chain.delete("token")
    assert chain.get("token") is None
    chain.delete("token")  # missing is fine
    chain.delete("never-there")


def test_open_leaves_no_probe_behind(secret_service):
    Keychain.open(SERVICE)
    assert keyring.get_password(SERVICE, ".probe") is None


def test_local_key_is_created_once_and_stable_across_instances(secret_service):
    first = Keychain.open(SERVICE).local_key()
    assert isinstance(first, bytes)
    assert len(first) == LOCAL_KEY_SIZE
    assert Keychain.open(SERVICE).local_key() == first
    assert Keychain.open(SERVICE).get(LOCAL_KEY_NAME) == first
    assert Keychain.open("SocketChat-other").local_key() != first


def test_local_key_opens_the_archive_again(secret_service, tmp_path: Path):
    room, message = bytes(16), bytes(range(16))
    with Archive.open(tmp_path / "history.db", Keychain.open(SERVICE).local_key()) as archive:
        archive.queue_outgoing(room, message, "later", 1)
    with Archive.open(tmp_path / "history.db", Keychain.open(SERVICE).local_key()) as archive:
        assert [item.text for item in archive.outgoing(room)] == ["later"]


def test_a_damaged_local_key_is_refused_not_replaced(secret_service):
    chain = Keychain.open(SERVICE)
    chain.set(LOCAL_KEY_NAME, b"too short")
    with pytest.raises(KeychainUnavailable) as caught:
        chain.local_key()
    assert_plain_reason(caught.value)
    assert chain.get(LOCAL_KEY_NAME) == b"too short"


def test_a_value_that_is_not_base64_is_refused(secret_service):
    keyring.set_password(SERVICE, "token", "not base64 at all!")
    with pytest.raises(KeychainUnavailable) as caught:
        Keychain.open(SERVICE).get("token")
    assert_plain_reason(caught.value)
    assert "not base64" not in str(caught.value)


def test_a_locked_collection_that_cannot_be_unlocked_is_unavailable(secret_service):
    # The test bus starts no prompter, as on a machine without a desktop session.
    secret_service.lock_default_collection()
    with pytest.raises(KeychainUnavailable) as caught:
        Keychain.open(SERVICE)
    assert_plain_reason(caught.value)


def test_errors_after_opening_are_keychain_unavailable(secret_service):
    chain = Keychain.open(SERVICE)
    secret_service.lock_default_collection()
    for call in (lambda: chain.get("x"), lambda: chain.set("x", b"1"), lambda: chain.delete("x")):
        with pytest.raises(KeychainUnavailable):
            call()


def test_bad_names_are_value_errors(secret_service):
    chain = Keychain.open(SERVICE)
    for name in ("", "x" * 256):
        with pytest.raises(ValueError):
            chain.get(name)
    with pytest.raises(ValueError):
        Keychain.open("")


# -- an item that goes while it is read --------------------------------------------------------


def test_get_of_an_item_deleted_while_it_is_read_is_none(secret_service, monkeypatch):
    chain = Keychain.open(SERVICE)
    chain.set("token", b"value")
    read = secretstorage.item.Item.get_secret
    deleted: list[str] = []

    def read_after_a_delete(item: secretstorage.item.Item) -> bytes:
        # Another caller's delete, between this get's lookup and its read: the race's window,
        # held open. The item goes from the service, not from a test double.
        deleted.append(item.get_label())
        item.delete()
        return read(item)

    with monkeypatch.context() as patched:
        patched.setattr(secretstorage.item.Item, "get_secret", read_after_a_delete)
        assert chain.get("token") is None
    assert deleted == [f"Password for 'token' on '{SERVICE}'"]  # the window was reached
    assert chain.get("token") is None  # gone for good
    chain.set("token", b"again")
    assert chain.get("token") == b"again"


def test_delete_of_an_item_deleted_meanwhile_is_fine(secret_service, monkeypatch):
    chain = Keychain.open(SERVICE)
    chain.set("token", b"value")
    delete = secretstorage.item.Item.delete
    calls: list[str] = []

    def deleted_by_another_first(item: secretstorage.item.Item) -> None:
        calls.append("other")
        delete(item)  # another caller's delete, between this one's lookup and its delete
        calls.append("ours")
        delete(item)

    with monkeypatch.context() as patched:
        patched.setattr(secretstorage.item.Item, "delete", deleted_by_another_first)
        chain.delete("token")
    assert calls == ["other", "ours"]
    assert chain.get("token") is None


def test_the_person_refusing_to_unlock_is_not_taken_for_a_missing_item(monkeypatch):
    def refused(service: str, username: str) -> str | None:
        # A subclass of ItemNotFoundException, which the Secret Service raises for it.
        raise secretstorage.exceptions.PromptDismissedException("Prompt dismissed.")

    backend = keyring.backends.SecretService.Keyring()  # an instance: no bus is asked
    monkeypatch.setattr(backend, "get_password", refused)
    with pytest.raises(KeychainUnavailable) as caught:
        Keychain(backend, SERVICE).get("token")
    assert_plain_reason(caught.value)
    assert "PromptDismissedException" in caught.value.detail


# -- no usable keyring --------------------------------------------------------------------------


def test_no_session_bus_is_unavailable(monkeypatch, tmp_path, backend_restored):
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={tmp_path / 'no-bus-here'}")
    keyring.set_keyring(keyring.backends.SecretService.Keyring())
    with pytest.raises(KeychainUnavailable) as caught:
        Keychain.open(SERVICE)
    assert_plain_reason(caught.value)
    assert "did not answer" in caught.value.detail


def test_detection_without_a_bus_finds_nothing_and_says_so(monkeypatch, tmp_path, backend_restored):
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={tmp_path / 'no-bus-here'}")
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    redetect_backend()
    with pytest.raises(KeychainUnavailable) as caught:
        Keychain.open(SERVICE)
    assert_plain_reason(caught.value)
    assert caught.value.detail == "no keyring service is running or installed"


def test_fail_backend_is_unavailable(backend_restored):
    keyring.set_keyring(keyring.backends.fail.Keyring())
    with pytest.raises(KeychainUnavailable) as caught:
        Keychain.open(SERVICE)
    assert_plain_reason(caught.value)
    assert caught.value.detail == "no keyring service is running or installed"


def test_null_backend_is_unavailable(backend_restored):
    keyring.set_keyring(keyring.backends.null.Keyring())
    with pytest.raises(KeychainUnavailable) as caught:
        Keychain.open(SERVICE)
    assert caught.value.detail == "no keyring service is running or installed"


class PlainFileKeyring(keyring.backend.KeyringBackend):
    """Stands for keyrings.alt's PlaintextKeyring: works, and keeps secrets in the clear."""

    # Registered with keyring as every subclass is; a priority that raises keeps keyring's
    # detection (in the other tests) from ever choosing it.
    @properties.classproperty
    def priority(cls) -> float:
        raise RuntimeError("a test double, never detected")

    def __init__(self) -> None:
        super().__init__()
        self.stored: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.stored.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.stored[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.stored.pop((service, username), None)


def test_a_backend_that_is_not_the_systems_store_is_refused(backend_restored):
    plain = PlainFileKeyring()
    keyring.set_keyring(plain)
    with pytest.raises(KeychainUnavailable) as caught:
        Keychain.open(SERVICE)
    assert_plain_reason(caught.value)
    assert "PlainFileKeyring" in caught.value.detail
    assert plain.stored == {}  # refused before anything was written
