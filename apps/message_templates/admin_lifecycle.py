"""Django admin of a template's life at Meta: editing its components (a page of its
own), deleting it (an action with a confirmation), archiving and unarchiving it
(actions). Used by admin.py's
MessageTemplateAdmin."""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .definition import TemplateDefinitionError
from .lifecycle import EDITABLE, template_delete, template_edit, templates_archive
from .models import MessageTemplate


class ComponentsForm(forms.Form):
    components = forms.CharField(
        label=gettext_lazy("components (JSON)"),
        widget=forms.Textarea(attrs={"rows": 20, "cols": 100}),
    )

    def clean_components(self):
        try:
            value = json.loads(self.cleaned_data["components"])
        except ValueError as exc:
            raise forms.ValidationError(
                _("Not valid JSON: %(error)s") % {"error": exc}
            ) from exc
        if not isinstance(value, list):
            raise forms.ValidationError(_("A list of components."))
        return value


class TemplateLifecycleAdminMixin:
    def get_urls(self):
        return [
            path(
                "<path:object_id>/edit-at-meta/",
                self.admin_site.admin_view(self.edit_at_meta_view),
                name="message_templates_messagetemplate_edit_at_meta",
            ),
            *super().get_urls(),
        ]

    @admin.display(description=gettext_lazy("at Meta"))
    def at_meta(self, obj):
        if obj is None or obj.pk is None or obj.status not in EDITABLE:
            return _("Meta edits approved, rejected or paused templates only.")
        return format_html(
            '<a href="{}">{}</a>',
            reverse(
                "admin:message_templates_messagetemplate_edit_at_meta", args=[obj.pk]
            ),
            _("Edit the components at Meta…"),
        )

    def edit_at_meta_view(self, request, object_id):
        template = self.get_object(request, object_id)
        if template is None:
            raise Http404
        if not self.has_change_permission(request, template):
            raise PermissionDenied
        initial = {
            "components": json.dumps(template.components, indent=2, ensure_ascii=False)
        }
        form = ComponentsForm(request.POST or None, initial=initial)
        if request.method == "POST" and form.is_valid():
            try:
                template_edit(
                    template=template, components=form.cleaned_data["components"]
                )
            except TemplateDefinitionError as exc:
                for field, message in exc.errors:
                    form.add_error(None, f"{field}: {message}")
            else:
                self.log_change(
                    request, template, [{"changed": {"fields": ["components"]}}]
                )
                self.message_user(
                    request,
                    _(
                        "The template was sent to Meta for review with its new components."
                    ),
                    messages.SUCCESS,
                )
                return redirect(
                    reverse(
                        "admin:message_templates_messagetemplate_change",
                        args=[template.pk],
                    )
                )
        context = {
            **self.admin_site.each_context(request),
            "title": _("Edit the template at Meta"),
            "template": template,
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(
            request,
            "admin/message_templates/messagetemplate/edit_at_meta.html",
            context,
        )

    @admin.action(
        description=gettext_lazy("Delete at Meta (the selected templates' languages)"),
        permissions=["change"],
    )
    def delete_at_meta(self, request, queryset):
        templates = list(queryset.exclude(status=MessageTemplate.Status.DELETED))
        if request.POST.get("confirmed") != "yes":
            context = {
                **self.admin_site.each_context(request),
                "title": _("Delete these templates at Meta?"),
                "templates": templates,
                "opts": self.model._meta,
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            }
            return TemplateResponse(
                request,
                "admin/message_templates/messagetemplate/delete_at_meta.html",
                context,
            )
        for template in templates:
            try:
                template_delete(template=template)
            except TemplateDefinitionError as exc:
                self.message_user(
                    request,
                    f"{template.name} ({template.language}): {exc.errors[0][1]}",
                    messages.ERROR,
                )
            else:
                self.log_change(
                    request, template, [{"changed": {"fields": ["status"]}}]
                )
                self.message_user(
                    request,
                    _("%(name)s (%(language)s) is deleted at Meta.")
                    % {"name": template.name, "language": template.language},
                    messages.SUCCESS,
                )
        return None

    def _archive(self, request, queryset, *, archive: bool):
        done, failed = templates_archive(templates=list(queryset), archive=archive)
        for template in done:
            self.log_change(request, template, [{"changed": {"fields": ["status"]}}])
        if done:
            names = ", ".join(f"{t.name} ({t.language})" for t in done)
            message = (_("Archived at Meta: %(names)s. Meta deletes an archived template after 28 days unless "
                         "it is unarchived.") if archive else _("Unarchived at Meta: %(names)s."))
            self.message_user(request, message % {"names": names}, messages.SUCCESS)
        for template, reason in failed.items():
            self.message_user(request, f"{template.name} ({template.language}): {reason}", messages.ERROR)

    @admin.action(description=gettext_lazy("Archive at Meta (not sendable; unarchive within 28 days)"),
                  permissions=["change"])
    def archive_at_meta(self, request, queryset):
        self._archive(request, queryset, archive=True)

    @admin.action(description=gettext_lazy("Unarchive at Meta"), permissions=["change"])
    def unarchive_at_meta(self, request, queryset):
        self._archive(request, queryset, archive=False)
