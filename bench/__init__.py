"""SocketChat benchmarks: ``python -m bench`` (full, a few minutes) or ``--quick`` (seconds).

The relay under test runs in its own process (:mod:`bench.relay_server`) so that its CPU time
and memory are its own; the load generator (:mod:`bench.loadgen`) drives lightweight members
over non-blocking sockets in one selector loop. Every SocketChat figure is compared with two
baselines measured in the same run: a plain asyncio relay with the same framing and no crypto,
and a select()-loop broadcast server (:mod:`bench.baselines`). Results: docs/BENCHMARKS.md.
"""
