"""The toolkit's read-only endpoints: include("toolkit.urls")."""

urlpatterns = []
