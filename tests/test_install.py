"""The toolkit as a new user meets it: the sdist and wheel built and checked,
the wheel installed into a fresh virtualenv outside this checkout, beside
another project's own pinned versions, a new `django-admin startproject` site
with its own app and field names, and the steps of docs/install.md followed
literally (its code blocks are applied as written). Then `check --deploy
--tag r2`, `r2_check`, the generated one-off migration, `r2_backfill` and
`/healthz` under gunicorn, at both ends of the supported versions.

Runs with `make test-install` (marker `install`); it needs PyPI for the
virtualenvs' packages and the Python versions of the matrix."""

import json
import os
import re
import shutil
import subprocess
import sys
import urllib.request
import zipfile

import pytest

from gallery import emulator
from tests.support.servers import ROOT, start_moto

pytestmark = [pytest.mark.install, pytest.mark.slow, pytest.mark.timeout(900)]

INSTALL_DOC = ROOT / "docs" / "install.md"
SITES = {
    "newest": ("python3.13", ROOT / "constraints" / "newest.txt"),
    "oldest": ("python3.11", ROOT / "constraints" / "oldest.txt"),
}
LIBRARY = {"r2_toolkit/core", "r2_toolkit/toolkit", "r2_toolkit/checks", "r2_toolkit/migrations_r2"}
ORIGIN = "https://app.example.test"
R2_MARKER = "    # The six R2 fields"


