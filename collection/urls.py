from django.urls import path

from . import views, views_responsibility

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
]
