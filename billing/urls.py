from django.urls import path

from . import urls_instalments, urls_prepaid, views, views_daily

app_name = "billing"

urlpatterns = [
    path("bills/", views.bill_list, name="bill_list"),
    path("bills/export.csv", views.bill_export, name="bill_export"),
    path("bills/export.xlsx", views.bill_export, {"fmt": "xlsx"}, name="bill_export_xlsx"),
    path("bills/<int:pk>/", views.bill_detail, name="bill_detail"),
    path("bills/<int:pk>/waive/", views.bill_waive, name="bill_waive"),
    path("bills/<int:pk>/adjust/", views.bill_adjust_view, name="bill_adjust"),
    path("customers/<account:account_no>/statement/", views.statement, name="statement"),
    path("customers/<account:account_no>/panel/", views.customer_panel, name="customer_panel"),
    path("customers/<account:account_no>/usage/", views_daily.usage_panel, name="usage_panel"),
    path("yesterday/", views_daily.yesterday, name="yesterday"),
    path("payments/", views.payment_list, name="payment_list"),
    path("payments/new/", views.payment_create, name="payment_create"),
    path("payments/<int:pk>/reverse/", views.payment_reverse_view, name="payment_reverse"),
    path("runs/", views.billing_runs, name="runs"),
    path("readings/upload/", views.reading_upload, name="reading_upload"),
    path("readings/upload/<int:pk>/store/", views.reading_upload_store, name="reading_upload_store"),
    *urls_prepaid.urlpatterns,
    *urls_instalments.urlpatterns,
]
