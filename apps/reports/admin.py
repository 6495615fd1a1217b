from django.contrib import admin

from apps.accounts.admin_scoping import OrganizationScopedAdminMixin

from .models import PricingRate


@admin.register(PricingRate)
class PricingRateAdmin(OrganizationScopedAdminMixin, admin.ModelAdmin):
    list_display = ["market", "category", "price", "currency", "organization"]
    list_filter = ["category", "organization"]
    search_fields = ["market", "category"]
