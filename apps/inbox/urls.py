from django.urls import include, path

from . import canned_views, views

app_name = "inbox"

urlpatterns = [
    path("", views.root, name="root"),
    path("inbox/", views.conversation_list, name="list"),
    path("inbox/rows/", views.conversation_rows, name="rows"),
    path("inbox/c/<int:pk>/", views.conversation_detail, name="conversation"),
    path("inbox/c/<int:pk>/messages/", views.message_older, name="messages"),
    path("inbox/c/<int:pk>/row/", views.conversation_row, name="row"),
    path("inbox/c/<int:pk>/read/", views.conversation_read, name="read"),
    path("inbox/c/<int:pk>/title/", views.conversation_title, name="title"),
    path("inbox/m/<int:message_id>/", views.message_partial, name="message"),
    path("inbox/m/<int:message_id>/retry/", views.message_retry, name="retry"),
    path("inbox/m/<int:message_id>/history/", views.message_history, name="history"),
    path("inbox/n/<int:note_id>/", views.note_partial, name="note"),
    path("inbox/availability/", views.availability, name="availability"),
    path("inbox/language/", views.language, name="language"),
    path("inbox/emoji/", views.emoji_picker, name="emoji"),
    path("inbox/canned/", canned_views.canned_page, name="canned_page"),
    path("inbox/canned/save/", canned_views.canned_save, name="canned_save"),
    path("inbox/canned/delete/", canned_views.canned_delete, name="canned_delete"),
    path("", include("apps.inbox.actions_urls")),
]
