"""Image decoding and encoding with Pillow: its rules, modes and colour, file limits.

Everything that can go wrong with a user's file becomes a :class:`UserError` naming
the file. An input is read up to a byte limit derived from the pixel limit, and an image
whose header promises more pixels than the limit, more memory than the machine has, or
more data than its file can hold is refused before it is decoded. Outputs are written
by :mod:`cnncli.files` (atomically for regular files, as they are for devices and FIFOs).
PNG at the default compression level is encoded by :mod:`cnncli.png`; bit depth
arithmetic is :mod:`cnncli.core.depth`.
"""

from __future__ import annotations

import io
import math
import re
import sys
import threading
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cnncli.core.errors import UserError
from cnncli.defaults import DEFAULT_COMPRESS_LEVEL, DEFAULT_MAX_PIXELS
from cnncli.files import STDIO, check_output_path, display_name, read_bytes, write_output

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image

# The input byte limit: the most bytes a pixel takes in a file Pillow decodes (16-bit RGBA,
# 64-bit float gray) for every allowed pixel, plus room for metadata (ICC, EXIF, text).
MAX_FILE_BYTES_PER_PIXEL = 8
METADATA_ALLOWANCE = 16 << 20
# Deflate (PNG) cannot shrink data more than 1032:1 (258 bytes from one 2-bit code).
DEFLATE_MAX_RATIO = 1032
# Bytes per pixel Pillow holds in memory for each mode (1-bit and palette images take 1).
_STORED_BYTES = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16B": 2, "I;16L": 2, "I;16N": 2}
SAMPLE_NAME = "chelsea.png"

# Images needing fewer bytes than this are decoded without asking how much memory is left.
_ASK_MEMORY_ABOVE = 64 << 20

# Modes Pillow decodes to that we turn into one of: L, LA, RGB, RGBA (8-bit) or I;16 (16-bit gray).
_TO_RGB = {"CMYK", "YCbCr", "LAB", "HSV", "RGBX"}
_TO_RGBA = {"RGBa", "PA"}


@dataclass(frozen=True)
class ImageMeta:
    """What we keep from the input to write the output like it."""

    name: str
    bits: int
    format: str | None
    info: Mapping[str, Any] = field(default_factory=dict)


def sample_path() -> Path:
    """The bundled CC0 photograph (see cnncli/data/README.md)."""
    return Path(__file__).with_name("data") / SAMPLE_NAME


def _load(image: Image.Image) -> None:
    """Decode the pixels. libtiff (compressed TIFF) prints its complaints to file
    descriptor 2 itself: they are captured, and raised as warnings if it decoded anyway."""
    if image.format != "TIFF":
        image.load()
        return
    from cnncli.files import c_stderr_captured

    with c_stderr_captured() as printed:
        image.load()
    for line in printed:
        warnings.warn(f"libtiff: {line}", stacklevel=2)


def max_input_bytes(max_pixels: int | None) -> int | None:
    """The most bytes read from an input for a pixel limit (None: no limit)."""
    if max_pixels is None:
        return None
    return MAX_FILE_BYTES_PER_PIXEL * max_pixels + METADATA_ALLOWANCE


