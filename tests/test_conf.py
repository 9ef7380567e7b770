"""The R2_TOOLKIT settings contract: values cast once, in one place, for every
consumer; unknown and removed keys reported; bad values named with the fix."""

import types
import typing

import pytest
from django.core import checks as django_checks
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from hypothesis import given
from hypothesis import strategies as st

from r2_toolkit.checks.registry import REGISTRY
from r2_toolkit.core.conf import SETTINGS, ToolkitSettings, toolkit_settings
from r2_toolkit.toolkit.introspect import config_report


def configure(settings, **values):
    settings.R2_TOOLKIT = {**settings.R2_TOOLKIT, **values}


def test_comma_separated_origins_are_one_list_for_every_consumer(settings):
    configure(settings, CORS_ORIGINS="https://a.example, https://b.example,")
    assert toolkit_settings.CORS_ORIGINS == ("https://a.example", "https://b.example")
    report = config_report()
    assert report["toolkit"]["cors_origins"] == ["https://a.example", "https://b.example"]


def test_numbers_written_as_strings_are_numbers(settings):
    configure(settings, HEALTH_TTL="7.5", BACKFILL_WORKERS="32")
    assert toolkit_settings.HEALTH_TTL == 7.5
    assert toolkit_settings.BACKFILL_WORKERS == 32


@pytest.mark.parametrize(
    "key, value, words",
    [
        ("HEALTH_TTL", "soon", "expected a number"),
        ("BACKFILL_WORKERS", 0, "expected at least 1"),
        ("BACKFILL_BATCH_SIZE", 5000, "expected at most 1000"),
        ("IMAGE_MODEL", "UserImage", 'expected "app_label.ModelName"'),
        ("CORS_ORIGINS", 42, "expected a list of strings"),
        ("FIELD_MAP", {"url": "cdn_url"}, "unknown reference names ['url']"),
    ],
)
def test_a_value_that_cannot_be_cast_names_key_value_and_fix(settings, key, value, words):
    configure(settings, **{key: value})
    with pytest.raises(ImproperlyConfigured) as raised:
        getattr(toolkit_settings, key)
    message = str(raised.value)
    assert f'R2_TOOLKIT["{key}"] is {value!r}' in message and words in message
    assert "set it like" in message


def test_unknown_key_is_a_warning_naming_the_closest_key(settings):
    configure(settings, HEALTH_TLL=3)
    (problem,) = toolkit_settings.problems()
    assert problem.level == "warning" and problem.id == "r2.settings.unknown_key"
    assert "'HEALTH_TLL'" in problem.message and "Did you mean 'HEALTH_TTL'?" in problem.hint


def test_removed_key_is_an_error_that_names_its_replacement(settings):
    configure(settings, BACKFILL_AFTER_MIGRATION=("gallery", "0002_r2_columns"))
    (problem,) = toolkit_settings.problems()
    assert problem.level == "error" and problem.id == "r2.settings.removed_key"
    assert "r2_backfill --make-migration APP_LABEL" in problem.hint


def test_problems_reach_djangos_system_checks_on_every_command(settings):
    configure(settings, HEALTH_TLL=3, HEALTH_TIMEOUT="x")
    messages = django_checks.run_checks(tags=["r2"])
    ids = {m.id for m in messages}
    assert {"r2.settings.unknown_key", "r2.settings.invalid_value"} <= ids
    levels = {m.id: m.level for m in messages}
    assert levels["r2.settings.invalid_value"] == django_checks.ERROR


def test_problems_reach_r2_check(settings):
    configure(settings, SILENCD=["r2.settings.public_domain"])
    result = REGISTRY["r2.settings.toolkit"].fn(None)
    assert result.status == "warn" and "Did you mean 'SILENCED'?" in result.hint


def test_defaults_cast_cleanly_and_the_reference_settings_have_no_problems():
    for name in SETTINGS:
        getattr(toolkit_settings, name)
    assert toolkit_settings.problems() == []


def is_a(value, hint):
    """Whether ``value`` is of the annotation ``hint`` (the few forms the contract uses)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return any(is_a(value, arg) for arg in args)
    if origin is typing.Literal:
        return value in args
    if origin is tuple:
        return isinstance(value, tuple) and all(is_a(item, args[0]) for item in value)
    if origin is dict:
        return isinstance(value, dict) and all(
            is_a(k, args[0]) and is_a(v, args[1]) for k, v in value.items()
        )
    if hint is type(None):
        return value is None
    return isinstance(value, hint) and not (hint is int and isinstance(value, bool))


def test_the_settings_contract_declares_every_key_with_the_type_it_casts_to():
    hints = typing.get_type_hints(ToolkitSettings)
    assert set(hints) == set(SETTINGS)
    for name, spec in SETTINGS.items():
        assert is_a(spec.cast(spec.default), hints[name]), name
    assert is_a(SETTINGS["HEALTH_PROBE"].cast({"default": "list"}), hints["HEALTH_PROBE"])
    assert is_a(SETTINGS["FIELD_MAP"].cast({"public_url": "cdn_url"}), hints["FIELD_MAP"])
    assert is_a(SETTINGS["TOKEN"].cast("secret"), hints["TOKEN"])


@given(st.lists(st.text(alphabet=st.characters(blacklist_characters=","), max_size=20)))
def test_a_list_and_its_comma_separated_spelling_cast_alike(items):
    cast = SETTINGS["CORS_ORIGINS"].cast
    assert cast(items) == cast(",".join(items))
    assert all(item == item.strip() and item for item in cast(items))


def test_r2_check_prints_a_crashed_checks_traceback_only_when_asked(settings, capsys, monkeypatch):
    secret = "crash-secret-0123456789abcdef"
    settings.AWS_SECRET_ACCESS_KEY = secret
    check = REGISTRY["r2.settings.toolkit"]

    def crash(ctx):
        raise RuntimeError(f"boom with {secret}")

    monkeypatch.setitem(REGISTRY, check.id, check.__class__(**{**check.__dict__, "fn": crash}))
    for args, traced in ([], False), (["-v", "3"], True), (["--traceback"], True):
        with pytest.raises(SystemExit):
            call_command("r2_check", "--only", check.id, *args)
        out, err = capsys.readouterr()
        assert "could not complete: RuntimeError" in out
        assert ("Traceback (most recent call last)" in err) is traced
        assert secret not in out + err
