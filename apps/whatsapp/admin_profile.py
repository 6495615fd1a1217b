"""Django admin of a number's WhatsApp business profile and conversational automation:
read from Meta when the page opens, checked against Meta's limits, sent back on save.
Used by admin.py's WhatsAppNumberAdmin (its URL)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from apps.providers.meta import profile as meta

from . import health


class ProfileForm(forms.Form):
    about = forms.CharField(
        label=gettext_lazy("about"), max_length=meta.ABOUT_MAX, required=False
    )
    address = forms.CharField(
        label=gettext_lazy("address"), max_length=meta.ADDRESS_MAX, required=False
    )
    description = forms.CharField(
        label=gettext_lazy("description"),
        max_length=meta.DESCRIPTION_MAX,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    email = forms.EmailField(
        label=gettext_lazy("email"), max_length=meta.EMAIL_MAX, required=False
    )
    website_1 = forms.URLField(
        label=gettext_lazy("website"),
        max_length=meta.WEBSITE_MAX,
        required=False,
        assume_scheme="https",
    )
    website_2 = forms.URLField(
        label=gettext_lazy("second website"),
        max_length=meta.WEBSITE_MAX,
        required=False,
        assume_scheme="https",
    )
    vertical = forms.ChoiceField(
        label=gettext_lazy("industry"),
        choices=[(v, v) for v in meta.VERTICALS],
        required=False,
    )
    photo = forms.FileField(
        label=gettext_lazy("new profile photo"),
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png"}),
        help_text=gettext_lazy(
            "JPEG or PNG, at most 5 MB, at least 192 x 192 pixels (640 x 640 is best; "
            "WhatsApp shows it in a circle). Leave empty to keep the current photo."
        ),
    )
    enable_welcome_message = forms.BooleanField(
        label=gettext_lazy("welcome message on a customer's first chat"), required=False
    )
    prompts = forms.CharField(
        label=gettext_lazy("ice breakers"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=gettext_lazy("One a line: at most 4, 80 characters each."),
    )
    commands = forms.CharField(
        label=gettext_lazy("commands"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=gettext_lazy(
            "One a line, as name: description (at most 30; name 32, description 256 characters)."
        ),
    )

    def clean_photo(self):
        """The photo's bytes (empty for none), refused here when Meta would refuse it."""
        upload = self.cleaned_data.get("photo")
        if not upload:
            return b""
        if upload.size > meta.PICTURE_SIZE_MAX:  # not read into memory
            raise ValidationError(_("The photo is %(size).1f MB: WhatsApp takes at most 5 MB.")
                                  % {"size": upload.size / (1024 * 1024)})
        content = upload.read()
        try:
            meta.picture_type(content)
        except meta.PictureRefused as exc:
            raise ValidationError(str(exc)) from exc
        return content

    def clean_prompts(self):
        prompts = [
            line.strip()
            for line in self.cleaned_data["prompts"].splitlines()
            if line.strip()
        ]
        if len(prompts) > meta.PROMPTS_MAX or any(
            len(p) > meta.PROMPT_MAX for p in prompts
        ):
            raise ValidationError(_("At most 4 ice breakers of 80 characters each."))
        return tuple(prompts)

    def clean_commands(self):
        commands = []
        for number, line in enumerate(
            self.cleaned_data["commands"].splitlines(), start=1
        ):
            if not line.strip():
                continue
            name, sep, description = line.partition(":")
            name, description = name.strip().lstrip("/"), description.strip()
            if not sep or not name or not description:
                raise ValidationError(
                    _("Line %(n)d: write name: description.") % {"n": number}
                )
            if (
                len(name) > meta.COMMAND_NAME_MAX
                or len(description) > meta.COMMAND_DESCRIPTION_MAX
            ):
                raise ValidationError(
                    _(
                        "Line %(n)d: the name is at most 32 characters, the description 256."
                    )
                    % {"n": number}
                )
            commands.append((name, description))
        if len(commands) > meta.COMMANDS_MAX:
            raise ValidationError(_("At most 30 commands."))
        return tuple(commands)

    @classmethod
    def initial_of(
        cls, profile: meta.BusinessProfile, automation: meta.Automation
    ) -> dict:
        websites = [*profile.websites, "", ""]
        return {
            "about": profile.about,
            "address": profile.address,
            "description": profile.description,
            "email": profile.email,
            "website_1": websites[0],
            "website_2": websites[1],
            "vertical": profile.vertical,
            "enable_welcome_message": automation.enable_welcome_message,
            "prompts": "\n".join(automation.prompts),
            "commands": "\n".join(f"{n}: {d}" for n, d in automation.commands),
        }

    def values(self) -> tuple[meta.BusinessProfile, meta.Automation]:
        data = self.cleaned_data
        profile = meta.BusinessProfile(
            about=data["about"],
            address=data["address"],
            description=data["description"],
            email=data["email"],
            websites=tuple(w for w in (data["website_1"], data["website_2"]) if w),
            vertical=data["vertical"],
        )
        return profile, meta.Automation(
            enable_welcome_message=data["enable_welcome_message"],
            prompts=data["prompts"],
            commands=data["commands"],
        )


class NumberProfileAdminMixin:
    """For WhatsAppNumberAdmin: the business profile and automation page."""

    def get_urls(self):
        urls = super().get_urls()
        return [
            path(
                "<path:object_id>/profile/",
                self.admin_site.admin_view(self.profile_view),
                name="whatsapp_whatsappnumber_profile",
            ),
            *urls,
        ]

    def profile_view(self, request, object_id):
        number = self.get_object(request, object_id)
        if number is None:
            raise Http404
        if not self.has_change_permission(request, number):
            raise PermissionDenied
        form, picture, unreadable = None, "", ""
        if request.method == "POST":
            form = ProfileForm(request.POST, request.FILES)
            if form.is_valid():
                try:
                    health.number_profile_save(
                        number=number,
                        profile=form.values()[0],
                        automation=form.values()[1],
                        picture=form.cleaned_data["photo"],
                        picture_name=getattr(request.FILES.get("photo"), "name", ""),
                    )
                except ValidationError as exc:
                    form.add_error(None, exc)
                else:
                    self.log_change(
                        request, number, [{"changed": {"fields": ["business profile"]}}]
                    )
                    self.message_user(
                        request,
                        _("The business profile is saved at WhatsApp."),
                        messages.SUCCESS,
                    )
                    return redirect(
                        reverse(
                            "admin:whatsapp_whatsappnumber_profile", args=[number.pk]
                        )
                    )
        else:
            try:
                profile, automation = health.number_profile_read(number=number)
            except ValidationError as exc:
                unreadable = " ".join(exc.messages)
            else:
                form, picture = (
                    ProfileForm(initial=ProfileForm.initial_of(profile, automation)),
                    profile.profile_picture_url,
                )
        context = {
            **self.admin_site.each_context(request),
            "title": _("Business profile and automation"),
            "number": number,
            "form": form,
            "picture": picture,
            "unreadable": unreadable,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/whatsapp/profile.html", context)
