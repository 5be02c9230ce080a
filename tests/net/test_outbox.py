"""The client's outbox and reconnect schedule."""

import random

import pytest

from net.proto._messages import PendingMessage
from net.proto._outbox import Outbox, OutboxFull, reconnect_delay


def _message(n: int) -> PendingMessage:
    return PendingMessage(text=f"m{n}", message_id=bytes([n]) * 16, timestamp_ms=n)


def test_messages_go_out_once_per_connection_until_confirmed():
    outbox = Outbox()
    outbox.add(_message(1))
    outbox.add(_message(2))
    assert [m.text for m in outbox.take_unsent()] == ["m1", "m2"]
    assert outbox.take_unsent() == []  # already sent on this connection
    assert outbox.confirm(_message(1).message_id)
    assert not outbox.confirm(_message(1).message_id)  # a second echo is not ours any more
    outbox.requeue_all()  # reconnect: the unconfirmed one goes again, with the same id
    assert outbox.take_unsent() == [_message(2)]
    assert len(outbox) == 1


def test_requeue_keeps_order_and_includes_new_messages():
    outbox = Outbox()
    for n in range(3):
        outbox.add(_message(n))
    outbox.take_unsent()
    outbox.add(_message(3))
    outbox.requeue_all()
    assert [m.text for m in outbox.take_unsent()] == ["m0", "m1", "m2", "m3"]


def test_confirmed_before_sending_is_not_sent():
    outbox = Outbox()
    outbox.add(_message(1))
    outbox.confirm(_message(1).message_id)  # e.g. found in the welcome history
    assert outbox.take_unsent() == []


def test_outbox_is_bounded():
    outbox = Outbox(capacity=2)
    outbox.add(_message(1))
    outbox.add(_message(2))
    with pytest.raises(OutboxFull, match="waiting to be sent"):
        outbox.add(_message(3))


def test_messages_kept_from_an_earlier_run_go_first_and_only_once():
    outbox = Outbox(capacity=2)
    outbox.add(_message(5))  # written in this run before the kept ones were loaded
    restored = outbox.restore([_message(1), _message(2), _message(5)])
    assert restored == [_message(1), _message(2)]  # 5 is already here: not twice
    assert [m.text for m in outbox.pending()] == ["m1", "m2", "m5"]  # the capacity does not apply
    assert [m.text for m in outbox.take_unsent()] == ["m1", "m2", "m5"]
    assert outbox.restore([_message(1)]) == []
    assert outbox.take_unsent() == []  # already sent on this connection
    outbox.confirm(_message(1).message_id)
    outbox.requeue_all()
    assert [m.text for m in outbox.take_unsent()] == ["m2", "m5"]


def test_a_discarded_message_is_never_sent_again():
    outbox = Outbox()
    outbox.add(_message(1))
    outbox.discard(_message(1).message_id)
    outbox.requeue_all()
    assert outbox.take_unsent() == []
    assert len(outbox) == 0


def test_reconnect_delay_backs_off_with_jitter_and_a_cap():
    rng = random.Random(7)
    delays = [reconnect_delay(n, rng=rng) for n in range(1, 12)]
    for n, delay in enumerate(delays, start=1):
        step = min(15.0, 0.5 * 2 ** (n - 1))
        assert step * 0.5 <= delay <= step
    assert len({round(d, 6) for d in delays}) == len(delays)  # jittered, not lockstep