def read_image(
    source: str | Path,
    *,
    luminance: bool = False,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
) -> tuple[np.ndarray, ImageMeta]:
    """Decode ``source`` (a path or ``-`` for stdin) to an array of uint8 or uint16.

    The array is (H, W) for gray or (H, W, C) with C in 2 (LA), 3 (RGB), 4 (RGBA).
    EXIF orientation is applied, so the pixels are the way the picture is viewed.
    ``luminance`` converts colour to gray with ITU-R 601-2 exactly as Pillow's ``"L"``
    conversion does (``L = R*299/1000 + G*587/1000 + B*114/1000``), dropping alpha.
    At most :func:`max_input_bytes` bytes are read; the header's size is checked against
    ``max_pixels``, the memory available and the file's length before decoding.
    """
    import numpy as np
    from PIL import Image, ImageOps, UnidentifiedImageError

    name = display_name(source)
    data = _read_bytes(source, name, max_input_bytes(max_pixels))
    try:
        with _pixel_guard(max_pixels), Image.open(io.BytesIO(data)) as opened:
            _check_size(opened, name, len(data), max_pixels)
            fmt = opened.format
            opened.seek(0)  # first frame of animations (GIF, WebP, multi-page TIFF)
            codec, tile_args = _first_tile(opened)  # the tiles are gone once loaded
            raw_mode = tile_args[0] if tile_args and isinstance(tile_args[0], str) else ""
            _warn_if_colour_loses_bits(opened, codec, tile_args, raw_mode)
            direct = _decode_target(opened)
            _load(opened)
            # In place: without an orientation to apply, a copy would only cost time and memory.
            ImageOps.exif_transpose(opened, in_place=True)
            info = _kept_info(opened)
            if direct is not None and opened.im is direct[1]:  # still the pixels we decoded
                # Gray already, 8 or 16 bits: what _normalise_mode would return, uncopied.
                array, bits = direct[0], 16 if opened.mode == "I;16" else 8
            else:
                direct = None  # transposed or converted: the array decoded into can go
                image, bits = _normalise_mode(opened, luminance, raw_mode)
                array = _pixels(image)
    except UserError:
        raise
    except UnidentifiedImageError:
        raise UserError(f"{name}: not an image Pillow can read") from None
    except Image.DecompressionBombError as exc:
        # Pillow's guard refused in open, before our check saw the size: say it our way.
        found = re.search(r"\((\d+) pixels\)", str(exc))
        if found and max_pixels is not None and int(found[1]) > max_pixels:
            raise UserError(
                f"{name}: {int(found[1]):,} pixels is over the limit of {max_pixels:,} "
                "(a decompression-bomb guard)",
                hint="raise it with --max-pixels if you trust the file",
            ) from None
        raise UserError(f"{name}: {str(exc).rstrip('.')}") from None  # a program's lower guard
    except MemoryError:
        raise UserError(f"{name}: not enough memory to decode this image") from None
    except Exception as exc:  # any failure inside a decoder is a property of the file
        detail = str(exc) or type(exc).__name__
        raise UserError(f"{name}: truncated or corrupt image ({detail})") from None
    if bits == 16:
        array = array.astype(np.uint16, copy=False)
    return array, ImageMeta(name=name, bits=bits, format=fmt, info=info)


# Modes whose pixels Pillow can decode straight into a numpy array's memory, and its dtype.
_DIRECT_MODES = {"L": "uint8", "I;16": "<u2"}
# The EXIF (and TIFF) tag of the orientation in which a picture is to be viewed.
_ORIENTATION_TAG = 0x0112


def _decode_target(image: Image.Image) -> tuple[np.ndarray, Any] | None:
    """An array for Pillow to decode 8- or 16-bit gray into, and Pillow's view of it.

    Pillow keeps the pixels of an image it maps from a buffer in that buffer. Giving the
    unloaded image such a mapped core before ``load()`` makes the decoder write into our
    array: no second image-sized copy (about 1 byte a pixel less at peak, and the time of
    copying and faulting in that memory). The caller checks the image still holds this
    core after loading and transposing, and copies the usual way if not.
    """
    import numpy as np
    from PIL import Image as PILImage

    dtype = _DIRECT_MODES.get(image.mode)
    if dtype is None or image.format not in ("PNG", "TIFF", "PPM", "BMP"):
        return None
    if "transparency" in image.info:  # a colour key: made into an alpha channel later
        return None
    if image.format == "TIFF" and getattr(image, "tag_v2", {}).get(_ORIENTATION_TAG, 1) != 1:
        return None  # Pillow decodes a rotated TIFF at its stored size, not image.size
    width, height = image.size
    # Zeros, as Pillow's own image starts: rows a truncated file never reaches stay black.
    array = np.zeros((height, width), dtype=dtype)
    mapped = PILImage.frombuffer(image.mode, image.size, array, "raw", image.mode, 0, 1)
    image.im = mapped.im
    return array, mapped.im


# Decoded images above this many bytes are copied out of Pillow in bands of this size.
_PIXEL_BAND_BYTES = 1 << 22


