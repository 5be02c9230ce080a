"""What this device remembers about relays and members: pins and trust on first use.

* **Relay keys**, pinned per address and room selector the first time a join succeeds, as SSH
  pins host keys: later a relay that presents another key is stopped before the password is
  at stake ("This is not the room's relay you joined before"). Forgetting a pin is always an
  explicit act of the person (:meth:`TrustStore.forget_relay`,
  :meth:`TrustStore.forget_relays_at`).
* **Members**, per room: the identity key first seen behind each name. A known name that comes
  back with another key is :attr:`Trust.CHANGED` until the person accepts the new key; a member
  whose safety code the person compared is :attr:`Trust.VERIFIED`.

One :class:`TrustStore` per process, shared by the client worker (which observes) and the
app's thread (which verifies and accepts): every method takes the lock. Changes are written at
once to a JSON file (mode 0600, replaced atomically); without a path nothing is written.
"""

from __future__ import annotations

import contextlib
import enum
import json
import logging
import os
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from net.proto import username_key

log = logging.getLogger("socketchat.client")

_FORMAT = "socketchat-trust"
_VERSION = 1
_MAX_FILE_BYTES = 16 * 1024 * 1024


class Trust(enum.Enum):
    """How far a member's identity key is trusted on this device."""

    NEW = "new"  # first time this name is seen in this room; now remembered
    KNOWN = "known"  # the key remembered for this name, not verified
    VERIFIED = "verified"  # the key whose safety code the person compared
    CHANGED = "changed"  # another key than remembered, not accepted yet


@dataclass(frozen=True, slots=True)
class MemberRecord:
    """What is remembered about one name in one room."""

    name: str
    key: bytes
    verified: bool
    pending_key: bytes | None  # a different key seen since, not accepted yet
    was_verified: bool  # the remembered key had been verified when the change was seen


def relay_address(host: str, port: int, room_id: bytes) -> str:
    """The pin's key: where the relay was reached and which room was asked for."""
    return f"{host.lower()}:{port}|{room_id.hex()}"


