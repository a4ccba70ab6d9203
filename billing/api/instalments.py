"""API for instalment settlement (filled in by the instalment work)."""

urlpatterns: list = []


def register(router) -> None:
    """Register viewsets on the billing router."""
