"""One device's sender keys for one room: its own, the ones others shared, and replay state.

A :class:`Keyring` lives as long as the room is open on this device (across reconnects, like
``RecentIds``); :class:`~net.proto.ClientProtocol` drives it. No clock and no I/O: the time
comes in with each message, and what must outlive the process (the next epoch this device may
use, the last counter accepted from each sender) goes out through :meth:`Keyring.state` for the
driver to store, and back in through ``state=``.

When to move on (see :mod:`crypto.epoch`): before sending, a member whose key reached someone
who has left since, or that sealed ``MAX_MESSAGES`` messages, or is ``MAX_AGE_MS`` old, makes a
new random key; one who only saw members arrive steps the ratchet, and shares the new key with
the newcomers alone. Keys of others are kept while they open one of the last ``RECENT``
messages seen, or are their owner's newest; the rest are deleted.
"""

from __future__ import annotations

import heapq
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from crypto import epoch as sk
from crypto.errors import AuthenticationError
from crypto.identity import Identity

#: A sender moves to a new random key after this many messages under one key...
MAX_MESSAGES = 500
#: ...or after this long (milliseconds, by the sender's clock).
MAX_AGE_MS = 24 * 3600 * 1000
#: How many of the latest messages' keys a device keeps (and may pass on to newcomers).
RECENT = 100
#: How far a receiver follows another member's ratchet on its own.
MAX_RATCHET_STEPS = 64
#: Messages held while their key is missing, at most (the oldest go first).
MAX_PENDING = 1000
#: Senders whose last accepted counter is remembered per room, at most.
MAX_SENDERS = 4096

KeyId = tuple[bytes, int]  # (owner signing key, epoch)


@dataclass(slots=True)
class _Own:
    epoch: int
    key: bytes
    created_ms: int
    sent: int = 0
    next_counter: int = 1
    holders: set[bytes] = field(default_factory=set)
    someone_left: bool = False


@dataclass(frozen=True, slots=True)
class Recipient:
    """A member a key may be sealed to: one whose membership tag verified."""

    signing_key: bytes
    dh_key: bytes


