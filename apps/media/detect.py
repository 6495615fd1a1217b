"""What a file is, from its content, and whether WhatsApp accepts it.

Names lie; the first bytes rarely do. `detect_mime` reads the magic bytes of the
types Meta accepts, `check_upload` holds the result against Meta's table of types
and sizes (the provider's capabilities: apps/providers/meta/capabilities.py), and
`safe_filename` makes a name that is safe to store.
"""

from __future__ import annotations

import mimetypes
import os
import re
import unicodedata
import zipfile
from dataclasses import dataclass

from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

from apps.providers.meta.capabilities import CAPABILITIES

IMAGE, VIDEO, AUDIO, DOCUMENT, STICKER = "image", "video", "audio", "document", "sticker"
# The media kinds, in Meta's order: image, video, audio, document, sticker.
KINDS = CAPABILITIES.media_kinds

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
DOC, XLS, PPT = "application/msword", "application/vnd.ms-excel", "application/vnd.ms-powerpoint"


def size_limit(kind: str, *, animated: bool = False) -> int:
    """Meta's limit for a file of `kind` (CAPABILITIES.media_size_limits)."""
    if kind == STICKER and animated:
        return CAPABILITIES.animated_sticker_size_limit
    limits = CAPABILITIES.media_size_limits
    return limits.get(kind, limits[DOCUMENT])


def inbound_size_limit() -> int:
    """The largest file a customer's message can carry, whatever its kind: Meta's limit
    for what customers send, not the smaller ones on what a business sends (a
    customer's 10 MB photo or 1 MB sticker arrives whole)."""
    return CAPABILITIES.inbound_media_size_limit


# Extensions we store files under, by MIME type; anything else is stored as .bin.
EXTENSIONS = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/webp": ".webp",
    "video/mp4": ".mp4",
    "video/3gpp": ".3gp",
    "audio/aac": ".aac",
    "audio/amr": ".amr",
    "audio/mpeg": ".mp3",
    "audio/mp4": ".m4a",
    "audio/ogg": ".ogg",
    "application/pdf": ".pdf",
    "text/plain": ".txt",
    DOC: ".doc",
    DOCX: ".docx",
    XLS: ".xls",
    XLSX: ".xlsx",
    PPT: ".ppt",
    PPTX: ".pptx",
}


def base_mime(mime_type: str) -> str:
    """`audio/ogg; codecs=opus` -> `audio/ogg`."""
    return (mime_type or "").split(";", 1)[0].strip().lower()


def extension_for(mime_type: str) -> str:
    return EXTENSIONS.get(base_mime(mime_type), ".bin")


def kind_for_mime(mime_type: str) -> str:
    mime = base_mime(mime_type)
    for kind in (IMAGE, VIDEO, AUDIO, STICKER):
        if mime in CAPABILITIES.media_types[kind]:
            return kind
    return DOCUMENT


_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]+")


def safe_filename(name: str, *, default_stem: str = "file", max_length: int = 120) -> str:
    """A name safe on every storage: no path, ASCII letters, digits, dot, dash,
    underscore and space only, no leading dot, bounded length."""
    name = os.path.basename((name or "").replace("\\", "/"))
    name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    name = _UNSAFE.sub("_", name).strip(" ._")
    stem, ext = os.path.splitext(name)
    ext = ext[:12]
    stem = (stem or default_stem)[: max(1, max_length - len(ext))]
    return f"{stem}{ext}"


# --- Magic bytes ---------------------------------------------------------------------
HEAD_BYTES = 8192


def _is_text(head: bytes) -> bool:
    if not head or b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the end of the sample is still text.
        if exc.start < len(head) - 3:
            return False
    control = sum(1 for b in head if b < 32 and b not in (9, 10, 12, 13))
    return control == 0


def _zip_office(fileobj) -> str | None:
    position = fileobj.tell()
    try:
        fileobj.seek(0)
        with zipfile.ZipFile(fileobj) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError, ValueError):
        return None
    finally:
        fileobj.seek(position)
    if "[Content_Types].xml" not in names:
        return None
    prefixes = {name.split("/", 1)[0] for name in names}
    if "word" in prefixes:
        return DOCX
    if "xl" in prefixes:
        return XLSX
    if "ppt" in prefixes:
        return PPTX
    return None


