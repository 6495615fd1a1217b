"""REST endpoints for media: upload a file to send, read one's state."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts import access

from . import detect, selectors, services
from .serializers import MediaSerializer


class MediaUploadInput(serializers.Serializer):
    file = serializers.FileField()
    kind = serializers.ChoiceField(choices=detect.KINDS, required=False, allow_blank=True)


class MediaUploadApi(APIView):
    """POST a file (multipart `file`, optional `kind`); answer its media id for a send."""

    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(request=MediaUploadInput, responses={201: MediaSerializer})
    def post(self, request):
        if not access.is_member(request.user):
            raise PermissionDenied
        data = MediaUploadInput(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            media = services.media_upload_create(
                organization=request.user.organization,
                uploaded_file=data.validated_data["file"],
                kind=data.validated_data.get("kind") or None,
                user=request.user,
            )
        except ValidationError as exc:
            return Response({"file": exc.messages}, status=status.HTTP_400_BAD_REQUEST)
        return Response(MediaSerializer(media).data, status=status.HTTP_201_CREATED)


class MediaDetailApi(APIView):
    @extend_schema(
        responses={200: inline_serializer("MediaDetail", {"media": MediaSerializer(), "link": serializers.CharField()})}
    )
    def get(self, request, media_id: int):
        media = selectors.media_get_for_user(user=request.user, media_id=media_id)
        if media is None:
            raise Http404
        return Response(
            {"media": MediaSerializer(media).data, "link": selectors.media_url_for(media=media, user=request.user)}
        )