class Keyring:
    """Sender keys and replay state of one room on this device. See the module docstring.

    ``state`` is what :meth:`state` returned last time (or None on first use);
    ``history_for_newcomers`` the room's setting: without it, a member hands a newcomer no
    key for anything sent before it arrived, and asks nobody for the keys of earlier messages.
    :class:`~net.proto.ClientProtocol` sets it from the room's genesis on every WELCOME.
    """

    def __init__(
        self,
        identity: Identity,
        *,
        state: Mapping[str, object] | None = None,
        history_for_newcomers: bool = True,
        new_key: Callable[[], bytes] = sk.new_sender_key,
    ) -> None:
        self.identity = identity
        self.history_for_newcomers = history_for_newcomers
        self._new_key = new_key
        self._own: _Own | None = None
        self._next_epoch = 1
        self._keys: OrderedDict[KeyId, bytes] = OrderedDict()
        # The message key of each sender key in use, derived once (HKDF costs ~30 µs, and a
        # busy room would pay it for every message sent and received).
        self._message_keys: dict[KeyId, tuple[bytes, bytes]] = {}
        # Whether anyone arrived or left since our last send: only then are the members
        # checked against those our key reached (a scan of the whole room per message else).
        self._roster_changed = True
        # Keys passed on by a member other than their owner, not yet proven by opening one of
        # the owner's messages: a member could hand out a false one to make them unreadable.
        self._tentative: set[KeyId] = set()
        self._accepted: OrderedDict[bytes, tuple[int, int]] = OrderedDict()
        self._recent: deque[KeyId] = deque(maxlen=RECENT)
        self._joined_at: dict[bytes, int] = {}
        # What each present member was already given: a repeated WANT gets nothing again, so
        # a member cannot make the others seal shares for it over and over.
        self._given: dict[bytes, set[KeyId]] = {}
        # message id -> (the key it waits for, the message, whether it is an earlier one)
        # Held messages by id: (key id, item, from history, rank: the room position, newest
        # highest); a heap of (rank, id) finds the oldest to let go when there are too many.
        self._pending: dict[bytes, tuple[KeyId, object, bool, int]] = {}
        self._pending_ranks: list[tuple[int, bytes]] = []
        #: True when :meth:`state` has something new to store (counters: store it soon).
        self.changed = False
        #: True when a new epoch was taken: store :meth:`state` before anything sealed under
        #: it leaves, or a restart could reuse the epoch.
        self.must_store = False
        if state:
            self._load(state)

    # -- persistence -----------------------------------------------------------------------

    def state(self) -> dict[str, object]:
        """What must survive a restart: the next epoch this device may use and the last
        (epoch, counter) accepted live from each sender. JSON-ready; store it. Clears
        :attr:`changed` and :attr:`must_store`."""
        self.changed = self.must_store = False
        return {
            "next_epoch": self._next_epoch,
            "accepted": {key.hex(): list(value) for key, value in self._accepted.items()},
        }

    def _load(self, state: Mapping[str, object]) -> None:
        next_epoch = state.get("next_epoch", 1)
        if isinstance(next_epoch, int) and 1 <= next_epoch < 2**32:
            self._next_epoch = next_epoch
        accepted = state.get("accepted", {})
        if isinstance(accepted, dict):
            for key_hex, value in list(accepted.items())[-MAX_SENDERS:]:
                try:
                    key = bytes.fromhex(key_hex)
                    epoch, counter = (int(v) for v in value)
                except (TypeError, ValueError):
                    continue
                if len(key) == 32:
                    self._accepted[key] = (epoch, counter)

    # -- membership ------------------------------------------------------------------------

    def member_left(self, signing_key: bytes) -> None:
        """A member left (or was removed, or dropped): our next message goes under a key it
        never had."""
        self._roster_changed = True
        self._joined_at.pop(signing_key, None)
        self._given.pop(signing_key, None)
        own = self._own
        if own is not None and signing_key in own.holders:
            own.holders.discard(signing_key)
            own.someone_left = True

    def member_joined(self, signing_key: bytes) -> None:
        """A member arrived: it may have keys from the epochs after every one this device
        took so far only (without history for newcomers)."""
        self._roster_changed = True
        self._joined_at[signing_key] = self._next_epoch - 1

    def members_now(self, present: Iterable[bytes]) -> None:
        """After (re)joining: the room as the relay lists it. Anyone our key reached who is
        not in it left while we were away; anyone we did not know arrived while we were away,
        so (without history for newcomers) it gets none of the epochs we took before."""
        self._roster_changed = True
        present = set(present)
        own = self._own
        if own is not None and not own.holders <= present:
            own.holders &= present
            own.someone_left = True
        if own is not None:
            # Shares sealed on the last connection may have died with it (sent, never handed
            # on), while the messages they open are resent now: hand the key on again, as a
            # ratchet step to everyone here, before the next message.
            own.holders.clear()
        for key in present:
            self._joined_at.setdefault(key, self._next_epoch - 1)

    # -- sending ---------------------------------------------------------------------------

    @property
    def own_epoch(self) -> int:
        """The epoch our next message goes under if nothing changes (0 before the first)."""
        return self._own.epoch if self._own is not None else 0

    def prepare_send(
        self,
        *,
        room_id: bytes,
        member_key: bytes,
        recipients: Callable[[], Iterable[Recipient]],
        count: int,
        now_ms: int,
    ) -> tuple[int, bytes, int, list[tuple[bytes, bytes]]]:
        """Before sealing ``count`` messages: move on if it is time, and seal our key to every
        present member that lacks it. Returns ``(epoch, message key, first counter, shares)``:
        seal the messages with counters from the first one up, and send the shares (SHARES)
        before the messages. ``recipients`` gives the proven members; it is called only when
        the room changed since the last send or a new key must go to everyone."""
        me = self.identity.signing_public
        own = self._own
        fresh = (
            own is None
            or own.someone_left
            or own.sent + count > MAX_MESSAGES
            or not 0 <= now_ms - own.created_ms < MAX_AGE_MS
        )
        shares: list[tuple[bytes, bytes]] = []
        if own is None or fresh or self._roster_changed:
            self._roster_changed = False
            listed = [r for r in recipients() if r.signing_key != me]
            if own is None or fresh:
                own = self._fresh(now_ms)
            elif any(r.signing_key not in own.holders for r in listed):
                # Only arrivals: one ratchet step; holders compute it, newcomers get only it.
                key = sk.next_sender_key(own.key, room_id=room_id, signing_key=me, epoch=own.epoch)
                own = _Own(
                    epoch=self._take_epoch(), key=key, created_ms=own.created_ms,
                    sent=own.sent, holders=own.holders,
                )  # fmt: skip
                self._own = own
            shares = self._seal_to(own, listed, room_id=room_id, member_key=member_key)
            self._keys[(me, own.epoch)] = own.key
        own.sent += count
        first_counter = own.next_counter
        own.next_counter += count
        message_key = self.message_key(me, own.epoch, own.key, room_id=room_id)
        return own.epoch, message_key, first_counter, shares

    def _seal_to(
        self, own: _Own, listed: list[Recipient], *, room_id: bytes, member_key: bytes
    ) -> list[tuple[bytes, bytes]]:
        """Our key sealed to each listed member that lacks it (who then holds it)."""
        shares = []
        for r in listed:
            if r.signing_key in own.holders:
                continue
            try:
                blob = sk.seal_share(
                    own.key,
                    distributor=self.identity,
                    owner=self.identity.signing_public,
                    epoch=own.epoch,
                    recipient_signing=r.signing_key,
                    recipient_dh=r.dh_key,
                    room_id=room_id,
                    member_key=member_key,
                )
            except AuthenticationError:
                continue  # a key no device has (low order): it gets nothing, the rest go on
            shares.append((r.signing_key, blob))
            own.holders.add(r.signing_key)
        return shares

    def message_key(self, owner: bytes, epoch: int, sender_key: bytes, *, room_id: bytes) -> bytes:
        """The message key of ``owner``'s ``sender_key`` of ``epoch`` (derived once, kept while
        the sender key is)."""
        cached = self._message_keys.get((owner, epoch))
        if cached is not None and cached[0] == sender_key:
            return cached[1]
        key = sk.message_key(sender_key, room_id=room_id, signing_key=owner, epoch=epoch)
        if self._keys.get((owner, epoch)) == sender_key:  # kept; a mere candidate is not
            self._message_keys[(owner, epoch)] = (sender_key, key)
        return key

    def _fresh(self, now_ms: int) -> _Own:
        self._own = _Own(epoch=self._take_epoch(), key=self._new_key(), created_ms=now_ms)
        return self._own

    def _take_epoch(self) -> int:
        epoch = self._next_epoch
        if epoch >= 2**32 - 1:
            raise OverflowError("this device has used every epoch of this room")
        self._next_epoch = epoch + 1
        self.changed = self.must_store = True
        return epoch

    # -- receiving -------------------------------------------------------------------------

    def sender_key(self, owner: bytes, epoch: int, *, room_id: bytes) -> tuple[bytes, bool] | None:
        """The sender key for ``owner``'s ``epoch``: ``(key, True)`` if it came from its owner
        (or opened a message already); ``(key, False)`` if it is only a candidate — passed on
        by another member, or computed by following the ratchet from an older key — to
        :meth:`confirm` once a message opened under it, or :meth:`forget` if none does. None if
        there is nothing to try."""
        held = self._keys.get((owner, epoch))
        if held is not None:
            return held, (owner, epoch) not in self._tentative
        best = None
        for (key_owner, key_epoch), key in self._keys.items():
            in_reach = key_owner == owner and key_epoch < epoch <= key_epoch + MAX_RATCHET_STEPS
            if in_reach and (best is None or key_epoch > best[0]):
                best = (key_epoch, key)
        if best is None:
            return None
        key_epoch, key = best
        for step in range(key_epoch, epoch):
            key = sk.next_sender_key(key, room_id=room_id, signing_key=owner, epoch=step)
        return key, False

    def remember(self, owner: bytes, epoch: int, key: bytes, *, from_owner: bool) -> bool:
        """Keep a key received in a share; False if it changes nothing. A key from its owner
        replaces one another member passed on; one passed on is a candidate (see
        :meth:`sender_key`) and never replaces anything."""
        key_id = (owner, epoch)
        if key_id in self._keys and not (from_owner and key_id in self._tentative):
            return False
        self._keys[key_id] = key
        if from_owner:
            self._tentative.discard(key_id)
        else:
            self._tentative.add(key_id)
        return True

    def confirm(self, owner: bytes, epoch: int, key: bytes) -> None:
        """A message of ``owner`` opened under this key: it is the right one."""
        self._keys[(owner, epoch)] = key
        self._tentative.discard((owner, epoch))

    def forget(self, owner: bytes, epoch: int) -> None:
        """A candidate key opened nothing: drop it (a correct one may still come)."""
        if (owner, epoch) in self._tentative:
            self._tentative.discard((owner, epoch))
            del self._keys[(owner, epoch)]
            self._message_keys.pop((owner, epoch), None)

    def waiting(self, owner: bytes, epoch: int) -> bool:
        """True if a held message waits for this key."""
        return any(held[0] == (owner, epoch) for held in self._pending.values())

    def seen(self, owner: bytes, epoch: int, *, count: int = 1) -> None:
        """``count`` messages under this key were shown (or, ours, sealed): keep the key while
        one of them is among the recent."""
        self._recent.extend([(owner, epoch)] * min(count, RECENT))
        self._prune()

    def fresh_live(self, owner: bytes, epoch: int, counter: int) -> bool:
        """True if a live message with this (epoch, counter) comes after everything accepted
        from ``owner``; record it. False means a replay (or a stale copy): refuse it."""
        return self.fresh_held(owner, epoch, counter, self._accepted.get(owner))

    def accepted_from(self, owner: bytes) -> tuple[int, int] | None:
        """The last (epoch, counter) accepted live from ``owner``, or None: note it when a
        live message is held for its key, and pass it to :meth:`fresh_held` when it opens."""
        return self._accepted.get(owner)

    def fresh_held(
        self, owner: bytes, epoch: int, counter: int, floor: tuple[int, int] | None
    ) -> bool:
        """Like :meth:`fresh_live` for a live message that waited for its key: fresh if it
        comes after ``floor``, what was accepted from ``owner`` when it arrived (later
        messages may have opened meanwhile); recorded if it is the newest."""
        if floor is not None and (epoch, counter) <= floor:
            return False
        last = self._accepted.get(owner)
        if last is None or (epoch, counter) > last:
            self._accepted[owner] = (epoch, counter)
            self._accepted.move_to_end(owner)
            while len(self._accepted) > MAX_SENDERS:
                self._accepted.popitem(last=False)
            self.changed = True
        return True

    def already_accepted(self, owner: bytes, epoch: int, counter: int) -> bool:
        """True if a live message at or after this one was accepted from ``owner``."""
        last = self._accepted.get(owner)
        return last is not None and (epoch, counter) <= last

    def _prune(self) -> None:
        keep = set(self._recent)
        newest: dict[bytes, int] = {}
        for owner, epoch in self._keys:
            newest[owner] = max(epoch, newest.get(owner, 0))
        for key_id in list(self._keys):
            owner, epoch = key_id
            if key_id not in keep and newest[owner] != epoch:
                del self._keys[key_id]
                self._tentative.discard(key_id)
                self._message_keys.pop(key_id, None)

    # -- messages waiting for a key --------------------------------------------------------

    def hold(
        self,
        message_id: bytes,
        key_id: KeyId,
        item: object,
        *,
        from_history: bool = False,
        rank: int = 0,
    ) -> None:
        """Keep a message whose key has not come yet. ``from_history``: it came with the
        room's history, sent before we (re)joined. ``rank``: its position in the room (newer
        higher): past MAX_PENDING the lowest goes first, so a device paging back through
        thousands of missed messages keeps the newest, not the last ones it fetched."""
        self._pending[message_id] = (key_id, item, from_history, rank)
        heapq.heappush(self._pending_ranks, (rank, message_id))
        while len(self._pending) > MAX_PENDING:
            lowest, oldest = heapq.heappop(self._pending_ranks)
            held = self._pending.get(oldest)
            if held is not None and held[3] == lowest:
                del self._pending[oldest]
        if len(self._pending_ranks) > 4 * MAX_PENDING:  # entries of released messages
            self._pending_ranks = [(held[3], i) for i, held in self._pending.items()]
            heapq.heapify(self._pending_ranks)

    def waiting_for(self) -> list[KeyId]:
        """The keys to ask the members for (WANT): those held messages wait for, oldest
        first, each once. Without history for newcomers, not those only earlier messages
        wait for: no member hands anyone a key from before it (re)joined, so asking is
        pointless (such a message stays locked; see :meth:`withheld`)."""
        newest: dict[KeyId, int] = {}
        for key_id, _, from_history, rank in self._pending.values():
            if self.history_for_newcomers or not from_history:
                newest[key_id] = max(rank, newest.get(key_id, rank))
        return sorted(newest, key=newest.__getitem__)  # the key of the newest message last

    def withheld(self, *, from_history: bool) -> bool:
        """True if a message held now will stay locked: an earlier one (``from_history``) in a
        room without history for newcomers, whose key no member will hand us."""
        return from_history and not self.history_for_newcomers

    @property
    def pending_count(self) -> int:
        return len(self._pending)

    def release(self, owner: bytes) -> list[object]:
        """Take out every held message of ``owner`` (call after a key of theirs arrived, and
        try each again: those still without a key are held again)."""
        released = []
        for message_id, (key_id, item, _, _) in list(self._pending.items()):
            if key_id[0] == owner:
                del self._pending[message_id]
                released.append(item)
        return released

    # -- answering WANTED ------------------------------------------------------------------

    def answer(
        self, requester: bytes, wanted: Iterable[KeyId], *, present: set[bytes]
    ) -> list[tuple[KeyId, bytes]]:
        """The keys we hand ``requester`` (a member whose tag verified) of those it asks for:
        our own; and, with history for newcomers, others' keys for the recent messages when
        their owner is not here to answer. Without it, only our keys of epochs we took after
        it arrived (this time: a member who left and came back is a newcomer again)."""
        me = self.identity.signing_public
        recent = set(self._recent)
        joined_at = self._joined_at.get(requester, 0)
        already = self._given.setdefault(requester, set())
        given = []
        for key_id in dict.fromkeys(wanted):
            owner, epoch = key_id
            key = self._keys.get(key_id)
            if key is None or key_id in self._tentative or key_id in already:
                continue  # never pass on what is not proven, nor the same key twice
            current = owner == me and self._own is not None and epoch == self._own.epoch
            if owner == me:
                if self.history_for_newcomers:
                    ok = current or key_id in recent
                else:
                    ok = epoch > joined_at
            else:
                ok = self.history_for_newcomers and owner not in present and key_id in recent
            if ok:
                given.append((key_id, key))
                already.add(key_id)
                if current and self._own is not None:
                    self._own.holders.add(requester)  # it holds our key now
        return given
