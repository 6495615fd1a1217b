from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import UserChangeForm, UserCreationForm
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from apps.accounts.admin_scoping import OrganizationScopedAdminMixin

from . import admin_tokens  # noqa: F401  (registers the API-token admin)
from . import services
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
            # The services' own checks, asked before anything is saved (the instance
            # still holds the stored values here: the form applies its data after clean).
            def clean(self):
                cleaned = super().clean()
                org = cleaned.get("organization")
                try:
                    services.user_teams_check(organization_id=org.pk if org else None, teams=cleaned.get("teams") or [])
                except ValidationError as exc:
                    self.add_error("teams", exc)
                if self.instance.pk:
                    try:
                        services.user_update_check(
                            user=self.instance, role=cleaned.get("role") if "role" in self.fields else None,
                            is_active=cleaned.get("is_active") if "is_active" in self.fields else None,
                            actor=request.user,
                        )
                    except ValidationError as exc:
                        self.add_error(None, exc)
                return cleaned

        return ScopedForm

    def save_model(self, request, obj, form, change):
        if not self.is_platform(request):
            # An organisation's admin cannot mint platform superusers.
            obj.is_superuser = False
        if not change:
            super().save_model(request, obj, form, change)
            return
        # Role and active state change through user_update, as in the REST API: the
        # user's sockets follow at once and a deactivation ends their sessions.
        stored = User.objects.only("role", "is_active", "organization_id").get(pk=obj.pk)
        role, is_active = obj.role, obj.is_active
        obj.role, obj.is_active = stored.role, stored.is_active
        super().save_model(request, obj, form, change)
        services.user_update(user=obj, role=role, is_active=is_active, actor=request.user)
        if obj.organization_id != stored.organization_id:
            services.user_access_changed(user_ids=[obj.pk])

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        teams = form.cleaned_data.get("teams")
        if teams is not None and {t.pk for t in teams} != set(form.instance.teams.values_list("pk", flat=True)):
            services.user_teams_set(user=form.instance, teams=teams)

    def delete_model(self, request, obj):
        services.users_delete(users=User.objects.filter(pk=obj.pk))

    def delete_queryset(self, request, queryset):
        services.users_delete(users=queryset)

    @admin.display(description=_("teams"))
    def team_names(self, obj):
        return ", ".join(obj.teams.values_list("name", flat=True))


class TeamForm(forms.ModelForm):
    class Meta:
        model = Team
        fields = "__all__"

    def clean(self):
        cleaned = super().clean()
        org = cleaned.get("organization") if "organization" in self.fields else self.instance.organization
        try:
            services.team_check(organization_id=org.pk if org else None, members=cleaned.get("members") or [],
                                numbers=cleaned.get("numbers") or [])
        except ValidationError as exc:
            self.add_error(None, exc)
        return cleaned


@admin.register(Team)
class TeamAdmin(OrganizationScopedAdminMixin, admin.ModelAdmin):
    form = TeamForm
    list_display = ["name", "organization", "member_count"]
    list_filter = ["organization"]
    search_fields = ["name"]
    filter_horizontal = ["members", "numbers"]

    def save_model(self, request, obj, form, change):
        moved = change and Team.objects.filter(pk=obj.pk).exclude(organization_id=obj.organization_id).exists()
        super().save_model(request, obj, form, change)
        if moved:
            services.user_access_changed(user_ids=list(obj.members.values_list("pk", flat=True)))

    def save_related(self, request, form, formsets, change):
        # Members and numbers change through the services, which tell the sockets of
        # everyone whose rights they change (the form would set the rows silently).
        members = form.cleaned_data.pop("members", None)
        numbers = form.cleaned_data.pop("numbers", None)
        super().save_related(request, form, formsets, change)
        team = form.instance
        if members is not None:
            services.team_members_set(team=team, members=members)
        if numbers is not None and {n.pk for n in numbers} != set(team.numbers.values_list("pk", flat=True)):
            services.team_numbers_set(team=team, numbers=numbers)

    def delete_model(self, request, obj):
        services.teams_delete(teams=Team.objects.filter(pk=obj.pk))

    def delete_queryset(self, request, queryset):
        services.teams_delete(teams=queryset)

    @admin.display(description=_("members"))
    def member_count(self, obj):
        return obj.members.count()
