"""REST endpoints for the users of my organisation and my own profile."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from . import selectors, services
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


class MeUpdateSerializer(serializers.Serializer):
    availability = serializers.ChoiceField(choices=User.Availability.choices)


class UserListView(generics.ListAPIView):
    """The active users of your organisation."""

    serializer_class = UserSerializer
    pagination_class = None

    def get_queryset(self):
        return selectors.user_list(user=self.request.user)


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
