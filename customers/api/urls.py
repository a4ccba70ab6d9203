from rest_framework.routers import DefaultRouter

from .views import (
    AnnouncementViewSet,
    ContactViewSet,
    CustomerViewSet,
    MeterPointViewSet,
    RegionViewSet,
    ServiceVisitViewSet,
)

router = DefaultRouter()
router.register("regions", RegionViewSet, basename="region")
router.register("customers", CustomerViewSet, basename="customer")
router.register("meters", MeterPointViewSet, basename="meter")
router.register("contacts", ContactViewSet, basename="contact")
router.register("service-visits", ServiceVisitViewSet, basename="service-visit")
router.register("announcements", AnnouncementViewSet, basename="announcement")

urlpatterns = router.urls
