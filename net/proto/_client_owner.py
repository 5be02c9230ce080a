"""The room's owner and admins on the client: checking their actions, taking our own, and
changing the room password (PROTOCOL.md 5.5).

A part of :class:`~net.proto.ClientProtocol` (see ``_client_base``).
"""

from __future__ import annotations

from crypto import password_share
from crypto.errors import AuthenticationError
from crypto.genesis import Genesis
from crypto.kdf import RoomKeys
from net.proto import _events as ev
from net.proto._authority import Action, ActionKind, ActionRefused, Authority
from net.proto._client_base import ClientBase, ClientState
from net.proto._errors import LocalProtocolError, RemoteProtocolError
from net.proto._frames import FrameType
from net.proto._messages import decode_secret, encode_secrets, encode_verifier

_T = FrameType


class OwnerMixin(ClientBase):
    """:meth:`take_action`, :meth:`change_password`, and the room's actions and new passwords
    as they arrive."""

    def _check_authority(self, genesis: bytes, actions: tuple[bytes, ...]) -> Authority | None:
        if not genesis:
            if actions:
                raise RemoteProtocolError("room actions without an owner")
            return None
        try:
            parsed = Genesis.decode(genesis)
            parsed.check(self._room_id)
        except (ValueError, AuthenticationError):
            raise RemoteProtocolError("the room's genesis does not match its id") from None
        authority = Authority(parsed)
        try:
            authority.apply_all(Action.decode(action) for action in actions)
        except ActionRefused as exc:
            raise RemoteProtocolError(f"the relay's room actions break the rules: {exc}") from None
        return authority

    def _emit_roles(self, action: Action | None) -> None:
        authority = self.authority
        if authority is None:
            self._emit(ev.RolesChanged(owner=None, admins=frozenset(), action=None))
            return
        self._emit(
            ev.RolesChanged(
                owner=authority.owner, admins=frozenset(authority.admins), action=action
            )
        )

    def take_action(self, kind: ActionKind, target: bytes = bytes(32), detail: str = "") -> None:
        """Sign our next room action and send it (ACT). Only after Welcomed. It takes effect
        when the relay passes it back (RolesChanged with it); NOTICE(ACTION_REFUSED) if another
        action came first or it breaks the rules. :class:`ActionRefused` (nothing sent) if we
        may not take it, or the room has no owner."""
        self._require(ClientState.JOINED)
        if self.authority is None:
            raise ActionRefused("this room has no owner, so nobody can take actions in it")
        action = self.authority.sign(self.identity, kind, target, detail)
        self._send_sealed(_T.ACT, action.encode())

    def change_password(
        self, password: str, new_keys: RoomKeys, *, remove: bytes | None = None
    ) -> None:
        """Change the room password to ``password`` (whose keys for this room, derived off the
        I/O thread, are ``new_keys``), first removing the member whose key is ``remove`` if
        given. Seals the password to every other proven member (SECRETS), gives the relay its
        new verifier (VERIFIER), then sends the action(s) (ACT). When the action comes back:
        PasswordChanged; the relay then closes every connection. :class:`ActionRefused`
        (nothing sent) if we may not."""
        self._require(ClientState.JOINED)
        keys, authority = self._keys, self.authority
        if authority is None or keys is None:
            raise ActionRefused("this room has no owner, so nobody can take actions in it")
        if new_keys.room_id != self._room_id:
            raise LocalProtocolError("the new keys are for another room")
        plan = Authority(authority.genesis)
        plan.apply_all(authority.actions)
        actions = []
        if remove is not None:
            actions.append(plan.sign(self.identity, ActionKind.REMOVE, remove))
            plan.apply(actions[-1])
        change = plan.sign(self.identity, ActionKind.CHANGE_PASSWORD)
        actions.append(change)
        secrets = []
        for member in self._by_key.values():
            if member.signing_key in (self.identity.signing_public, remove):
                continue
            try:
                blob = password_share.seal_password(
                    password,
                    distributor=self.identity,
                    recipient_signing=member.signing_key,
                    recipient_dh=member.dh_key,
                    room_id=self._room_id,
                    seq=change.seq,
                    member_key=keys.member,
                )
            except AuthenticationError:
                continue  # a key no device has: it gets nothing
            secrets.append((member.signing_key, blob))
        self._new_passwords[(self.identity.signing_public, change.seq)] = password
        for start in range(0, len(secrets), 100):
            self._send_sealed(_T.SECRETS, encode_secrets(secrets[start : start + 100]))
        self._send_sealed(_T.VERIFIER, encode_verifier(change.seq, new_keys.access))
        for action in actions:
            self._send_sealed(_T.ACT, action.encode())

    def _on_secret(self, payload: bytes) -> None:
        distributor, blob = decode_secret(payload)
        keys = self._keys
        if keys is None or distributor not in self._by_key:
            return  # from proven members only
        try:
            seq, password = password_share.open_password(
                self.identity,
                blob,
                distributor=distributor,
                room_id=self._room_id,
                member_key=keys.member,
            )
        except AuthenticationError:
            return  # not ours, altered, or from someone without the password: ignored
        if len(self._new_passwords) < 16:
            self._new_passwords[(distributor, seq)] = password

    def _on_action(self, encoded: bytes) -> None:
        if self.authority is None:
            raise RemoteProtocolError("a room action in a room without an owner")
        try:
            action = Action.decode(encoded)
            self.authority.apply(action)
        except ActionRefused as exc:
            raise RemoteProtocolError(
                f"the relay passed on an action that breaks the rules: {exc}"
            ) from None
        self._emit_roles(action)
        if action.kind is ActionKind.CHANGE_PASSWORD:
            password = self._new_passwords.pop((action.actor, action.seq), None)
            self._emit(ev.PasswordChanged(password=password, actor=action.actor))
