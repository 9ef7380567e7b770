"""The core the checks and the backfill share: the ``R2_TOOLKIT`` settings
(:mod:`.conf`), the image-model target (:mod:`.target`), the key scheme
(:mod:`.keys`), which STORAGES aliases are S3 (:mod:`.storage`), error wording
(:mod:`.errors`), redaction (:mod:`.redact`), plain HTTP (:mod:`.http`), and
every use of another library's private API (:mod:`.compat`).

Nothing here imports ``checks``, ``migrations_r2`` or the rest of ``toolkit``
(the import contracts in ``pyproject.toml`` enforce it).
"""
