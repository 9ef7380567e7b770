"""A plain Django site for r2_backfill: an ``ImageField(upload_to="photos/")``,
a ``FileField`` and an ImageField keeping its own width/height fields; no
record model, the reference app not installed. Its settings are only what
docs/install.md asks for."""
