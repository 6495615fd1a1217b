"""Read queries on users and teams, scoped to the requesting user's organisation."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet
from django.http import Http404

from . import access
from .models import Team, User


def user_list(*, user) -> QuerySet[User]:
    """The active users of `user`'s organisation (colleagues to assign or mention)."""
    if not access.is_member(user):
        return User.objects.none()
    return (
        User.objects.filter(organization_id=user.organization_id, is_active=True)
        .prefetch_related(Prefetch("teams", queryset=Team.objects.only("id")))
        .order_by("username")
    )


def user_get(*, user, pk) -> User:
    try:
        return user_list(user=user).get(pk=int(pk))
    except (User.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


def team_list(*, user) -> QuerySet[Team]:
    if not access.is_member(user):
        return Team.objects.none()
    return Team.objects.filter(organization_id=user.organization_id).order_by("name")


def team_get(*, user, pk) -> Team:
    try:
        return team_list(user=user).get(pk=int(pk))
    except (Team.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


def user_manageable_get(*, user, pk) -> User:
    """A user of `user`'s organisation, active or not, that `user` may change (admins)."""
    if not access.can_manage_settings(user):
        raise Http404
    try:
        return User.objects.get(organization_id=user.organization_id, pk=int(pk))
    except (User.DoesNotExist, ValueError, TypeError):
        raise Http404 from None
