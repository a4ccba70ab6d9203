from django.urls import path
from rest_framework.routers import DefaultRouter

from .views import AlertViewSet, CustomerScoresApi, ProposalViewSet, ScorecardViewSet, ScoreViewSet

router = DefaultRouter()
router.register("scores", ScoreViewSet, basename="score")
router.register("scorecards", ScorecardViewSet, basename="scorecard")
router.register("alerts", AlertViewSet, basename="alert")
router.register("proposals", ProposalViewSet, basename="proposal")

urlpatterns = [
    path("customers/<account:account_no>/scores/", CustomerScoresApi.as_view(), name="customer-scores"),
    *router.urls,
]
