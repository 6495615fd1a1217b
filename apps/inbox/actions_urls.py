"""The composer's and the side panel's actions (views in actions.py), under the
"inbox" namespace (included by apps/inbox/urls.py)."""

from django.urls import path

from . import actions, alerts, blocking, composer_assets

urlpatterns = [
    path("inbox/c/<int:pk>/send/", actions.send, name="send"),
    path("inbox/c/<int:pk>/send/file/", actions.send_file, name="send_file"),
    path("inbox/c/<int:pk>/react/", actions.react, name="react"),
    path("inbox/c/<int:pk>/canned/", actions.canned, name="canned"),
    path("inbox/c/<int:pk>/mentions/", actions.mentions, name="mentions"),
    path("inbox/c/<int:pk>/interactive/preview/", actions.interactive_preview, name="interactive_preview"),
    path("inbox/c/<int:pk>/interactive/flows/", composer_assets.flows, name="interactive_flows"),
    path("inbox/c/<int:pk>/interactive/catalog/", composer_assets.catalog, name="interactive_catalog"),
    path("inbox/c/<int:pk>/contacts/search/", composer_assets.contact_search, name="contact_search"),
    path("inbox/c/<int:pk>/templates/", actions.templates, name="templates"),
    path("inbox/c/<int:pk>/templates/<int:template_id>/", actions.template_form, name="template_form"),
    path("inbox/c/<int:pk>/templates/<int:template_id>/preview/", actions.template_preview, name="template_preview"),
    path("inbox/c/<int:pk>/panel/actions/", actions.actions_panel, name="panel_actions"),
    path("inbox/c/<int:pk>/assign/", actions.assign, name="assign"),
    path("inbox/c/<int:pk>/status/", actions.set_status, name="status"),
    path("inbox/c/<int:pk>/labels/", actions.toggle_label, name="label_toggle"),
    path("inbox/c/<int:pk>/priority/", actions.set_priority, name="priority"),
    path("inbox/c/<int:pk>/bot/", actions.set_bot, name="bot"),
    path("inbox/c/<int:pk>/notes/", actions.add_note, name="note_add"),
    path("inbox/c/<int:pk>/panel/contact/", actions.contact_panel, name="panel_contact"),
    path("inbox/c/<int:pk>/contact/", actions.update_contact, name="contact_update"),
    path("inbox/c/<int:pk>/contact/opt-out/", actions.set_opt_out, name="contact_opt_out"),
    path("inbox/alerts/", alerts.account_alerts, name="account_alerts"),
    path("inbox/alerts/<int:pk>/dismiss/", alerts.account_alert_dismiss, name="account_alert_dismiss"),
    path("inbox/c/<int:pk>/contact/block/", blocking.block, name="contact_block"),
    path("inbox/c/<int:pk>/contact/unblock/", blocking.unblock, name="contact_unblock"),
]
