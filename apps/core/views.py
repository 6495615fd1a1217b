from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
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
    """Every dependency answers: database, Redis, channel layer, broker, storage."""
    checks = run_checks()
    ready = all(check["ok"] for check in checks.values())
    return JsonResponse({"status": "ok" if ready else "unavailable", "checks": checks}, status=200 if ready else 503)


@csrf_exempt
def bench_floor(request):
    """A bare JSON view: the floor the webhook's acknowledgement is measured
    against (same server, same middleware). Routed only when BENCH_FLOOR_VIEW is on."""
    request.body  # read the body as the webhook does
    return JsonResponse({"ok": True})
