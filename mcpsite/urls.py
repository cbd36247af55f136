from django.contrib import admin
from django.urls import path

from sessions_app import views

urlpatterns = [
    path("", views.landing, name="landing"),
    path("health", views.health, name="health"),
    path("metrics", views.metrics, name="metrics"),
    path("admin/", admin.site.urls),
]
