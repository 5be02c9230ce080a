"""Everything tunable about a relay, in one frozen dataclass."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from net.proto import MAX_MESSAGE_BYTES
from net.relay.listen import ALL_INTERFACES
from net.relay.proxyheader import Network


@dataclass(frozen=True)
class RelayConfig:
    """Everything tunable about a relay. The defaults are the product's; tests shrink them."""

    # "": every interface, IPv4 and IPv6 (dual stack); else one address or name, or a tuple of
    # them (see net.relay.listen). A relay is meant to be reached from other machines.
    host: str | tuple[str, ...] = ALL_INTERFACES
    port: int = 7777  # 0 picks a free port (see Relay.start's result)
    backlog: int = 512
    handshake_timeout: float = 10.0  # from accept to WELCOME
    # A connection that has sent nothing is "silent": it holds no handshake slot, and is closed
    # this long after accept if it is still silent.
    pre_hello_timeout: float = 5.0
    # Silent connections relay-wide; past it the oldest is dropped. Above the listen backlog:
    # a storm of joins is accepted in bursts of up to that many before any of them has spoken.
    max_silent: int = 1024
    max_silent_per_source: int = 16  # ...and per source address (/64): more get BUSY
    idle_ping: float = 30.0  # ping a member silent this long
    idle_timeout: float = 90.0  # drop a member silent this long (no frame at all)
    close_timeout: float = 5.0  # a closing connection may flush this long, then it is aborted
    max_members: int = 200
    max_handshakes: int = 64  # connections past their first bytes, not yet in the room
    # ...and per source address (/64 for IPv6): one address cannot take every handshake slot.
    max_handshakes_per_source: int = 16
    # Past those, connections that have sent their hello wait in line for a handshake slot,
    # oldest first (QUEUED), at most queue_timeout seconds; only a full queue refuses BUSY.
    max_queued: int = 2048
    max_queued_per_source: int = 256
    queue_timeout: float = 30.0
    write_buffer_limit: int = 1024 * 1024  # bytes queued for one member before SLOW_READER
    message_rate: float = 5.0  # messages per second per member, on average
    message_burst: float = 20.0
    # Sender key shares (SHARES) per member: bursts of share_burst_per_member per member of the
    # room (at least share_burst_min), earned back in share_refill seconds; past it, as for
    # messages, a NOTICE and a pause in reading (see member.py).
    share_burst_per_member: int = 4
    share_burst_min: int = 64
    share_refill: float = 30.0
    max_message_bytes: int = MAX_MESSAGE_BYTES
    # The largest file a room keeps (its stored size: sealed chunks) and what all its files may
    # take together, on disk (net.relay.files); 0 turns files off. PROTOCOL.md 3.6.
    max_file_bytes: int = 100 * 1024 * 1024
    history: int = 100
    # Joins and leaves wait this long for more of them before they are broadcast (chat does
    # not wait): one presence broadcast per member per delay in a join storm, not one per join.
    # Rooms of more than 500 wait longer, 0.1 ms per member (see server.py).
    presence_delay: float = 0.05
    login_free_failures: int = 5  # wrong passwords per source before backoff starts
    login_base_delay: float = 1.0
    login_max_delay: float = 300.0
    # Relay-wide, whatever the address: a burst of wrong passwords, then one per refill
    # seconds; past it every login waits (docs/DECISIONS.md explains the numbers).
    login_global_burst: int = 30
    login_global_refill: float = 60.0
    clock: Callable[[], float] | None = None  # monotonic seconds; None: the loop's clock
    # Called on the relay's loop with each new connection's peer address (IPv4-mapped IPv6
    # unwrapped to IPv4) before anything is read or sent; False closes it unheard. Must be
    # quick and must not block: "this network only" rooms pass their local-network rule here,
    # and the app watches for a first connection from outside (net.reach).
    accept_peer: Callable[[str], bool] | None = None
    # Proxies (HAProxy with send-proxy-v2) whose connections start with a PROXY protocol v2
    # header naming the client (net.relay.proxyheader): from these addresses a connection
    # without one is closed unheard, and the client's address replaces the proxy's for every
    # per-address limit, accept_peer and the log. Nobody else's header is read.
    trust_proxy: tuple[Network, ...] = ()
