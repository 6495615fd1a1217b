"""Use-cases of the numbers: binding a WhatsApp number to an organisation."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from apps.accounts.models import Organization

from .models import Provider, WhatsAppNumber
from .secrets import clear_secrets_cache


def number_waba_id_check(*, waba_id: str, organization_id: int, number_id: int | None = None) -> None:
    """One WhatsApp Business Account, one organisation: a number of `organization_id`
    may not take a WABA id another organisation's number holds (that account's alerts
    and templates would reach it). `number_id` is the number being bound, which is not
    its own obstacle. Every door that binds a WABA id asks this (bind_number, admin)."""
    waba_id = (waba_id or "").strip()
    if not waba_id:
        return
    bound = WhatsAppNumber.objects.filter(waba_id=waba_id).exclude(organization_id=organization_id)
    if number_id is not None:
        bound = bound.exclude(pk=number_id)
    if bound.exists():
        raise ValidationError(_("This WhatsApp Business Account id is bound to another organisation."),
                              code="waba_id_bound")


def number_bind(*, organization: Organization, phone_number_id: str, provider: str, waba_id: str = "",
                display_phone_number: str = "", name: str = "", access_token: str | None = None,
                app_secret: str | None = None, verify_token: str | None = None,
                rate_limit_per_second: int | None = None):
    """Bind a WhatsApp number to an organisation, or update its binding.

    A number already bound to another organisation is refused: moving a number (and
    with it every future message) is a deliberate act done in admin by the platform.
    Secrets left as None keep their stored value.
    """
    # Ids are compared as stored: " 123" must not pass for another row than "123".
    phone_number_id, waba_id = phone_number_id.strip(), (waba_id or "").strip()
    if provider not in Provider.values:
        raise ValidationError(f"Unknown provider; expected one of {', '.join(Provider.values)}.")
    if not (phone_number_id.isascii() and phone_number_id.isdigit()):
        raise ValidationError("The phone number id is the numeric id Meta shows for the number.")
    if rate_limit_per_second is not None and not 1 <= rate_limit_per_second <= 1000:
        raise ValidationError("The rate limit is between 1 and 1000 messages per second.")
    with transaction.atomic():
        number = WhatsAppNumber.objects.select_for_update().filter(phone_number_id=phone_number_id).first()
        created = number is None
        if number is None:
            number = WhatsAppNumber(organization=organization, phone_number_id=phone_number_id)
        elif number.organization_id != organization.pk:
            raise ValidationError("This number is bound to another organisation.")
        number_waba_id_check(waba_id=waba_id, organization_id=organization.pk, number_id=number.pk)
        number.provider = provider
        for field, value in (
            ("waba_id", waba_id), ("display_phone_number", display_phone_number), ("name", name),
        ):
            if value:
                setattr(number, field, value)
        for field, value in (("access_token", access_token), ("app_secret", app_secret),
                             ("verify_token", verify_token)):
            if value is not None:
                setattr(number, field, value)
        if rate_limit_per_second is not None:
            number.rate_limit_per_second = rate_limit_per_second
        number.is_active = True
        number.save()
    # The webhook reads the app secrets again: a delivery signed with a new secret is accepted at once.
    clear_secrets_cache()
    return number, created
