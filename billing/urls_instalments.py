"""Staff pages for instalment settlement (filled in by the instalment work)."""

urlpatterns: list = []
