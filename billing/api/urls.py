from django.urls import path
from rest_framework.routers import DefaultRouter

from . import instalments, prepaid
from .forecasts import ForecastViewSet
from .views import (
    BillingRunViewSet,
    BillViewSet,
    CustomerStatementApi,
    MeterReadingViewSet,
    PaymentViewSet,
    TariffViewSet,
)

router = DefaultRouter()
router.register("tariffs", TariffViewSet, basename="tariff")
router.register("readings", MeterReadingViewSet, basename="reading")
router.register("bills", BillViewSet, basename="bill")
router.register("billing-runs", BillingRunViewSet, basename="billing-run")
router.register("payments", PaymentViewSet, basename="payment")
router.register("forecasts", ForecastViewSet, basename="forecast")
prepaid.register(router)
instalments.register(router)

urlpatterns = [
    path("customers/<account:account_no>/statement/", CustomerStatementApi.as_view(), name="customer-statement"),
    *prepaid.urlpatterns,
    *instalments.urlpatterns,
    *router.urls,
]
