from django.urls import include, path

urlpatterns = [path("", include("r2_toolkit.toolkit.urls"))]
