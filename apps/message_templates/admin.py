"""Admin: templates (sync from Meta, a form to write and submit a new one, the
parameter prefill), notification rules and the notifications received."""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from apps.accounts import access
from apps.accounts.admin_scoping import OrganizationScopedAdminMixin

from .admin_lifecycle import TemplateLifecycleAdminMixin
from .definition import TemplateDefinitionError
from .header_upload import HEADER_FILE_TYPES, template_header_upload
from .models import MessageTemplate
from .render import mapping_errors, template_render
from .services import template_create, template_sync


def _numbers_for(request):
    from apps.whatsapp.models import WhatsAppNumber

    numbers = WhatsAppNumber.objects.exclude(waba_id="").order_by("name")
    if not access.is_platform_admin(request.user):
        numbers = numbers.filter(organization_id=request.user.organization_id)
    return numbers


def _lines(value: str) -> list[str]:
    return [line.strip() for line in (value or "").splitlines() if line.strip()]


class TemplateCreateForm(forms.ModelForm):
    """Write a template the way Meta builds it: header, body, footer, buttons. The
    definition is checked against Meta's rules, then submitted; Meta's refusal shows
    here as well. The status then follows by webhook and sync."""

    HEADER_CHOICES = [("", _lazy("No header")), ("TEXT", _lazy("Text")), ("IMAGE", _lazy("Image")),
                      ("VIDEO", _lazy("Video")), ("DOCUMENT", _lazy("Document")), ("LOCATION", _lazy("Location"))]

    number = forms.ModelChoiceField(queryset=None, label=_lazy("Number (its WhatsApp Business Account)"))
    header_format = forms.ChoiceField(choices=HEADER_CHOICES, required=False, label=_lazy("Header"))
    header_text = forms.CharField(required=False, max_length=60, label=_lazy("Header text"),
                                  help_text=_lazy("At most one parameter, {{1}} or {{name}}."))
    header_example = forms.CharField(required=False, label=_lazy("Header example"),
                                     help_text=_lazy("The example value of the header's parameter; for an image, "
                                                     "video or document header the handle of a sample uploaded to Meta."))
    header_file = forms.FileField(required=False, label=_lazy("Header sample file"),
                                  help_text=_lazy("For an image (JPEG, PNG), video (MP4) or document (PDF) header: "
                                                  "uploaded to Meta, whose handle becomes the header's example."))
    body_text = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 5}), label=_lazy("Body"),
                                help_text=_lazy("Up to 1024 characters. Parameters {{1}}, {{2}}... (positional) or "
                                                "{{first_name}} (named); not at the very start or end. Leave empty "
                                                "for an authentication template (Meta's fixed text)."))
    body_examples = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}),
                                    label=_lazy("Body examples"),
                                    help_text=_lazy("One per line, in order ({{1}} first); for named parameters "
                                                    "name=example."))
    footer_text = forms.CharField(required=False, max_length=60, label=_lazy("Footer"))
    add_security_recommendation = forms.BooleanField(required=False, label=_lazy(
        "Authentication: add \"For your security, do not share this code.\""))
    code_expiration_minutes = forms.IntegerField(required=False, min_value=1, max_value=90,
                                                 label=_lazy("Authentication: code expires after (minutes)"))
    buttons = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 4}), label=_lazy("Buttons"),
        help_text=_lazy("One per line, fields separated by |: "
                        "QUICK_REPLY | text — URL | text | https://example.com/track/{{1}} | example URL — "
                        "PHONE_NUMBER | text | +5511999990000 — COPY_CODE | example code — "
                        "OTP | COPY_CODE (or ONE_TAP | ZERO_TAP) | button text"),
    )
    parameter_mapping_text = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2}), label=_lazy("Parameter prefill"),
        help_text=_lazy('JSON, e.g. {"body.1": "contact.name"}: the composer and notifications fill these.'),
    )

    class Meta:
        model = MessageTemplate
        fields = ["name", "language", "category", "parameter_format"]

    def __init__(self, *args, request=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.request = request
        self.fields["number"].queryset = _numbers_for(request)
        self.created = None

    def _components(self, data) -> list:
        components = []
        fmt = data.get("header_format")
        named = data.get("parameter_format") == "NAMED"
        if fmt == "TEXT":
            header = {"type": "HEADER", "format": "TEXT", "text": data.get("header_text", "")}
            example = data.get("header_example", "").strip()
            if example:
                from .render import placeholders

                found = placeholders(header["text"])
                header["example"] = ({"header_text_named_params": [{"param_name": found[0], "example": example}]}
                                     if named and found else {"header_text": [example]})
            components.append(header)
        elif fmt in ("IMAGE", "VIDEO", "DOCUMENT"):
            handle = data.get("header_example", "").strip()
            components.append({"type": "HEADER", "format": fmt,
                               **({"example": {"header_handle": [handle]}} if handle else {})})
        elif fmt == "LOCATION":
            components.append({"type": "HEADER", "format": "LOCATION"})
        body: dict = {"type": "BODY"}
        if data.get("body_text"):
            body["text"] = data["body_text"]
            examples = _lines(data.get("body_examples", ""))
            if examples and named:
                pairs = [line.split("=", 1) for line in examples if "=" in line]
                body["example"] = {"body_text_named_params": [{"param_name": k.strip(), "example": v.strip()}
                                                              for k, v in pairs]}
            elif examples:
                body["example"] = {"body_text": [examples]}
        if data.get("add_security_recommendation"):
            body["add_security_recommendation"] = True
        if "text" in body or len(body) > 1 or data.get("category") == "AUTHENTICATION":
            components.append(body)
        if data.get("category") == "AUTHENTICATION" and data.get("code_expiration_minutes"):
            components.append({"type": "FOOTER", "code_expiration_minutes": data["code_expiration_minutes"]})
        elif data.get("footer_text"):
            components.append({"type": "FOOTER", "text": data["footer_text"]})
        buttons = []
        for index, line in enumerate(_lines(data.get("buttons", ""))):
            parts = [p.strip() for p in line.split("|")]
            kind = parts[0].upper()
            if kind == "QUICK_REPLY":
                buttons.append({"type": kind, "text": parts[1] if len(parts) > 1 else ""})
            elif kind == "URL":
                button = {"type": kind, "text": parts[1] if len(parts) > 1 else "",
                          "url": parts[2] if len(parts) > 2 else ""}
                if len(parts) > 3 and parts[3]:
                    button["example"] = [parts[3]]
                buttons.append(button)
            elif kind == "PHONE_NUMBER":
                buttons.append({"type": kind, "text": parts[1] if len(parts) > 1 else "",
                                "phone_number": parts[2] if len(parts) > 2 else ""})
            elif kind == "COPY_CODE":
                buttons.append({"type": kind, "example": parts[1] if len(parts) > 1 else ""})
            elif kind == "OTP":
                button = {"type": kind, "otp_type": (parts[1] if len(parts) > 1 else "COPY_CODE").upper()}
                if len(parts) > 2 and parts[2]:
                    button["text"] = parts[2]
                buttons.append(button)
            else:
                raise ValidationError({"buttons": _("Line %(n)d: unknown button kind %(kind)s.")
                                                  % {"n": index + 1, "kind": parts[0]}})
        if buttons:
            components.append({"type": "BUTTONS", "buttons": buttons})
        return components

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        mapping = {}
        if data.get("parameter_mapping_text", "").strip():
            try:
                mapping = json.loads(data["parameter_mapping_text"])
            except ValueError:
                raise ValidationError({"parameter_mapping_text": _("Not valid JSON.")}) from None
        number = data["number"]
        components = self._components(data)
        if mapping:
            draft = MessageTemplate(name=data["name"], language=data["language"], category=data["category"],
                                    parameter_format=data["parameter_format"], components=components)
            problems = mapping_errors(draft, mapping)
            if problems:
                raise ValidationError({"parameter_mapping_text": problems})
        try:
            upload = data.get("header_file")
            if upload and data.get("header_format") in HEADER_FILE_TYPES:
                # The sample goes to Meta first (Resumable Upload API): its handle is the example.
                data["header_example"] = template_header_upload(
                    organization=number.organization, number=number, header_format=data["header_format"],
                    content=upload.read(), file_name=upload.name or "",
                )
                components = self._components(data)
            # Submitting is the last check: Meta's own refusal is shown on this form too.
            self.created = template_create(
                organization=number.organization, number=number, name=data["name"], language=data["language"],
                category=data["category"], parameter_format=data["parameter_format"], components=components,
                parameter_mapping=mapping,
            )
        except TemplateDefinitionError as error:
            field_map = {"name": "name", "language": "language", "category": "category",
                         "parameter_format": "parameter_format", "body.text": "body_text",
                         "body.text.example": "body_examples", "header.text": "header_text",
                         "header.text.example": "header_example", "header.example": "header_example",
                         "header.format": "header_format", "header": "header_format", "footer.text": "footer_text",
                         "footer.code_expiration_minutes": "code_expiration_minutes", "number": "number"}
            problems: dict = {}
            for field_name, message in error.errors:
                target = field_map.get(field_name, "buttons" if field_name.startswith("buttons") else None)
                # Errors without a field of their own say which part they are about.
                text = message if target is not None and (target != "buttons" or field_name == "buttons") \
                    else f"{field_name}: {message}"
                problems.setdefault(target, []).append(text)
            raise ValidationError({k or "__all__": v for k, v in problems.items()}) from None
        return data

    def save(self, commit=True):
        self.instance = self.created
        return self.created

    def save_m2m(self):
        return None


class TemplateChangeForm(forms.ModelForm):
    class Meta:
        model = MessageTemplate
        fields = ["parameter_mapping"]

    def clean_parameter_mapping(self):
        mapping = self.cleaned_data.get("parameter_mapping") or {}
        problems = mapping_errors(self.instance, mapping)
        if problems:
            raise ValidationError(problems)
        return mapping


@admin.register(MessageTemplate)
class MessageTemplateAdmin(TemplateLifecycleAdminMixin, OrganizationScopedAdminMixin, admin.ModelAdmin):
    list_display = ["name", "language", "category", "status", "quality", "waba_id", "deleted_at", "synced_at"]
    list_filter = ["status", "category", "language", "organization"]
    search_fields = ["name", "meta_id", "waba_id"]
    actions = ["sync_from_meta", "delete_at_meta", "archive_at_meta", "unarchive_at_meta"]
    change_list_template = "admin/message_templates/messagetemplate/change_list.html"

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            form = TemplateCreateForm

            class RequestForm(form):
                def __init__(self, *args, **inner):
                    super().__init__(*args, request=request, **inner)

            return RequestForm
        kwargs["form"] = TemplateChangeForm
        kwargs["fields"] = ["parameter_mapping"]
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [
                (None, {"fields": ["number", "name", "language", "category", "parameter_format"]}),
                (_("Header"), {"fields": ["header_format", "header_text", "header_example", "header_file"]}),
                (_("Body"), {"fields": ["body_text", "body_examples", "add_security_recommendation"]}),
                (_("Footer"), {"fields": ["footer_text", "code_expiration_minutes"]}),
                (_("Buttons"), {"fields": ["buttons"]}),
                (_("Prefill"), {"fields": ["parameter_mapping_text"]}),
            ]
        return [(None, {"fields": ["name", "language", "category", "status", "quality", "parameter_format",
                                   "waba_id", "meta_id", "rejection_reason", "deleted_at", "synced_at",
                                   "preview", "components_json", "at_meta", "parameter_mapping"]})]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return ["name", "language", "category", "status", "quality", "parameter_format", "waba_id", "meta_id",
                "rejection_reason", "deleted_at", "synced_at", "preview", "components_json", "at_meta"]

    @admin.display(description=_lazy("Components"))
    def components_json(self, obj):
        return json.dumps(obj.components, indent=2, ensure_ascii=False)

    @admin.display(description=_lazy("Preview with the examples"))
    def preview(self, obj):
        from .render import slots

        parameters: dict = {}
        for slot in slots(obj):
            if slot["component"] == "header" and not slot["key"]:
                continue
            value = slot.get("example") or f"[{slot['slot']}]"
            if slot["component"] == "buttons":
                parameters.setdefault("buttons", {})[slot["key"]] = str(value).rsplit("/", 1)[-1][:15]
            else:
                parameters.setdefault(slot["component"], {})[slot["key"]] = value
        try:
            return template_render(template=obj, parameters=parameters).text
        except Exception as error:  # a preview is a courtesy: say why there is none
            return _("No preview: %(error)s") % {"error": error}

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        if object_id is None:
            # Adding calls Meta: not inside the transaction Django wraps the form in
            # (template_create writes its one row in its own).
            return self._changeform_view(request, object_id, form_url, extra_context)
        return super().changeform_view(request, object_id, form_url, extra_context)

    def save_model(self, request, obj, form, change):
        if not change:
            return  # created and submitted by the form
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        if change:
            super().save_related(request, form, formsets, change)

    @admin.action(description=_lazy("Sync templates from Meta (the selected templates' organisations)"))
    def sync_from_meta(self, request, queryset):
        from apps.accounts.models import Organization

        org_ids = set(queryset.values_list("organization_id", flat=True))
        for organization in Organization.objects.filter(pk__in=org_ids):
            self._report(request, template_sync(organization=organization))

    def _report(self, request, result):
        self.message_user(request, _("Templates synced: %(created)d new, %(updated)d changed, %(unchanged)d "
                                     "unchanged, %(deleted)d deleted at Meta.") % result.as_dict(), messages.SUCCESS)
        for error in result.errors:
            self.message_user(request, error, messages.ERROR)

    def get_urls(self):
        return [path("sync/", self.admin_site.admin_view(self.sync_view),
                     name="message_templates_messagetemplate_sync"), *super().get_urls()]

    def sync_view(self, request):
        """Sync the admin's organisation (a platform admin: every organisation)."""
        from apps.accounts.models import Organization

        if request.method != "POST" or not self.has_change_permission(request):
            return HttpResponseRedirect(reverse("admin:message_templates_messagetemplate_changelist"))
        if access.is_platform_admin(request.user):
            organizations = Organization.objects.order_by("pk")
        else:
            organizations = Organization.objects.filter(pk=request.user.organization_id)
        for organization in organizations:
            self._report(request, template_sync(organization=organization))
        return HttpResponseRedirect(reverse("admin:message_templates_messagetemplate_changelist"))
