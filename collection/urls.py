from django.urls import path

from . import views, views_agreements, views_cutoff, views_responsibility

app_name = "collection"

urlpatterns = [
    path("worklist/", views.worklist, name="worklist"),
    path("responsibility/", views_responsibility.responsibility, name="responsibility"),
    path("responsibility/targets/", views_responsibility.targets, name="targets"),
    path("customers/<account:account_no>/reassign/", views_responsibility.reassign, name="reassign"),
    path("notices/review/", views.notice_review, name="notice_review"),
    path("notices/<int:pk>/decide/", views.notice_decide, name="notice_decide"),
    path("customers/<account:account_no>/panel/", views.customer_panel, name="customer_panel"),
    path("customers/<account:account_no>/activities/", views.activity_create, name="activity_create"),
    path("customers/<account:account_no>/promises/", views.promise_create, name="promise_create"),
    path("notices/<int:pk>/", views_agreements.notice_detail, name="notice_detail"),
    path("arrangements/", views_agreements.arrangement_list, name="arrangement_list"),
    path("arrangements/<int:pk>/", views_agreements.arrangement_detail, name="arrangement_detail"),
    path("arrangements/<int:pk>/cancel/", views_agreements.arrangement_cancel_view, name="arrangement_cancel"),
    path("guarantees/", views_agreements.guarantee_list, name="guarantee_list"),
    path("guarantees/<int:pk>/", views_agreements.guarantee_detail, name="guarantee_detail"),
    path("guarantees/<int:pk>/release/", views_agreements.guarantee_release_view, name="guarantee_release"),
    path("customers/<account:account_no>/agreements/", views_agreements.agreements_panel, name="agreements_panel"),
    path(
        "customers/<account:account_no>/agreements/arrangements/",
        views_agreements.arrangement_add,
        name="arrangement_add",
    ),
    path("customers/<account:account_no>/agreements/guarantees/", views_agreements.guarantee_add, name="guarantee_add"),
    path("cutoffs/", views_cutoff.cutoff_list, name="cutoff_list"),
    path("cutoffs/<int:pk>/", views_cutoff.cutoff_detail, name="cutoff_detail"),
    path("cutoffs/<int:pk>/approve/", views_cutoff.cutoff_approve_view, name="cutoff_approve"),
    path("cutoffs/<int:pk>/power-admin/", views_cutoff.cutoff_power_admin_view, name="cutoff_power_admin"),
    path("cutoffs/<int:pk>/renotice/", views_cutoff.cutoff_renotice_view, name="cutoff_renotice"),
    path("cutoffs/<int:pk>/execute/", views_cutoff.cutoff_execute_view, name="cutoff_execute"),
    path("cutoffs/<int:pk>/cancel/", views_cutoff.cutoff_cancel_view, name="cutoff_cancel"),
    path("cutoffs/<int:pk>/restored/", views_cutoff.cutoff_confirm_restored_view, name="cutoff_confirm_restored"),
    path("customers/<account:account_no>/cutoffs/", views_cutoff.cutoff_panel, name="cutoff_panel"),
    path("customers/<account:account_no>/cutoffs/new/", views_cutoff.cutoff_propose_view, name="cutoff_propose"),
]
