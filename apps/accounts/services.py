"""Use-cases on organisations, users and numbers (the management commands call these)."""

from __future__ import annotations

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.text import slugify

from apps.realtime import groups
from apps.realtime.publish import publish

from .models import Organization, User


def user_set_availability(*, user: User, availability: str) -> User:
    """Online, away or offline; colleagues see it live."""
    if availability not in User.Availability.values:
        raise ValidationError("Unknown availability.")
    if user.availability != availability:
        user.availability = availability
        user.save(update_fields=["availability"])
        if user.organization_id:
            publish(
                "user.availability",
                {"user_id": user.pk, "availability": availability},
                groups=[groups.org_members(user.organization_id)],
            )
    return user


def user_create(*, organization: Organization | None, username: str, email: str = "", password: str,
                role: str = User.Role.AGENT, is_staff: bool = False, is_superuser: bool = False) -> User:
    """A user whose password passes the configured validators."""
    if role not in User.Role.values:
        raise ValidationError("Unknown role.")
    user = User(
        organization=organization, username=username, email=email, role=role, is_staff=is_staff,
        is_superuser=is_superuser,
    )
    validate_password(password, user=user)
    user.set_password(password)
    user.full_clean(exclude=["password"])
    user.save()
    return user


@transaction.atomic
def organization_create(*, name: str, slug: str | None = None, admin_username: str | None = None,
                        admin_email: str = "", admin_password: str | None = None) -> tuple[Organization, User | None]:
    """A new organisation and, optionally, its first admin (staff, role admin)."""
    slug = slugify(slug or name)
    if not slug:
        raise ValidationError("The organisation needs a name or a slug.")
    if Organization.objects.filter(slug=slug).exists():
        raise ValidationError(f"An organisation with the slug {slug!r} exists.")
    organization = Organization.objects.create(name=name, slug=slug)
    admin = None
    if admin_username:
        if not admin_password:
            raise ValidationError("The admin needs a password.")
        admin = user_create(
            organization=organization, username=admin_username, email=admin_email, password=admin_password,
            role=User.Role.ADMIN, is_staff=True,
        )
    return organization, admin


def number_bind(*, organization: Organization, phone_number_id: str, provider: str, waba_id: str = "",
                display_phone_number: str = "", name: str = "", access_token: str | None = None,
                app_secret: str | None = None, verify_token: str | None = None,
                rate_limit_per_second: int | None = None):
    """Bind a WhatsApp number to an organisation, or update its binding.

    A number already bound to another organisation is refused: moving a number (and
    with it every future message) is a deliberate act done in admin by the platform.
    Secrets left as None keep their stored value.
    """
    from apps.whatsapp.models import Provider, WhatsAppNumber
    from apps.whatsapp.signature import clear_secrets_cache

    if provider not in Provider.values:
        raise ValidationError(f"Unknown provider; expected one of {', '.join(Provider.values)}.")
    if not phone_number_id.strip().isdigit():
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
    clear_secrets_cache()
    return number, created
