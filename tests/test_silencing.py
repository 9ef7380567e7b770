"""Silencing: R2_TOOLKIT["SILENCED"] and `r2_check --skip ID` report a check as
skipped with the reason, everywhere the checks run (r2_check, Django's system
checks, /debug/r2/checks); unknown ids are named."""

import json

import pytest
from django.core import checks as django_checks
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from r2_toolkit.checks.registry import REGISTRY, select
from r2_toolkit.checks.runner import SILENCED_REASON, run_checks
from tests.support.servers import ROOT, manage_env, run_manage

pytestmark = pytest.mark.django_db

OVERWRITE = "r2.storages.file_overwrite"


def silence(settings, *ids):
    settings.R2_TOOLKIT = {**settings.R2_TOOLKIT, "SILENCED": list(ids)}


def test_a_silenced_check_is_reported_as_skip_with_the_reason_and_not_run(settings):
    settings.AWS_S3_FILE_OVERWRITE = True  # the fault the team accepts
    (loud,) = run_checks([REGISTRY[OVERWRITE]], aliases=["default"])
    assert loud.status == "fail"
    silence(settings, OVERWRITE)
    (quiet,) = run_checks([REGISTRY[OVERWRITE]], aliases=["default"])
    assert quiet.status == "skip"
    assert quiet.message == SILENCED_REASON == "Silenced by R2_TOOLKIT['SILENCED']."
    assert quiet.details == {"storage": "default"}


def test_silencing_one_check_keeps_the_gate_strict_about_the_rest(settings):
    settings.AWS_S3_FILE_OVERWRITE = True
    settings.AWS_S3_URL_PROTOCOL = "https"  # another fault, not silenced
    silence(settings, OVERWRITE)
    results = {r.id: r for r in run_checks(select(only=[OVERWRITE, "r2.settings.url_protocol"]))}
    assert results[OVERWRITE].status == "skip"
    assert results["r2.settings.url_protocol"].status == "fail"


def test_silenced_checks_give_no_system_check_message(settings):
    settings.AWS_S3_FILE_OVERWRITE = True
    ids = {m.id for m in django_checks.run_checks(tags=["r2"], include_deployment_checks=True)}
    assert OVERWRITE in ids
    silence(settings, OVERWRITE)
    ids = {m.id for m in django_checks.run_checks(tags=["r2"], include_deployment_checks=True)}
    assert OVERWRITE not in ids


def test_djangos_own_silenced_system_checks_silences_an_id_there(settings):
    settings.AWS_S3_FILE_OVERWRITE = True
    settings.SILENCED_SYSTEM_CHECKS = [OVERWRITE]
    messages = django_checks.run_checks(tags=["r2"], include_deployment_checks=True)
    assert all(m.is_silenced() for m in messages if m.id == OVERWRITE)


def test_an_unknown_silenced_id_is_named_by_the_toolkit_settings_check(settings):
    silence(settings, "r2.storages.file_overwrit", OVERWRITE)
    result = REGISTRY["r2.settings.toolkit"].fn(None)
    assert result.status == "warn"
    assert "'r2.storages.file_overwrit', which is no check id" in result.message
    assert f"Did you mean '{OVERWRITE}'?" in result.hint
    ids = {m.id for m in django_checks.run_checks(tags=["r2"])}
    assert "r2.settings.unknown_silenced" in ids


def test_debug_checks_view_reports_silenced_checks_as_skipped(settings):
    settings.AWS_S3_FILE_OVERWRITE = True
    settings.R2_TOOLKIT = {**settings.R2_TOOLKIT, "TOKEN": "silencing-test-token"}
    silence(settings, OVERWRITE)
    settings.AWS_S3_ENDPOINT_URL = "http://127.0.0.1:9"  # no bucket needed for this one
    response = Client().get("/debug/r2/checks", HTTP_AUTHORIZATION="Bearer silencing-test-token")
    entry = next(c for c in json.loads(response.content)["checks"] if c["id"] == OVERWRITE)
    assert entry["status"] == "skip" and entry["message"] == SILENCED_REASON


def test_skip_by_id_is_reported_as_skip_and_unknown_ids_exit_2(settings, capsys):
    settings.AWS_S3_FILE_OVERWRITE = True
    call_command("r2_check", "--only", OVERWRITE, "--skip", OVERWRITE, "--format", "json")
    (entry,) = json.loads(capsys.readouterr().out)["checks"]
    assert entry["status"] == "skip" and entry["message"] == "Skipped by r2_check --skip."
    with pytest.raises(CommandError) as bad:
        call_command("r2_check", "--skip", "r2.storages.nope")
    assert bad.value.returncode == 2
    assert "unknown group or check id r2.storages.nope" in str(bad.value)


def test_r2_check_honours_silenced_from_the_settings_module(moto_bucket, tmp_path):
    env = manage_env(moto_bucket.server, moto_bucket.name, tmp_path)
    assert run_manage("migrate", "-v0", env=env).returncode == 0
    # The environment's own settings module, with one accepted fault silenced.
    module = tmp_path / "silenced_settings.py"
    module.write_text(
        "from settings.local import *  # noqa\n"
        "AWS_S3_FILE_OVERWRITE = True\n"
        f"R2_TOOLKIT = {{**R2_TOOLKIT, 'SILENCED': ['{OVERWRITE}']}}\n"
    )
    env.update(DJANGO_SETTINGS_MODULE="silenced_settings", PYTHONPATH=f"{tmp_path}:{ROOT}")
    result = run_manage("r2_check", "--format", "json", env=env)
    doc = json.loads(result.stdout)
    entry = next(c for c in doc["checks"] if c["id"] == OVERWRITE)
    assert entry["status"] == "skip" and "SILENCED" in entry["message"]
    assert result.returncode == 0, [c for c in doc["checks"] if c["status"] == "fail"]
