"""Staff pages for instalment settlement (included in the "billing" namespace)."""

from django.urls import path

from . import views_instalments

urlpatterns = [
    path("customers/<account:account_no>/instalments/", views_instalments.instalments, name="instalments"),
]
