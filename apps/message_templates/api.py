"""REST: templates (list, detail, preview; create and sync for admins) and
business-event notifications for integrations."""

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import generics, serializers
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts import access
from apps.core import params
from apps.core.errors import SendError

from . import selectors
from .definition import TemplateDefinitionError
from .header_upload import template_header_upload
from .render import mapping_errors, template_prefill
from .serializers import MessageTemplateSerializer
from .services import template_create, template_preview, template_sync

ERROR = inline_serializer("TemplateError", {"field": serializers.CharField(), "code": serializers.CharField(),
                                            "message": serializers.CharField()})


def _require_admin(user):
    if not access.can_manage_settings(user):
        raise PermissionDenied(_("Only admins may do this."))


def _contact_of_conversation(user, conversation_id):
    from apps.conversations.models import Conversation

    try:
        conversation_id = params.positive_id(conversation_id, field="conversation")
    except params.BadParameter:
        raise ValidationError({"conversation": _("A conversation id (a number).")}) from None
    if conversation_id is None:
        return None
    conversation = Conversation.objects.select_related("contact").filter(
        access.conversation_filter(user), pk=conversation_id
    ).first()
    if conversation is None:
        raise NotFound(_("No such conversation."))
    return conversation.contact


class TemplateCreateSerializer(serializers.Serializer):
    number = serializers.CharField(help_text="id or phone_number_id of the number whose WABA gets the template")
    name = serializers.CharField(max_length=512)
    language = serializers.CharField(max_length=15)
    category = serializers.ChoiceField(choices=["AUTHENTICATION", "MARKETING", "UTILITY"])
    parameter_format = serializers.ChoiceField(choices=["POSITIONAL", "NAMED"], default="POSITIONAL")
    components = serializers.ListField(child=serializers.DictField())
    parameter_mapping = serializers.DictField(required=False, default=dict)


class TemplateListQuerySerializer(serializers.Serializer):
    """The list's query string: only these are read, each checked before any query."""

    number = serializers.CharField(max_length=64, help_text="id or phone_number_id of the number")
    q = serializers.CharField(required=False, allow_blank=True, max_length=200, help_text="Search in name and text")
    language = serializers.CharField(required=False, allow_blank=True, max_length=15,
                                     help_text="e.g. pt_BR (pt matches every pt_*)")
    all = serializers.BooleanField(required=False, default=False, help_text="Every state, not only sendable ones")
    conversation = serializers.IntegerField(required=False, min_value=1, max_value=params.BIGINT_MAX,
                                            help_text="Prefill each template's parameters from this "
                                                      "conversation's contact")


class TemplateListView(generics.ListAPIView):
    serializer_class = MessageTemplateSerializer

    @extend_schema(parameters=[TemplateListQuerySerializer], summary="Templates of a number's WhatsApp Business Account")
    def get(self, request, *args, **kwargs):
        query = TemplateListQuerySerializer(data=request.query_params)
        if not query.is_valid():
            field, problems = next(iter(query.errors.items()))
            code = "required" if problems[0].code == "required" else "invalid"
            message = _("number is required.") if code == "required" and field == "number" else str(problems[0])
            return Response({"field": field, "code": code, "message": message}, status=400)
        self.query = query.validated_data
        self.contact = _contact_of_conversation(request.user, self.query.get("conversation"))
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        query = getattr(self, "query", None)
        if query is None:  # the schema generator, not a request
            return selectors.template_list_for_user(user=None, number=None)
        return selectors.template_list_for_user(
            user=self.request.user, number=query["number"], language=query.get("language") or None,
            query=query.get("q", ""), sendable_only=not query["all"],
        )

    def list(self, request, *args, **kwargs):
        response = super().list(request, *args, **kwargs)
        if self.contact is not None:
            templates = {t.pk: t for t in self.get_queryset()}
            for row in response.data["results"]:
                row["prefill"] = template_prefill(template=templates[row["id"]], contact=self.contact)[0]
        return response

    @extend_schema(request=TemplateCreateSerializer,
                   responses={201: MessageTemplateSerializer, 400: ERROR, 403: OpenApiResponse(description="Admins")},
                   summary="Create a template and submit it to Meta")
    def post(self, request):
        _require_admin(request.user)
        body, number, refused = _valid_with_number(request, TemplateCreateSerializer)
        if refused is not None:
            return refused
        try:
            template = template_create(
                organization=request.user.organization, number=number, name=body["name"],
                language=body["language"], category=body["category"], parameter_format=body["parameter_format"],
                components=body["components"], parameter_mapping=body["parameter_mapping"],
            )
        except TemplateDefinitionError as error:
            return Response(error.as_dict(), status=400)
        problems = mapping_errors(template, template.parameter_mapping) if template.parameter_mapping else []
        if problems:
            template.parameter_mapping = {}
            template.save(update_fields=["parameter_mapping", "updated_at"])
        return Response({**MessageTemplateSerializer(template).data, "mapping_errors": problems}, status=201)


