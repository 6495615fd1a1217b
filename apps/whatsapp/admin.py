"""Admin of the numbers (their secrets never shown)."""

from __future__ import annotations


from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from apps.accounts.admin_scoping import OrganizationScopedAdminMixin, masked
from apps.whatsapp.services import number_waba_id_check

from .admin_account import NumberAccountAdminMixin
from .admin_profile import NumberProfileAdminMixin
from .models import WhatsAppNumber
from .secrets import clear_secrets_cache

SECRET_FIELDS = ("access_token", "app_secret")
# What binds a number to an organisation: Meta's ids (the webhooks and account alerts
# of those ids reach the organisation) and who answers for them.
BINDING_FIELDS = ("organization", "provider", "phone_number_id", "waba_id")
BINDING_NOTICE = _(
    "A number's phone number id, WhatsApp Business Account id and provider bind it to this organisation: "
    "its messages and Meta's account alerts reach whoever holds them. Only the platform's administrators "
    "add numbers and change these ids (one id belongs to one organisation); ask them to add a number."
)


class WhatsAppNumberForm(forms.ModelForm):
    """Secrets are write-only: the form never renders them, and an empty field keeps
    the stored value."""

    access_token = forms.CharField(
        label=_("access token"), required=False, strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=_("Leave empty to keep the current token."),
    )
    app_secret = forms.CharField(
        label=_("app secret"), required=False, strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=_("Leave empty to keep the current secret."),
    )

    class Meta:
        model = WhatsAppNumber
        fields = "__all__"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in SECRET_FIELDS:
            self.initial[name] = ""
            current = getattr(self.instance, name, "") if self.instance.pk else ""
            if current:
                self.fields[name].help_text = _("Stored: %(masked)s. Leave empty to keep it.") % {
                    "masked": masked(current)
                }

    def clean(self):
        cleaned = super().clean()
        # One WhatsApp Business Account, one organisation: another organisation's WABA
        # id would bring it that account's alerts (phone_number_id is unique already).
        waba_id = (cleaned.get("waba_id") if "waba_id" in self.fields else self.instance.waba_id) or ""
        organization = cleaned.get("organization") if "organization" in self.fields else None
        organization_id = organization.pk if organization else self.instance.organization_id
        if organization_id:
            try:
                number_waba_id_check(waba_id=waba_id, organization_id=organization_id, number_id=self.instance.pk)
            except ValidationError as exc:
                self.add_error("waba_id" if "waba_id" in self.fields else None, exc)
        return cleaned

    def _post_clean(self):
        # Keep the stored secret when the field was left empty.
        for name in SECRET_FIELDS:
            if not self.cleaned_data.get(name) and self.instance.pk:
                self.cleaned_data[name] = getattr(self.instance, name)
        super()._post_clean()


@admin.register(WhatsAppNumber)
class WhatsAppNumberAdmin(NumberProfileAdminMixin, NumberAccountAdminMixin, OrganizationScopedAdminMixin,
                          admin.ModelAdmin):
    form = WhatsAppNumberForm
    list_display = ["__str__", "display_phone_number", "phone_number_id", "provider", "organization", "is_active",
                    "sending", "quality_rating", "messaging_limit", "masked_access_token", "masked_app_secret"]
    list_filter = ["provider", "is_active", "quality_rating", "organization"]
    search_fields = ["name", "display_phone_number", "phone_number_id", "waba_id"]
    readonly_fields = ["quality_rating", "messaging_limit", "quality_event", "quality_event_at", "token_error_at",
                       "token_error", "sending_paused_at", "sending_pause_code", "sending_pause_reason",
                       "sending_resume_at", "sending_pause_checks", "sending_pause_scope", "restrictions", "verified_name", "name_status",
                       "code_verification_status", "platform_type", "throughput_level", "status_checked_at",
                       "status_error", "registered_at", "pin_set_at", "registration", "created_at"]
    actions = ["resume_sending", "read_status"]

    @admin.display(description=_("registration and two-step PIN"))
    def registration(self, obj):
        if obj is None or obj.pk is None:
            return "-"
        return format_html('<a href="{}">{}</a> · <a href="{}">{}</a>',
                           reverse("admin:whatsapp_whatsappnumber_registration", args=[obj.pk]),
                           _("Register the number or set its PIN…"),
                           reverse("admin:whatsapp_whatsappnumber_profile", args=[obj.pk]),
                           _("Business profile and automation…"))

    @admin.display(description=_("sending"))
    def sending(self, obj):
        if obj.sending_paused_at is None:
            return _("active")
        return format_html("<strong>{}</strong> {}", _("paused:"), obj.sending_pause_reason)

    @admin.action(description=_("Resume sending (the cause of the pause is fixed at Meta)"), permissions=["change"])
    def resume_sending(self, request, queryset):
        from apps.messaging.sending import number_sending_resume

        count = sum(number_sending_resume(number_id=number.pk, actor=request.user, how="by an admin")
                    for number in queryset.filter(sending_paused_at__isnull=False))
        self.message_user(
            request,
            ngettext("Sending resumed on %(count)d number; its waiting messages go out now.",
                     "Sending resumed on %(count)d numbers; their waiting messages go out now.", count)
            % {"count": count},
            messages.SUCCESS,
        )

    def has_add_permission(self, request):
        # Binding Meta's ids is the platform's act (BINDING_NOTICE says why).
        return self.is_platform(request) and super().has_add_permission(request)

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if not self.is_platform(request):
            readonly = [*BINDING_FIELDS, *readonly]
        return readonly

    def changelist_view(self, request, extra_context=None):
        if request.method == "GET" and not self.is_platform(request):
            messages.info(request, BINDING_NOTICE)
        return super().changelist_view(request, extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if request.method == "GET" and not self.is_platform(request):
            self._ensure_visible(request, object_id)
            messages.info(request, BINDING_NOTICE)
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.display(description=_("access token"))
    def masked_access_token(self, obj):
        return masked(obj.access_token)

    @admin.display(description=_("app secret"))
    def masked_app_secret(self, obj):
        return masked(obj.app_secret)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        clear_secrets_cache()
