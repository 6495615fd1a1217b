"""The product's theme of Django admin. django-admin-interface keeps its theme as a
row; this module writes ours once, after `migrate` and after a `flush` (both send
post_migrate), unless it exists: an admin's later changes to it, or another theme
made active, are kept.

Colours are the inbox's (static/inbox/base.css), chosen for WCAG AA contrast (the admin
pages are audited by axe). The related-object modal is off: it loads the add page in an
iframe, and the Content-Security-Policy (frame-ancestors 'none') with X-Frame-Options:
DENY forbids framing any page of ours; Django's own pop-up windows are used instead.
The language chooser is off: the language is chosen on the login page and in the inbox
(the product has no set_language URL).
"""

from __future__ import annotations

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


def ensure_theme(using: str = "default", **_signal) -> None:
    """Write the product's theme and make it the active one, if it does not exist yet."""
    from admin_interface.models import Theme

    if Theme.objects.using(using).filter(name=THEME).exists():
        return
    Theme.objects.using(using).create(name=THEME, active=True, **SETTINGS)
