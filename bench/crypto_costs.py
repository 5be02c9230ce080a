"""``python -m bench.crypto_costs`` — what each v2 crypto operation costs on this machine.

Prints one table: microseconds per operation (the minimum over repeats: the machine's noise
only ever adds time), operations per second, and for the AEAD rows the ratio to AES-256-GCM of
the same size. Each row runs many short timed batches (about ``BATCH_SECONDS`` each) for about
``ROW_SECONDS``: on a busy machine some batches still run undisturbed, and the minimum is theirs.
The whole run takes under ten seconds; ``--quick`` takes one or two.

"setup+seal" is what a sender pays per message with pycryptodome: a new cipher object (key
schedule, nonce), the AAD, then encrypt-and-digest. The raw-library rows and the rows through
our wrappers (crypto.aead, crypto.transport, crypto.identity) show what the wrappers add.
"""

from __future__ import annotations

import argparse
import hmac
import time
import timeit
from collections.abc import Callable

from Crypto.Cipher import AES, ChaCha20, ChaCha20_Poly1305
from Crypto.Hash import Poly1305
from Crypto.Protocol import HPKE
from Crypto.Protocol.DH import import_x25519_public_key, key_agreement
from Crypto.PublicKey import ECC
from Crypto.Signature import eddsa

from crypto import _curve25519, aead
from crypto import identity as identity_module
from crypto.identity import Identity, safety_code, verify
from crypto.transport import FrameOpener, FrameSealer

KEY = bytes(range(32))
NONCE12 = bytes(12)
NONCE24 = bytes(24)
AAD = bytes(range(40))  # about the size of a v2 message header
ROW_SECONDS = 0.3
BATCH_SECONDS = 0.002
MIN_BATCHES, MAX_BATCHES = 5, 1000


def _measure(fn: Callable[[], object], row_seconds: float) -> tuple[float, int]:
    """(minimum seconds per call, batches run): batches of ~BATCH_SECONDS for ~row_seconds."""
    timer = timeit.Timer(fn)
    start = time.perf_counter()
    fn()
    once = max(time.perf_counter() - start, 1e-7)
    number = max(1, min(10_000, int(BATCH_SECONDS / once)))
    deadline = time.perf_counter() + row_seconds
    best, batches = float("inf"), 0
    while batches < MIN_BATCHES or (batches < MAX_BATCHES and time.perf_counter() < deadline):
        best = min(best, timer.timeit(number) / number)
        batches += 1
    return best, batches


def _aead_rows(size: int) -> list[tuple[str, Callable[[], object]]]:
    text = bytes(size)

    def aes_gcm() -> object:
        cipher = AES.new(KEY, AES.MODE_GCM, nonce=NONCE12, mac_len=16)
        cipher.update(AAD)
        return cipher.encrypt_and_digest(text)

    def chacha() -> object:
        cipher = ChaCha20_Poly1305.new(key=KEY, nonce=NONCE12)
        cipher.update(AAD)
        return cipher.encrypt_and_digest(text)

    def xchacha() -> object:
        cipher = ChaCha20_Poly1305.new(key=KEY, nonce=NONCE24)
        cipher.update(AAD)
        return cipher.encrypt_and_digest(text)

    sealer = FrameSealer(KEY)
    return [
        (f"AES-256-GCM setup+seal {size} B", aes_gcm),
        (f"ChaCha20-Poly1305 setup+seal {size} B", chacha),
        (f"XChaCha20-Poly1305 setup+seal {size} B", xchacha),
        (f"  aead.seal {size} B", lambda: aead.seal(KEY, nonce=NONCE12, plaintext=text, aad=AAD)),
        (f"  aead.seal_random {size} B", lambda: aead.seal_random(KEY, text, aad=AAD)),
        (f"  FrameSealer.seal {size} B", lambda: sealer.seal(0x12, text)),
    ]


def _open_rows(size: int) -> list[tuple[str, Callable[[], object]]]:
    """What the relay pays to open one CHAT frame of ``size`` bytes (one message: ~300 B).

    The last row composes RFC 8439's AEAD from pycryptodome's ChaCha20 and Poly1305 by hand
    (Poly1305 key from block 0, keystream from block 1, the MAC over aad, ciphertext, padding
    and lengths): the product does not use it; it shows how much of the AEAD's cost is
    pycryptodome's Python-level bookkeeping rather than cryptography.
    """
    nonce = bytes(4) + (7).to_bytes(8, "big")
    aad = bytes((0x12,))
    sealed = aead.seal(KEY, nonce=nonce, plaintext=bytes(size), aad=aad)
    opener_key = KEY

    def chacha_open() -> object:
        cipher = ChaCha20_Poly1305.new(key=KEY, nonce=nonce)
        cipher.update(aad)
        return cipher.decrypt_and_verify(sealed[:-16], sealed[-16:])

    ciphertext, tag = sealed[:-16], sealed[-16:]
    lengths = len(aad).to_bytes(8, "little") + len(ciphertext).to_bytes(8, "little")
    zeros = bytes(32)

    def composed_open() -> object:
        stream = ChaCha20.new(key=KEY, nonce=nonce)
        one_time_key = stream.encrypt(zeros)
        stream.seek(64)
        mac_data = b"".join(
            (aad, bytes(-len(aad) % 16), ciphertext, bytes(-len(ciphertext) % 16), lengths)
        )
        mac = Poly1305.Poly1305_MAC(one_time_key[:16], one_time_key[16:], mac_data).digest()
        if not hmac.compare_digest(mac, tag):
            raise ValueError("MAC check failed")
        return stream.encrypt(ciphertext)

    if composed_open() != chacha_open():
        raise AssertionError("the composed AEAD disagrees with pycryptodome's")
    transport_opener = _CountingOpener(opener_key, nonce, aad, sealed)
    return [
        (f"ChaCha20-Poly1305 setup+open {size} B (pycryptodome AEAD)", chacha_open),
        (f"  FrameOpener.open {size} B (the relay's CHAT open)", transport_opener),
        (f"  RFC 8439 composed from ChaCha20 + Poly1305 {size} B (not used)", composed_open),
    ]


