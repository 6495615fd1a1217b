from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import UserChangeForm, UserCreationForm
from django.utils.translation import gettext_lazy as _

from apps.core.admin import OrganizationScopedAdminMixin

from . import admin_tokens  # noqa: F401  (registers the API-token admin)
from .models import Organization, Team, User


@admin.register(Organization)
class OrganizationAdmin(OrganizationScopedAdminMixin, admin.ModelAdmin):
    organization_lookup = "pk"
    list_display = ["name", "slug", "timezone", "on_message_to_resolved", "created_at"]
    search_fields = ["name", "slug"]
    list_filter = ["on_message_to_resolved", "mark_read_on_open"]
    prepopulated_fields = {"slug": ["name"]}

    def has_add_permission(self, request):
        # Organisations are created by the platform (or `manage.py create_organization`).
        return self.is_platform(request)

    def has_delete_permission(self, request, obj=None):
        return self.is_platform(request)

    def get_readonly_fields(self, request, obj=None):
        return [] if self.is_platform(request) else ["slug"]

    def get_prepopulated_fields(self, request, obj=None):
        # A read-only slug cannot be prepopulated (the change page failed with a 500).
        return super().get_prepopulated_fields(request, obj) if self.is_platform(request) else {}


class TeamsField(forms.ModelMultipleChoiceField):
    pass


class _TeamsMixin(forms.ModelForm):
    teams = TeamsField(queryset=Team.objects.none(), required=False, label=_("teams"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["teams"].initial = list(self.instance.teams.values_list("pk", flat=True))


class InboxUserChangeForm(_TeamsMixin, UserChangeForm):
    class Meta(UserChangeForm.Meta):
        model = User


class InboxUserCreationForm(_TeamsMixin, UserCreationForm):
    class Meta(UserCreationForm.Meta):
        model = User
        fields = ("username", "email", "organization", "role")


@admin.register(User)
class UserAdmin(OrganizationScopedAdminMixin, DjangoUserAdmin):
    form = InboxUserChangeForm
    add_form = InboxUserCreationForm
    list_display = [
        "username", "email", "display_name", "organization", "role", "availability", "team_names", "is_staff", "is_active"
    ]
    list_filter = ["role", "availability", "is_staff", "is_active", "organization"]
    search_fields = ["username", "email", "first_name", "last_name", "display_name"]
    ordering = ["username"]

    platform_fieldsets = (
        (None, {"fields": ("username", "password")}),
        (_("Personal info"), {"fields": ("first_name", "last_name", "display_name", "email")}),
        (_("Inbox"), {"fields": ("organization", "role", "availability", "teams")}),
        (_("Permissions"), {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        (_("Important dates"), {"fields": ("last_login", "date_joined")}),
    )
    org_fieldsets = (
        (None, {"fields": ("username", "password")}),
        (_("Personal info"), {"fields": ("first_name", "last_name", "display_name", "email")}),
        (_("Inbox"), {"fields": ("organization", "role", "availability", "teams")}),
        (_("Permissions"), {"fields": ("is_active", "is_staff")}),
        (_("Important dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("username", "email", "organization", "role", "teams", "password1", "password2"),
            },
        ),
    )
    readonly_fields = ["last_login", "date_joined"]

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return self.add_fieldsets
        return self.platform_fieldsets if self.is_platform(request) else self.org_fieldsets

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        teams = Team.objects.all()
        if not self.is_platform(request):
            teams = teams.filter(organization_id=request.user.organization_id)
        elif obj is not None and obj.organization_id:
            teams = teams.filter(organization_id=obj.organization_id)
        form.base_fields["teams"].queryset = teams

        class ScopedForm(form):
            def clean(self):
                cleaned = super().clean()
                org = cleaned.get("organization")
                for team in cleaned.get("teams") or []:
                    if org is None or team.organization_id != org.pk:
                        self.add_error("teams", _("A team must belong to the user's organisation."))
                        break
                return cleaned

        return ScopedForm

    def save_model(self, request, obj, form, change):
        if not self.is_platform(request):
            # An organisation's admin cannot mint platform superusers.
            obj.is_superuser = False
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        if "teams" in form.cleaned_data:
            form.instance.teams.set(form.cleaned_data["teams"])

    @admin.display(description=_("teams"))
    def team_names(self, obj):
        return ", ".join(obj.teams.values_list("name", flat=True))


@admin.register(Team)
class TeamAdmin(OrganizationScopedAdminMixin, admin.ModelAdmin):
    list_display = ["name", "organization", "member_count"]
    list_filter = ["organization"]
    search_fields = ["name"]
    filter_horizontal = ["members", "numbers"]

    @admin.display(description=_("members"))
    def member_count(self, obj):
        return obj.members.count()
