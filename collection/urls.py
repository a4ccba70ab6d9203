from django.urls import path

from . import views

app_name = "collection"

urlpatterns = [
    path("worklist/", views.worklist, name="worklist"),
]
