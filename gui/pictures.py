"""Small previews of received pictures, decoded with Pillow without trusting the file.

A picture comes from another person, so it is hostile: it may claim to be a PNG and be anything
else, announce 30,000 × 30,000 pixels in a file of a few hundred bytes (a decompression bomb: 3.6
GB of memory once decoded), be cut short, or use one of Pillow's many rarer formats, each a
parser more to attack. :func:`decode_preview` therefore

* lets Pillow try only PNG, JPEG, GIF and WebP (:data:`ALLOWED_FORMATS`, passed to
  ``Image.open``) and checks the format it found against the same list;
* reads the header alone and refuses a picture wider or taller than :data:`MAX_SIDE` or larger
  than :data:`MAX_PIXELS` before one pixel is decoded; Pillow's own bomb check is set to the
  same limit and its warning is an error;
* decodes the first frame only, turns it upright by its EXIF orientation (a broken EXIF block
  is ignored, not fatal), shrinks it (JPEG is decoded at a reduced scale straight away) and
  keeps it as PNG bytes;
* turns every failure into :class:`PictureRefused`, with a reason in plain words.

Call :func:`decode_preview` in a worker thread (it never touches Tk, and a large picture takes
a moment), hand the :class:`Preview` to the Tk thread, and there call :func:`photo_image`. Keep a
reference to the returned image as long as a widget shows it: Tk forgets an image Python drops.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from PIL import Image, ImageFile

if TYPE_CHECKING:
    import tkinter as tk

__all__ = [
    "ALLOWED_FORMATS",
    "MAX_PIXELS",
    "MAX_SIDE",
    "NOT_A_PICTURE",
    "PREVIEW_SIDE",
    "TOO_LARGE",
    "PictureRefused",
    "Preview",
    "decode_preview",
    "photo_image",
]

ALLOWED_FORMATS = ("PNG", "JPEG", "GIF", "WEBP")  # Pillow's names; GIF and WebP: first frame
MAX_SIDE = 16_384  # pixels, width or height: larger than any camera or screen needs
MAX_PIXELS = 40_000_000  # a 40-megapixel picture: 160 MB of RGBA while it is shrunk
PREVIEW_SIDE = 360  # the default bounding box of a preview, in pixels

TOO_LARGE = "the picture is too large to show"
NOT_A_PICTURE = "this is not a PNG, JPEG, GIF or WebP picture"

# A JPEG with more pictures inside (MPO: some phones' and 3D cameras'): Pillow names it MPO and
# decodes its first picture with the same JPEG decoder.
_JPEG_KINDS = {"MPO": "JPEG"}
# EXIF orientation → the turn that shows the picture upright (as ImageOps.exif_transpose does;
# done by hand here, on the preview only, so nothing depends on the EXIF surviving a convert).
_ORIENTATION_TAG = 0x0112
_TURNS = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_QUARTER_TURNS = frozenset(_TURNS[orientation] for orientation in (5, 6, 7, 8))

# Pillow's own bomb check (Image.open, and each GIF or WebP frame) looks at a process-wide
# limit; SocketChat opens only pictures that came from someone else, so the limit is ours. Its
# warning (between MAX_PIXELS and twice that) is made an error like the error above it: set once
# here, not per call, since warnings.catch_warnings is not safe across threads.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
warnings.filterwarnings("error", category=Image.DecompressionBombWarning)


class PictureRefused(ValueError):
    """The picture cannot be previewed; ``reason`` says why in plain words (for the person,
    never Pillow's own message, which may quote the file)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True, kw_only=True)
class Preview:
    """A picture shrunk to fit a preview box, ready for :func:`photo_image`.

    ``png`` is the preview itself (``preview_width`` × ``preview_height``, RGB or RGBA);
    ``width`` × ``height`` is the whole picture as shown, that is after its EXIF orientation;
    ``format`` is Pillow's name for what the file really is (``"PNG"``, ``"JPEG"``, ``"GIF"``,
    ``"WEBP"``), whatever its name said; ``animated``: the file has more frames than the one
    shown.
    """

    png: bytes
    preview_width: int
    preview_height: int
    width: int
    height: int
    format: str
    animated: bool


def decode_preview(data: bytes | Path, *, max_side: int = PREVIEW_SIDE) -> Preview:
    """Decode a received picture (its bytes, or the file it was saved to) into a preview no
    larger than ``max_side`` × ``max_side``; raises :class:`PictureRefused` for anything that
    is not a sound PNG, JPEG, GIF or WebP within the size limits. Safe off the Tk thread."""
    if max_side < 1:
        raise ValueError(f"max_side must be at least 1, not {max_side}")
    if isinstance(data, bytes):
        return _decode(io.BytesIO(data), max_side)
    try:
        file = data.open("rb")
    except OSError:
        raise PictureRefused("the picture's file cannot be read") from None
    with file:
        return _decode(file, max_side)


def photo_image(preview: Preview, master: tk.Misc) -> tk.PhotoImage:
    """The preview as a Tk image for ``master``'s interpreter. Call on the Tk thread only, and
    keep the result referenced while it is shown. Tk reads the PNG itself (no ImageTk)."""
    import tkinter as tk

    return tk.PhotoImage(master=master, data=preview.png, format="png")


def _decode(source: BinaryIO, max_side: int) -> Preview:
    """Open with the allowed formats only; every failure becomes :class:`PictureRefused`."""
    try:
        with Image.open(source, formats=ALLOWED_FORMATS) as image:
            return _preview(image, max_side)
    except PictureRefused:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise PictureRefused(TOO_LARGE) from None
    except Image.UnidentifiedImageError:
        raise PictureRefused(NOT_A_PICTURE) from None
    except MemoryError:
        raise PictureRefused("there is not enough memory to show the picture") from None
    except Exception:  # any other failure of any of Pillow's parsers is a broken picture
        raise PictureRefused("the picture is damaged or incomplete") from None


def _preview(image: ImageFile.ImageFile, max_side: int) -> Preview:
    """Check the header, then decode, shrink and turn upright the first frame."""
    found = _JPEG_KINDS.get(image.format or "", image.format or "")
    if found not in ALLOWED_FORMATS:  # Image.open was told the list; this keeps it so
        raise PictureRefused(NOT_A_PICTURE)
    width, height = image.size  # from the header: no pixel decoded yet
    if width < 1 or height < 1:
        raise PictureRefused("the picture has no pixels")
    if width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS:
        raise PictureRefused(TOO_LARGE)
    animated = bool(getattr(image, "is_animated", False))  # reads headers, not frames
    if animated:
        image.seek(0)
    # A JPEG is decoded straight at the smallest scale (1/2, 1/4, 1/8) still at least twice
    # the preview's size; other formats decode whole.
    image.draft(None, (max_side * 2, max_side * 2))
    image.load()  # before the EXIF: reading a PNG's EXIF loads it, and must not hide a failure
    turn = _TURNS.get(_orientation(image))
    if turn in _QUARTER_TURNS:
        width, height = height, width
    # Colours first, so a palette picture is shrunk smoothly (Pillow resizes "P" with
    # NEAREST); reducing_gap: whole-factor shrinking first, fast and still sharp.
    shown = _flat_colours(image)
    shown.thumbnail((max_side, max_side), Image.Resampling.LANCZOS, reducing_gap=3.0)
    if turn is not None:
        shown = shown.transpose(turn)
    png = io.BytesIO()
    shown.save(png, format="PNG", compress_level=1)  # fast; it only travels to Tk
    return Preview(
        png=png.getvalue(),
        preview_width=shown.width,
        preview_height=shown.height,
        width=width,
        height=height,
        format=found,
        animated=animated,
    )


def _orientation(image: Image.Image) -> int:
    """The EXIF orientation (1–8; 1 = upright); 1 if the EXIF block is missing or broken (a
    sideways preview is better than none)."""
    try:
        value = image.getexif().get(_ORIENTATION_TAG, 1)
    except Exception:  # any EXIF parse error: the orientation is simply unknown
        return 1
    return value if isinstance(value, int) else 1


def _flat_colours(image: Image.Image) -> Image.Image:
    """RGBA when the picture has any transparency, else RGB: the two modes PNG and Tk agree
    on, whatever the file used (palette, grey, CMYK, 16-bit)."""
    transparent = image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or ("transparency" in image.info)
    wanted = "RGBA" if transparent else "RGB"
    if image.mode.startswith("I;16") or image.mode in ("I", "F"):  # 16-bit or wider grey
        image = image.point(lambda value: value / 256).convert("L")
    return image if image.mode == wanted else image.convert(wanted)
