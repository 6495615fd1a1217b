"""Small JPEG previews of images, for the thread and the conversation list."""

from __future__ import annotations

import io
import logging
import warnings

from django.core.files.base import ContentFile
from PIL import Image, ImageOps

logger = logging.getLogger(__name__)

THUMBNAIL_SIZE = (320, 320)
# Meta's images are at most 5 MB; refuse pixel bombs well before they eat memory.
MAX_PIXELS = 50_000_000


def thumbnail_bytes(fileobj) -> bytes | None:
    """A JPEG of at most 320x320 pixels, or None when the image cannot be read."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(fileobj) as image:
                if image.width * image.height > MAX_PIXELS:
                    return None
                image = ImageOps.exif_transpose(image)
                image.thumbnail(THUMBNAIL_SIZE)
                if image.mode not in ("RGB", "L"):
                    background = Image.new("RGB", image.size, (255, 255, 255))
                    rgba = image.convert("RGBA")
                    background.paste(rgba, mask=rgba.getchannel("A"))
                    image = background
                out = io.BytesIO()
                image.save(out, format="JPEG", quality=80, optimize=True)
                return out.getvalue()
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        logger.info("no thumbnail: the image could not be read", exc_info=True)
        return None


def thumbnail_create(*, media, fileobj) -> str:
    """Store a thumbnail of `fileobj` for `media`; returns its storage name ('' if none).
    The caller saves the name on the row."""
    data = thumbnail_bytes(fileobj)
    if data is None:
        return ""
    media.thumbnail.save(f"thumb-{media.pk}.jpg", ContentFile(data), save=False)
    return media.thumbnail.name
