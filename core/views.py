from django.contrib.auth.decorators import login_not_required
from django.http import JsonResponse
from django.shortcuts import redirect
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from .health import broker_status, database_status


@login_not_required
@never_cache
@require_GET
def healthz(request):
    """Readiness for load balancers and compose health checks: 200 when all parts answer, else 503."""
    db_ok, db_detail = database_status()
    broker_ok, broker_detail = broker_status()
    ok = db_ok and broker_ok
    body = {
        "status": "ok" if ok else "error",
        "database": {"ok": db_ok, "detail": db_detail},
        "broker": {"ok": broker_ok, "detail": broker_detail},
    }
    return JsonResponse(body, status=200 if ok else 503)


def home(request):
    """Everyone lands on today's work (the collections worklist, scoped to the user)."""
    return redirect("collection:worklist")
