"""SocketChat cryptography: password rules, key derivation, envelopes, SPAKE2, transport."""
