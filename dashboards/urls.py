from django.urls import path

from . import views

app_name = "dashboards"

urlpatterns = [
    path("", views.arrears_dashboard, name="arrears"),
    path("refresh/", views.refresh, name="refresh"),
    path("by/<slug:dimension>/", views.breakdown_page, name="breakdown"),
    path("export/<slug:table>.<slug:fmt>", views.export, name="export"),
]
