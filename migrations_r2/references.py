"""What references an object in the audited bucket, and which keys are the
audited storage's own.

An object is referenced when any row of any installed model names it: every
FileField and ImageField whose storage is an S3 storage on the same endpoint
and bucket (its value joined to that storage's location is the key), and the
image model's ``storage_key`` column (a full key). References are streamed
in byte order (``listing.byte_ordered``) so they merge against the listing.

The scope: keys under the audited storage's location, except the toolkit's
probe prefix (r2_check's round trip and the backfill's If-None-Match probe
write there) and the locations of other STORAGES aliases nested inside it
(their objects are theirs to audit, with ``--storage ALIAS``).
"""

from dataclasses import dataclass

from django.apps import apps
from django.conf import settings
from django.core.files.storage import storages
from django.db import router
from django.db.models import FileField
from django.utils.module_loading import import_string

from r2_toolkit.migrations_r2.listing import Ref, byte_ordered, stream_rows
from r2_toolkit.toolkit.core.conf import toolkit_settings
from r2_toolkit.toolkit.core.keys import join_location
from r2_toolkit.toolkit.core.storage import S3_BACKEND, s3_aliases

IN_CHUNK = 500  # values per IN (...) when re-checking keys before a delete


def identity(storage):
    """(endpoint, bucket) of an S3 storage, else None. Works through
    ``default_storage``'s lazy wrapper, which forwards isinstance."""
    if not isinstance(storage, import_string(S3_BACKEND)):
        return None
    return (storage.endpoint_url or "", storage.bucket_name)


@dataclass(frozen=True)
class Source:
    """One column whose values name objects: ``join_location(location, value)``."""

    model: type
    field: str  # the column's attribute name
    location: str

    @property
    def label(self):
        return f"{self.model._meta.label}.{self.field}"

    @property
    def prefix(self):
        return join_location(self.location, "")

    def queryset(self):
        # The base manager: a default manager that hides rows (soft deletes)
        # must not make their objects look unreferenced.
        return self.model._base_manager.using(router.db_for_read(self.model))

    def refs(self, chunk_size, within=""):
        """Ref per row naming a key under ``within``, in byte order."""
        return key_refs(self.queryset(), self.field, self.prefix, chunk_size, within)

    def referenced(self, keys):
        """The subset of ``keys`` some row of this column names, now."""
        names = {key[len(self.prefix) :]: key for key in keys if key.startswith(self.prefix)}
        found = set()
        pending = list(names)
        for start in range(0, len(pending), IN_CHUNK):
            chunk = pending[start : start + IN_CHUNK]
            rows = self.queryset().filter(**{f"{self.field}__in": chunk})
            found.update(names[name] for name in rows.values_list(self.field, flat=True))
        return found


def key_refs(queryset, field, prefix, chunk_size, within="", columns=None, row=None):
    """Refs (``prefix`` + the column's value) from ``queryset`` for keys under
    ``within``, in byte order; narrowed in SQL. With ``columns`` (``field``
    first) and ``row``, each Ref carries ``row(values)``."""
    if within.startswith(prefix):
        rest = within[len(prefix) :]
        if rest:
            queryset = queryset.filter(**{f"{field}__startswith": rest})
    elif not prefix.startswith(within):
        return iter(())  # this column's keys all lie outside the scope
    ordered = byte_ordered(queryset, field)
    columns = columns or (field,)
    rows = stream_rows(ordered, columns, chunk_size)
    if row is None:
        return (Ref(prefix + values[0]) for values in rows)
    return (Ref(prefix + values[0], row(values)) for values in rows)


def file_field_sources(bucket):
    """A Source for every concrete FileField/ImageField whose storage is ``bucket``."""
    ours = identity(bucket.storage)
    found = []
    for model in apps.get_models():
        if model._meta.proxy:
            continue  # its concrete model is listed too
        for field in model._meta.concrete_fields:
            if isinstance(field, FileField) and identity(field.storage) == ours:
                found.append(Source(model, field.attname, field.storage.location or ""))
    return found


@dataclass(frozen=True)
class Scope:
    prefix: str  # the audited storage's location as a key prefix ("" for the bucket)
    excluded: tuple  # prefixes inside it that are not its objects

    def excludes(self, key):
        return key.startswith(self.excluded)


def scope_of(bucket, alias):
    """The Scope of ``bucket`` (the storage ``alias``)."""
    prefix = join_location(bucket.location, "")
    probe = toolkit_settings.PROBE_PREFIX
    excluded = {probe, prefix + probe}
    ours = identity(bucket.storage)
    for other in s3_aliases():
        if other == alias:
            continue
        storage = storages.create_storage(settings.STORAGES[other])
        location = join_location(storage.location, "")
        if identity(storage) == ours and location != prefix and location.startswith(prefix):
            excluded.add(location)
    return Scope(prefix, tuple(sorted(excluded)))
