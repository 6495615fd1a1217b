"""Against real local peers: the simulator's Graph API (live_server) and a local S3 server."""

import hashlib

import pytest
import requests

from apps.core.tasks import dispatch
from apps.media import services, tasks
from apps.media.models import Media
from apps.media.tests.conftest import jpeg_bytes, png_bytes
from apps.media.tests.factories import MediaFactory
from apps.simulator.models import SimulatedMedia, SimulatorConfig
from apps.accounts.tests.factories import AdminFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def simulator(live_server, settings):
    settings.GRAPH_API_BASE = f"{live_server.url}/simulator/graph"
    settings.SIMULATOR_ENABLED = True
    settings.GRAPH_API_TIMEOUT = 10
    SimulatorConfig.objects.update_or_create(pk=1, defaults={"send_status_webhooks": False, "status_delay": 0})
    yield live_server
    # Drop kept-alive connections, so the server's threads release their database connections.
    from apps.providers.meta import http

    http.reset()


def test_mirror_through_the_simulator_into_s3(simulator, s3_storage, published):
    client, bucket = s3_storage
    body = jpeg_bytes()
    media = MediaFactory()
    SimulatedMedia.objects.create(
        media_id=media.meta_media_id, phone_number_id=media.message.number.phone_number_id, mime_type="image/jpeg",
        sha256=hashlib.sha256(body).hexdigest(), content=body,
    )

    dispatch(tasks.mirror_media, media.pk)

    media = Media.objects.get(pk=media.pk)
    assert (media.state, media.size) == ("stored", len(body))
    stored = client.get_object(Bucket=bucket, Key=media.file.name)["Body"].read()
    assert stored == body
    assert client.head_object(Bucket=bucket, Key=media.thumbnail.name)["ContentLength"] > 0
    assert [event for event, _, _ in published] == ["message.updated"]


def test_the_open_link_redirects_to_a_presigned_s3_url(s3_storage, client, settings):
    settings.MEDIA_URL_TTL = 120
    media = MediaFactory(state="stored", kind="image", mime_type="image/png", stored_at="2026-01-01T00:00:00Z")
    body = png_bytes()
    from django.core.files.base import ContentFile

    media.file.save("image.png", ContentFile(body))
    admin = AdminFactory(organization=media.organization)
    client.force_login(admin)

    response = client.get(f"/media/m/{media.pk}/")

    assert response.status_code == 302
    url = response["Location"]
    assert url.startswith(f"{settings.AWS_S3_ENDPOINT_URL}/{settings.AWS_STORAGE_BUCKET_NAME}/")
    assert "X-Amz-Expires=120" in url and "X-Amz-Signature=" in url
    fetched = requests.get(url, timeout=10)
    assert (fetched.status_code, fetched.content) == (200, body)
    assert fetched.headers["Content-Type"] == "image/png"
    assert fetched.headers["Content-Disposition"] == 'inline; filename="image.png"'


def test_upload_to_meta_through_the_simulator_and_cache(simulator, s3_storage):
    from django.core.files.uploadedfile import SimpleUploadedFile

    admin = AdminFactory()
    from apps.whatsapp.tests.factories import WhatsAppNumberFactory

    number = WhatsAppNumberFactory(organization=admin.organization)
    body = png_bytes()
    media = services.media_upload_create(
        organization=admin.organization, uploaded_file=SimpleUploadedFile("photo.png", body), user=admin
    )

    meta_id = services.media_upload_to_meta(media=media, number=number)

    uploaded = SimulatedMedia.objects.get(media_id=meta_id)
    assert (bytes(uploaded.content), uploaded.mime_type, uploaded.phone_number_id) == (
        body, "image/png", number.phone_number_id
    )
    media = Media.objects.get(pk=media.pk)
    assert (media.meta_media_id, media.state, media.meta_upload_number_id) == (meta_id, "uploaded", number.pk)
    assert services.media_upload_to_meta(media=media, number=number) == meta_id
    assert SimulatedMedia.objects.count() == 1


def test_an_upload_older_than_metas_lifetime_is_uploaded_again(simulator):
    from datetime import timedelta

    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.utils import timezone

    from apps.whatsapp.tests.factories import WhatsAppNumberFactory

    admin = AdminFactory()
    number = WhatsAppNumberFactory(organization=admin.organization)
    media = services.media_upload_create(
        organization=admin.organization, uploaded_file=SimpleUploadedFile("a.pdf", b"%PDF-1.7\n"), user=admin
    )
    first = services.media_upload_to_meta(media=media, number=number)
    Media.objects.filter(pk=media.pk).update(meta_uploaded_at=timezone.now() - timedelta(days=29, minutes=1))
    media = Media.objects.get(pk=media.pk)

    second = services.media_upload_to_meta(media=media, number=number)

    assert second != first
    assert Media.objects.get(pk=media.pk).meta_media_id == second
    assert sorted(SimulatedMedia.objects.values_list("media_id", flat=True)) == sorted([first, second])


def test_an_expired_file_cannot_be_uploaded(simulator):
    from apps.media.tests.factories import UploadFactory
    from apps.whatsapp.tests.factories import WhatsAppNumberFactory

    media = UploadFactory(state="expired", file="")
    number = WhatsAppNumberFactory(organization=media.organization)
    with pytest.raises(services.MediaUnavailable):
        services.media_upload_to_meta(media=media, number=number)
    assert SimulatedMedia.objects.count() == 0
