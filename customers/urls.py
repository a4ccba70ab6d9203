from django.urls import path

from . import views, views_announcements, views_notifications

app_name = "customers"

urlpatterns = [
    path("", views.customer_list, name="list"),
    path("export.csv", views.customer_export, name="export"),
    path("export.xlsx", views.customer_export, {"fmt": "xlsx"}, name="export_xlsx"),
    path("new/", views.customer_create_view, name="create"),
    # Before the account-number routes: "messages" would also match an account number.
    path("messages/", views_notifications.notification_list, name="notifications"),
    path("messages/<int:pk>/retry/", views_notifications.notification_retry_view, name="notification_retry"),
    path("announcements/", views_announcements.announcement_list, name="announcement_list"),
    path("announcements/new/", views_announcements.announcement_new, name="announcement_new"),
    path("announcements/<int:pk>/", views_announcements.announcement_detail, name="announcement_detail"),
    path("<account:account_no>/", views.customer_detail, name="detail"),
    path("<account:account_no>/edit/", views.customer_edit_view, name="edit"),
    path("<account:account_no>/meters/new/", views.meter_form_view, name="meter_create"),
    path("<account:account_no>/meters/<int:pk>/edit/", views.meter_form_view, name="meter_edit"),
    path("<account:account_no>/meters/<int:pk>/replace/", views.meter_replace_view, name="meter_replace"),
    path("<account:account_no>/contacts/new/", views.contact_form_view, name="contact_create"),
    path("<account:account_no>/contacts/<int:pk>/edit/", views.contact_form_view, name="contact_edit"),
    path("<account:account_no>/visits/new/", views.visit_form_view, name="visit_create"),
    path("<account:account_no>/messages/", views_notifications.messages_panel, name="messages_panel"),
]
