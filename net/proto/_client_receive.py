"""Receiving chat items: opening and checking them, the sender keys that open them, messages
held (locked) until a key comes, presence, and history pages (PROTOCOL.md 3.3, 3.5, 5.1–5.4).

A part of :class:`~net.proto.ClientProtocol` (see ``_client_base``).
"""

from __future__ import annotations

from crypto import epoch as sender_keys
from crypto.envelope import envelope_header, open_message
from crypto.errors import AuthenticationError, SignatureError
from net.proto import _events as ev
from net.proto._client_base import ClientBase, ClientState
from net.proto._errors import RemoteProtocolError
from net.proto._frames import FrameType
from net.proto._messages import (
    ActionItem,
    ChatItem,
    JoinedItem,
    MemberInfo,
    WantedItem,
    decode_history_page,
    decode_items,
    decode_share,
    encode_history_request,
    encode_wanted,
)

_T = FrameType
# Broadcasts after a WANT before arrivals make us ask everyone again (the owner of a key we
# wait for coming back makes us ask at once).
_ASK_AGAIN_AFTER = 20


class ReceiveMixin(ClientBase):
    """What BROADCAST, SHARE and HISTORY_PAGE bring, and :meth:`request_history`."""

    def _proven(self, member: MemberInfo) -> bool:
        """True if ``member``'s tag proves the room password (a relay cannot make one)."""
        keys = self._keys
        if keys is None:  # unreachable: JOINED implies a finished PAKE with keys
            return False
        try:
            sender_keys.check_membership(
                keys.member,
                member.tag,
                room_id=self._room_id,
                signing_key=member.signing_key,
                dh_key=member.dh_key,
            )
        except (AuthenticationError, ValueError):
            return False
        return True

    def _on_broadcast(self, sealed: bytes) -> None:
        if self._broadcast is None:  # unreachable: BROADCAST is accepted only when JOINED
            raise RemoteProtocolError("BROADCAST before WELCOME")
        try:
            payload = self._broadcast.open(_T.BROADCAST, sealed)
        except AuthenticationError:
            raise RemoteProtocolError("BROADCAST failed authentication or was replayed") from None
        ask = again = False
        self._since_asked += 1
        for item in decode_items(payload):
            if isinstance(item, ChatItem):
                position = self._next_position
                self._next_position += 1
                self._newest = position
                if not self._gap_above:
                    self.last_position = position
                event = self._open_chat(item, from_history=False, position=position)
                if event is not None:
                    ask = ask or isinstance(event, ev.ChatLocked)
                    self._emit(event)
            # Presence items are flushed together after a short wait, so one that was queued
            # before our WELCOME may repeat what its member list told us: our own JOINED, a
            # JOINED of a member listed as it is, the LEFT of one never listed. No news.
            elif isinstance(item, JoinedItem):
                member = item.member
                if self.members.get(member.name) == member:
                    continue
                if not self._proven(member):
                    self._emit(ev.MemberUnproven(member=member))
                    continue
                self._drop(member.name)
                self.members[member.name] = member
                self._by_key[member.signing_key] = member
                self.keyring.member_joined(member.signing_key)
                # Ask everyone again when the owner of a key we wait for is back, or (anyone
                # else who arrived may have seen those messages) now and then: not once per
                # presence broadcast, which in a join storm would run into the rate limit.
                owners = {owner for owner, _ in self.keyring.waiting_for()}
                if member.signing_key in owners or self._since_asked >= _ASK_AGAIN_AFTER:
                    again = True
                self._emit(ev.MemberArrived(member=member))
            elif isinstance(item, WantedItem):
                self._answer(item)
            elif isinstance(item, ActionItem):
                self._on_action(item.action)
            elif self._drop(item.name):
                self._emit(ev.MemberDeparted(name=item.name, code=item.code))
        if ask or again:  # a key did not come with its message, or a newcomer may hold one
            self._ask_for_keys(again=again)

    def _drop(self, name: str) -> bool:
        member = self.members.pop(name, None)
        if member is None:
            return False
        self._by_key.pop(member.signing_key, None)
        self.keyring.member_left(member.signing_key)
        return True

    # -- sender keys -----------------------------------------------------------------------

    def _ask_for_keys(self, *, again: bool = False) -> None:
        """Ask the members present for the keys held messages wait for (WANT): each once per
        connection, or ``again`` when members arrived (one of them may hold it)."""
        waiting = self.keyring.waiting_for()
        if again:
            self._asked.clear()
        wanted = [key_id for key_id in waiting if key_id not in self._asked][-64:]
        if wanted:
            self._asked.update(wanted)
            self._since_asked = 0
            self._send_sealed(_T.WANT, encode_wanted(wanted))

    def _answer(self, item: WantedItem) -> None:
        requester = self._by_key.get(item.requester)
        keys = self._keys
        if requester is None or keys is None or item.requester == self.identity.signing_public:
            return  # only proven members get keys
        given = self.keyring.answer(item.requester, item.wanted, present=set(self._by_key))
        shares = []
        for (owner, epoch), key in given:
            try:
                blob = sender_keys.seal_share(
                    key,
                    distributor=self.identity,
                    owner=owner,
                    epoch=epoch,
                    recipient_signing=requester.signing_key,
                    recipient_dh=requester.dh_key,
                    room_id=self._room_id,
                    member_key=keys.member,
                )
            except AuthenticationError:
                return  # a member key no device has: nothing for it
            shares.append((requester.signing_key, blob))
        self._send_shares(shares)

    def _on_share(self, payload: bytes) -> None:
        distributor, blob = decode_share(payload)
        keys = self._keys
        if keys is None or distributor not in self._by_key:
            return  # keys come from proven members only
        try:
            opened = sender_keys.open_share(
                self.identity,
                blob,
                distributor=distributor,
                room_id=self._room_id,
                member_key=keys.member,
            )
        except AuthenticationError:
            return  # not ours, altered, or from someone without the password: ignored
        from_owner = distributor == opened.owner
        if not from_owner and (
            opened.owner in self._by_key or not self.keyring.waiting(opened.owner, opened.epoch)
        ):
            return  # others pass on only keys we wait for, of members who are away
        if not self.keyring.remember(
            opened.owner, opened.epoch, opened.sender_key, from_owner=from_owner
        ):
            return
        for held in self.keyring.release(opened.owner):
            assert isinstance(held, tuple)
            item, from_history, position, floor = held
            event = self._open_chat(
                item, from_history=from_history, position=position, held=True, floor=floor
            )
            if event is not None and not isinstance(event, ev.ChatLocked):
                self._emit(event)

    def _open_chat(
        self,
        item: ChatItem,
        *,
        from_history: bool,
        position: int,
        held: bool = False,
        floor: tuple[int, int] | None = None,
    ) -> ev.ChatOpened | ev.ChatForged | ev.ChatLocked | None:
        """Open and verify one relayed message as sent by the attested sender; None if seen."""
        try:
            header = envelope_header(item.envelope)
        except ValueError:
            raise RemoteProtocolError("relay forwarded a runt envelope") from None
        message_id, owner, epoch = header.message_id, header.signing_key, header.epoch
        if message_id in self.seen_ids:
            return None  # a duplicate is dropped without a word

        def forged(why: ev.Forgery) -> ev.ChatForged:
            # Not our connection's fault (another member or the relay): report, do not fail.
            return ev.ChatForged(
                sender=item.sender,
                message_id=message_id,
                from_history=from_history,
                why=why,
                position=position,
            )

        member = self.members.get(item.sender)
        if member is not None and member.signing_key != owner:
            return forged(ev.Forgery.WRONG_KEY)
        if member is None and not from_history:
            return forged(ev.Forgery.NOT_A_MEMBER)
        if epoch == 0:
            return forged(ev.Forgery.UNREADABLE)
        found = self.keyring.sender_key(owner, epoch, room_id=self._room_id)
        if found is None:
            return self._hold(
                item, message_id, (owner, epoch), from_history=from_history, position=position
            )
        sender_key, proven = found
        key = self.keyring.message_key(owner, epoch, sender_key, room_id=self._room_id)
        try:
            opened = open_message(key, item.envelope, room_id=self._room_id, sender=item.sender)
        except SignatureError:
            return forged(ev.Forgery.BAD_SIGNATURE)
        except AuthenticationError:
            if proven:
                return forged(ev.Forgery.UNREADABLE)
            # A ratchet step that is not it (a fresh key, not here yet), or a key another member
            # passed on that is wrong: wait for the right one.
            self.keyring.forget(owner, epoch)
            return self._hold(
                item, message_id, (owner, epoch), from_history=from_history, position=position
            )
        if not proven:
            self.keyring.confirm(owner, epoch, sender_key)
        text = ""
        if opened.content_type == "text/plain":
            try:
                text = opened.body.decode("utf-8")
            except UnicodeDecodeError:
                return forged(ev.Forgery.UNREADABLE)
        if from_history:
            self.keyring.fresh_live(owner, epoch, opened.counter)  # noted; history is history
        elif held:
            # Held for its key while later messages of this sender opened: it is fresh if it
            # came after what was accepted from the sender when it *arrived* (``floor``).
            if not self.keyring.fresh_held(owner, epoch, opened.counter, floor):
                return forged(ev.Forgery.REPLAYED)
        elif not self.keyring.fresh_live(owner, epoch, opened.counter):
            return forged(ev.Forgery.REPLAYED)
        if owner != self.identity.signing_public:  # ours were counted when sealed
            self.keyring.seen(owner, epoch)
        self.seen_ids.add(message_id)
        return ev.ChatOpened(
            sender=item.sender,
            signing_key=opened.signing_key,
            text=text,
            message_id=message_id,
            timestamp_ms=opened.timestamp_ms,
            content_type=opened.content_type,
            body=opened.body,
            epoch=opened.epoch,
            counter=opened.counter,
            from_history=from_history,
            position=position,
        )

    def _hold(
        self,
        item: ChatItem,
        message_id: bytes,
        key_id: tuple[bytes, int],
        *,
        from_history: bool,
        position: int,
    ) -> ev.ChatLocked:
        """Keep a message until its key comes (or for good, if the room keeps it from us)."""
        self.keyring.hold(
            message_id,
            key_id,
            (item, from_history, position, self.keyring.accepted_from(key_id[0])),
            from_history=from_history,
            rank=position,
        )
        return ev.ChatLocked(
            sender=item.sender,
            message_id=message_id,
            from_history=from_history,
            withheld=self.keyring.withheld(from_history=from_history),
            position=position,
        )

    # -- what the room stores --------------------------------------------------------------

    def returning_from(self, resume_after: int) -> None:
        """Right after Welcomed, if the device learnt only then that it was in this room
        before (its archive is keyed by the room id, which the relay's answer told): resume
        after ``resume_after`` as if the JOIN had said so. The WELCOME's history is newer than
        that point; if it does not reach down to it, the resume point waits for the pages
        (:meth:`request_history`) as it would have."""
        self._require(ClientState.JOINED)
        if self._returning or not 0 <= resume_after < self._next_position - 1:
            return  # told already, or nothing missed (or a relay that started over)
        self._returning = True
        self._resume_after = resume_after
        start = self._history_start
        if start > resume_after + 1:
            self._gap_above = start
            self.last_position = resume_after

    def request_history(self, *, before: int, limit: int = 500) -> None:
        """Ask for up to ``limit`` (1–1000) stored messages older than position ``before``
        (HISTORY). Only after Welcomed; the answer is history events, then
        :class:`~net.proto.HistoryPageReceived`. Use it to close the gap between the
        position you resumed after and the WELCOME's ``history_start``."""
        self._require(ClientState.JOINED)
        self._send_sealed(_T.HISTORY, encode_history_request(before, limit))

    def _on_history_page(self, payload: bytes) -> None:
        first, items = decode_history_page(payload)
        if self._gap_above and items and first < self._gap_above:
            self._gap_above = first
        if self._gap_above and (not items or first <= self._resume_after + 1):
            self._gap_above = 0  # the gap is closed (or what it held is gone for good)
            self.last_position = self._newest
        ask = False
        for offset, item in enumerate(items):
            event = self._open_chat(item, from_history=True, position=first + offset)
            if event is not None:
                ask = ask or isinstance(event, ev.ChatLocked)
                self._emit(event)
        self._emit(ev.HistoryPageReceived(first_position=first, count=len(items)))
        if ask:
            self._ask_for_keys()
