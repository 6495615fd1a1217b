"""Admin pages of the bot: settings (organisation and per number), the knowledge
base (documents and FAQ pairs), and read-only runs and usage. Scoped to the admin's
organisation like every admin page of customer data."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from apps.core import crypto
from apps.accounts.admin_scoping import OrganizationScopedAdminMixin

from . import client, context, knowledge, selectors, services
from .models import BotRun, BotSettings, BotUsage, KnowledgeDocument, KnowledgeFAQ


def _not_configured_notice(request, bot_settings=None) -> None:
    if client.is_configured(bot_settings):
        return
    messages.warning(
        request,
        _("The bot is off: it needs an OpenAI API key. Set OPENAI_API_KEY (and OPENAI_BASE_URL for another "
          "OpenAI-compatible server) in the environment, or give this organisation its own API key below; "
          "then turn the bot on."),
    )


def _string_list(value, field: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise forms.ValidationError(_("Give a list of words or phrases, e.g. [\"humano\", \"agent\"]."), code=field)
    return [item.strip() for item in value if item.strip()]


class BotSettingsForm(forms.ModelForm):
    api_key = forms.CharField(
        label=_("API key"), required=False, widget=forms.PasswordInput(render_value=False),
        help_text=_("Optional: this organisation's own key, stored encrypted. Leave empty to keep the current one; "
                    "OPENAI_API_KEY is used when there is none."),
    )
    clear_api_key = forms.BooleanField(label=_("Remove the organisation's API key"), required=False)

    class Meta:
        model = BotSettings
        exclude = ["api_key"]

    def clean_business_hours(self):
        value = self.cleaned_data.get("business_hours", "")
        try:
            context.parse_hours(value)
        except context.HoursError as exc:
            raise forms.ValidationError(str(exc)) from None
        return value

    def clean_handoff_keywords(self):
        return _string_list(self.cleaned_data.get("handoff_keywords"), "handoff_keywords")

    def clean_sensitive_topics(self):
        return _string_list(self.cleaned_data.get("sensitive_topics"), "sensitive_topics")

    def clean_temperature(self):
        value = self.cleaned_data.get("temperature")
        if value is not None and not 0 <= value <= 2:
            raise forms.ValidationError(_("The temperature is between 0 and 2."))
        return value

    def clean(self):
        cleaned = super().clean()
        organization, number = cleaned.get("organization"), cleaned.get("number")
        if organization and number and number.organization_id != organization.pk:
            self.add_error("number", _("This number belongs to another organisation."))
        for field in ("create_quote_team", "order_status_team", "talk_to_human_team"):
            team = cleaned.get(field)
            if organization and team and team.organization_id != organization.pk:
                self.add_error(field, _("This team belongs to another organisation."))
        if cleaned.get("enabled"):
            # The bot is turned on only where it can answer: with the key these
            # settings will have once saved.
            key = "" if cleaned.get("clear_api_key") else (cleaned.get("api_key") or "").strip() or self.instance.api_key
            reason = selectors.bot_unavailable_reason(bot_settings=BotSettings(enabled=True, api_key=key))
            if reason:
                self.add_error("enabled", reason)
        return cleaned

    def save(self, commit=True):
        instance = super().save(commit=False)
        if self.cleaned_data.get("clear_api_key"):
            instance.api_key = ""
        elif self.cleaned_data.get("api_key"):
            instance.api_key = self.cleaned_data["api_key"].strip()
        if commit:
            instance.save()
        return instance


@admin.register(BotSettings)
class BotSettingsAdmin(OrganizationScopedAdminMixin, admin.ModelAdmin):
    form = BotSettingsForm
    list_display = ("__str__", "organization", "enabled", "model", "hours_mode", "api_key_state")
    list_filter = ("enabled", "organization")
    fieldsets = (
        (None, {"fields": ("organization", "number", "enabled")}),
        (_("Model"), {"fields": ("model", "api_key", "clear_api_key", "system_prompt", "temperature",
                                 "max_reply_tokens", "context_messages")}),
        (_("When to answer"), {"fields": ("business_hours", "hours_mode")}),
        (_("Messages"), {"fields": ("welcome_message", "handoff_message", "fallback_message")}),
        (_("Hand-off"), {"fields": ("handoff_keywords", "sensitive_topics", "max_turns_without_progress",
                                    "create_quote_team", "order_status_team", "talk_to_human_team")}),
        (_("Knowledge base"), {"fields": ("search_language", "passages_per_answer")}),
    )

    @admin.display(description=_("API key"))
    def api_key_state(self, obj):
        if obj.api_key:
            return crypto.mask(obj.api_key)
        return _("OPENAI_API_KEY") if settings.OPENAI_API_KEY else _("missing: the bot is off")

    def changelist_view(self, request, extra_context=None):
        if request.method == "GET":
            _not_configured_notice(request)
        return super().changelist_view(request, extra_context)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        if request.method == "GET":
            obj = self.get_object(request, object_id) if object_id else None
            _not_configured_notice(request, obj)
        return super().changeform_view(request, object_id, form_url, extra_context)

    def save_model(self, request, obj, form, change):
        if not self.is_platform(request):
            obj.organization_id = request.user.organization_id
        super().save_model(request, obj, form, change)
        services.bot_settings_saved(bot_settings=obj)
        if "search_language" in form.changed_data and obj.number_id is None:
            count = knowledge.organization_reindex(organization_id=obj.organization_id)
            messages.info(request, _("Knowledge base re-indexed: %(count)d passages.") % {"count": count})

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        services.bot_settings_saved(bot_settings=obj)


class KnowledgeDocumentForm(forms.ModelForm):
    class Meta:
        model = KnowledgeDocument
        fields = ["organization", "title", "file", "text"]

    def clean(self):
        cleaned = super().clean()
        upload = self.files.get("file")
        if upload is not None:
            try:
                kind = knowledge.kind_for(upload.name)
                data = upload.read()
                upload.seek(0)
                cleaned["text"] = knowledge.extract_text(kind=kind, data=data, filename=upload.name)
                cleaned["kind"] = kind
            except knowledge.KnowledgeError as exc:
                self.add_error("file", exc.message)
        elif not (cleaned.get("text") or "").strip() and not (self.instance.pk and self.instance.file):
            self.add_error("text", _("Type the text or upload a .txt, .md or .pdf file."))
        return cleaned

    def save(self, commit=True):
        instance = super().save(commit=False)
        if "kind" in self.cleaned_data:
            instance.kind = self.cleaned_data["kind"]
        instance.text = self.cleaned_data.get("text", instance.text)
        if not instance.kind:
            instance.kind = KnowledgeDocument.Kind.TEXT
        if commit:
            instance.save()
        return instance


@admin.register(KnowledgeDocument)
class KnowledgeDocumentAdmin(OrganizationScopedAdminMixin, admin.ModelAdmin):
    form = KnowledgeDocumentForm
    list_display = ("title", "kind", "organization", "passage_count", "updated_at")
    list_filter = ("kind", "organization")
    search_fields = ("title",)

    actions = ["reindex"]

    @admin.display(description=_("passages"))
    def passage_count(self, obj):
        return obj.passages.count()

    @admin.action(description=_("Re-index the knowledge base of these documents' organisations (documents and FAQs)"))
    def reindex(self, request, queryset):
        for organization_id in sorted(set(queryset.values_list("organization_id", flat=True))):
            count = knowledge.organization_reindex(organization_id=organization_id)
            messages.info(request, _("Knowledge base re-indexed: %(count)d passages.") % {"count": count})

    def save_model(self, request, obj, form, change):
        if not self.is_platform(request):
            obj.organization_id = request.user.organization_id
        super().save_model(request, obj, form, change)
        passages = knowledge.document_index(document=obj)
        messages.info(request, _("%(count)d passages indexed.") % {"count": len(passages)})


@admin.register(KnowledgeFAQ)
class KnowledgeFAQAdmin(OrganizationScopedAdminMixin, admin.ModelAdmin):
    list_display = ("question", "organization", "updated_at")
    list_filter = ("organization",)
    search_fields = ("question", "answer")

    def save_model(self, request, obj, form, change):
        if not self.is_platform(request):
            obj.organization_id = request.user.organization_id
        super().save_model(request, obj, form, change)
        knowledge.faq_index(faq=obj)


class _ReadOnlyAdmin(OrganizationScopedAdminMixin, admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(BotUsage)
class BotUsageAdmin(_ReadOnlyAdmin):
    list_display = ("day", "organization", "requests", "prompt_tokens", "completion_tokens", "failures")
    list_filter = ("organization",)
    date_hierarchy = "day"


@admin.register(BotRun)
class BotRunAdmin(_ReadOnlyAdmin):
    list_display = ("created_at", "conversation", "status", "reason", "intent", "prompt_tokens", "completion_tokens")
    list_filter = ("status", "organization")
    readonly_fields = [f.name for f in BotRun._meta.fields]