class _CountingOpener:
    """FrameOpener.open on the same frame again and again (a fresh opener each time would
    time its construction too; the counter is wound back instead)."""

    def __init__(self, key: bytes, nonce: bytes, aad: bytes, sealed: bytes) -> None:
        self._opener = FrameOpener(key)
        self._counter = int.from_bytes(nonce[4:], "big")
        self._sealed = sealed
        self._aad = aad[0]

    def __call__(self) -> object:
        self._opener._counter = self._counter
        return self._opener.open(self._aad, self._sealed)


def _public_key_rows() -> list[tuple[str, Callable[[], object]]]:
    message = bytes(200)
    ed_key = ECC.generate(curve="ed25519")
    ed_public = ed_key.public_key().export_key(format="raw")
    signature = eddsa.new(ed_key, "rfc8032").sign(message)
    me, peer = Identity.generate(), Identity.generate()
    my_signature = me.sign(message, context="message")
    x_key = ECC.generate(curve="curve25519")
    x_peer = peer.dh_public

    def ed_verify_with_import() -> None:
        eddsa.new(eddsa.import_public_key(ed_public), "rfc8032").verify(message, signature)

    def strict_verify_cold() -> None:
        _curve25519.ed25519_public_key.cache_clear()  # key checks paid again, as for a new key
        verify(me.signing_public, message, my_signature, context="message")

    def x25519() -> bytes:
        return key_agreement(
            static_priv=x_key, static_pub=import_x25519_public_key(x_peer), kdf=lambda z: z
        )

    receiver = ECC.generate(curve="curve25519")
    receiver_public = receiver.public_key()
    epoch_key = bytes(32)

    def hpke_seal() -> tuple[bytes, bytes]:
        ctx = HPKE.new(receiver_key=receiver_public, aead_id=HPKE.AEAD.CHACHA20_POLY1305)
        return ctx.enc, ctx.seal(epoch_key)

    enc, sealed = hpke_seal()

    def hpke_open() -> bytes:
        ctx = HPKE.new(receiver_key=receiver, aead_id=HPKE.AEAD.CHACHA20_POLY1305, enc=enc)
        return ctx.unseal(sealed)

    digits = identity_module._safety_digits.__wrapped__  # uncached: the real cost

    return [
        ("Ed25519 sign 200 B (pycryptodome)", lambda: eddsa.new(ed_key, "rfc8032").sign(message)),
        ("Ed25519 verify 200 B with key import", ed_verify_with_import),
        ("  Identity.sign 200 B", lambda: me.sign(message, context="message")),
        (
            "  identity.verify, key checks cached",
            lambda: verify(me.signing_public, message, my_signature, context="message"),
        ),
        ("  identity.verify, new key (8A, LA checks)", strict_verify_cold),
        ("X25519 (import peer key + agree)", x25519),
        ("  Identity.dh", lambda: peer.dh(me.dh_public)),
        ("HPKE seal 32 B (DHKEM-X25519, ChaCha20-Poly1305)", hpke_seal),
        ("HPKE open 32 B", hpke_open),
        ("safety code, one side (5200 x SHA-512)", lambda: digits(me.public)),
        ("  safety_code (cached after first)", lambda: safety_code(me.public)),
        ("Identity.generate", Identity.generate),
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer, shorter batches")
    args = parser.parse_args(argv)
    row_seconds = 0.03 if args.quick else ROW_SECONDS
    rows = _aead_rows(100) + _aead_rows(4000) + _open_rows(300) + _public_key_rows()
    baseline: dict[int, float] = {}
    fewest = MAX_BATCHES
    width = max(len(name) for name, _ in rows)
    print(f"{'operation':<{width}}  {'us/op':>9}  {'ops/s':>9}  vs AES-GCM")
    print("-" * (width + 35))
    for name, fn in rows:
        seconds, batches = _measure(fn, row_seconds)
        fewest = min(fewest, batches)
        ratio = ""
        for size in (100, 4000):
            if name.endswith(f" {size} B") and "setup+seal" in name:
                baseline.setdefault(size, seconds)
                ratio = f"{seconds / baseline[size]:.2f}x"
        print(f"{name:<{width}}  {seconds * 1e6:9.1f}  {1 / seconds:9.0f}  {ratio}")
    print(
        f"\nper row: min over >= {fewest} batches of ~{BATCH_SECONDS * 1000:.0f} ms"
        " (at least one call each); pycryptodome, this machine"
    )


if __name__ == "__main__":
    main()
