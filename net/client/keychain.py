"""The operating system's keyring: where this device keeps the few secrets it remembers.

Through the ``keyring`` library: the Secret Service on Linux (GNOME Keyring, KeePassXC,
KWallet's Secret Service), the Credential Manager on Windows, the Keychain on macOS. Call
:meth:`Keychain.open` once when the app starts, off the Tk thread: it writes, reads back and
deletes a probe value, and a locked keyring may show the desktop's unlock prompt and wait for
the person. If anything is wrong it raises :class:`KeychainUnavailable`, whose message says so
in plain words; the app then goes on without remembering anything secret (no local history).

Only the backends that keep secrets encrypted by the system count: keyring's "fail" and "null"
backends, and anything else (the plaintext and home-made encrypted files of ``keyrings.alt``,
which a user may have configured) are refused, since a secret in a plain file is worse than
none. Every backend error after opening is a :class:`KeychainUnavailable` too, so callers
catch one exception type; except that an item deleted (by another thread or process) while a
call was at it is simply gone: ``get`` gives None, ``delete`` does nothing.

Values are bytes, kept base64-encoded (keyring stores text). Nothing here logs a value.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import sys

import keyring
import keyring.backend
import keyring.errors

DEFAULT_SERVICE = "SocketChat"
LOCAL_KEY_NAME = "local-history-key"  # the key of net/client/archive.py's file
LOCAL_KEY_SIZE = 32
MAX_NAME_CHARS = 255
_PROBE_NAME = ".probe"  # written and deleted by open(); never holds anything of value
_MAX_DETAIL_CHARS = 200

# The backends that keep secrets in the system's own encrypted store, by class. An allow-list,
# not a deny-list: a backend we do not know may be a plain file (keyrings.alt has several).
# Named as strings so that importing this module loads no platform's backend.
_SYSTEM_BACKENDS = frozenset(
    {
        "keyring.backends.SecretService.Keyring",
        "keyring.backends.libsecret.Keyring",
        "keyring.backends.kwallet.DBusKeyring",
        "keyring.backends.kwallet.DBusKeyringKWallet4",
        "keyring.backends.Windows.WinVaultKeyring",
        "keyring.backends.macOS.Keyring",
    }
)
_CHAINER = "keyring.backends.chainer.ChainerBackend"
_NO_STORE = frozenset({"keyring.backends.fail.Keyring", "keyring.backends.null.Keyring"})


class KeychainUnavailable(Exception):
    """The keyring cannot be used; ``str(error)`` is a sentence to show the person."""

    def __init__(self, detail: str) -> None:
        self.detail = detail
        super().__init__(
            f"No keyring is available on this computer ({detail}). "
            "SocketChat remembers nothing secret."
        )


def _class_name(backend: object) -> str:
    kind = type(backend)
    return f"{kind.__module__}.{kind.__qualname__}"


def _refusal(backend: keyring.backend.KeyringBackend) -> str | None:
    """Why ``backend`` must not hold our secrets, or None when it may."""
    name = _class_name(backend)
    if name in _NO_STORE:
        return "no keyring service is running or installed"
    if name == _CHAINER:
        # The chainer writes to the first of its backends that accepts: all must be fit.
        chained: list[keyring.backend.KeyringBackend] = list(getattr(backend, "backends", []))
        if not chained:
            return "no keyring service is running or installed"
        reasons = [reason for reason in map(_refusal, chained) if reason is not None]
        return reasons[0] if reasons else None
    if name not in _SYSTEM_BACKENDS:
        return f"the configured keyring {type(backend).__name__} is not the system's own store"
    return None


def _failure(error: Exception) -> KeychainUnavailable:
    # The backend's own words help whoever reads a bug report; they never contain our values.
    first_line = (str(error).strip().splitlines() or [""])[0][:_MAX_DETAIL_CHARS]
    detail = f"the keyring did not answer: {type(error).__name__}"
    return KeychainUnavailable(f"{detail}: {first_line}" if first_line else detail)


def _vanished(error: Exception) -> bool:
    """Whether ``error`` is the Secret Service saying that the item it had just found is gone:
    another call (a ``delete``, from another thread or process) removed it between the lookup
    and the read."""
    # Loaded by the Secret Service backend itself; not loaded, it cannot have raised this.
    exceptions = sys.modules.get("secretstorage.exceptions")
    if exceptions is None:
        return False
    # Its subclass PromptDismissedException is the person refusing to unlock: not "gone".
    return isinstance(error, exceptions.ItemNotFoundException) and not isinstance(
        error, exceptions.PromptDismissedException
    )


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not name or len(name) > MAX_NAME_CHARS:
        raise ValueError(f"a keychain name is 1 to {MAX_NAME_CHARS} characters")
    return name


class Keychain:
    """Named byte strings in the system keyring, under one service name.

    Make one with :meth:`open`, not the constructor. Each call talks to the keyring service
    (a few milliseconds on the Secret Service), so keep what you read rather than asking again.
    """

    def __init__(self, backend: keyring.backend.KeyringBackend, service: str) -> None:
        self._backend = backend
        self._service = service

    @classmethod
    def open(cls, service: str = DEFAULT_SERVICE) -> Keychain:
        """The system keyring, checked by writing, reading and deleting a probe value.

        Call once at start-up, on a worker thread (it may wait for an unlock prompt).
        Raises :class:`KeychainUnavailable` when there is no usable keyring: keyring found no
        backend, only an insecure one is configured, or the probe fails (no D-Bus session,
        a locked keyring that was not unlocked, a service that does not answer).
        """
        _check_name(service)
        try:
            backend = keyring.get_keyring()
        except Exception as error:  # a broken keyring configuration file, a failing plugin
            raise _failure(error) from error
        refusal = _refusal(backend)
        if refusal is not None:
            raise KeychainUnavailable(refusal)
        chain = cls(backend, service)
        probe = secrets.token_bytes(16)
        chain.set(_PROBE_NAME, probe)
        if chain.get(_PROBE_NAME) != probe:
            raise KeychainUnavailable("the keyring did not give back what was stored in it")
        chain.delete(_PROBE_NAME)
        return chain

    @property
    def backend_name(self) -> str:
        """The backend's class name, for diagnostics ("Keyring", "WinVaultKeyring")."""
        return type(self._backend).__name__

    def get(self, name: str) -> bytes | None:
        """The value stored under ``name``, or None if there is none (also when a ``delete``
        removed it while this call was reading it).

        A value that is not base64 (written by something else) raises
        :class:`KeychainUnavailable`: it is never taken for ours.
        """
        _check_name(name)
        try:
            stored = self._backend.get_password(self._service, name)
        except Exception as error:  # backends raise their own types (D-Bus, OS, keyring errors)
            if _vanished(error):
                return None
            raise _failure(error) from error
        if stored is None:
            return None
        try:
            return base64.b64decode(stored.encode("ascii"), validate=True)
        except (UnicodeEncodeError, binascii.Error):
            raise KeychainUnavailable(f"the keyring entry {name!r} is damaged") from None

    def set(self, name: str, value: bytes) -> None:
        """Store ``value`` under ``name``, replacing what was there."""
        _check_name(name)
        encoded = base64.b64encode(bytes(value)).decode("ascii")
        try:
            self._backend.set_password(self._service, name, encoded)
        except Exception as error:
            raise _failure(error) from error

    def delete(self, name: str) -> None:
        """Remove ``name``; nothing happens if it is not there (or goes while this runs)."""
        _check_name(name)
        try:
            self._backend.delete_password(self._service, name)
        except keyring.errors.PasswordDeleteError:
            pass  # what keyring raises for a missing entry, on every platform
        except Exception as error:
            if not _vanished(error):
                raise _failure(error) from error

    def local_key(self) -> bytes:
        """The 32-byte key of this device's local history (:mod:`net.client.archive`).

        Created on first use and kept under a fixed name. Call once when opening the archive.
        A stored value of the wrong length raises :class:`KeychainUnavailable` instead of being
        replaced: a new key would make the existing history unreadable without saying why.
        """
        stored = self.get(LOCAL_KEY_NAME)
        if stored is None:
            self.set(LOCAL_KEY_NAME, secrets.token_bytes(LOCAL_KEY_SIZE))
            # Read back, so that two processes creating it at once end up with the same key.
            stored = self.get(LOCAL_KEY_NAME)
            if stored is None:
                raise KeychainUnavailable("the keyring did not keep the key it was given")
        if len(stored) != LOCAL_KEY_SIZE:
            raise KeychainUnavailable(f"the keyring entry {LOCAL_KEY_NAME!r} is damaged")
        return stored
