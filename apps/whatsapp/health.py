"""A number's standing at Meta: its status read periodically, registering it for the
Cloud API and its two-step verification PIN, its business profile and conversational
automation (from Django admin).

The status read (`numbers_status_read`, every NUMBER_STATUS_READ_SECONDS through Celery
beat) stores what Meta says of each active Meta number: quality rating, messaging limit
tier, throughput level, display name status, code verification status and platform.
A number Meta does not answer for keeps its last status and the error (`status_error`).
"""

from __future__ import annotations

import logging

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.providers.meta import numbers as meta_numbers
from apps.providers.meta import profile as meta_profile
from apps.providers.meta.client import GraphAPIError, client_for

from .models import Provider, WhatsAppNumber

logger = logging.getLogger(__name__)

_META_PROVIDERS = (Provider.META, Provider.SIMULATOR)


def number_status_read(*, number: WhatsAppNumber) -> WhatsAppNumber:
    """Read and store the number's status at Meta (its error is stored instead)."""
    now = timezone.now()
    try:
        status = meta_numbers.status(client_for(number))
    except GraphAPIError as error:
        WhatsAppNumber.objects.filter(pk=number.pk).update(
            status_error=str(error)[:2000], status_checked_at=now
        )
        number.status_error, number.status_checked_at = str(error)[:2000], now
        logger.info("number %s: status not read: %s", number.pk, error)
        return number
    values = {
        "verified_name": status.verified_name,
        "name_status": status.name_status,
        "code_verification_status": status.code_verification_status,
        "platform_type": status.platform_type,
        "throughput_level": status.throughput_level,
        "status_checked_at": now,
        "status_error": "",
    }
    if status.quality_rating:
        values["quality_rating"] = status.quality_rating
    if status.messaging_limit_tier:
        values["messaging_limit"] = status.messaging_limit_tier
    WhatsAppNumber.objects.filter(pk=number.pk).update(**values)
    for name, value in values.items():
        setattr(number, name, value)
    return number


def numbers_status_read() -> int:
    """The periodic read of every active Meta number's status. Returns how many were read."""
    count = 0
    for number in (
        WhatsAppNumber.objects.filter(is_active=True, provider__in=_META_PROVIDERS)
        .exclude(access_token="")
        .iterator()
    ):
        number_status_read(number=number)
        count += 1
    return count


def _pin_error(error: GraphAPIError) -> ValidationError:
    if error.code == 133005:
        return ValidationError(
            _(
                "WhatsApp says the PIN does not match the number's two-step verification PIN."
            )
        )
    if error.code == 100 and "pin" in (error.details or error.message).lower():
        return ValidationError(_("The PIN is six digits."))
    return ValidationError(_("WhatsApp refused: %(reason)s") % {"reason": str(error)})


def number_register(*, number: WhatsAppNumber, pin: str) -> None:
    """Register the number for the Cloud API with its two-step PIN (six digits)."""
    if number.provider not in _META_PROVIDERS:
        raise ValidationError(
            _("Only numbers of Meta's Cloud API are registered this way.")
        )
    try:
        meta_numbers.register(client_for(number), pin=pin)
    except GraphAPIError as error:
        raise _pin_error(error) from error
    now = timezone.now()
    WhatsAppNumber.objects.filter(pk=number.pk).update(
        registered_at=now, pin_set_at=now
    )
    number.registered_at = number.pin_set_at = now


def number_pin_set(*, number: WhatsAppNumber, pin: str) -> None:
    """Set the number's two-step verification PIN (six digits)."""
    if number.provider not in _META_PROVIDERS:
        raise ValidationError(
            _("Only numbers of Meta's Cloud API have a two-step PIN set this way.")
        )
    try:
        meta_numbers.pin_set(client_for(number), pin=pin)
    except GraphAPIError as error:
        raise _pin_error(error) from error
    now = timezone.now()
    WhatsAppNumber.objects.filter(pk=number.pk).update(pin_set_at=now)
    number.pin_set_at = now


def number_profile_read(*, number: WhatsAppNumber):
    """The number's business profile and conversational automation as Meta holds them
    now: (profile, automation), or ValidationError with Meta's reason."""
    client = client_for(number)
    try:
        return meta_profile.profile_get(client), meta_profile.automation_get(client)
    except GraphAPIError as error:
        raise ValidationError(
            _("WhatsApp did not give the profile: %(reason)s") % {"reason": str(error)}
        ) from error


def number_profile_save(*, number: WhatsAppNumber, profile, automation, picture: bytes = b"",
                        picture_name: str = "") -> None:
    """Set the number's business profile (with a new photo when `picture` is given,
    uploaded first for its handle), then its conversational automation, at Meta."""
    client = client_for(number)
    try:
        handle = meta_profile.picture_upload(client, picture, file_name=picture_name) if picture else ""
        meta_profile.profile_set(client, profile, picture_handle=handle)
        meta_profile.automation_set(client, automation)
    except GraphAPIError as error:
        raise ValidationError(
            _("WhatsApp refused: %(reason)s") % {"reason": str(error)}
        ) from error
    except meta_profile.PictureRefused as error:
        raise ValidationError(str(error)) from error
