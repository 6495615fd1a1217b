from django.urls import path

from . import api

urlpatterns = [
    path("templates/", api.TemplateListView.as_view(), name="api-template-list"),
    path("templates/header-sample/", api.TemplateHeaderSampleView.as_view(), name="api-template-header-sample"),
    path("templates/sync/", api.TemplateSyncView.as_view(), name="api-template-sync"),
    path("templates/<int:pk>/", api.TemplateDetailView.as_view(), name="api-template-detail"),
    path("templates/<int:pk>/preview/", api.TemplatePreviewView.as_view(), name="api-template-preview"),
]
