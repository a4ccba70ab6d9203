"""Staff pages for prepaid accounts and control commands (filled in by the prepaid work)."""

urlpatterns: list = []
