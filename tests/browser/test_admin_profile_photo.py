"""The business profile's photo in Django admin, in headless Chromium: an admin picks a
file, a photo Meta would refuse is named on the page, an accepted one is uploaded and
the page then shows the URL Meta answers for it (served by the simulator as Meta's CDN
serves it)."""

import io

import pytest
from PIL import Image
from playwright.sync_api import expect

from apps.accounts.tests.factories import DEFAULT_PASSWORD, AdminFactory
from apps.simulator.models import SimulatedUpload
from apps.whatsapp.tests.factories import WhatsAppNumberFactory

from .conftest import sign_in

pytestmark = pytest.mark.django_db(transaction=True)

TIMEOUT = 20_000  # ms


def image(kind: str, side: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (side, side), (200, 60, 30)).save(out, kind)
    return out.getvalue()


def test_an_admin_changes_the_profile_photo(inbox_servers, new_page):
    number = WhatsAppNumberFactory()
    admin = AdminFactory(organization=number.organization, is_staff=True)
    page = new_page()
    sign_in(page, inbox_servers.url, admin.username, DEFAULT_PASSWORD)
    page.wait_for_url(f"{inbox_servers.url}/inbox/")
    page.goto(f"{inbox_servers.url}/admin/whatsapp/whatsappnumber/{number.pk}/profile/")
    photo = page.get_by_label("New profile photo")
    photo.set_input_files(files=[{"name": "tiny.png", "mimeType": "image/png", "buffer": image("PNG", 100)}])
    page.get_by_role("button", name="Save at WhatsApp").click()
    expect(page.locator(".errorlist")).to_contain_text("100 x 100 pixels", timeout=TIMEOUT)
    assert not SimulatedUpload.objects.exists()
    page.get_by_label("New profile photo").set_input_files(
        files=[{"name": "logo.jpg", "mimeType": "image/jpeg", "buffer": image("JPEG", 640)}])
    page.get_by_role("button", name="Save at WhatsApp").click()
    expect(page.locator(".messagelist")).to_contain_text("saved at WhatsApp", timeout=TIMEOUT)
    # The simulator answers a URL of its own server (in the demo, the site's origin; at
    # Meta, pps.whatsapp.net, both allowed by the CSP); the file behind it is the photo.
    src = page.locator("img[data-profile-photo]").get_attribute("src")
    assert src.endswith(f"/simulator/profile-picture/{SimulatedUpload.objects.get().pk}/")
    served = page.request.get(src)
    assert served.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(served.body())).size == (640, 640)
