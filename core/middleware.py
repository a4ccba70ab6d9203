from django.conf import settings
from django.contrib.auth.middleware import LoginRequiredMiddleware


class LoginRequiredEverywhereMiddleware(LoginRequiredMiddleware):
    """Login is required on every page except the few a stranger must reach.

    The API is exempt here because DRF authenticates tokens itself (after this middleware
    runs) and answers 401/403 as JSON instead of redirecting to a login page.
    """

    OPEN_PREFIXES = ("/api/", "/healthz", "/i18n/", "/admin/login/")

    def process_view(self, request, view_func, view_args, view_kwargs):
        path = request.path_info
        if path.startswith(self.OPEN_PREFIXES) or path.startswith("/" + settings.STATIC_URL.lstrip("/")):
            return None
        return super().process_view(request, view_func, view_args, view_kwargs)
