"""Django admin of a number's standing at Meta: its account alerts, registering it for
the Cloud API and setting its two-step PIN, and reading its status now. Used by
admin.py's WhatsAppNumberAdmin (its URLs and actions) and registered for the alerts."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from apps.accounts.admin_scoping import OrganizationScopedAdminMixin

from . import health
from .models import AccountAlert


class PinForm(forms.Form):
    ACTIONS = (
        ("register", _("Register the number for the Cloud API with this PIN")),
        ("pin", _("Set this as the number's two-step verification PIN")),
    )
    action = forms.ChoiceField(
        label=_("what to do"),
        choices=ACTIONS,
        widget=forms.RadioSelect,
        initial="register",
    )
    pin = forms.RegexField(
        label=_("PIN"),
        regex=r"^\d{6}$",
        max_length=6,
        min_length=6,
        widget=forms.PasswordInput(
            attrs={"autocomplete": "off", "inputmode": "numeric"}
        ),
        error_messages={"invalid": _("The PIN is six digits.")},
    )


class NumberAccountAdminMixin:
    """For WhatsAppNumberAdmin: the register / PIN page and the "read status" action."""

    def get_urls(self):
        urls = super().get_urls()
        return [
            path(
                "<path:object_id>/registration/",
                self.admin_site.admin_view(self.registration_view),
                name="whatsapp_whatsappnumber_registration",
            ),
            *urls,
        ]

    def registration_view(self, request, object_id):
        number = self.get_object(request, object_id)
        if number is None:
            raise Http404
        if not self.has_change_permission(request, number):
            raise PermissionDenied
        form = PinForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            pin, action = form.cleaned_data["pin"], form.cleaned_data["action"]
            try:
                if action == "register":
                    health.number_register(number=number, pin=pin)
                    text = _("The number is registered for the Cloud API.")
                else:
                    health.number_pin_set(number=number, pin=pin)
                    text = _("The number's two-step verification PIN is set.")
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                # The PIN itself is never stored nor logged.
                self.log_change(
                    request,
                    number,
                    [
                        {
                            "changed": {
                                "fields": [
                                    "registered_at"
                                    if action == "register"
                                    else "pin_set_at"
                                ]
                            }
                        }
                    ],
                )
                self.message_user(request, text, messages.SUCCESS)
                return redirect(
                    reverse("admin:whatsapp_whatsappnumber_change", args=[number.pk])
                )
        context = {
            **self.admin_site.each_context(request),
            "title": _("Registration and two-step PIN"),
            "number": number,
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/whatsapp/registration.html", context)

    @admin.action(
        description=_("Read the numbers' status from Meta now"), permissions=["change"]
    )
    def read_status(self, request, queryset):
        read = [health.number_status_read(number=number) for number in queryset]
        failed = [n for n in read if n.status_error]
        self.message_user(
            request,
            ngettext(
                "Status read for %(count)d number.",
                "Status read for %(count)d numbers.",
                len(read) - len(failed),
            )
            % {"count": len(read) - len(failed)},
            messages.SUCCESS,
        )
        for number in failed:
            self.message_user(
                request,
                _("%(number)s: %(error)s")
                % {"number": number, "error": number.status_error},
                messages.ERROR,
            )


@admin.register(AccountAlert)
class AccountAlertAdmin(OrganizationScopedAdminMixin, admin.ModelAdmin):
    list_display = (
        "created_at",
        "severity",
        "number",
        "field",
        "event",
        "summary",
        "dismissed_at",
    )
    list_filter = ("severity", "field", "dismissed_at")
    search_fields = ("summary", "event", "waba_id")
    readonly_fields = (
        "organization",
        "number",
        "waba_id",
        "field",
        "event",
        "severity",
        "summary",
        "details",
        "key",
        "created_at",
        "dismissed_at",
        "dismissed_by",
    )

    def has_add_permission(self, request):
        return False
