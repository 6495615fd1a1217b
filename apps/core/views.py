from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from .health import run_checks


@require_GET
@never_cache
def healthz(request):
    """The process is up and serving."""
    return JsonResponse({"status": "ok"})


@require_GET
@never_cache
def readyz(request):
    """Every dependency answers: database, channel layer, broker, storage."""
    checks = run_checks()
    ready = all(check["ok"] for check in checks.values())
    return JsonResponse({"status": "ok" if ready else "unavailable", "checks": checks}, status=200 if ready else 503)
