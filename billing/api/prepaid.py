"""API for prepaid accounts and control commands (filled in by the prepaid work)."""

urlpatterns: list = []


def register(router) -> None:
    """Register viewsets on the billing router."""
