"""SocketChat cryptography: password rules, key derivation, AEAD envelopes, SPAKE2, transport keys."""
