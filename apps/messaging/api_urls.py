from django.urls import path

from . import api, api_conversations

urlpatterns = [
    path("conversations/", api_conversations.ConversationListView.as_view(), name="api-conversation-list"),
    path(
        "conversations/<int:pk>/messages/",
        api_conversations.ConversationMessagesView.as_view(),
        name="api-conversation-messages",
    ),
    path("messages/", api.MessageCreateView.as_view(), name="api-message-send"),
    path("messages/<int:pk>/", api.MessageDetailView.as_view(), name="api-message-detail"),
]