def run(*args, cwd, env=None, check=True, timeout=300):
    result = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    if check and result.returncode != 0:
        pytest.fail(
            f"{' '.join(map(str, args))} exited {result.returncode}:\n"
            f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
    return result


def doc_blocks():
    """{target file: (code, append?)} from docs/install.md's fenced blocks whose
    first line names their file (``# mysite/settings.py (append)``)."""
    blocks = {}
    for code in re.findall(r"```python\n(.*?)```", INSTALL_DOC.read_text(), re.S):
        first, _, body = code.partition("\n")
        found = re.fullmatch(r"# (\S+)( \(append\))?", first.strip())
        if found:
            blocks[found.group(1)] = (body, bool(found.group(2)))
    return blocks


def doc_commands():
    return {
        line.split("#")[0].strip()
        for block in re.findall(r"```sh\n(.*?)```", INSTALL_DOC.read_text(), re.S)
        for line in block.splitlines()
        if line.strip()
    }


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    """The sdist and wheel, built from this checkout and passed by twine."""
    out = tmp_path_factory.mktemp("dist")
    run(sys.executable, "-m", "build", "--outdir", out, ROOT, cwd=ROOT, timeout=600)
    files = sorted(out.iterdir())
    run(sys.executable, "-m", "twine", "check", "--strict", *files, cwd=ROOT)
    (wheel,) = [f for f in files if f.suffix == ".whl"]
    assert [f for f in files if f.name.endswith(".tar.gz")], files
    return wheel


def test_the_sdist_is_the_library_source_without_the_tests(dist):
    """The sdist does not ship the tests (they need the repository's site and
    servers; README.md says so): no half of a test suite that cannot run."""
    import tarfile

    (sdist,) = dist.parent.glob("*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = [name.split("/", 1)[1] for name in archive.getnames() if "/" in name]
    assert "core/conf.py" in names and "core/py.typed" in names and "CHANGELOG.md" in names
    assert not [n for n in names if n.split("/")[0] in ("tests", "tools")]
    assert "does not ship the tests" in " ".join((ROOT / "README.md").read_text().split())


def test_the_wheel_ships_the_library_and_nothing_else(dist):
    names = zipfile.ZipFile(dist).namelist()
    top = {"/".join(name.split("/")[:2]) for name in names if ".dist-info/" not in name}
    assert top == LIBRARY
    assert (
        "r2_toolkit/toolkit/templates/r2_toolkit/status.html" in names
    )  # the status page's template
    # The PEP 561 marker in each package: a site's type checker reads the annotations.
    assert {f"{package}/py.typed" for package in LIBRARY} <= set(names)
    # The docs generator is a build tool of this repository (tools/), not the library's.
    assert not [n for n in names if n.endswith("/docs.py") or n.startswith("tools/")]
    metadata = (
        zipfile.ZipFile(dist)
        .read(next(n for n in names if n.endswith(".dist-info/METADATA")))
        .decode()
    )
    requires = [line for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
    runtime = [r for r in requires if "extra ==" not in r]
    pinned = [r for r in requires if "==" in r.split(";")[0]]
    assert runtime and not pinned, pinned
    assert not any(re.search(r"psycopg|gunicorn|dj-database-url", r) for r in runtime)
    assert "Classifier: Framework :: Django :: 4.2" in metadata
    assert "Classifier: Programming Language :: Python :: 3.13" in metadata
    assert "License-Expression: MIT" in metadata
    # The library app ships no migration that depends on a project's (that
    # would break makemigrations for the whole project).
    assert not [n for n in names if n.startswith("migrations_r2/migrations/")]


def test_the_commands_this_test_runs_are_the_ones_the_doc_gives():
    commands = doc_commands()
    for step in STEPS_IN_DOC:
        assert step in commands, f"docs/install.md no longer says `{step}`"


STEPS_IN_DOC = [
    "pip install r2-toolkit",
    "python manage.py makemigrations photos",
    "python manage.py migrate",
    "python manage.py check --deploy --tag r2",
    "python manage.py r2_check",
    "python manage.py r2_backfill --make-migration photos",
]


@pytest.fixture
def bucket():
    server = start_moto()
    name = server.new_bucket_name("install")
    emulator.provision(server.client(), name, origins=[ORIGIN])
    try:
        yield server, name
    finally:
        server.stop()


def write_block(site, target, code, append):
    path = site / target
    if append:
        path.write_text(path.read_text() + "\n\n" + code)
    else:
        path.write_text(code)


def legacy_images(python, site, env, count=3):
    """Legacy rows (no R2 fields yet) with real JPEGs under MEDIA_ROOT."""
    script = f"""
import io, os
from PIL import Image
from django.conf import settings
from django.contrib.auth import get_user_model
from photos.models import Photo
owner = get_user_model().objects.create(username="alice")
os.makedirs(os.path.join(settings.MEDIA_ROOT, "uploads"), exist_ok=True)
for i in range({count}):
    name = f"uploads/legacy-{{i}}.jpg"
    Image.new("RGB", (40 + i, 30), (i * 40, 90, 160)).save(os.path.join(settings.MEDIA_ROOT, name))
    Photo.objects.create(owner=owner, file=name, title=f"photo {{i}}")
"""
    run(python, "manage.py", "shell", "-c", script, cwd=site, env=env)


def migrated_rows(python, site, env):
    script = (
        "import json; from photos.models import Photo; print(json.dumps(list("
        "Photo.objects.order_by('pk').values('object_key','cdn_url','content_type',"
        "'pixel_width','pixel_height','byte_size'))))"
    )
    out = run(python, "manage.py", "shell", "-c", script, cwd=site, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])  # Django 5.2+ may say what it auto-imported


def get(url, timeout=10):
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.status, response.read()


def serve_healthz(gunicorn, site, env):
    port = emulator.free_port()
    process = subprocess.Popen(
        [gunicorn, "mysite.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
        cwd=site,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        emulator.wait_for_port(port, process=process)
        return get(f"http://127.0.0.1:{port}/healthz")
    finally:
        process.terminate()
        process.wait(10)


@pytest.mark.parametrize("end", sorted(SITES))
def test_a_new_site_follows_the_install_doc_and_everything_works(end, dist, bucket, tmp_path):
    python_name, constraints = SITES[end]
    base_python = shutil.which(python_name)
    if base_python is None:
        pytest.fail(f"{python_name} is not on PATH (the matrix needs it; see the Makefile)")
    server, bucket_name = bucket
    venv = tmp_path / "venv"
    run(base_python, "-m", "venv", venv, cwd=tmp_path)
    python, pip = venv / "bin" / "python", venv / "bin" / "pip"
    # The other project's own versions (its constraints), then the wheel beside them.
    run(pip, "install", "--quiet", "-c", constraints, dist, "gunicorn", cwd=tmp_path, timeout=600)

    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"PYTHONPATH", "DJANGO_SETTINGS_MODULE", "VIRTUAL_ENV"}
    }
    site = tmp_path / "site"
    site.mkdir()
    env.update(
        PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        AWS_S3_ENDPOINT_URL=server.endpoint_url,
        AWS_STORAGE_BUCKET_NAME=bucket_name,
        AWS_ACCESS_KEY_ID=server.access_key,
        AWS_SECRET_ACCESS_KEY=server.secret_key,
        AWS_S3_REGION_NAME="us-east-1",
        AWS_S3_CUSTOM_DOMAIN=f"127.0.0.1:{server.port}/{bucket_name}",
        AWS_S3_URL_PROTOCOL="http:",
        MEDIA_ROOT=str(tmp_path / "media"),
        R2_TOOLKIT_CORS_ORIGINS=ORIGIN,
        R2_TOOLKIT_TOKEN="install-test-token",
    )
    run(venv / "bin" / "django-admin", "startproject", "mysite", site, cwd=tmp_path, env=env)
    run(python, "manage.py", "startapp", "photos", cwd=site, env=env)
    where = run(
        python, "-c", "import r2_toolkit.toolkit as t; print(t.__file__)", cwd=site, env=env
    )
    assert where.stdout.startswith(str(venv)), "the toolkit must come from the wheel"
    assert str(ROOT) not in where.stdout

    blocks = doc_blocks()
    assert set(blocks) == {"mysite/settings.py", "photos/models.py", "mysite/urls.py"}
    model_code, _ = blocks["photos/models.py"]
    # First the legacy model, as the project had it before R2: rows whose
    # files are still on disk.
    write_block(site, "photos/models.py", model_code.split(R2_MARKER)[0], append=False)
    for target in ("mysite/settings.py", "mysite/urls.py"):
        write_block(site, target, *blocks[target])
    manage = (python, "manage.py")
    run(*manage, "makemigrations", "photos", cwd=site, env=env)
    run(*manage, "migrate", "-v0", cwd=site, env=env)
    legacy_images(python, site, env)

    # Then the doc's model with the six R2 fields, and its steps in order.
    write_block(site, "photos/models.py", model_code, append=False)
    run(*manage, "makemigrations", "photos", cwd=site, env=env)
    run(*manage, "migrate", "-v0", cwd=site, env=env)
    deploy = run(*manage, "check", "--deploy", "--tag", "r2", cwd=site, env=env)
    assert "ERRORS:" not in deploy.stderr

    gate = run(*manage, "r2_check", "--format", "json", cwd=site, env=env, check=False)
    document = json.loads(gate.stdout)
    failing = [c for c in document["checks"] if c["status"] == "fail"]
    # Before the backfill the only failure is the truth: the rows' own files
    # are not in the bucket yet, and the hint says which command moves them.
    assert gate.returncode == 1 and not document["ok"], gate.stdout
    assert [c["id"] for c in failing] == ["r2.objects.sample"], failing
    assert "r2_backfill" in failing[0]["hint"], failing
    assert server.secret_key not in gate.stdout + gate.stderr

    made = run(*manage, "r2_backfill", "--make-migration", "photos", cwd=site, env=env)
    assert "0003_r2_backfill.py" in made.stdout
    migrated = run(*manage, "migrate", cwd=site, env=env)
    assert "legacy media backfill: uploaded 3," in migrated.stdout, migrated.stdout
    rows = migrated_rows(python, site, env)
    assert all(r["object_key"] and r["content_type"] == "image/jpeg" for r in rows), rows
    keys = {o["Key"] for o in server.client().list_objects_v2(Bucket=bucket_name)["Contents"]}
    assert {r["object_key"] for r in rows} <= keys
    status, body = get(rows[0]["cdn_url"])
    assert status == 200 and body[:2] == b"\xff\xd8"

    again = run(*manage, "r2_backfill", cwd=site, env=env, check=False)
    assert again.returncode == 0, again.stdout + again.stderr

    # After the backfill the gate passes again: every row's file is served.
    gate = run(*manage, "r2_check", "--format", "json", cwd=site, env=env, check=False)
    document = json.loads(gate.stdout)
    failing = [c for c in document["checks"] if c["status"] == "fail"]
    assert gate.returncode == 0 and document["ok"] and not failing, failing or gate.stdout

    status, body = serve_healthz(venv / "bin" / "gunicorn", site, env)
    assert status == 200, body
    assert json.loads(body) == {"status": "ok"}, body
