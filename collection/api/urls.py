from django.urls import path
from rest_framework.routers import DefaultRouter

from .cutoff import CutoffOrderViewSet
from .views import (
    ActivityViewSet,
    ArrangementViewSet,
    CollectionCaseViewSet,
    CustomerReassignApi,
    DunningNoticeViewSet,
    GuaranteeViewSet,
    PromiseViewSet,
    RecoveryApi,
)

router = DefaultRouter()
router.register("dunning-notices", DunningNoticeViewSet, basename="dunning-notice")
router.register("cases", CollectionCaseViewSet, basename="case")
router.register("activities", ActivityViewSet, basename="activity")
router.register("promises", PromiseViewSet, basename="promise")
router.register("guarantees", GuaranteeViewSet, basename="guarantee")
router.register("arrangements", ArrangementViewSet, basename="arrangement")
router.register("cutoff-orders", CutoffOrderViewSet, basename="cutoff-order")

urlpatterns = [
    path("customers/<account:account_no>/reassign/", CustomerReassignApi.as_view(), name="customer-reassign"),
    path("responsibility/recovery/", RecoveryApi.as_view(), name="responsibility-recovery"),
    *router.urls,
]
