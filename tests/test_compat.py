"""Each private API and version-dependent feature the toolkit relies on, in
toolkit.core.compat, exercised on the installed versions: `make test` runs
this at both ends of the supported ranges (noxfile.py), so an upgrade that
moves one of them fails here, by name, not somewhere deep in a check."""

import io

import botocore
import pytest
from botocore.config import Config
from django.core.files.storage import default_storage, storages
from django.core.management.base import OutputWrapper
from django.http import HttpResponse

from r2_toolkit.core import compat


def test_checksum_options_are_passed_exactly_where_botocore_knows_them():
    options = compat.checksum_options(request_checksum_calculation="when_required")
    config = Config(**options)  # never a TypeError, on any supported botocore
    if compat.BOTOCORE_VERSION >= (1, 36):
        assert compat.HAS_FLEXIBLE_CHECKSUMS
        assert config.request_checksum_calculation == "when_required"
    else:
        assert not compat.HAS_FLEXIBLE_CHECKSUMS and options == {}


def test_botocore_version_is_read_as_numbers():
    assert compat.BOTOCORE_VERSION == compat.version_tuple(botocore.__version__)
    assert compat.version_tuple("1.36.0rc1") == (1, 36, 0)


def test_built_storages_are_seen_once_built(settings):
    storage = storages["default"]
    assert compat.built_storage("default") is storage
    default_storage._setup()
    assert compat.built_default_storage() is default_storage._wrapped
    assert compat.built_storage("no-such-alias") is None


def test_raw_stream_is_the_stream_behind_a_commands_output():
    stream = io.StringIO()
    assert compat.raw_stream(OutputWrapper(stream)) is stream
    assert compat.raw_stream(stream) is stream


@pytest.mark.django_db
def test_a_marked_response_is_not_logged_as_an_error(caplog):
    from django.utils.log import log_response

    response = compat.mark_logged(HttpResponse(status=503))
    with caplog.at_level("ERROR", logger="django.request"):
        log_response("Service Unavailable", response=response)
    assert caplog.records == []
