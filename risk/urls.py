"""Staff pages of the risk floor (mounted under /risk/)."""

from django.urls import path, re_path

from . import views

app_name = "risk"

urlpatterns = [
    path("customers/<account:account_no>/panel/", views.customer_panel, name="customer_panel"),
    path("customers/<account:account_no>/rescore/", views.customer_rescore, name="customer_rescore"),
    path("customers/<account:account_no>/scores/", views.customer_scores, name="customer_scores"),
    path("scores/", views.score_list, name="score_list"),
    path("alerts/", views.alert_list, name="alert_list"),
    path("alerts/<int:pk>/acknowledge/", views.alert_acknowledge_view, name="alert_acknowledge"),
    path("proposals/", views.proposal_list, name="proposal_list"),
    path("proposals/<int:pk>/decide/", views.proposal_decide_view, name="proposal_decide"),
    path("scorecards/", views.scorecard_list, name="scorecard_list"),
    path("scorecards/<int:version>/", views.scorecard_detail, name="scorecard_detail"),
    path("scorecards/<int:version>/edit/", views.scorecard_edit, name="scorecard_edit"),
    path("scorecards/<int:version>/new-draft/", views.scorecard_new_draft, name="scorecard_new_draft"),
    path("scorecards/<int:version>/publish/", views.scorecard_publish_view, name="scorecard_publish"),
    path("scorecards/<int:version>/new-criterion/", views.criterion_edit, name="criterion_create"),
    path("scorecards/<int:version>/criteria/<slug:key>/", views.criterion_edit, name="criterion_edit"),
    path("scorecards/<int:version>/criteria/<slug:key>/remove/", views.criterion_delete_view, name="criterion_delete"),
    path("grade-policies/", views.grade_policy_list, name="grade_policy_list"),
    path("grade-policies/new-policy/", views.grade_policy_edit, name="grade_policy_create"),
    # A grade is a few letters, perhaps a sign (A+); anything else is no page.
    re_path(r"^grade-policies/(?P<grade>[A-Za-z0-9+-]{1,3})/$", views.grade_policy_edit, name="grade_policy_edit"),
]
