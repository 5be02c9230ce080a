"""Members of a :class:`~net.client.ChatClient`'s room: who they are and what they may do.

:class:`_Members` keeps the member list the session reports (``joined``, ``member_arrived``,
``member_departed``) and weighs each member's key against what this device remembers of the
room (:mod:`net.client.trust`: trust on first use, a warning once when a key changed). In a room
with an owner it keeps the roles the checked actions give (``roles_changed``) and queues the
owner's and admins' actions for the session (``make_admin``, ``remove_member``,
``release_name``, ``change_password``: any thread); the session takes them
(``actions_take``, ``password_change_take``) and reports their outcome.
"""

from __future__ import annotations

from dataclasses import replace

from crypto.kdf import RoomKeys, derive_room_keys
from crypto.passphrase import generate_passphrase
from crypto.password import normalize_password
from net import proto
from net.client import events as ce
from net.client import texts
from net.client._client_core import _ClientCore
from net.client.trust import Trust, relay_address
from net.proto import MemberInfo, validate_username


class _Members(_ClientCore):
    """The member list, trust in members' keys, roles, and the owner's and admins' actions."""

    def joined(self, event: proto.Welcomed, *, room_id: bytes, relay_key: bytes) -> None:
        """The session was welcomed: pin the relay, weigh the members, tell the application."""
        reconnected = self._joined_once
        self._joined_once = True
        self._joined_recently = True
        self.room_id = room_id
        for ask in {self._first_ask, room_id}:
            self.trust.pin_relay(relay_address(self.host, self.port, ask), relay_key)
        self.ask_room = room_id
        self.load_room(room_id)  # asked by address: the archive learns the room only now
        self.members = tuple(self.weigh(info) for info in event.members)
        self.max_message_bytes = event.max_message_bytes
        self.emit(
            ce.Joined(
                your_name=event.your_name,
                members=self.members,
                reconnected=reconnected,
                max_message_bytes=event.max_message_bytes,
                room_id=room_id,
                history_for_newcomers=event.history_for_newcomers,
            )
        )

    def weigh(self, info: MemberInfo) -> ce.Member:
        """How far ``info``'s key is trusted here (remembering it if it is new)."""
        return ce.Member(
            name=info.name,
            signing_key=info.signing_key,
            trust=self.observe(info.name, info.signing_key, info.dh_key),
            dh_key=info.dh_key,
            role=self.role_of(info.signing_key),
        )

    def observe(self, name: str, key: bytes, dh_key: bytes | None = None) -> Trust:
        """Record ``name``'s key (and, from a member list, its X25519 ``dh_key``) for this
        room; warn once per session if it changed."""
        if name == self.username and key == self.identity.signing_public:
            return Trust.VERIFIED  # ourselves
        trust = self.trust.observe(self.room_id, name, key, dh_key)
        if trust is Trust.CHANGED and (name, key) not in self._warned:
            self._warned.add((name, key))
            record = self.trust.record(self.room_id, name)
            self.emit(
                ce.IdentityChanged(
                    name=name,
                    old_key=record.key if record is not None else b"",
                    new_key=key,
                    was_verified=record.was_verified if record is not None else False,
                )
            )
        return trust

    def accept_key(self, name: str, key: bytes) -> None:
        """The person accepts ``key`` as ``name``'s identity in this room (any thread)."""
        self.trust.accept_key(self.room_id, name, key)
        self._warned.discard((name, key))

    def mark_verified(self, name: str, key: bytes) -> None:
        """The person compared ``name``'s safety code and it matched (any thread)."""
        self.trust.mark_verified(self.room_id, name, key)

    def member_arrived(self, info: MemberInfo) -> None:
        member = self.weigh(info)
        self.members = (*(m for m in self.members if m.name != info.name), member)
        self.emit(ce.MemberJoined(member=member, members=self.members))

    def member_departed(self, name: str, reason: str) -> None:
        if name != self.username and any(m.name == name for m in self.members):
            self.members = tuple(m for m in self.members if m.name != name)
            self.emit(ce.MemberLeft(name=name, members=self.members, reason=reason))
            self.check_alone()

    def check_alone(self) -> None:
        if tuple(m.name for m in self.members) == (self.username,):
            self.emit(ce.AloneInRoom())

    # -- owners and admins ------------------------------------------------------------------

    def role_of(self, key: bytes) -> proto.Role:
        if key == self.owner:
            return proto.Role.OWNER
        return proto.Role.ADMIN if key in self.admins else proto.Role.MEMBER

    @property
    def my_role(self) -> proto.Role:
        return self.role_of(self.identity.signing_public)

    def make_admin(self, name: str) -> None:
        """The owner appoints member ``name`` admin (any thread). ``ValueError`` with words
        for the person if that is not possible; else the outcome arrives as RoleChange (or
        ActionNotTaken)."""
        self._act(proto.ActionKind.MAKE_ADMIN, name)

    def unmake_admin(self, name: str) -> None:
        """The owner takes admin rights back from ``name``."""
        self._act(proto.ActionKind.UNMAKE_ADMIN, name)

    def remove_member(self, name: str) -> None:
        """Remove member ``name``: the relay disconnects it and refuses its identity from now
        on; everyone moves to new sender keys without it."""
        self._act(proto.ActionKind.REMOVE, name)

    def change_password(self, *, remove: str | None = None) -> str:
        """Change the room password to a new generated passphrase, removing member ``remove``
        first if given ("Remove and change password"), and return the passphrase (any
        thread). The other members' apps switch to it by themselves (it reaches them sealed
        to their identity keys); everyone joins again with it. ``ValueError`` with words for
        the person if not possible; the outcome arrives as PasswordChanged (or ActionNotTaken).
        """
        if self.owner is None:
            raise ValueError(texts.NO_OWNER)
        me = self.identity.signing_public
        target = None
        if remove is not None:
            member = next((m for m in self.members if m.name == remove), None)
            if member is None:
                raise ValueError(texts.not_a_member(remove))
            target = member.signing_key
            if not proto.may_act(
                me, proto.ActionKind.REMOVE, target, owner=self.owner, admins=self.admins
            ):
                raise ValueError(texts.NOT_ALLOWED)
        if not proto.may_act(
            me, proto.ActionKind.CHANGE_PASSWORD, bytes(32), owner=self.owner, admins=self.admins
        ):
            raise ValueError(texts.NOT_ALLOWED)
        password = generate_passphrase()
        with self._lock:
            self._raise_if_stopped()
            self._password_change = (password, target)
        self.wake()
        return password

    def password_change_take(self) -> tuple[str, bytes | None] | None:
        """For the session: the password change asked for, if any."""
        with self._lock:
            change, self._password_change = self._password_change, None
        return change

    def new_keys(self, password: str) -> RoomKeys:
        """The keys of ``password`` for the joined room (scrypt: on the worker thread)."""
        kwargs = {} if self._kdf_cost is None else {"n": self._kdf_cost}
        return derive_room_keys(password, room_id=self.room_id, **kwargs)

    def password_changed(self, event: proto.PasswordChanged) -> None:
        """The room's password changed (the session saw the action): switch to the new one
        if it reached us, and tell the application."""
        names = {m.signing_key: m.name for m in self.members}
        if event.password is not None:
            self._password = normalize_password(event.password)
            self.keys = None  # derived again when the relay asks, for the same room
        self.emit(
            ce.PasswordChanged(
                by=names.get(event.actor, "an admin"),
                password=event.password,
                own=event.actor == self.identity.signing_public,
            )
        )

    def release_name(self, name: str) -> None:
        """Let another identity take ``name`` (held by one that no longer comes)."""
        try:
            checked = validate_username(name)
        except ValueError as exc:
            raise ValueError(str(exc)) from None
        self._queue_action(proto.ActionKind.RELEASE_NAME, bytes(32), checked)

    def _act(self, kind: proto.ActionKind, name: str) -> None:
        member = next((m for m in self.members if m.name == name), None)
        if member is None:
            raise ValueError(texts.not_a_member(name))
        self._queue_action(kind, member.signing_key, "")

    def _queue_action(self, kind: proto.ActionKind, target: bytes, detail: str) -> None:
        if self.owner is None:
            raise ValueError(texts.NO_OWNER)
        me = self.identity.signing_public
        if not proto.may_act(me, kind, target, owner=self.owner, admins=self.admins):
            raise ValueError(texts.NOT_ALLOWED)
        with self._lock:
            self._raise_if_stopped()
            self._actions.append((kind, target, detail))
        self.wake()

    def actions_take(self) -> list[tuple[proto.ActionKind, bytes, str]]:
        """For the session: the actions asked for since the last call."""
        with self._lock:
            actions, self._actions = self._actions, []
        return actions

    def roles_changed(self, event: proto.RolesChanged) -> None:
        """The session saw the room's roles (after joining) or an action: tell the app."""
        names = {m.signing_key: m.name for m in self.members}
        self.owner, self.admins = event.owner, event.admins
        self.members = tuple(replace(m, role=self.role_of(m.signing_key)) for m in self.members)
        action = event.action
        if action is None:
            self.emit(
                ce.RoleChange(kind=None, actor="", target="", detail="", members=self.members)
            )
            return

        def who(key: bytes) -> str:
            return names.get(key) or f"a member ({key[:4].hex()})"

        self.emit(
            ce.RoleChange(
                kind=action.kind,
                actor=who(action.actor),
                target=who(action.target)
                if action.kind is not proto.ActionKind.RELEASE_NAME
                else "",
                detail=action.detail,
                members=self.members,
            )
        )
