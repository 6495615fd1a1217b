"""REST endpoints for the users of my organisation and my own profile."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.api import IdField

from . import access, selectors, services
from .models import Team, User


class UserSerializer(serializers.ModelSerializer):
    team_ids = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = ["id", "username", "name", "display_name", "role", "availability", "team_ids"]
        read_only_fields = fields

    def get_team_ids(self, obj) -> list[int]:
        return sorted(team.pk for team in obj.teams.all())


class MeSerializer(UserSerializer):
    organization = serializers.SerializerMethodField()

    class Meta(UserSerializer.Meta):
        fields = [*UserSerializer.Meta.fields, "email", "organization"]
        read_only_fields = fields

    def get_organization(self, obj) -> dict | None:
        org = obj.organization
        return {"id": org.pk, "name": org.name, "slug": org.slug} if org else None


class TeamSerializer(serializers.ModelSerializer):
    class Meta:
        model = Team
        fields = ["id", "name"]
        read_only_fields = fields


class ManagedUserSerializer(UserSerializer):
    class Meta(UserSerializer.Meta):
        fields = [*UserSerializer.Meta.fields, "is_active"]
        read_only_fields = fields


class UserUpdateSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=User.Role.choices, required=False)
    is_active = serializers.BooleanField(required=False)
    team_ids = serializers.ListField(child=IdField(), required=False, max_length=1000)


class MeUpdateSerializer(serializers.Serializer):
    availability = serializers.ChoiceField(choices=User.Availability.choices)


class UserListView(generics.ListAPIView):
    """The active users of your organisation."""

    serializer_class = UserSerializer
    pagination_class = None

    def get_queryset(self):
        return selectors.user_list(user=self.request.user)


class UserDetailView(APIView):
    """An admin changes a colleague's role, active state or teams. Deactivating ends
    their sessions, closes their sockets, and their API tokens stop working."""

    @extend_schema(request=UserUpdateSerializer, responses=ManagedUserSerializer)
    def patch(self, request, pk):
        if not access.can_manage_settings(request.user):
            raise PermissionDenied(_("Only admins change users."))
        target = selectors.user_manageable_get(user=request.user, pk=pk)
        serializer = UserUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        teams = None
        if "team_ids" in data:
            teams = list(selectors.team_list(user=request.user).filter(pk__in=data["team_ids"]))
            if len(teams) != len(set(data["team_ids"])):
                raise ValidationError({"team_ids": [_("Unknown team.")]})
        try:
            with transaction.atomic():
                services.user_update(
                    user=target, role=data.get("role"), is_active=data.get("is_active"), actor=request.user
                )
                if teams is not None:
                    services.user_teams_set(user=target, teams=teams)
        except DjangoValidationError as exc:
            raise ValidationError(exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}) from None
        target = User.objects.prefetch_related("teams").get(pk=target.pk)
        return Response(ManagedUserSerializer(target).data)


class TeamListView(generics.ListAPIView):
    serializer_class = TeamSerializer
    pagination_class = None

    def get_queryset(self):
        return selectors.team_list(user=self.request.user)


class MeView(APIView):
    @extend_schema(responses=MeSerializer)
    def get(self, request):
        return Response(MeSerializer(request.user).data)

    @extend_schema(request=MeUpdateSerializer, responses=MeSerializer)
    def patch(self, request):
        serializer = MeUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            user = services.user_set_availability(
                user=request.user, availability=serializer.validated_data["availability"]
            )
        except DjangoValidationError as exc:
            raise ValidationError({"detail": exc.messages}) from None
        return Response(MeSerializer(user).data)
