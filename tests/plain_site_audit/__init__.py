"""A plain Django site for r2_audit: an ``ImageField(upload_to="photos/")``
and a ``FileField(upload_to="docs/")``, no record model, the reference app
not installed. Its settings are only what docs/install.md asks for."""
