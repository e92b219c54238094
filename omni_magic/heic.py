"""HEIC/HEIF photos, what phones take: read with pillow-heif (the ``heic`` extra), sent as JPEG.

The service's documentation (SPEC.md) lists no HEIC among the image data URLs it shows, and a
vLLM server reads images with plain Pillow, which cannot open HEIC. So a HEIC photo is
converted to JPEG once, when it is attached, and the JPEG is what is measured, estimated,
previewed and sent. pillow-heif's opener is registered with Pillow the first time a HEIC is
met, not at import, so ``%load_ext omni_magic`` stays fast and nothing changes for users who
never attach one.
"""

from __future__ import annotations

import io

from .errors import InvalidRequest

HEIC_EXTRA = "pip install 'omni_magic[heic]'"
JPEG_QUALITY = 90  # phone photos hold fine detail; 90 keeps it at about a fifth of PNG's size


def register(name: str) -> None:
    """Let Pillow open HEIC/HEIF (idempotent); InvalidRequest saying how when pillow-heif is missing."""
    try:
        import pillow_heif
    except ImportError:
        raise InvalidRequest(
            f"{name} is a HEIC/HEIF photo, which needs pillow-heif to be read: "
            f"{HEIC_EXTRA}. Or convert it to JPEG first (on a Mac: "
            f"sips -s format jpeg {name} --out photo.jpg; elsewhere: heif-convert {name} photo.jpg)."
        ) from None
    pillow_heif.register_heif_opener()


def to_jpeg(data: bytes, name: str) -> bytes:
    """The photo as JPEG bytes: its first picture, turned upright, without its metadata."""
    register(name)
    from PIL import Image

    try:
        # pillow-heif applies the photo's rotation and mirroring (irot/imir) as it decodes.
        with Image.open(io.BytesIO(data)) as image:
            rgb = image.convert("RGB")  # no alpha in JPEG; 10-bit photos come as 8-bit RGB
    except Exception as exc:  # a truncated or damaged HEIC: libheif's error, not a traceback
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InvalidRequest(
            f"{name} is a HEIC/HEIF photo that could not be decoded ({text}). Check that the "
            "file is complete, or convert it to JPEG first."
        ) from None
    out = io.BytesIO()
    rgb.save(out, format="JPEG", quality=JPEG_QUALITY)
    return out.getvalue()
