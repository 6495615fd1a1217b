"""Use-cases on organisations, users and numbers (the management commands call these)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from importlib import import_module

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from apps.realtime import groups
from apps.realtime.publish import publish, sockets_signal

from .models import Organization, Team, User
from .tokens import user_tokens_revoke

logger = logging.getLogger(__name__)


# --- who a user is: every change reaches their open sockets --------------------------
def user_access_changed(*, user_ids: Iterable[int], credentials_changed: bool = False) -> None:
    """The one way a change of what users may see (role, teams, a team's numbers,
    active state, password, session) reaches their open sockets: on commit, each
    socket of these users recomputes its groups from the rows, or closes (inactive,
    session ended; `credentials_changed` closes it in any case, for the browser to
    reconnect with a session that still authenticates)."""
    sockets_signal(
        "inbox.rights", groups=[groups.user(user_id) for user_id in user_ids],
        credentials_changed=credentials_changed,
    )


def user_update_check(*, user: User, role: str | None = None, is_active: bool | None = None,
                      actor: User | None = None) -> None:
    """Raise ValidationError (keyed by field) if `actor` may not make this change:
    an unknown role, or an admin deactivating or demoting themselves (nobody would be
    left to undo it). Forms call it to refuse before anything is saved."""
    if role is not None and role not in User.Role.values:
        raise ValidationError({"role": _("Unknown role.")})
    if actor is not None and actor.pk == user.pk and (is_active is False or role not in (None, user.role)):
        raise ValidationError({"is_active" if is_active is False else "role": _(
            "You cannot deactivate or demote yourself; another admin can.")})


def user_update(*, user: User, role: str | None = None, is_active: bool | None = None,
                actor: User | None = None) -> User:
    """Change a user's role or active state (see user_update_check). Deactivating ends
    every session of the user (and so closes their sockets)."""
    user_update_check(user=user, role=role, is_active=is_active, actor=actor)
    fields = []
    if role is not None and role != user.role:
        user.role = role
        fields.append("role")
    if is_active is not None and is_active != user.is_active:
        user.is_active = is_active
        fields.append("is_active")
    if not fields:
        return user
    with transaction.atomic():
        user.save(update_fields=fields)
        if not user.is_active:
            user_sessions_end(user=user)
        user_access_changed(user_ids=[user.pk])
    return user


def user_teams_check(*, organization_id: int | None, teams: Iterable[Team]) -> None:
    """A user's teams are of the user's organisation (ValidationError otherwise)."""
    if any(team.organization_id != organization_id for team in teams):
        raise ValidationError(_("A team must belong to the user's organisation."), code="foreign_team")


def user_teams_set(*, user: User, teams: Iterable[Team]) -> None:
    teams = list(teams)
    try:
        user_teams_check(organization_id=user.organization_id, teams=teams)
    except ValidationError as exc:
        raise ValidationError({"team_ids": exc.error_list}) from None
    with transaction.atomic():
        user.teams.set(teams)
        user_access_changed(user_ids=[user.pk])


def team_check(*, organization_id: int | None, members: Iterable[User] = (), numbers: Iterable = ()) -> None:
    """A team's members and numbers are of its organisation (ValidationError keyed
    "members" / "numbers" otherwise)."""
    errors = {}
    if any(member.organization_id != organization_id for member in members):
        errors["members"] = _("A team's members belong to its organisation.")
    if any(number.organization_id != organization_id for number in numbers):
        errors["numbers"] = _("A team's numbers belong to its organisation.")
    if errors:
        raise ValidationError(errors)


def team_members_set(*, team: Team, members: Iterable[User]) -> None:
    """The team's members become `members`; those who joined or left are told."""
    members = list(members)
    team_check(organization_id=team.organization_id, members=members)
    with transaction.atomic():
        before = set(team.members.values_list("pk", flat=True))
        team.members.set(members)
        after = {member.pk for member in members}
        user_access_changed(user_ids=sorted(before ^ after))


def team_numbers_set(*, team: Team, numbers: Iterable) -> None:
    """The numbers whose unassigned conversations the team's agents see."""
    numbers = list(numbers)
    team_check(organization_id=team.organization_id, numbers=numbers)
    with transaction.atomic():
        team.numbers.set(numbers)
        user_access_changed(user_ids=list(team.members.values_list("pk", flat=True)))


def teams_delete(*, teams) -> int:
    """Delete the teams of the queryset `teams`; their members are told (they lose what
    the teams gave them). How many teams."""
    with transaction.atomic():
        member_ids = sorted(set(Team.members.through.objects.filter(team__in=teams).values_list("user_id", flat=True)))
        count, _rows = teams.delete()
        user_access_changed(user_ids=member_ids)
    return count


def users_delete(*, users) -> int:
    """Delete the users of the queryset `users`; their open sockets close at once. How many."""
    with transaction.atomic():
        user_ids = list(users.values_list("pk", flat=True))
        users.delete()
        user_access_changed(user_ids=user_ids)
    return len(user_ids)


def user_set_password(*, user: User, password: str) -> User:
    """A new password that passes the configured validators (see user_credentials_changed)."""
    validate_password(password, user=user)
    with transaction.atomic():
        user.set_password(password)
        user.save(update_fields=["password"])
    return user


def user_credentials_changed(*, user: User) -> None:
    """The user's password was set (User.set_password signals it, whatever the path):
    their API tokens are revoked and their open sockets closed. Their other sessions
    end by themselves: Django checks a session's password hash on every request."""
    revoked = user_tokens_revoke(user_id=user.pk)
    if revoked:
        logger.info("password of user %s changed: %s API tokens revoked", user.pk, revoked)
    user_access_changed(user_ids=[user.pk], credentials_changed=True)


def credentials_changed_received(sender, *, user: User, **kwargs) -> None:
    """The receiver of signals.credentials_changed."""
    user_credentials_changed(user=user)


def user_logged_out(*, user_id: int) -> None:
    """A session of the user ended (logout): the socket opened with it closes."""
    user_access_changed(user_ids=[user_id])


def user_sessions_end(*, user: User) -> int:
    """Delete every session of `user`; how many. Needs a database-backed session
    engine (db, cached_db): other engines cannot be searched by user."""
    store_class = import_module(settings.SESSION_ENGINE).SessionStore
    if not hasattr(store_class, "get_model_class"):
        logger.warning("sessions of user %s not ended: %s cannot list them", user.pk, settings.SESSION_ENGINE)
        return 0
    keys = []
    decoder = store_class()
    rows = store_class.get_model_class().objects.filter(expire_date__gt=timezone.now())
    for session_key, data in rows.values_list("session_key", "session_data").iterator():
        if decoder.decode(data).get(SESSION_KEY) == str(user.pk):
            keys.append(session_key)
    for session_key in keys:
        store_class(session_key).delete()
    return len(keys)


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
