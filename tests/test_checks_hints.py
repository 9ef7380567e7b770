"""Every command a check's hint shows is safe to paste, whatever the values
in it (object keys are chosen by whoever uploads); and no check's text names
this repository's own environment variables or demo app."""

import ast
import inspect
import json
import re
import shlex
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from r2_toolkit.checks import commands
from r2_toolkit.checks.context import CheckContext
from r2_toolkit.checks.registry import REGISTRY, select
from r2_toolkit.checks.runner import evaluate, run_checks
from r2_toolkit.core.shell import command, manage

CHECKS_DIR = Path(commands.__file__).parent
# issue 18, defect 2: this key, pasted from the hint, created the file PWNED.
DEFECT_KEY = "users/x/images/a.jpg;touch${IFS}PWNED;#.jpg"
HOSTILE = [
    DEFECT_KEY,
    "$(touch PWNED)",
    "`touch PWNED`",
    'it\'s a "quoted" name',
    "two words",
    "line\nbreak",
    "--endpoint-url=http://evil.example",
    "a|b&c>d<e*?[x]{y}~!\\",
    "-",
    "'",
]
values = st.one_of(st.sampled_from(HOSTILE), st.text(min_size=1))

# Each command builder, called with hostile values, and the argv it must parse to.
CASES = {
    "migrate": (
        lambda a, b, c, d, e: commands.migrate(a, b, fake=True),
        lambda a, b, c, d, e: ["python", "manage.py", "migrate", "--fake", a, b],
    ),
    "makemigrations": (
        lambda a, b, c, d, e: commands.makemigrations(a),
        lambda a, b, c, d, e: ["python", "manage.py", "makemigrations", a],
    ),
    "rewrite_metadata": (
        lambda a, b, c, d, e: commands.rewrite_metadata(a, b, c, d, e),
        lambda a, b, c, d, e: [
            "aws",
            "s3",
            "cp",
            f"s3://{a}/{b}",
            f"s3://{a}/{b}",
            "--metadata-directive",
            "REPLACE",
            "--content-type",
            d,
            "--cache-control",
            e,
            "--endpoint-url",
            c,
        ],  # fmt: skip
    ),
    "remove_object": (
        lambda a, b, c, d, e: commands.remove_object(a, b, c),
        lambda a, b, c, d, e: ["aws", "s3", "rm", f"s3://{a}/{b}", "--endpoint-url", c],
    ),
    "put_bucket_cors": (
        lambda a, b, c, d, e: commands.put_bucket_cors(a, [{"AllowedOrigins": [b, d]}], c),
        lambda a, b, c, d, e: [
            "aws",
            "s3api",
            "put-bucket-cors",
            "--bucket",
            a,
            "--endpoint-url",
            c,
            "--cors-configuration",
            json.dumps({"CORSRules": [{"AllowedOrigins": [b, d]}]}),
        ],  # fmt: skip
    ),
    "wrangler_create_bucket": (
        lambda a, b, c, d, e: commands.wrangler_create_bucket(a),
        lambda a, b, c, d, e: ["wrangler", "r2", "bucket", "create", a],
    ),
    "wrangler_set_cors": (
        lambda a, b, c, d, e: commands.wrangler_set_cors(a, b),
        lambda a, b, c, d, e: ["wrangler", "r2", "bucket", "cors", "set", a, "--file", b],
    ),
    "wrangler_list_cors": (
        lambda a, b, c, d, e: commands.wrangler_list_cors(a),
        lambda a, b, c, d, e: ["wrangler", "r2", "bucket", "cors", "list", a],
    ),
    "curl_preflight": (
        lambda a, b, c, d, e: commands.curl_preflight(a, b, c),
        lambda a, b, c, d, e: [
            "curl",
            "-i",
            "-X",
            "OPTIONS",
            "-H",
            f"Origin: {b}",
            "-H",
            f"Access-Control-Request-Method: {c}",
            a,
        ],  # fmt: skip
    ),
}


def test_every_command_builder_is_held_to_the_property_below():
    public = {
        name
        for name, fn in inspect.getmembers(commands, inspect.isfunction)
        if fn.__module__ == commands.__name__ and not name.startswith("_")
    }
    assert public == set(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("hostile", HOSTILE)
def test_each_hostile_value_is_exactly_one_argument(name, hostile):
    build, argv = CASES[name]
    fill = [hostile, f"{hostile}/2", f"{hostile}3", f"x{hostile}", f"{hostile}!"]
    assert shlex.split(build(*fill)) == argv(*fill)


@pytest.mark.parametrize("name", sorted(CASES))
@given(a=values, b=values, c=values, d=values, e=values)
def test_any_values_stay_one_argument_each(name, a, b, c, d, e):
    build, argv = CASES[name]
    assert shlex.split(build(a, b, c, d, e)) == argv(a, b, c, d, e)


@given(st.lists(values, min_size=1))
def test_command_and_manage_quote_every_word(words):
    assert shlex.split(command(*words)) == words
    assert shlex.split(manage(*words)) == ["python", "manage.py", *words]


def test_no_check_formats_a_command_itself():
    """Every command a hint shows comes from checks/commands.py: no f-string or
    .format() elsewhere in checks/ puts a value into a command line."""
    command_words = re.compile(r"\b(aws|wrangler|curl)\s|manage\.py|s3://")
    offenders = []
    for path in sorted(CHECKS_DIR.glob("*.py")):
        if path.name == "commands.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.JoinedStr) and any(
                isinstance(v, ast.FormattedValue) for v in node.values
            ):
                text = "".join(
                    v.value for v in node.values if isinstance(v, ast.Constant) and v.value
                )
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "format"
                and isinstance(node.func.value, ast.Constant)
            ):
                text = str(node.func.value.value)
            else:
                continue
            if command_words.search(text):
                offenders.append(f"{path.name}:{node.lineno}: {text!r}")
    assert offenders == []


