"""Keys as operators have them: spaces, +, %, reserved URL characters, NFC
and NFD spellings of one name, astral characters. The database streams them
in the order S3 lists them (UTF-8 byte order), and the merge pairs every row
with its own object, on SQLite and on PostgreSQL."""

import unicodedata

import pytest
from django.contrib.auth import get_user_model
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gallery.models import UserImage
from r2_toolkit.migrations_r2.audit import AuditOptions, run_audit
from r2_toolkit.migrations_r2.bucket import open_bucket
from r2_toolkit.migrations_r2.listing import Listed, Ref, byte_ordered, merge_join, stream_rows
from tests.conftest import reset_storage_cache
from tests.support.audit import migrated_rows, put_objects

pytestmark = pytest.mark.django_db

NFC = unicodedata.normalize("NFC", "café")
NFD = unicodedata.normalize("NFD", "café")
TRICKY = [
    "B.jpg",
    "a.jpg",
    "a b.jpg",
    "a+b.jpg",
    "a%20b.jpg",
    "a%2Fb.jpg",
    "_x.jpg",
    "~x.jpg",
    "Zebra.jpg",
    f"{NFC}.jpg",
    f"{NFD}.jpg",
    "\u00a0nbsp.jpg",
    "ß.jpg",
    "中文.jpg",
    "\U0001f600.jpg",  # astral: after U+FFFF in byte order, before it in UTF-16
    "\uff01.jpg",
    "a&b=c?d#e.jpg",
]
name_text = st.text(
    alphabet=st.sampled_from(
        list("abcXYZ019 +%&=?#~!'()*,;@$[]._-")
        + ["é", "\u0301", "ß", "中", "😀", "\uff01"]  # é, or e + combining acute
    ),
    min_size=1,
    max_size=12,
).filter(lambda name: name.strip(".") != "")


def key_of(name):
    return f"users/alice/images/{name}"


def owner():
    return get_user_model().objects.get_or_create(username="alice")[0]


def test_the_database_streams_tricky_keys_in_s3s_byte_order():
    keys = [key_of(name) for name in TRICKY]
    urls = lambda key: f"https://cdn.test/{key}"  # noqa: E731
    UserImage.objects.bulk_create(migrated_rows(owner(), keys, urls))

    queryset = byte_ordered(UserImage.objects.all(), "storage_key")
    streamed = [key for (key,) in stream_rows(queryset, ["storage_key"], chunk_size=5)]

    assert streamed == sorted(keys, key=lambda key: key.encode("utf-8"))
    assert streamed.index(key_of(f"{NFD}.jpg")) < streamed.index(key_of(f"{NFC}.jpg"))


@given(
    objects=st.lists(st.text(max_size=4), unique=True, max_size=30),
    refs=st.lists(st.text(max_size=4), max_size=30),
)
def test_merge_join_pairs_exactly_the_keys_both_sides_have(objects, refs):
    listed = [Listed(key, 1, "e", None) for key in sorted(objects)]
    references = [Ref(key) for key in sorted(refs)]

    joined = list(merge_join(listed, references))

    assert [key for key, _, _ in joined] == sorted(set(objects) | set(refs))
    for key, obj, group in joined:
        assert (obj is not None) == (key in objects)
        assert len(group) == refs.count(key)


def audit_now():
    reset_storage_cache()
    result = run_audit(AuditOptions(grace=0))
    kinds = {}
    for finding in result.findings:
        kinds.setdefault(finding.kind, set()).add(finding.storage_key)
    return result, kinds


def test_nfc_and_nfd_spellings_each_pair_with_their_own_object(moto_bucket):
    client, bucket = moto_bucket.client, moto_bucket.name
    keys = [key_of(name) for name in TRICKY]
    put_objects(client, bucket, keys)
    reset_storage_cache()
    urls = open_bucket(1).public_url
    UserImage.objects.bulk_create(migrated_rows(owner(), keys, urls))

    result, kinds = audit_now()
    assert kinds == {} and result.rows == len(keys) and result.objects == len(keys)

    client.delete_object(Bucket=bucket, Key=key_of(f"{NFD}.jpg"))
    result, kinds = audit_now()
    assert kinds == {"missing_object": {key_of(f"{NFD}.jpg")}}


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    entries=st.dictionaries(
        name_text, st.sampled_from(["both", "object", "row"]), min_size=1, max_size=12
    )
)
def test_any_keys_pair_up_and_only_the_real_differences_are_found(
    make_bucket, moto_server, entries
):
    UserImage.objects.all().delete()
    bucket = make_bucket(moto_server, cors=False, public=False)
    with_objects = [key_of(n) for n, side in entries.items() if side in ("both", "object")]
    with_rows = [key_of(n) for n, side in entries.items() if side in ("both", "row")]
    put_objects(bucket.client, bucket.name, with_objects, threads=4)
    reset_storage_cache()
    UserImage.objects.bulk_create(migrated_rows(owner(), with_rows, open_bucket(1).public_url))

    result, kinds = audit_now()

    expected = {
        "missing_object": set(with_rows) - set(with_objects),
        "orphan_object": set(with_objects) - set(with_rows),
    }
    assert kinds == {kind: keys for kind, keys in expected.items() if keys}
    assert result.rows == len(with_rows) and result.objects == len(with_objects)


def test_a_stream_out_of_byte_order_stops_the_merge_in_one_sentence():
    from r2_toolkit.migrations_r2.listing import OutOfOrder, in_order

    listed = [Listed("b", 1, "e", None), Listed("a", 1, "e", None)]
    with pytest.raises(OutOfOrder) as raised:
        list(in_order(listed, "the bucket's listing"))
    assert str(raised.value).startswith("the bucket's listing came out of byte order ('b' before")
    assert "\n" not in str(raised.value)
