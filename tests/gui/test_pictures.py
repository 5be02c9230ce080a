"""gui/pictures.py: previews of received pictures; hostile files refused before they cost much.

Every picture is made here with Pillow (or by hand, byte by byte, where Pillow would refuse to
write it), so the tests need no sample files. Logic tests need no display; the two that make a
Tk image take ``root``.
"""

from __future__ import annotations

import io
import random
import struct
import subprocess
import sys
import threading
import time
import zlib
from pathlib import Path

import pytest
from PIL import Image, ImageOps

from gui.pictures import (
    MAX_PIXELS,
    MAX_SIDE,
    NOT_A_PICTURE,
    TOO_LARGE,
    PictureRefused,
    Preview,
    decode_preview,
    photo_image,
)

ROOT = Path(__file__).resolve().parents[2]
# As in the app, where gui/pictures.py sets this filter once at import (see the last tests).
pytestmark = pytest.mark.filterwarnings("error::PIL.Image.DecompressionBombWarning")

RED, GREEN, BLUE, WHITE = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)


def encoded(image: Image.Image, fmt: str, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def quadrants(size: tuple[int, int] = (400, 200)) -> Image.Image:
    """Red, green / blue, white quadrants: every turn and flip gives a different picture."""
    width, height = size
    image = Image.new("RGB", size, WHITE)
    image.paste(RED, (0, 0, width // 2, height // 2))
    image.paste(GREEN, (width // 2, 0, width, height // 2))
    image.paste(BLUE, (0, height // 2, width // 2, height))
    return image


def noise(size: tuple[int, int] = (300, 200)) -> Image.Image:
    """Random pixels: nothing compresses, so a cut file is really missing picture data."""
    pixels = random.Random(size[0] * 100_000 + size[1]).randbytes(size[0] * size[1] * 3)
    return Image.frombytes("RGB", size, pixels)


def shown(preview: Preview) -> Image.Image:
    return Image.open(io.BytesIO(preview.png), formats=["PNG"])


def near(pixel, colour, tolerance: int = 40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel[:3], colour, strict=True))


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_declaring(width: int, height: int, idat: bytes = b"") -> bytes:
    """A PNG whose header announces width × height (8-bit grey), with the pixel data given."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", idat or zlib.compress(b"\0" * 64))
        + png_chunk(b"IEND", b"")
    )


def gif_declaring(width: int, height: int) -> bytes:
    """A GIF whose logical screen is width × height, holding one 1 × 1 frame: 40-odd bytes."""
    return (
        b"GIF89a"
        + struct.pack("<HHBBB", width, height, 0x80, 0, 0)  # global palette of 2 colours
        + b"\0\0\0\xff\xff\xff"
        + b",\0\0\0\0\x01\0\x01\0\0"  # image descriptor: at 0,0, 1 × 1
        + b"\x02\x02\x44\x01\0"  # LZW data for one pixel
        + b";"
    )


def jpeg_declaring(width: int, height: int) -> bytes:
    """A real 16 × 16 JPEG whose frame header (SOF0) is changed to announce width × height."""
    data = bytearray(encoded(Image.new("RGB", (16, 16), RED), "JPEG"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def refused(data: bytes | Path, **options) -> str:
    with pytest.raises(PictureRefused) as caught:
        decode_preview(data, **options)
    assert isinstance(caught.value, ValueError)
    assert str(caught.value) == caught.value.reason
    return caught.value.reason


# --- the four formats ------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "WEBP"])
def test_each_allowed_format_gives_a_preview(fmt):
    preview = decode_preview(encoded(quadrants((800, 400)), fmt))

    assert (preview.format, preview.width, preview.height) == (fmt, 800, 400)
    assert (preview.preview_width, preview.preview_height) == (360, 180)
    picture = shown(preview)
    assert picture.size == (360, 180)
    assert picture.mode == "RGB"
    assert near(picture.getpixel((10, 10)), RED)
    assert near(picture.getpixel((350, 10)), GREEN)
    assert near(picture.getpixel((10, 170)), BLUE)
    assert not preview.animated


def test_the_preview_box_is_the_callers(tmp_path):
    preview = decode_preview(encoded(quadrants((400, 1000)), "PNG"), max_side=100)

    assert (preview.preview_width, preview.preview_height) == (40, 100)


def test_a_small_picture_is_not_enlarged():
    preview = decode_preview(encoded(quadrants((40, 20)), "PNG"))

    assert (preview.preview_width, preview.preview_height) == (40, 20)


def test_a_picture_is_read_from_a_file_whatever_its_name(tmp_path):
    path = tmp_path / "holiday.txt"  # the name says text; the content is a JPEG
    path.write_bytes(encoded(quadrants(), "JPEG"))

    assert decode_preview(path).format == "JPEG"


def test_a_missing_file_is_refused(tmp_path):
    assert refused(tmp_path / "gone.png") == "the picture's file cannot be read"


def test_max_side_must_be_positive():
    with pytest.raises(ValueError, match="max_side"):
        decode_preview(encoded(quadrants(), "PNG"), max_side=0)


def test_transparency_survives_as_rgba():
    image = Image.new("RGBA", (100, 100), (0, 0, 0, 0))
    image.paste((255, 0, 0, 255), (0, 0, 50, 100))

    picture = shown(decode_preview(encoded(image, "PNG")))

    assert picture.mode == "RGBA"
    assert picture.getpixel((10, 50))[3] == 255
    assert picture.getpixel((90, 50))[3] == 0


def test_a_palette_gif_with_a_transparent_colour_is_rgba():
    image = Image.new("P", (60, 60), 1)
    image.putpalette([*RED, *BLUE] + [0] * 762)

    picture = shown(decode_preview(encoded(image, "GIF", transparency=1)))

    assert picture.mode == "RGBA"
    assert picture.getpixel((30, 30))[3] == 0


@pytest.mark.parametrize(
    ("mode", "fill", "fmt", "expected"),
    [
        ("L", 128, "PNG", (128, 128, 128)),
        ("1", 1, "PNG", WHITE),
        ("I;16", 30_000, "PNG", (117, 117, 117)),  # 16-bit grey scaled down, not clipped white
        ("CMYK", (0, 255, 255, 0), "JPEG", RED),
        ("LA", (200, 255), "PNG", (200, 200, 200)),
    ],
)
def test_other_colour_modes_become_rgb_or_rgba(mode, fill, fmt, expected):
    picture = shown(decode_preview(encoded(Image.new(mode, (50, 50), fill), fmt)))

    assert picture.mode in ("RGB", "RGBA")
    assert near(picture.getpixel((25, 25)), expected, tolerance=8)


# --- animation: the first frame --------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["GIF", "WEBP", "PNG"])
def test_an_animation_shows_its_first_frame(fmt):
    frames = [Image.new("RGB", (120, 80), colour) for colour in (RED, GREEN, BLUE)]
    data = encoded(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100)

    preview = decode_preview(data)

    assert preview.animated
    assert (preview.width, preview.height) == (120, 80)
    assert near(shown(preview).getpixel((60, 40)), RED)


# --- EXIF orientation ------------------------------------------------------------------------


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied(orientation):
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = encoded(quadrants(), "JPEG", exif=exif.tobytes(), quality=95)
    expected = ImageOps.exif_transpose(Image.open(io.BytesIO(data)))  # Pillow's own answer

    preview = decode_preview(data, max_side=1000)

    assert (preview.width, preview.height) == expected.size
    picture = shown(preview)
    assert picture.size == expected.size
    for x, y in ((0.25, 0.25), (0.75, 0.25), (0.25, 0.75), (0.75, 0.75)):
        point = (int(x * picture.width), int(y * picture.height))
        assert near(picture.getpixel(point), expected.getpixel(point)), (orientation, point)


def test_a_sideways_photo_reports_its_upright_size_and_shrinks_to_fit():
    exif = Image.Exif()
    exif[0x0112] = 6  # taken with the phone on its side
    data = encoded(quadrants((1600, 1200)), "JPEG", exif=exif.tobytes())

    preview = decode_preview(data)

    assert (preview.width, preview.height) == (1200, 1600)
    assert (preview.preview_width, preview.preview_height) == (270, 360)


def test_a_broken_exif_block_is_ignored_not_fatal():
    data = encoded(quadrants(), "JPEG", exif=b"Exif\0\0MM\0*\xff\xff\xff\xff garbage")

    preview = decode_preview(data)

    assert (preview.width, preview.height) == (400, 200)


# --- refused: not one of the four formats ----------------------------------------------------


@pytest.mark.parametrize("fmt", ["BMP", "TIFF", "ICO", "PPM", "TGA", "PCX", "EPS"])
def test_other_picture_formats_are_refused(fmt):
    image = Image.new("RGB", (32, 32), RED)
    try:
        data = encoded(image, fmt)
    except (OSError, KeyError):  # EPS needs Ghostscript only to read; writing works
        pytest.skip(f"this Pillow cannot write {fmt}")

    assert refused(data) == NOT_A_PICTURE


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"hello, this is not a picture\n",
        b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect/></svg>',
        b'<?xml version="1.0"?><svg><script>alert(1)</script></svg>',
        b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n",
        b"MZ\x90\0" + b"\0" * 60,  # a Windows program
        b"\x89PNG\r\n\x1a\n",  # a PNG signature and nothing after it
        bytes(range(256)) * 4,
    ],
)
def test_what_is_not_a_picture_is_refused(data):
    assert refused(data) in (NOT_A_PICTURE, "the picture is damaged or incomplete")


def test_a_text_file_named_png_is_refused(tmp_path):
    path = tmp_path / "photo.png"
    path.write_text("I am not a picture\n" * 100, encoding="utf-8")

    assert refused(path) == NOT_A_PICTURE


# --- refused: damaged ------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "WEBP"])
@pytest.mark.parametrize("kept", [0.5, 0.9])
def test_a_truncated_picture_is_refused(fmt, kept):
    data = encoded(noise(), fmt)

    assert refused(data[: int(len(data) * kept)]) == "the picture is damaged or incomplete"


def test_a_png_whose_header_fails_its_checksum_is_refused():
    data = bytearray(encoded(quadrants(), "PNG"))
    data[data.index(b"IHDR") + 4] ^= 0x01  # the width, its CRC left as it was

    assert refused(bytes(data)) == NOT_A_PICTURE


def test_a_png_of_zero_width_is_refused():
    assert refused(png_declaring(0, 10)) == NOT_A_PICTURE


def test_damaged_compressed_pixel_data_is_refused():
    data = encoded(noise(), "PNG")
    start = data.index(b"IDAT") + 4
    broken = data[:start] + b"\xff" * 64 + data[start + 64 :]  # not a zlib stream any more

    assert refused(broken) == "the picture is damaged or incomplete"


# --- refused: too large, before the pixels are decoded ---------------------------------------


@pytest.mark.parametrize(
    ("what", "data"),
    [
        ("PNG 30000 × 30000", png_declaring(30_000, 30_000)),
        ("PNG 20000 × 10", png_declaring(MAX_SIDE + 1, 10)),  # too wide, however few pixels
        ("PNG 10 × 20000", png_declaring(10, MAX_SIDE + 1)),
        ("PNG 8000 × 6000", png_declaring(8_000, 6_000)),  # sides fine, 48 megapixels
        ("PNG 2^31-1 square", png_declaring(2**31 - 1, 2**31 - 1)),
        ("GIF 65535 × 65535", gif_declaring(65_535, 65_535)),
        ("GIF 10000 × 10000", gif_declaring(10_000, 10_000)),  # Pillow's own check's error
        ("GIF 7000 × 7000", gif_declaring(7_000, 7_000)),  # Pillow's own check's warning
        ("JPEG 65000 × 65000", jpeg_declaring(65_000, 65_000)),
        ("JPEG 9000 × 9000", jpeg_declaring(9_000, 9_000)),
    ],
)
def test_a_picture_announcing_too_many_pixels_is_refused_at_once(what, data):
    started = time.perf_counter()

    reason = refused(data)

    assert reason == TOO_LARGE, what
    assert time.perf_counter() - started < 0.25, what  # the header alone was read
    assert len(data) < 1_000  # a tiny file


def test_a_real_decompression_bomb_is_refused_before_decoding():
    # 10000 × 10000 grey pixels of zeros, all there: 100 MB decoded, 100 kB compressed.
    row = b"\0" * (1 + 10_000)
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row) for _ in range(10_000)) + compressor.flush()
    data = png_declaring(10_000, 10_000, idat)
    assert len(data) < 200_000

    started = time.perf_counter()
    assert refused(data) == TOO_LARGE
    assert time.perf_counter() - started < 0.25


def test_the_largest_allowed_picture_is_decoded(tmp_path):
    # Exactly at the limits: 16384 wide, and just under 40 megapixels in all.
    height = MAX_PIXELS // MAX_SIDE
    data = encoded(Image.new("L", (MAX_SIDE, height), 0), "PNG")

    preview = decode_preview(data)

    assert (preview.width, preview.height) == (MAX_SIDE, height)
    assert preview.preview_width == 360


def test_pillows_own_bomb_limit_is_ours_and_its_warning_an_error():
    # In a process of its own: pytest resets the warning filters around every test (so this
    # module sets the same filter with pytestmark, above).
    probe = (
        "import io, sys\n"
        "from PIL import Image\n"
        "import gui.pictures\n"
        f"data = {gif_declaring(7_000, 7_000)!r}\n"
        "assert Image.MAX_IMAGE_PIXELS == gui.pictures.MAX_PIXELS\n"
        "try:\n"
        "    Image.open(io.BytesIO(data))\n"
        "except Image.DecompressionBombWarning:\n"
        "    print('raised')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert (result.returncode, result.stdout) == (0, "raised\n"), result.stderr


# --- threads and Tk --------------------------------------------------------------------------


def test_previews_decode_in_worker_threads():
    data = [encoded(quadrants((600 + 10 * i, 300)), "JPEG") for i in range(8)]
    results: dict[int, object] = {}

    def work(index: int) -> None:
        try:
            results[index] = decode_preview(data[index])
        except Exception as error:  # reported below, not swallowed
            results[index] = error
        try:
            decode_preview(gif_declaring(7_000, 7_000))
        except PictureRefused as refusal:
            results[100 + index] = refusal.reason

    workers = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=30)

    for index in range(8):
        preview = results[index]
        assert isinstance(preview, Preview), preview
        assert preview.width == 600 + 10 * index
        assert results[100 + index] == TOO_LARGE


def test_photo_image_shows_the_preview_in_tk(root):
    preview = decode_preview(encoded(quadrants((800, 400)), "WEBP"))

    image = photo_image(preview, root)

    assert (image.width(), image.height()) == (360, 180)
    assert near(image.get(10, 10), RED)
    assert near(image.get(350, 170), WHITE)


def test_photo_image_keeps_transparency(root):
    image = Image.new("RGBA", (100, 100), (0, 0, 0, 0))
    image.paste((0, 0, 255, 255), (0, 0, 50, 100))

    photo = photo_image(decode_preview(encoded(image, "PNG")), root)

    assert photo.transparency_get(90, 50)
    assert not photo.transparency_get(10, 50)
