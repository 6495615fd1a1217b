from django.urls import path

from . import api

urlpatterns = [
    path("conversations/<int:pk>/bot/", api.ConversationBotView.as_view(), name="api-conversation-bot"),
    path("conversations/<int:pk>/assist/suggest/", api.AssistSuggestView.as_view(), name="api-assist-suggest"),
    path("conversations/<int:pk>/assist/summary/", api.AssistSummaryView.as_view(), name="api-assist-summary"),
]