def _valid_with_number(request, serializer_class):
    """The request's validated data and its number (the user's organisation's only), or
    the 400 that says which field is wrong: (body, number, None) or (None, None, answer)."""
    data = serializer_class(data=request.data)
    if not data.is_valid():
        field, problems = next(iter(data.errors.items()))
        return None, None, Response({"field": field, "code": "invalid", "message": str(problems[0])}, status=400)
    number = selectors._number_for_user(request.user, data.validated_data["number"])
    if number is None:
        return None, None, Response({"field": "number", "code": "not_found", "message": _("No such number.")},
                                    status=400)
    return data.validated_data, number, None


class TemplateHeaderSampleSerializer(serializers.Serializer):
    number = serializers.CharField(help_text="id or phone_number_id of the number whose WABA gets the template")
    header_format = serializers.ChoiceField(choices=["IMAGE", "VIDEO", "DOCUMENT"])
    file = serializers.FileField(help_text="JPEG or PNG (image), MP4 (video), PDF (document)")


class TemplateHeaderSampleView(APIView):
    @extend_schema(request={"multipart/form-data": TemplateHeaderSampleSerializer},
                   responses={201: inline_serializer("TemplateHeaderSample", {"header_handle": serializers.CharField()}),
                              400: ERROR, 403: OpenApiResponse(description="Admins")},
                   summary="Upload a media header's sample file to Meta: its handle, for example.header_handle")
    def post(self, request):
        _require_admin(request.user)
        body, number, refused = _valid_with_number(request, TemplateHeaderSampleSerializer)
        if refused is not None:
            return refused
        upload = body["file"]
        try:
            handle = template_header_upload(
                organization=request.user.organization, number=number, header_format=body["header_format"],
                content=upload.read(), file_name=upload.name or "",
            )
        except TemplateDefinitionError as error:
            return Response(error.as_dict(), status=400)
        return Response({"header_handle": handle}, status=201)


class TemplateSyncView(APIView):
    @extend_schema(request=None, responses={200: inline_serializer("TemplateSync", {
        "created": serializers.IntegerField(), "updated": serializers.IntegerField(),
        "unchanged": serializers.IntegerField(), "deleted": serializers.IntegerField(),
        "errors": serializers.ListField(child=serializers.CharField())})},
        summary="Fetch the organisation's templates from Meta now")
    def post(self, request):
        _require_admin(request.user)
        result = template_sync(organization=request.user.organization)
        return Response(result.as_dict(), status=502 if result.errors and not (
            result.created or result.updated or result.unchanged) else 200)


class TemplateDetailView(APIView):
    @extend_schema(responses={200: MessageTemplateSerializer}, summary="A template")
    def get(self, request, pk: int):
        template = selectors.template_get_for_user(user=request.user, template_id=pk)
        if template is None:
            raise NotFound()
        return Response(MessageTemplateSerializer(template).data)


class TemplatePreviewView(APIView):
    @extend_schema(
        request=inline_serializer("TemplatePreviewRequest", {
            "parameters": serializers.DictField(required=False, help_text="{header, body, buttons}"),
            "conversation": serializers.IntegerField(required=False,
                                                     help_text="Fill unspecified parameters from its contact"),
        }),
        responses={200: OpenApiResponse(description="header, body, footer, buttons, text, components, sendable, "
                                                     "reason"), 400: ERROR},
        summary="What the customer will see, from these parameters",
    )
    def post(self, request, pk: int):
        template = selectors.template_get_for_user(user=request.user, template_id=pk)
        if template is None:
            raise NotFound()
        parameters = request.data.get("parameters")
        if parameters is None:
            parameters = {}
        contact = _contact_of_conversation(request.user, request.data.get("conversation"))
        if contact is not None and isinstance(parameters, dict):
            prefill, _missing = template_prefill(template=template, contact=contact)
            for component, values in prefill.items():
                given = parameters.get(component)
                if given in (None, "", [], {}):
                    parameters[component] = values
                elif isinstance(given, dict) and isinstance(values, dict):
                    parameters[component] = {**values, **given}
        try:
            preview = template_preview(template=template, parameters=parameters)
        except SendError as error:
            return Response(error.as_dict(), status=400)
        return Response({**preview, "parameters": parameters})
