"""Staff pages for prepaid accounts and control commands (included in the "billing" namespace)."""

from django.urls import path

from . import views_prepaid

urlpatterns = [
    path("customers/<account:account_no>/prepaid/", views_prepaid.prepaid_panel, name="prepaid_panel"),
    path(
        "customers/<account:account_no>/control/new/",
        views_prepaid.control_command_request,
        name="control_command_request",
    ),
    path("control-commands/", views_prepaid.control_commands, name="control_commands"),
    path("control-commands/<int:pk>/decide/", views_prepaid.control_command_decide, name="control_command_decide"),
    path("control-commands/<int:pk>/retry/", views_prepaid.control_command_retry, name="control_command_retry"),
]
