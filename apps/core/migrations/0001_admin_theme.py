"""The product's theme of Django admin (django-admin-interface keeps it as a row).

Colours are the inbox's (static/inbox/base.css), chosen for WCAG AA contrast (the admin
pages are audited by axe). The theme's related-object modal is off: it loads the add
page in an iframe, and the Content-Security-Policy (frame-ancestors 'none') and
X-Frame-Options: DENY forbid framing any page of ours; Django's own pop-up windows are
used instead. The language chooser is off: the product has no set_language URL (the
language is chosen on the login page and in the inbox).
"""

from django.db import migrations

THEME = "WhatsApp Inbox"

SETTINGS = {
    "title": "WhatsApp Inbox",
    "title_color": "#FFFFFF",
    "title_visible": True,
    "logo_visible": False,
    "env_visible_in_header": False,
    "env_visible_in_favicon": False,
    "language_chooser_active": False,
    "related_modal_active": False,
    "css_header_background_color": "#064E3B",
    "css_header_text_color": "#D1FAE5",
    "css_header_link_color": "#FFFFFF",
    "css_header_link_hover_color": "#A7F3D0",
    "css_module_background_color": "#047857",
    "css_module_background_selected_color": "#FEF3C7",
    "css_module_text_color": "#FFFFFF",
    "css_module_link_color": "#FFFFFF",
    "css_module_link_selected_color": "#FFFFFF",
    "css_module_link_hover_color": "#D1FAE5",
    "css_module_rounded_corners": True,
    "css_generic_link_color": "#065F46",
    "css_generic_link_hover_color": "#047857",
    "css_generic_link_active_color": "#047857",
    "css_save_button_background_color": "#047857",
    "css_save_button_background_hover_color": "#065F46",
    "css_save_button_text_color": "#FFFFFF",
    "css_delete_button_background_color": "#B91C1C",
    "css_delete_button_background_hover_color": "#991B1B",
    "css_delete_button_text_color": "#FFFFFF",
    "list_filter_dropdown": True,
    "list_filter_sticky": True,
    "foldable_apps": True,
    "recent_actions_visible": True,
}


def write_theme(apps, schema_editor):
    Theme = apps.get_model("admin_interface", "Theme")
    Theme.objects.exclude(name=THEME).update(active=False)
    Theme.objects.update_or_create(name=THEME, defaults={**SETTINGS, "active": True})


def remove_theme(apps, schema_editor):
    apps.get_model("admin_interface", "Theme").objects.filter(name=THEME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("admin_interface", "0032_alter_theme_defaults"),
    ]

    operations = [migrations.RunPython(write_theme, remove_theme)]