# --- issue 18, defect 2, end to end ------------------------------------------------------
def commands_in(hint):
    """The commands a hint shows, between backticks, as an operator copies them."""
    return re.findall(r"`([^`]+)`", hint)


@pytest.mark.parametrize(
    "key",
    [
        DEFECT_KEY,
        "users/x/images/$(touch PWNED).jpg",
        'users/x/images/it\'s a "quoted" photo.jpg',
    ],
)
def test_pasting_the_metadata_hint_for_a_hostile_key_runs_nothing(moto_bucket, tmp_path, key):
    moto_bucket.client.put_object(Bucket=moto_bucket.name, Key=key, Body=b"\xff\xd8\xff")
    result = evaluate(REGISTRY["r2.connectivity.object_metadata"], CheckContext("default", 10))
    assert result.status == "warn" and key in result.message
    pasted = commands_in(result.hint)[0]
    uri = f"s3://{moto_bucket.name}/{key}"

    # Paste it into a real shell, with an `aws` that only records its arguments.
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    (fake_bin / "aws").write_text('#!/bin/sh\nprintf "%s\\n" "$@" > "$PWD/argv.txt"\n')
    (fake_bin / "aws").chmod(0o755)
    subprocess.run(
        ["bash", "-c", pasted], cwd=tmp_path, env={"PATH": f"{fake_bin}:/usr/bin:/bin"}, check=False
    )
    assert not (tmp_path / "PWNED").exists()
    assert (tmp_path / "argv.txt").read_text().splitlines()[2:4] == [uri, uri]
    assert shlex.split(pasted)[3:5] == [uri, uri]


# --- no environment variable or demo app of this repository ----------------------------
ENV_NAME = re.compile(r"R2_TOOLKIT_[A-Z]|DATABASE_URL|DJANGO_(SECRET|DEBUG|ALLOWED)")
# What the default test settings configure (the demo app as the record model):
# naming a configured model, table or migration is reporting, not hard-coding.
CONFIGURED = re.compile(
    r"gallery(\.[A-Z]\w*(\.\w+)?|_\w+|\.\d{4}_\w+)|(?<=makemigrations )gallery|(?<=migrate )gallery"
)


def test_no_check_text_names_an_environment_variable_or_the_demo_app():
    for check in REGISTRY.values():
        text = " ".join((check.title, check.catches, check.fix))
        assert not ENV_NAME.search(text), check.id
        assert "gallery" not in text.lower(), check.id


@pytest.mark.django_db
@pytest.mark.parametrize("origins", [["http://localhost:8000"], [], ["HTTP://Bad.example/x"]])
def test_no_result_names_an_environment_variable_or_the_demo_app(settings, moto_bucket, origins):
    settings.R2_TOOLKIT = {**settings.R2_TOOLKIT, "CORS_ORIGINS": origins}
    results = run_checks(select(), aliases=["default"], timeout=30)
    for result in results:
        text = f"{result.message} {result.hint}"
        assert not ENV_NAME.search(text), (result.id, text)
        assert "gallery" not in CONFIGURED.sub("", text).lower(), (result.id, text)


@pytest.mark.django_db
def test_a_hostile_storage_alias_stays_one_argument_in_the_sample_hint(settings, moto_bucket):
    # STORAGES aliases are any string; the hint names the alias the run was about.
    from django.contrib.auth import get_user_model

    from gallery.models import UserImage

    alias = "media $(touch PWNED);#"
    settings.STORAGES = {**settings.STORAGES, alias: settings.STORAGES["default"]}
    user = get_user_model().objects.create(username="alice")
    UserImage.objects.create(user=user, image="users/alice/images/gone.jpg")
    result = evaluate(REGISTRY["r2.objects.sample"], CheckContext(alias, 10))
    assert result.status == "fail"
    backfill, audit = commands_in(result.hint)
    assert shlex.split(backfill) == [
        "python", "manage.py", "r2_backfill", "--storage", alias,
        "--field", "gallery.UserImage.image",
    ]  # fmt: skip
    assert shlex.split(audit) == ["python", "manage.py", "r2_audit", "--storage", alias]
