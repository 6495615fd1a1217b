import factory
from django.core.files.base import ContentFile
from django.utils import timezone

from apps.accounts.tests.factories import OrganizationFactory
from apps.media.models import Media
from apps.messaging.tests.factories import MessageFactory


class MediaFactory(factory.django.DjangoModelFactory):
    """An inbound image waiting to be mirrored."""

    class Meta:
        model = Media

    message = factory.SubFactory(MessageFactory, type="image", text="", content={})
    organization = factory.SelfAttribute("message.organization")
    meta_media_id = factory.Sequence(lambda n: f"{9000000000 + n}")
    mime_type = "image/jpeg"
    sha256 = ""
    state = Media.State.PENDING


class StoredMediaFactory(MediaFactory):
    """An inbound file already in storage."""

    state = Media.State.STORED
    kind = "document"
    mime_type = "application/pdf"
    filename = "invoice.pdf"
    size = 12
    stored_at = factory.LazyFunction(timezone.now)
    file = factory.LazyAttribute(lambda m: ContentFile(b"%PDF-1.4 abc", name="invoice.pdf"))


class UploadFactory(StoredMediaFactory):
    """An agent's upload, not sent yet."""

    message = None
    organization = factory.SubFactory(OrganizationFactory)
