from django.conf import settings
from django.urls import path

from . import views

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
]

if settings.BENCH_FLOOR_VIEW:
    urlpatterns.append(path("bench/floor/", views.bench_floor, name="bench-floor"))
