from django.urls import path

from . import api, api_blocking

urlpatterns = [
    path("conversations/<int:pk>/", api.ConversationDetailView.as_view(), name="api-conversation-detail"),
    path("conversations/<int:pk>/assign/", api.ConversationAssignView.as_view(), name="api-conversation-assign"),
    path("conversations/<int:pk>/status/", api.ConversationStatusView.as_view(), name="api-conversation-status"),
    path("conversations/<int:pk>/labels/", api.ConversationLabelsView.as_view(), name="api-conversation-labels"),
    path("conversations/<int:pk>/priority/", api.ConversationPriorityView.as_view(), name="api-conversation-priority"),
    path("conversations/<int:pk>/notes/", api.ConversationNotesView.as_view(), name="api-conversation-notes"),
    path("conversations/<int:pk>/block/", api_blocking.ConversationBlockView.as_view(),
         name="api-conversation-block"),
    path("numbers/<int:pk>/blocked-users/", api_blocking.NumberBlockedUsersView.as_view(),
         name="api-number-blocked-users"),
    path("contacts/", api.ContactListView.as_view(), name="api-contact-list"),
    path("contacts/<int:pk>/", api.ContactDetailView.as_view(), name="api-contact-detail"),
    path("labels/", api.LabelListView.as_view(), name="api-label-list"),
    path("canned-responses/", api.CannedResponseListView.as_view(), name="api-canned-response-list"),
]
