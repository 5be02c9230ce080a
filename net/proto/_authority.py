"""Who may do what in a room: its owner, the admins the owner appoints, and their signed actions.

The identity that created a room is its owner (:class:`crypto.genesis.Genesis`, whose signature
binds the owner and the room's settings to the room id). Everything else that changes authority
in the room is an *action*, signed by the member who takes it and chained to the one before, so
the relay can neither forge nor reorder them — only withhold the latest::

    action = u32 seq ‖ u8 kind ‖ actor (32) ‖ target (32) ‖ str8 detail ‖ signature (64)
    signed = Ed25519(actor, context "room action",
                     room_id ‖ prev (32) ‖ u32 seq ‖ u8 kind ‖ actor ‖ target ‖ str8 detail)
    prev   = SHA-256(the previous action's bytes), or SHA-256(genesis) before the first

Rules (:meth:`Authority.check`): ``seq`` is one more than the last; the actor is the owner or an
admin and has not been removed; only the owner makes or unmakes admins and removes an admin;
nobody removes the owner. The relay checks each action before it passes it on and keeps the log
with the room; every member checks the whole log again.

One :class:`Authority` per room on each side; no I/O, no clock.
"""

from __future__ import annotations

import enum
import hashlib
import struct
from collections.abc import Iterable
from dataclasses import dataclass

from crypto.errors import AuthenticationError
from crypto.genesis import Genesis
from crypto.identity import Identity, verify

_CONTEXT = "room action"
_HEAD = struct.Struct(">IB32s32s")  # seq, kind, actor, target
SIGNATURE_SIZE = 64
#: The longest detail (a name: usernames are far shorter).
MAX_DETAIL = 128
#: The longest log a room keeps (and a WELCOME carries): at most ~270 KB, so a WELCOME to a
#: room of thousands still fits the client's frame cap next to the member list.
MAX_ACTIONS = 1000


class ActionKind(enum.IntEnum):
    """What an action does. Numbers are wire values."""

    MAKE_ADMIN = 1  # the owner appoints ``target`` admin
    UNMAKE_ADMIN = 2  # the owner takes it back
    REMOVE = 3  # ``target`` is removed: disconnected, refused from now on, left out of keys
    RELEASE_NAME = 4  # the name in ``detail`` may be taken by another identity
    CHANGE_PASSWORD = 5  # the room password changed (the new one reaches members sealed)


class Role(enum.Enum):
    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"


def may_act(
    actor: bytes, kind: ActionKind, target: bytes, *, owner: bytes, admins: frozenset[bytes]
) -> bool:
    """The rules of the module docstring, for ``actor`` given the room's owner and admins."""
    if actor != owner and actor not in admins:
        return False
    if kind in (ActionKind.MAKE_ADMIN, ActionKind.UNMAKE_ADMIN):
        return actor == owner and target != owner
    if kind is ActionKind.REMOVE:
        return target not in (owner, actor) and (actor == owner or target not in admins)
    return True


class ActionRefused(Exception):
    """An action that does not follow the rules (or does not verify); ``str`` says which."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Action:
    """One signed action (see the module docstring)."""

    seq: int
    kind: ActionKind
    actor: bytes
    target: bytes
    detail: str
    signature: bytes

    def encode(self) -> bytes:
        detail = self.detail.encode("utf-8")
        return b"".join(
            (
                _HEAD.pack(self.seq, int(self.kind), self.actor, self.target),
                bytes((len(detail),)),
                detail,
                self.signature,
            )
        )

    @classmethod
    def decode(cls, data: bytes) -> Action:
        """Parse :meth:`encode`'s bytes; :class:`ActionRefused` if malformed (nothing verified)."""
        data = bytes(data)
        if len(data) < _HEAD.size + 1 + SIGNATURE_SIZE:
            raise ActionRefused("an action too short")
        seq, kind, actor, target = _HEAD.unpack_from(data)
        size = data[_HEAD.size]
        end = _HEAD.size + 1 + size
        if len(data) != end + SIGNATURE_SIZE:
            raise ActionRefused("an action of the wrong length")
        try:
            detail = data[_HEAD.size + 1 : end].decode("utf-8")
            action_kind = ActionKind(kind)
        except (UnicodeDecodeError, ValueError):
            raise ActionRefused("an action of unknown kind or with a malformed detail") from None
        return cls(
            seq=seq,
            kind=action_kind,
            actor=actor,
            target=target,
            detail=detail,
            signature=data[end:],
        )


