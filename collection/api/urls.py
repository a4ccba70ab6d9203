from rest_framework.routers import DefaultRouter

from .views import ActivityViewSet, CollectionCaseViewSet, DunningNoticeViewSet, GuaranteeViewSet, PromiseViewSet

router = DefaultRouter()
router.register("dunning-notices", DunningNoticeViewSet, basename="dunning-notice")
router.register("cases", CollectionCaseViewSet, basename="case")
router.register("activities", ActivityViewSet, basename="activity")
router.register("promises", PromiseViewSet, basename="promise")
router.register("guarantees", GuaranteeViewSet, basename="guarantee")

urlpatterns = router.urls