class TrustStore:
    """Pins and trust-on-first-use records, persisted at ``path`` (None: memory only)."""

    def __init__(self, path: Path | None = None) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._relays: dict[str, str] = {}
        self._rooms: dict[str, dict[str, dict[str, Any]]] = {}
        self._keyrings: dict[str, Any] = {}
        if path is not None:
            self._load(path)

    # -- relays ------------------------------------------------------------------------------

    def relay_key(self, address: str) -> bytes | None:
        """The relay key pinned for ``address`` (:func:`relay_address`), or None."""
        with self._lock:
            value = self._relays.get(address)
        return bytes.fromhex(value) if value else None

    def pin_relay(self, address: str, key: bytes) -> None:
        """Remember ``key`` for ``address`` if nothing is pinned there yet."""
        with self._lock:
            if address in self._relays:
                return
            self._relays[address] = bytes(key).hex()
            self._save()

    def forget_relay(self, address: str) -> None:
        """Drop the pin for ``address``: the person chose to trust whatever answers next."""
        with self._lock:
            if self._relays.pop(address, None) is not None:
                self._save()

    def forget_relays_at(self, host: str, port: int) -> int:
        """Drop every pin for ``host:port``, whatever room was asked for there (the room the
        relay answered with is pinned too); return how many. For a person who knows the room
        there was recreated: the next relay to answer is trusted on first use again."""
        prefix = relay_address(host, port, b"")  # "host:port|"
        with self._lock:
            dropped = [address for address in self._relays if address.startswith(prefix)]
            for address in dropped:
                del self._relays[address]
            if dropped:
                self._save()
        return len(dropped)

    # -- members -----------------------------------------------------------------------------

    def observe(self, room_id: bytes, name: str, key: bytes, dh_key: bytes | None = None) -> Trust:
        """Record that ``name`` in ``room_id`` presented ``key``; return how it is trusted.

        The first key seen for a name is remembered (NEW). Another key later is CHANGED: it is
        noted as pending and stays CHANGED until :meth:`accept_key`. ``dh_key``, the member's
        X25519 key as a member list proved it with ``key``, is remembered with the key it
        belongs to (the remembered one only), so that a private message can reach the member
        while it is away (:meth:`identity`).
        """
        with self._lock:
            members = self._rooms.setdefault(room_id.hex(), {})
            record = members.get(username_key(name))
            key_hex = bytes(key).hex()
            dh_hex = None if dh_key is None else bytes(dh_key).hex()
            if record is None:
                record = {"name": name, "key": key_hex, "verified": False}
                if dh_hex is not None:
                    record["dh"] = dh_hex
                members[username_key(name)] = record
                self._save()
                return Trust.NEW
            if record["key"] == key_hex:
                if dh_hex is not None and record.get("dh") != dh_hex:
                    record["dh"] = dh_hex
                    self._save()
                return Trust.VERIFIED if record.get("verified") else Trust.KNOWN
            if record.get("pending") != key_hex:
                record["pending"] = key_hex
                record["was_verified"] = bool(record.get("verified"))
                self._save()
            return Trust.CHANGED

    def status(self, room_id: bytes, name: str, key: bytes) -> Trust:
        """Like :meth:`observe`, without remembering anything."""
        with self._lock:
            record = self._rooms.get(room_id.hex(), {}).get(username_key(name))
        if record is None:
            return Trust.NEW
        if record["key"] != bytes(key).hex():
            return Trust.CHANGED
        return Trust.VERIFIED if record.get("verified") else Trust.KNOWN

    def record(self, room_id: bytes, name: str) -> MemberRecord | None:
        """What is remembered about ``name`` in ``room_id``, or None."""
        with self._lock:
            record = self._rooms.get(room_id.hex(), {}).get(username_key(name))
            if record is None:
                return None
            return MemberRecord(
                name=record["name"],
                key=bytes.fromhex(record["key"]),
                verified=bool(record.get("verified")),
                pending_key=bytes.fromhex(record["pending"]) if record.get("pending") else None,
                was_verified=bool(record.get("was_verified")),
            )

    def identity(self, room_id: bytes, key: bytes) -> tuple[str, bytes] | None:
        """The name and X25519 key remembered in ``room_id`` with the signing ``key`` (the
        key remembered for that name, seen in a member list), or None."""
        key_hex = bytes(key).hex()
        with self._lock:
            for record in self._rooms.get(room_id.hex(), {}).values():
                dh_hex = record.get("dh")
                if record.get("key") == key_hex and isinstance(dh_hex, str):
                    try:
                        return str(record["name"]), bytes.fromhex(dh_hex)
                    except ValueError:  # a damaged record: as if not remembered
                        return None
        return None

    def mark_verified(self, room_id: bytes, name: str, key: bytes) -> None:
        """The person compared the safety code for ``name``'s ``key`` and it matched."""
        self._set(room_id, name, key, verified=True)

    def accept_key(self, room_id: bytes, name: str, key: bytes) -> None:
        """The person accepts ``key`` as ``name``'s new key (not verified: that is separate)."""
        self._set(room_id, name, key, verified=False)

    def _set(self, room_id: bytes, name: str, key: bytes, *, verified: bool) -> None:
        with self._lock:
            members = self._rooms.setdefault(room_id.hex(), {})
            before = members.get(username_key(name)) or {}
            record = {"name": name, "key": bytes(key).hex(), "verified": verified}
            if before.get("key") == record["key"] and "dh" in before:
                record["dh"] = before["dh"]  # the X25519 key belongs to the same identity
            members[username_key(name)] = record
            self._save()

    # -- sender-key state (crypto.epoch, net.proto.Keyring) ---------------------------------

    def keyring_state(self, room_id: bytes) -> dict[str, object] | None:
        """What this device's keyring for ``room_id`` stored last (no keys: the next epoch it
        may use and the last counters it accepted), or None."""
        with self._lock:
            state = self._keyrings.get(room_id.hex())
        return state if isinstance(state, dict) else None

    def save_keyring_state(self, room_id: bytes, state: dict[str, object]) -> None:
        """Store it now: a device that reused an epoch after a crash would see its own
        messages refused as replays, and one that forgot counters would accept replays."""
        with self._lock:
            self._keyrings[room_id.hex()] = state
            self._save()

    # -- the file ----------------------------------------------------------------------------

    def _load(self, path: Path) -> None:
        try:
            with path.open("rb") as handle:
                raw = handle.read(_MAX_FILE_BYTES + 1)
        except FileNotFoundError:
            return
        except OSError as exc:
            log.warning("cannot read %s (%s): trust records start empty", path, exc.strerror)
            return
        try:
            if len(raw) > _MAX_FILE_BYTES:
                raise ValueError("too large")
            document = json.loads(raw.decode("utf-8"))
            if document.get("format") != _FORMAT or document.get("version") != _VERSION:
                raise ValueError("not a trust file of this version")
            relays, rooms = document["relays"], document["rooms"]
            if not isinstance(relays, dict) or not isinstance(rooms, dict):
                raise ValueError("malformed")
        except (ValueError, KeyError, AttributeError, UnicodeDecodeError):
            # Keep the damaged file for inspection rather than overwrite it.
            kept = path.with_suffix(".damaged")
            log.warning("%s is damaged; kept as %s, trust records start empty", path, kept)
            _quietly(lambda: os.replace(path, kept))
            return
        self._relays = {str(k): str(v) for k, v in relays.items()}
        self._rooms = rooms
        keyrings = document.get("keyrings", {})
        self._keyrings = keyrings if isinstance(keyrings, dict) else {}

    def _save(self) -> None:
        path = self._path
        if path is None:
            return
        document = {
            "format": _FORMAT,
            "version": _VERSION,
            "relays": self._relays,
            "rooms": self._rooms,
            "keyrings": self._keyrings,
        }
        data = json.dumps(document, indent=1, sort_keys=True).encode("utf-8")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, temp = tempfile.mkstemp(prefix=".trust-", dir=path.parent)
            try:
                with os.fdopen(fd, "wb") as handle:  # mkstemp makes it 0600
                    handle.write(data)
                os.replace(temp, path)
            except BaseException:
                _quietly(lambda: os.unlink(temp))
                raise
        except OSError as exc:
            log.warning("cannot save %s (%s)", path, exc.strerror)


def _quietly(action: Callable[[], object]) -> None:
    """Run ``action``; an OSError (file already gone, disk trouble) is not worth more."""
    with contextlib.suppress(OSError):
        action()
