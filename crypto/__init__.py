"""SocketChat cryptography: password rules, key derivation, AEADs, envelopes, SPAKE2, transport,
device identities (Ed25519 + X25519) and safety codes."""
