"""Reads of the numbers' account alerts, scoped to the requesting user."""

from __future__ import annotations

from .models import AccountAlert


def alerts_open(*, user, limit: int = 20) -> list[AccountAlert]:
    """The account alerts an admin of the organisation has not dismissed yet, newest
    first; none for anyone else."""
    if not getattr(user, "is_org_admin", False) or not user.organization_id:
        return []
    return list(
        AccountAlert.objects.filter(
            organization_id=user.organization_id, dismissed_at__isnull=True
        ).select_related("number")[:limit]
    )


def alert_get(*, user, pk: int) -> AccountAlert | None:
    """One alert of the user's organisation (admins only), or None."""
    if not getattr(user, "is_org_admin", False):
        return None
    return AccountAlert.objects.filter(
        organization_id=user.organization_id, pk=pk
    ).first()
