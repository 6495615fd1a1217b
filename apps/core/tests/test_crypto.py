import pytest
from django.db import connection

from apps.core import crypto
from apps.whatsapp.tests.factories import WhatsAppNumberFactory


@pytest.mark.django_db
def test_secrets_are_encrypted_at_rest_and_clear_in_python():
    number = WhatsAppNumberFactory(access_token="EAAG-secret-token-xyz", app_secret="s3cr3t-app")
    with connection.cursor() as cursor:
        cursor.execute("SELECT access_token, app_secret FROM whatsapp_whatsappnumber WHERE id = %s", [number.id])
        raw_token, raw_secret = cursor.fetchone()
    assert "EAAG-secret-token-xyz" not in raw_token
    assert "s3cr3t-app" not in raw_secret
    number.refresh_from_db()
    assert number.access_token == "EAAG-secret-token-xyz"
    assert number.app_secret == "s3cr3t-app"


def test_key_rotation_decrypts_with_an_older_key(settings):
    old, new = crypto.Fernet.generate_key().decode(), crypto.Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [old]
    token = crypto.encrypt("value")
    settings.FIELD_ENCRYPTION_KEYS = [new, old]
    assert crypto.decrypt(token) == "value"
    settings.FIELD_ENCRYPTION_KEYS = [new]
    with pytest.raises(ValueError):
        crypto.decrypt(token)


def test_mask_never_shows_the_secret():
    assert crypto.mask("EAAG-secret-token-xyz") == "••••••••yz"
    assert crypto.mask("short") == "••••••••"
    assert crypto.mask("") == ""
