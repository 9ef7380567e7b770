"""Writing verified results: one UPDATE per batch, and when the database
refuses a batch, each row alone, so that one bad row costs only itself, in
autocommit mode (a run) and inside a caller's transaction (the migration)."""

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gallery.models import UserImage
from r2_toolkit.core.target import ImageTarget
from r2_toolkit.migrations_r2 import writer

POISON = "users/alice/images/poison.jpg"

REFUSE_POISON = {
    "sqlite": [
        f"""CREATE TRIGGER refuse_poison BEFORE UPDATE ON gallery_userimage
        WHEN NEW.storage_key = '{POISON}'
        BEGIN SELECT RAISE(ABORT, 'poisoned key refused'); END"""
    ],
    "postgresql": [
        f"""CREATE OR REPLACE FUNCTION refuse_poison() RETURNS trigger AS $$
        BEGIN
            IF NEW.storage_key = '{POISON}' THEN
                RAISE EXCEPTION 'poisoned key refused';
            END IF;
            RETURN NEW;
        END $$ LANGUAGE plpgsql""",
        """CREATE TRIGGER refuse_poison BEFORE UPDATE ON gallery_userimage
        FOR EACH ROW EXECUTE FUNCTION refuse_poison()""",
    ],
}
DROP = {
    "sqlite": ["DROP TRIGGER IF EXISTS refuse_poison"],
    "postgresql": [
        "DROP TRIGGER IF EXISTS refuse_poison ON gallery_userimage",
        "DROP FUNCTION IF EXISTS refuse_poison()",
    ],
}


@pytest.fixture
def refusing_database():
    with connection.cursor() as cursor:
        for sql in REFUSE_POISON[connection.vendor]:
            cursor.execute(sql)
    yield
    with connection.cursor() as cursor:
        for sql in DROP[connection.vendor]:
            cursor.execute(sql)


def values(key):
    return writer.Values(key, f"https://media.example.com/{key}", "image/jpeg", 4, 3, 99)


def write_three_with_one_poisoned():
    user = get_user_model().objects.create(username="alice")
    rows = [UserImage.objects.create(user=user, image=f"legacy/{n}.jpg") for n in range(3)]
    keys = [f"users/alice/images/{n}.jpg" for n in range(3)]
    keys[1] = POISON
    refused = writer.write(
        ImageTarget.resolve(),
        {row.pk: values(key) for row, key in zip(rows, keys, strict=True)},
    )
    return rows, refused


def assert_only_the_poisoned_row_refused(rows, refused):
    assert list(refused) == [rows[1].pk]
    assert "poisoned key refused" in refused[rows[1].pk]
    stored = {row.pk: row for row in UserImage.objects.all()}
    assert stored[rows[0].pk].storage_key == "users/alice/images/0.jpg"
    assert stored[rows[0].pk].size_bytes == 99
    assert stored[rows[1].pk].storage_key is None, "the refused row is untouched"
    assert stored[rows[2].pk].public_url == "https://media.example.com/users/alice/images/2.jpg"


@pytest.mark.django_db(transaction=True)
def test_a_refused_row_costs_only_itself_in_autocommit(refusing_database):
    assert_only_the_poisoned_row_refused(*write_three_with_one_poisoned())


@pytest.mark.django_db
def test_a_refused_row_costs_only_itself_inside_a_transaction(refusing_database):
    assert_only_the_poisoned_row_refused(*write_three_with_one_poisoned())
    assert UserImage.objects.count() == 3, "the caller's transaction is still usable"


@pytest.mark.django_db
@pytest.mark.parametrize("joined", [True, False], ids=["values join", "case"])
def test_both_forms_of_the_update_write_the_same_rows(monkeypatch, joined):
    # The VALUES join where the database has it, CASE per column elsewhere:
    # both must write every field of every row of the batch, and only those.
    if joined and not writer.joins_values(connection):
        pytest.skip("this database has no UPDATE ... FROM (VALUES ...)")
    monkeypatch.setattr(writer, "joins_values", lambda connection: joined)
    user = get_user_model().objects.create(username="alice")
    rows = [UserImage.objects.create(user=user, image=f"legacy/{n}.jpg") for n in range(4)]
    batch = {row.pk: values(f"users/alice/images/{n}.jpg") for n, row in enumerate(rows[:3])}
    assert writer.write(ImageTarget.resolve(), batch) == {}
    stored = {row.pk: row for row in UserImage.objects.all()}
    for n, row in enumerate(rows[:3]):
        got = stored[row.pk]
        assert got.storage_key == f"users/alice/images/{n}.jpg"
        assert got.public_url == f"https://media.example.com/users/alice/images/{n}.jpg"
        assert (got.mime_type, got.width, got.height, got.size_bytes) == ("image/jpeg", 4, 3, 99)
    assert stored[rows[3].pk].storage_key is None, "a row outside the batch is untouched"


# Any text a key or URL may hold (no NUL: neither database stores it in a
# varchar), any size the integer columns hold: written exactly, as parameters.
texts = st.text(st.characters(blacklist_characters="\x00", codec="utf-8"), max_size=100)


@pytest.mark.django_db
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(keys=st.lists(texts, min_size=1, max_size=5), size=st.integers(0, 2**31 - 1))
def test_the_batch_update_writes_any_values_exactly(keys, size):
    UserImage.objects.all().delete()
    user, _ = get_user_model().objects.get_or_create(username="alice")
    rows = [UserImage.objects.create(user=user, image=f"legacy/{n}.jpg") for n in range(len(keys))]
    batch = {
        row.pk: writer.Values(key, f"https://m.example/{key}"[:200], key[:100], 1, 2, size)
        for row, key in zip(rows, keys, strict=True)
    }
    assert writer.write(ImageTarget.resolve(), batch) == {}
    for row in UserImage.objects.filter(pk__in=batch):
        expected = batch[row.pk]
        assert (row.storage_key, row.public_url, row.mime_type) == (
            expected.storage_key,
            expected.public_url,
            expected.mime_type,
        )
        assert (row.width, row.height, row.size_bytes) == (1, 2, size)
