from django.urls import path

from . import views

app_name = "collection"

urlpatterns = [
    path("worklist/", views.worklist, name="worklist"),
    path("notices/review/", views.notice_review, name="notice_review"),
    path("notices/<int:pk>/decide/", views.notice_decide, name="notice_decide"),
]