def _pixels(image: Image.Image) -> np.ndarray:
    """The pixels as an array: ``np.asarray(image)`` without its transient extra copy.

    Pillow hands numpy the pixels through ``tobytes()``, which joins encoded chunks into
    one bytes object: for a moment the image exists three times (Pillow's, the chunks, the
    bytes). Copying bands of rows into a preallocated array keeps that to twice.
    """
    import numpy as np

    width, height = image.size
    first = np.asarray(image.crop((0, 0, width, min(height, 1))))
    row_bytes = max(1, first.nbytes)
    if row_bytes * height <= _PIXEL_BAND_BYTES:
        return np.asarray(image)
    array = np.empty((height, *first.shape[1:]), dtype=first.dtype)
    step = max(1, _PIXEL_BAND_BYTES // row_bytes)
    for top in range(0, height, step):
        bottom = min(top + step, height)
        array[top:bottom] = np.asarray(image.crop((0, top, width, bottom)))
    return array


def _read_bytes(source: str | Path, name: str, limit: int | None) -> bytes:
    if str(source) == STDIO and sys.stdin is not None and sys.stdin.isatty():
        # Nothing typed there is an image: waiting for it would look like a hang.
        raise UserError(
            "refusing to read image data from a terminal",
            hint="redirect stdin (< photo.png), pipe an image in, or give a file name",
        )
    try:
        data = read_bytes(source, "an image file", limit)
    except UserError as exc:
        if not exc.message.startswith(f"{name}: more than "):
            raise
        raise UserError(
            f"{exc.message} (the limit for --max-pixels: "
            f"{MAX_FILE_BYTES_PER_PIXEL} bytes a pixel + {METADATA_ALLOWANCE >> 20} MiB)",
            hint="raise --max-pixels if the file is a real image",
        ) from None
    if not data:
        raise UserError(f"{name}: empty file (0 bytes), not an image")
    return data


_GUARD_LOCK = threading.Lock()


@contextmanager
def _pixel_guard(max_pixels: int | None) -> Iterator[None]:
    """Pillow's own decompression-bomb guard, for one open, at least as high as ours.

    Pillow refuses images over twice its ``Image.MAX_IMAGE_PIXELS`` (and warns over it;
    the warning is dropped, our own check names the sizes). When ``--max-pixels`` allows
    more than Pillow would, its limit is raised for this open and decode only, under a
    lock, and put back after: the process-wide setting is never switched off for good.
    """
    from PIL import Image

    with _GUARD_LOCK:
        pillow = Image.MAX_IMAGE_PIXELS
    if pillow is None or (max_pixels is not None and max_pixels <= 2 * pillow):
        yield
        return
    with _GUARD_LOCK:
        saved = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = None if max_pixels is None else -(-max_pixels // 2)
        try:
            yield
        finally:
            Image.MAX_IMAGE_PIXELS = saved


def _check_size(image: Image.Image, name: str, file_bytes: int, max_pixels: int | None) -> None:
    """Refuse, before decoding, what the header promises and the limits cannot hold."""
    width, height = image.size
    pixels = width * height
    if max_pixels is not None and pixels > max_pixels:
        raise UserError(
            f"{name}: {width}x{height} = {pixels:,} pixels is over the limit "
            f"of {max_pixels:,} (a decompression-bomb guard)",
            hint="raise it with --max-pixels if you trust the file",
        )
    if pixels == 0:
        raise UserError(f"{name}: {width}x{height}: an image without pixels")
    bands = len(image.getbands())
    needed = pixels * (_STORED_BYTES.get(image.mode, 4) + 4 * bands)
    # Reading what memory is left costs a few system calls (70 us, a tenth of decoding a
    # 256x256 PNG): a small image is not asked, since it alone cannot be what is missing.
    available = available_memory() if needed > _ASK_MEMORY_ABOVE else None
    if available is not None and needed > available:
        raise UserError(
            f"{name}: {width}x{height} {image.mode} needs at least {needed / 1e6:,.0f} MB "
            f"to decode and filter, {available / 1e6:,.0f} MB available"
        )
    if image.format == "PNG":
        bits = _png_bits_per_pixel(image)
        raw = pixels * bits // 8
        if bits and raw > DEFLATE_MAX_RATIO * file_bytes:
            raise UserError(
                f"{name}: the header promises {width}x{height} pixels ({raw:,} bytes of "
                f"samples) but the file has {file_bytes:,} bytes, less than deflate's "
                f"limit of 1:{DEFLATE_MAX_RATIO} allows: a truncated or lying header"
            )


def _png_bits_per_pixel(image: Image.Image) -> int:
    """Bits per pixel of a PNG's samples from its IHDR (0 if unknown)."""
    tile = getattr(image, "tile", None)
    if not tile:
        return 0
    rawmode = tile[0].args[0] if isinstance(tile[0].args, tuple) else tile[0].args
    # Pillow's PNG raw modes: "1", "L;2", "L;4", "L", "I;16B", "RGB", "RGB;16B", "P;4"...
    depth = {"1": 1, "L;2": 2, "L;4": 4, "P;1": 1, "P;2": 2, "P;4": 4}.get(str(rawmode))
    if depth is not None:
        return depth
    samples = {"L": 1, "LA": 2, "RGB": 3, "RGBA": 4, "P": 1, "I": 1}.get(
        str(rawmode).split(";")[0], 1
    )
    return samples * (16 if "16" in str(rawmode) else 8)


def available_memory() -> int | None:
    """Bytes this process may still allocate: the smaller of the kernel's ``MemAvailable``
    and what a cgroup memory limit leaves (None where neither can be read)."""
    candidates: list[int] = []
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    candidates.append(int(line.split()[1]) * 1024)
                    break
    except (OSError, ValueError):
        pass
    for limit_file, usage_file in (
        ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
        (
            "/sys/fs/cgroup/memory/memory.limit_in_bytes",
            "/sys/fs/cgroup/memory/memory.usage_in_bytes",
        ),
    ):
        try:
            with open(limit_file, encoding="ascii") as f:
                limit_text = f.read().strip()
            with open(usage_file, encoding="ascii") as f:
                usage = int(f.read().strip())
        except (OSError, ValueError):
            continue
        if limit_text.isdigit() and int(limit_text) < 1 << 60:
            candidates.append(max(0, int(limit_text) - usage))
    return min(candidates) if candidates else None


def is_complete_image(path: Path) -> bool:
    """True if ``path`` is a non-empty regular file that Pillow decodes to the end without
    a complaint: what ``--skip-existing`` needs to trust an output of an earlier run (a
    0-byte or truncated file, or one left by another program, is made again)."""
    import os
    import stat

    from PIL import Image

    from cnncli.library_warnings import library_warnings

    try:
        info = os.stat(path)
    except OSError:
        return False
    if not stat.S_ISREG(info.st_mode) or info.st_size == 0:
        return False
    try:
        with library_warnings() as caught:
            with Image.open(path) as image:
                image.verify()  # the structure to its end (a PNG's chunks, CRCs and IEND)
            with Image.open(path) as image:
                image.load()  # and every pixel
                fmt = image.format
        if not _ends_whole(path, fmt, info.st_size):
            return False
    except Exception:  # any failure to decode it: not a usable output
        return False
    return not caught


_PNG_IEND = b"\x00\x00\x00\x00IEND\xaeB`\x82"


def _ends_whole(path: Path, fmt: str | None, size: int) -> bool:
    """The last bytes that decoders do not need but a whole file has: a PNG's IEND chunk
    with its CRC, the length a BMP's header gives."""
    import struct

    with open(path, "rb") as handle:
        if fmt == "PNG":
            handle.seek(max(0, size - len(_PNG_IEND)))
            return handle.read() == _PNG_IEND
        if fmt == "BMP":
            header = handle.read(6)
            return len(header) == 6 and size >= struct.unpack("<I", header[2:6])[0]
    return True


# Tags of a TIFF's own directory that describe how its pixels are stored, not the picture:
# size, samples, colour space, palette, compression, strips and tiles (TIFF 6.0), and the
# ICC profile (kept on its own, where it matches the output). A TIFF's EXIF, as Pillow
# reads it, is that whole directory: carried into an output, these would describe the
# input's layout (Pillow's TIFF writer even lays the output out by them) instead of the
# output's.
_LAYOUT_TAGS = frozenset(
    {254, 255, 256, 257, 258, 259, 262, 263, 264, 265, 266, 273, 277, 278, 279, 280, 281}
    | {284, 288, 289, 290, 291, 292, 293, 317, 320, 321, 322, 323, 324, 325, 330, 332}
    | {338, 339, 340, 341, 347, 512, 513, 514, 515, 517, 518, 519, 520, 521, 529, 530}
    | {531, 532, 34675}
)


_EXIF_IFD = 0x8769
_EXIF_SIZE_TAGS = (0xA002, 0xA003)


def _kept_info(image: Image.Image) -> dict[str, Any]:
    info: dict[str, Any] = {}
    for key in ("icc_profile", "dpi"):
        if image.info.get(key):
            info[key] = image.info[key]
    exif = image.getexif()
    for tag in _LAYOUT_TAGS & set(exif) | {_ORIENTATION_TAG}:  # orientation: applied already
        exif.pop(tag, None)
    if _EXIF_IFD in exif:  # its PixelXDimension and PixelYDimension: the input's size
        details = exif.get_ifd(_EXIF_IFD)
        for tag in _EXIF_SIZE_TAGS:
            details.pop(tag, None)
    if exif:
        info["exif"] = exif.tobytes()
        if "dpi" not in info and (held := _exif_dpi(exif)) is not None:
            info["exif_dpi"] = held  # a reader of the output would take it from there
    return info


# A raw mode of 16-bit samples: RGB;16B, LA;16L, RGBA;16N (not BMP's packed BGR;16).
_SIXTEEN_BITS = re.compile(r";16[BLN]")


def _first_tile(image: Image.Image) -> tuple[str, tuple[object, ...]]:
    """The decoder and its arguments for the first tile, before loading (its raw mode
    first: ``RGB;16B``, ``L;2``); ("", ()) where Pillow gives none."""
    for tile in getattr(image, "tile", ()):  # an ImageFile's
        return tile.codec_name, tile.args if isinstance(tile.args, tuple) else (tile.args,)
    return "", ()


def _warn_if_colour_loses_bits(
    image: Image.Image, codec: str, args: tuple[object, ...], raw_mode: str
) -> None:
    """Pillow has no 16-bit colour mode: it reads 16-bit RGB, RGBA and gray+alpha samples
    (a PNG's, a TIFF's, a PPM's) as 8-bit ones. Only gray keeps its 16 bits: say so."""
    if image.mode not in ("RGB", "RGBA", "LA"):
        return
    # A PNG's or TIFF's raw mode says ;16; a PPM's decoder gets its maximum value (other
    # decoders' second argument is a row stride).
    maximum = args[1] if codec in ("ppm", "ppm_plain") and len(args) > 1 else 0
    # (BMP's BGR;16 and BGR;15 are 5-6-5 and 5-5-5 bits a pixel: nothing is lost)
    if _SIXTEEN_BITS.search(raw_mode) or (isinstance(maximum, int) and maximum > 255):
        shown = _describe(image.mode if image.mode != "RGBA" else raw_mode.split(";")[0])
        warnings.warn(
            f"16-bit {shown} read as 8-bit (Pillow keeps 16 bits for gray images only)",
            stacklevel=3,
        )


def _palette_is_transparent(image: Image.Image) -> bool:
    """Whether a palette image's transparency (an index, or an alpha for each entry) makes
    some pixel of it transparent: only then is there an alpha channel to keep."""
    import numpy as np

    key = image.info.get("transparency")
    if key is None:
        return False
    used = np.unique(np.asarray(image))
    if isinstance(key, int):
        return bool(np.isin(key, used))
    if isinstance(key, (bytes, bytearray)):
        alpha = np.frombuffer(bytes(key), dtype=np.uint8)
        return bool(np.any(alpha[used[used < alpha.size]] < 255))
    return True  # another form Pillow knows: its own conversion decides


def _with_key_alpha(image: Image.Image, raw_mode: str) -> Image.Image:
    """A gray or RGB image with its transparent colour key (a PNG's tRNS) made into an
    alpha channel, where the key marks a pixel; else the image as it is. A 16-bit colour
    key is in 16-bit units while Pillow's samples are 8-bit: it is left out, with a warning.
    A 2- or 4-bit gray key is in the stored units, Pillow's samples scaled to 0..255."""
    import numpy as np
    from PIL import Image as PILImage

    key = image.info.get("transparency")
    if key is None:
        return image
    if _SIXTEEN_BITS.search(raw_mode):
        warnings.warn(
            "the transparent colour of a 16-bit image is left out (Pillow reads its samples "
            "as 8-bit)",
            stacklevel=3,
        )
        return image
    pixels = np.asarray(image)
    if image.mode == "L" and isinstance(key, int):
        keyed = pixels == key * {"L;2": 85, "L;4": 17}.get(raw_mode, 1)
    elif image.mode == "RGB" and isinstance(key, tuple):
        keyed = np.all(pixels == np.array(key), axis=-1)
    else:
        return image
    if not keyed.any():
        return image
    alpha = np.where(keyed, 0, 255).astype(np.uint8)
    return PILImage.fromarray(np.dstack([pixels, alpha]))


def _as_16_bits(array: np.ndarray) -> np.ndarray:
    """32-bit integer or float samples as 16-bit ones: clipped to 0..65535 and rounded to
    whole numbers, with a warning saying how many changed (a float image in 0..1 would
    otherwise turn black without a word)."""
    import numpy as np

    outside = int(np.count_nonzero((array < 0) | (array > 65535)))
    clipped = np.clip(array, 0, 65535)
    whole: np.ndarray = np.rint(clipped)
    fractional = int(np.count_nonzero(whole != clipped))
    if outside:
        warnings.warn(f"{outside:,} samples outside 0..65535 clipped to it", stacklevel=3)
    if fractional:
        low, high = float(array.min()), float(array.max())
        warnings.warn(
            f"{fractional:,} fractional samples rounded to whole numbers (the image spans "
            f"{low:g}..{high:g}; cnncli works on 16-bit integers: scale it to 0..65535 first)",
            stacklevel=3,
        )
    return whole


def _normalise_mode(
    image: Image.Image, luminance: bool, raw_mode: str = ""
) -> tuple[Image.Image, int]:
    """One of L, LA, RGB, RGBA (8 bits) or I;16 (16-bit gray), never garbled. ``raw_mode``
    is how the file stored the samples (Pillow's, before loading), for a colour key."""
    import numpy as np

    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        if "transparency" in image.info and not luminance:
            warnings.warn("the transparent gray of a 16-bit image is left out", stacklevel=2)
        array = np.asarray(image)
        if mode == "F":
            nan = np.isnan(array)
            if nan.any():
                warnings.warn(f"{int(nan.sum()):,} NaN samples read as 0", stacklevel=2)
                array = np.where(nan, 0, array)
        if mode in ("I", "F"):
            array = _as_16_bits(array)
        from PIL import Image as PILImage

        return PILImage.fromarray(array.astype(np.uint16)), 16
    if mode == "1":
        image = image.convert("L")  # its info (a tRNS key, in 0..255 units) goes along
    elif mode == "P":
        if _palette_is_transparent(image):
            image = image.convert("RGBA")
        else:  # an unused transparency: Pillow would warn about it while converting
            image.info.pop("transparency", None)
            image = image.convert("RGB")
    elif mode in _TO_RGBA:
        image = image.convert("RGBA")
    elif mode in _TO_RGB:
        image = image.convert("RGB")
    if mode in ("1", "L", "RGB") and not luminance:
        image = _with_key_alpha(image, raw_mode)  # a PNG's tRNS, as a palette's
    if luminance and image.mode != "L":
        image = image.convert("L")
    return image, 8


def output_format(dest: str | Path, explicit: str | None) -> str:
    """Pillow format name from ``--format`` or the output extension; PNG for stdout."""
    from PIL import Image

    if explicit:
        fmt = explicit.upper()
        fmt = {"JPG": "JPEG", "TIF": "TIFF"}.get(fmt, fmt)
        if fmt not in Image.SAVE:
            Image.init()
        if fmt not in Image.SAVE:
            raise UserError(
                f"unknown output format {explicit!r}", hint="e.g. png, jpeg, tiff, webp, bmp"
            )
        return fmt
    if str(dest) == STDIO:
        return "PNG"
    ext = Path(dest).suffix.lower()
    # The common formats are registered by preinit(); only an unusual extension is worth
    # init(), which imports every plugin Pillow has (about 30 ms at each start).
    Image.preinit()
    known = Image.EXTENSION if ext in Image.EXTENSION else Image.registered_extensions()
    if ext not in known:
        raise UserError(
            f"{dest}: cannot tell the output format from the extension {ext or '(none)'!r}",
            hint="use an extension such as .png, .jpg, .tif, or pass --format",
        )
    return known[ext]


def check_output(dest: str | Path, *, no_clobber: bool = False) -> None:
    """Refuse an output we could not write, before any work is done."""
    from cnncli.files import STDOUT_CLOSED, stdout_closed

    if str(dest) == STDIO:
        if stdout_closed():
            raise UserError(STDOUT_CLOSED, hint="give an output file name")
        if sys.stdout.isatty():
            raise UserError(
                "refusing to write image data to a terminal",
                hint="redirect stdout or give a file name",
            )
        return
    check_output_path(dest, no_clobber=no_clobber)


def write_image(
    array: np.ndarray,
    dest: str | Path,
    meta: ImageMeta,
    *,
    format: str | None = None,
    compress_level: int = DEFAULT_COMPRESS_LEVEL,
    no_clobber: bool = False,
    threads: int | None = None,
) -> None:
    """Encode ``array`` (uint8 or uint16) to ``dest`` or stdout (see :func:`write_output`).

    PNG at the default level goes to :mod:`cnncli.png` (see
    :func:`cnncli.png.fast_path_applies`), everything else to Pillow. ``threads`` bounds
    the PNG encoder's threads (None: every core)."""
    from PIL import Image

    from cnncli import png

    fmt = output_format(dest, format)
    mode = _output_mode(array)
    height, width = array.shape[:2]
    _check_container(fmt, mode, display_name(dest), (width, height))
    options = _save_options(fmt, mode, meta, compress_level)
    if fmt == "ICO":  # one icon of the image's own size (Pillow's default: a set of sizes)
        options["sizes"] = [(width, height)]
    buffer = io.BytesIO()
    try:
        if png.fast_path_applies(fmt, mode, compress_level, array):
            png.write_png(array, mode, options, buffer, threads)
        else:
            _to_pil(array, Image).save(buffer, format=fmt, **options)
    except (OSError, ValueError, KeyError) as exc:
        raise UserError(
            f"{display_name(dest)}: cannot write {_describe(mode)} as {fmt} ({exc})"
        ) from None
    encoded = buffer.getbuffer()  # a view, not a second copy of the encoded file
    write_output(dest, encoded, no_clobber=no_clobber)


# Formats that Pillow writes a 16-bit gray image to as it is (the others clip it to 8 bits
# or quantize it); formats without an alpha channel (Pillow drops it, or folds it into a
# palette); ICO, which holds at most 256x256 pixels (ICNS: fixed sizes only).
_HOLD_16_BITS = frozenset({"PNG", "TIFF", "PPM", "JPEG2000", "IM", "SPIDER"})
_NO_ALPHA = frozenset({"BMP", "DIB", "PPM", "GIF", "SPIDER"})
_ICO_SIDE = 256  # an icon's width and height are one byte each (0 stands for 256)


def _check_container(fmt: str, mode: str, shown: str, size: tuple[int, int]) -> None:
    """Refuse a format that would not hold the output's pixels as they are: one Pillow would
    write after changing them without a word. JPEG (and AVIF) stay lossy by the user's
    choice, for the modes they store."""
    png_or_tiff = "write PNG or TIFF instead"
    if fmt == "ICNS":
        raise UserError(f"{shown}: ICNS stores icons at fixed sizes: the image would be resized")
    if fmt == "ICO" and max(size) > _ICO_SIDE:
        raise UserError(
            f"{shown}: ICO holds at most {_ICO_SIDE}x{_ICO_SIDE} pixels, the image is "
            f"{size[0]}x{size[1]}: it would be shrunk",
            hint=png_or_tiff,
        )
    if mode == "I;16" and fmt not in _HOLD_16_BITS:
        raise UserError(
            f"{shown}: {fmt} cannot store 16-bit samples", hint=f"add --bits 8, or {png_or_tiff}"
        )
    if fmt in ("JPEG", "MPO") and mode not in ("L", "RGB"):
        raise UserError(f"{shown}: JPEG cannot store {_describe(mode)}", hint=png_or_tiff)
    if mode in ("LA", "RGBA") and fmt in _NO_ALPHA:
        raise UserError(f"{shown}: {fmt} cannot store the alpha channel", hint=png_or_tiff)
    if fmt == "GIF" and mode != "L":
        raise UserError(
            f"{shown}: GIF holds 256 colours: the image would be quantized", hint=png_or_tiff
        )
    if fmt == "SPIDER" and mode not in ("L", "I;16"):
        raise UserError(f"{shown}: SPIDER stores one gray channel", hint=png_or_tiff)


def _describe(mode: str) -> str:
    return {
        "L": "8-bit gray",
        "LA": "gray with alpha",
        "RGB": "RGB",
        "RGBA": "RGB with alpha",
        "I;16": "16-bit gray",
    }.get(mode, mode)


# The Pillow mode of a uint8 array by its channels (what Image.fromarray infers).
_MODE_BY_CHANNELS = {2: "LA", 3: "RGB", 4: "RGBA"}


def _output_mode(array: np.ndarray) -> str:
    """The Pillow mode :func:`_to_pil` gives ``array``, without making the image: the PNG
    writer needs only the name (Pillow's image of a small output costs more than its
    Sobel filter's last pass)."""
    import numpy as np

    if array.dtype == np.uint16 and array.ndim == 2:
        return "I;16"
    if array.dtype == np.uint8:
        if array.ndim == 2:
            return "L"
        if array.ndim == 3 and array.shape[2] in _MODE_BY_CHANNELS:
            return _MODE_BY_CHANNELS[array.shape[2]]
    from PIL import Image

    return _to_pil(array, Image).mode  # anything else: as Pillow has it (or refuses it)


def _to_pil(array: np.ndarray, image_module: Any) -> Image.Image:
    """uint8 (H, W[, 2|3|4]) -> L/LA/RGB/RGBA; uint16 (H, W) -> I;16 (Pillow infers the mode)."""
    import numpy as np

    if array.dtype == np.uint16 and array.ndim != 2:
        raise UserError("16-bit output is possible only for gray images", hint="use --bits 8")
    return image_module.fromarray(np.ascontiguousarray(array))  # type: ignore[no-any-return]


def _save_options(fmt: str, mode: str, meta: ImageMeta, compress_level: int) -> dict[str, Any]:
    options: dict[str, Any] = {}
    icc = meta.info.get("icc_profile")
    if icc and _icc_matches(icc, mode):
        options["icc_profile"] = icc
    exif = meta.info.get("exif") if fmt in ("PNG", "JPEG", "TIFF", "WEBP") else None
    # The resolution the input gave, or else the one its EXIF holds (a reader of the output
    # takes it from there): one the format cannot store is left out of both.
    given = meta.info.get("dpi") or (meta.info.get("exif_dpi") if exif else None)
    resolution_kept = True
    if given is not None and fmt in ("PNG", "JPEG", "TIFF", "BMP"):
        dpi = tuple(float(d) for d in given[:2])
        resolution_kept = _dpi_fits(fmt, dpi)
        if not resolution_kept:
            warnings.warn(
                f"a resolution of {dpi[0]:g} x {dpi[1]:g} dpi does not fit in a {fmt} file; "
                "left out",
                stacklevel=2,
            )
        elif "dpi" in meta.info:
            options["dpi"] = dpi
    if exif:
        options["exif"] = exif if resolution_kept else _without_resolution(exif)
    if fmt == "PNG":
        options["compress_level"] = compress_level
    elif fmt == "JPEG":
        options["quality"] = 95
    elif fmt == "WEBP":
        options["lossless"] = True
        options["exact"] = True  # the colour of fully transparent pixels too
    return options


# How each format stores a resolution: dots per inch times this, rounded, below this limit
# (PNG's pHYs and BMP's header: pixels per metre in 32 bits, BMP's signed; JPEG's JFIF
# density: 16 bits). TIFF stores a fraction.
_DPI_STORAGE = {"PNG": (1 / 0.0254, 2**32), "BMP": (39.3701, 2**31), "JPEG": (1.0, 2**16)}


_RESOLUTION_TAGS = (0x011A, 0x011B, 0x0128)


def _without_resolution(exif: bytes) -> bytes:
    """EXIF bytes without XResolution, YResolution and ResolutionUnit."""
    from PIL import Image

    tags = Image.Exif()
    tags.load(exif)
    for tag in _RESOLUTION_TAGS:
        tags.pop(tag, None)
    return tags.tobytes()


def _exif_dpi(tags: Image.Exif) -> tuple[float, float] | None:
    """The resolution EXIF tags hold, in dots per inch (ResolutionUnit 3: centimetres),
    or None where they hold none."""
    x, y = tags.get(0x011A), tags.get(0x011B)
    if x is None or y is None:
        return None
    per_inch = 2.54 if tags.get(0x0128) == 3 else 1.0
    try:
        return float(x) * per_inch, float(y) * per_inch
    except (TypeError, ValueError, ZeroDivisionError):
        return math.nan, math.nan


def _dpi_fits(fmt: str, dpi: tuple[float, ...]) -> bool:
    """Whether the format can store this resolution as it is (a 0/0 one is NaN)."""
    if not all(math.isfinite(d) and d >= 0 for d in dpi):
        return False
    scale, limit = _DPI_STORAGE.get(fmt, (1.0, math.inf))
    return all(d * scale + 0.5 < limit for d in dpi)


def _icc_matches(profile: bytes, mode: str) -> bool:
    """An ICC profile names its colour space at bytes 16-20; gray must not carry an RGB one."""
    space = profile[16:20]
    gray = mode in ("L", "LA", "I;16")
    return space == (b"GRAY" if gray else b"RGB ")