def _ole2_type(filename: str) -> str:
    guessed = mimetypes.guess_type(filename or "")[0]
    return guessed if guessed in (DOC, XLS, PPT) else DOC


@dataclass(frozen=True)
class Detected:
    mime_type: str | None  # None: not a type WhatsApp accepts
    animated: bool = False
    description: str = ""


def detect(fileobj, filename: str = "") -> Detected:
    """The type of the file's content (the file position is kept)."""
    position = fileobj.tell()
    fileobj.seek(0)
    head = fileobj.read(HEAD_BYTES)
    fileobj.seek(position)

    if head.startswith(b"\xff\xd8\xff"):
        return Detected("image/jpeg")
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return Detected("image/png")
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        # An animated WebP is an extended (VP8X) file with an ANIM chunk.
        animated = head[12:16] == b"VP8X" and (b"ANIM" in head or bool(head[20] & 0x02))
        return Detected("image/webp", animated=animated)
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand.startswith((b"3gp", b"3g2")):
            return Detected("video/3gpp")
        if brand in (b"M4A ", b"M4B "):
            return Detected("audio/mp4")
        return Detected("video/mp4")
    if head.startswith(b"OggS"):
        if b"OpusHead" in head[:128]:
            return Detected("audio/ogg")
        return Detected(None, description=_("Ogg audio that is not Opus"))
    if head.startswith(b"#!AMR"):
        return Detected("audio/amr")
    if head.startswith(b"ID3"):
        return Detected("audio/mpeg")
    if len(head) >= 2 and head[0] == 0xFF and (head[1] & 0xF6) == 0xF0:
        return Detected("audio/aac")  # ADTS: sync word, layer 00
    if len(head) >= 2 and head[0] == 0xFF and (head[1] & 0xE0) == 0xE0 and (head[1] & 0x06) != 0:
        return Detected("audio/mpeg")  # MPEG audio frame sync, layer I-III
    if head.startswith(b"%PDF"):
        return Detected("application/pdf")
    if head.startswith(b"PK\x03\x04"):
        office = _zip_office(fileobj)
        return Detected(office) if office else Detected(None, description=_("a ZIP archive"))
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return Detected(_ole2_type(filename))
    if _is_text(head):
        return Detected("text/plain")
    return Detected(None)


def describe_types(kind: str) -> str:
    names = sorted(EXTENSIONS[m].lstrip(".").upper() for m in CAPABILITIES.media_types[kind])
    return ", ".join(names)


def check_upload(*, detected: Detected, size: int, kind: str | None) -> tuple[str, str]:
    """(kind, mime_type) for an upload, or ValueError with a message for the agent."""
    mime = detected.mime_type
    if kind is not None and kind not in KINDS:
        raise ValueError(_("Unknown media kind “%(kind)s”.") % {"kind": kind})
    if mime is None:
        what = detected.description or _("a file type WhatsApp does not accept")
        if kind:
            raise ValueError(
                _("This file is %(what)s; WhatsApp accepts %(types)s as %(kind)s.")
                % {"what": what, "kind": kind, "types": describe_types(kind)}
            )
        raise ValueError(_("This file is %(what)s.") % {"what": what})
    if kind is None:
        kind = kind_for_mime(mime)
    if kind == AUDIO and mime == "video/mp4":
        mime = "audio/mp4"  # an MP4 container sent as audio
    if mime not in CAPABILITIES.media_types[kind]:
        raise ValueError(
            _("This file is %(mime)s; WhatsApp accepts %(types)s as %(kind)s.")
            % {"mime": mime, "kind": kind, "types": describe_types(kind)}
        )
    limit = size_limit(kind, animated=detected.animated)
    if size > limit:
        label = _("an animated sticker") if kind == STICKER and detected.animated else kind
        raise ValueError(
            _("The file is %(size)s; the limit for %(what)s is %(limit)s.")
            % {"size": filesizeformat(size), "what": label, "limit": filesizeformat(limit)}
        )
    if size == 0:
        raise ValueError(_("The file is empty."))
    return kind, mime
