from django.urls import include, path

urlpatterns = [path("ops/", include("r2_toolkit.toolkit.urls"))]
