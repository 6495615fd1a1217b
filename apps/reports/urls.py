from django.urls import path

from . import views

app_name = "reports"

urlpatterns = [
    path("reports/", views.report_page, name="page"),
    path("reports/<slug:name>.csv", views.report_csv, name="csv"),
]
