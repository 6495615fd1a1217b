"""A media-header template's sample file, uploaded to Meta for the handle its
definition names (`example.header_handle`): Meta's Resumable Upload API, under the
app of META_APP_ID, with the number's token."""

from __future__ import annotations

import io

from django.conf import settings
from django.utils.translation import gettext as _

from .definition import TemplateDefinitionError

# The files each header format takes as its sample, and their size limits (Meta's
# media limits: image 5 MB, video 16 MB, document 100 MB).
HEADER_FILE_TYPES = {
    "IMAGE": (("image/jpeg", "image/png"), 5 * 1024 * 1024),
    "VIDEO": (("video/mp4",), 16 * 1024 * 1024),
    "DOCUMENT": (("application/pdf",), 100 * 1024 * 1024),
}


def template_header_upload(*, organization, number, header_format: str, content: bytes,
                           file_name: str = "") -> str:
    """Upload the sample file of a `header_format` header (IMAGE, VIDEO, DOCUMENT) for
    `number`'s WABA: the handle to put in the header's example. Raises
    TemplateDefinitionError ("header.example") naming what is wrong, Meta's refusal
    included. The file's type is read from its content, not from its name."""
    from apps.media.detect import detect
    from apps.providers.meta.client import GraphAPIError, client_for
    from apps.providers.meta.uploads import upload_file

    if number.organization_id != organization.pk or not number.waba_id:
        raise TemplateDefinitionError([("number", _("A number of your organisation with a WhatsApp Business "
                                                    "Account id."))])
    fmt = str(header_format or "").upper()
    if fmt not in HEADER_FILE_TYPES:
        raise TemplateDefinitionError([("header.format", _("Only an image, video or document header takes a "
                                                           "sample file."))])
    types, limit = HEADER_FILE_TYPES[fmt]
    file_type = detect(io.BytesIO(content or b""), file_name).mime_type or ""
    if file_type not in types:
        raise TemplateDefinitionError([("header.example", _("A %(kind)s header takes %(types)s, not %(given)s.")
                                        % {"kind": fmt.lower(), "types": ", ".join(types),
                                           "given": file_type or "-"})])
    if not content or len(content) > limit:
        raise TemplateDefinitionError([("header.example", _("The sample file is empty or larger than %(mb)d MB.")
                                        % {"mb": limit // (1024 * 1024)})])
    if not settings.META_APP_ID:
        raise TemplateDefinitionError([("header.example", _("Uploading a sample file needs the Meta app's id: "
                                                            "set META_APP_ID."))])
    try:
        return upload_file(client_for(number), settings.META_APP_ID, content, file_type=file_type,
                           file_name=file_name)
    except GraphAPIError as error:
        raise TemplateDefinitionError([("header.example", _("Meta refused the sample file: %(error)s %(details)s")
                                        % {"error": error, "details": error.details})]) from error
