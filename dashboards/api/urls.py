from django.urls import path

from .views import ArrearsDashboardApi

urlpatterns = [
    path("dashboard/arrears/", ArrearsDashboardApi.as_view(), name="dashboard-arrears"),
]
