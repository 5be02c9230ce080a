"""Draw SocketChat's app icon (a speech bubble with a padlock) into assets/.

Run ``python tools/make_icon.py`` after changing the drawing; commit the outputs:
``assets/icon-<size>.png`` for 16–256 px, ``assets/icon.png`` (256 px) and a multi-size
``assets/icon.ico`` (PNG-compressed entries, which Windows Vista and later read).

Plain Python (zlib + struct), no imaging library: each pixel is 5×5 supersampled against
the shapes below, described in a unit square, so small sizes stay smooth.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

SIZES = (16, 24, 32, 48, 64, 128, 256)
ASSETS = Path(__file__).resolve().parent.parent / "assets"
_SAMPLES = 5

_TOP = (0x3B, 0x8E, 0xF0)
_BOTTOM = (0x17, 0x55, 0xB8)
_WHITE = (0xFF, 0xFF, 0xFF)


def _in_round_rect(
    x: float, y: float, x0: float, y0: float, x1: float, y1: float, r: float
) -> bool:
    if not (x0 <= x <= x1 and y0 <= y <= y1):
        return False
    cx = min(max(x, x0 + r), x1 - r)
    cy = min(max(y, y0 + r), y1 - r)
    return (x - cx) ** 2 + (y - cy) ** 2 <= r * r


def _in_triangle(
    x: float, y: float, a: tuple[float, float], b: tuple[float, float], c: tuple[float, float]
) -> bool:
    def side(p: tuple[float, float], q: tuple[float, float]) -> float:
        return (x - q[0]) * (p[1] - q[1]) - (p[0] - q[0]) * (y - q[1])

    d1, d2, d3 = side(a, b), side(b, c), side(c, a)
    has_neg = d1 < 0 or d2 < 0 or d3 < 0
    has_pos = d1 > 0 or d2 > 0 or d3 > 0
    return not (has_neg and has_pos)


def _bubble(x: float, y: float) -> bool:
    return _in_round_rect(x, y, 0.05, 0.07, 0.95, 0.75, 0.17) or _in_triangle(
        x, y, (0.20, 0.68), (0.44, 0.68), (0.14, 0.94)
    )


def _lock(x: float, y: float) -> bool:
    """White padlock: shackle (a ring's upper half and two legs) and body, minus a keyhole."""
    cx, cy, outer, inner = 0.5, 0.34, 0.125, 0.07
    ring = inner * inner <= (x - cx) ** 2 + (y - cy) ** 2 <= outer * outer and y <= cy
    legs = (cx - outer <= x <= cx - inner or cx + inner <= x <= cx + outer) and cy <= y <= 0.44
    body = _in_round_rect(x, y, 0.31, 0.40, 0.69, 0.64, 0.045)
    keyhole = (x - 0.5) ** 2 + (y - 0.49) ** 2 <= 0.035**2 or (
        abs(x - 0.5) <= 0.016 and 0.49 <= y <= 0.575
    )
    return (ring or legs or body) and not keyhole


def render(size: int) -> bytes:
    """Return ``size``×``size`` RGBA pixels, row by row."""
    rows = bytearray()
    step = 1.0 / (size * _SAMPLES)
    colour: tuple[float, ...]
    for py in range(size):
        for px in range(size):
            r = g = b = a = 0.0
            for sy in range(_SAMPLES):
                y = (py * _SAMPLES + sy + 0.5) * step
                for sx in range(_SAMPLES):
                    x = (px * _SAMPLES + sx + 0.5) * step
                    if _lock(x, y):
                        colour = _WHITE
                    elif _bubble(x, y):
                        t = min(max((y - 0.07) / 0.87, 0.0), 1.0)
                        colour = tuple(
                            top + (bottom - top) * t
                            for top, bottom in zip(_TOP, _BOTTOM, strict=True)
                        )
                    else:
                        continue
                    r, g, b, a = r + colour[0], g + colour[1], b + colour[2], a + 1
            n = _SAMPLES * _SAMPLES
            if a:
                rows += bytes((round(r / a), round(g / a), round(b / a), round(255 * a / n)))
            else:
                rows += b"\0\0\0\0"
    return bytes(rows)


def png(size: int, rgba: bytes) -> bytes:
    """Encode RGBA pixels as a PNG file."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    stride = size * 4
    raw = b"".join(b"\0" + rgba[row * stride : (row + 1) * stride] for row in range(size))
    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def ico(images: dict[int, bytes]) -> bytes:
    """Pack PNG images into one .ico file (ICONDIR + ICONDIRENTRY table + PNG data)."""
    out = struct.pack("<HHH", 0, 1, len(images))
    offset = 6 + 16 * len(images)
    data = b""
    for size, blob in sorted(images.items()):
        side = 0 if size >= 256 else size  # 0 means 256 in an ICONDIRENTRY
        out += struct.pack("<BBBBHHII", side, side, 0, 0, 1, 32, len(blob), offset + len(data))
        data += blob
    return out + data


def main() -> None:
    images = {}
    for size in SIZES:
        images[size] = png(size, render(size))
        (ASSETS / f"icon-{size}.png").write_bytes(images[size])
    (ASSETS / "icon.png").write_bytes(images[256])
    (ASSETS / "icon.ico").write_bytes(ico(images))
    print(f"wrote {len(SIZES)} PNG sizes, icon.png and icon.ico to {ASSETS}")


if __name__ == "__main__":
    main()