def _signed(room_id: bytes, prev: bytes, action: Action) -> bytes:
    detail = action.detail.encode("utf-8")
    if len(detail) > MAX_DETAIL:
        raise ActionRefused(f"an action detail over {MAX_DETAIL} bytes")
    head = _HEAD.pack(action.seq, int(action.kind), action.actor, action.target)
    return bytes(room_id) + prev + head + bytes((len(detail),)) + detail


class Authority:
    """The owner, admins and removed identities of one room, from its genesis and actions.

    Create it with the room's :class:`Genesis` (already checked against the room id), then
    :meth:`apply` each action in order. :meth:`sign` makes our next action.
    """

    def __init__(self, genesis: Genesis) -> None:
        self.genesis = genesis
        self.room_id = genesis.room_id
        self.owner = genesis.owner_key
        self.admins: set[bytes] = set()
        self.removed: set[bytes] = set()
        self.released: list[str] = []
        self.actions: list[Action] = []
        self._prev = hashlib.sha256(genesis.encode()).digest()

    def role(self, key: bytes) -> Role:
        if key == self.owner:
            return Role.OWNER
        return Role.ADMIN if key in self.admins else Role.MEMBER

    def may(self, actor: bytes, kind: ActionKind, target: bytes) -> bool:
        """True if ``actor`` may take this action now (the rules of the module docstring)."""
        if actor in self.removed:
            return False
        return may_act(actor, kind, target, owner=self.owner, admins=frozenset(self.admins))

    def check(self, action: Action) -> None:
        """Raise :class:`ActionRefused` unless ``action`` may come next, signed by its actor."""
        if len(self.actions) >= MAX_ACTIONS:
            raise ActionRefused("the room's action log is full")
        if action.seq != len(self.actions) + 1:
            raise ActionRefused("an action out of order (another one came first)")
        if not self.may(action.actor, action.kind, action.target):
            raise ActionRefused("an action its actor may not take")
        if action.kind is ActionKind.REMOVE and action.target in self.removed:
            raise ActionRefused("already removed")
        try:
            verify(
                action.actor,
                _signed(self.room_id, self._prev, action),
                action.signature,
                context=_CONTEXT,
            )
        except (AuthenticationError, ValueError):
            raise ActionRefused("an action whose signature does not verify") from None

    def apply(self, action: Action) -> None:
        """Check ``action`` and take it into the state; :class:`ActionRefused` changes nothing."""
        self.check(action)
        match action.kind:
            case ActionKind.MAKE_ADMIN:
                self.admins.add(action.target)
            case ActionKind.UNMAKE_ADMIN:
                self.admins.discard(action.target)
            case ActionKind.REMOVE:
                self.removed.add(action.target)
                self.admins.discard(action.target)
            case ActionKind.RELEASE_NAME:
                self.released.append(action.detail)
            case ActionKind.CHANGE_PASSWORD:
                pass
        self.actions.append(action)
        self._prev = hashlib.sha256(action.encode()).digest()

    def apply_all(self, actions: Iterable[Action]) -> None:
        for action in actions:
            self.apply(action)

    def sign(
        self, identity: Identity, kind: ActionKind, target: bytes = bytes(32), detail: str = ""
    ) -> Action:
        """Our next action, signed (not applied: send it; it is applied when the relay passes
        it back). :class:`ActionRefused` if we may not take it."""
        actor = identity.signing_public
        if not self.may(actor, kind, target):
            raise ActionRefused("you may not take this action in this room")
        unsigned = Action(
            seq=len(self.actions) + 1,
            kind=kind,
            actor=actor,
            target=bytes(target),
            detail=detail,
            signature=bytes(SIGNATURE_SIZE),
        )
        signature = identity.sign(_signed(self.room_id, self._prev, unsigned), context=_CONTEXT)
        return Action(
            seq=unsigned.seq,
            kind=kind,
            actor=actor,
            target=bytes(target),
            detail=detail,
            signature=signature,
        )
