"""The toolkit as a new user meets it: the sdist and wheel built and checked,
the wheel installed into a fresh virtualenv outside this checkout, beside
another project's own pinned versions, and the steps of docs/install.md
followed literally (its code blocks are applied as written) on three sites:

- a plain `django-admin startproject` site with one
  ``ImageField(upload_to="photos/")`` and legacy files on disk (section 4);
- a `wagtail start` site with Wagtail's images, renditions, documents and an
  avatar on disk (section 5), once, on Python 3.12 with constraints/dev.txt;
- a site with a record model (section 6), at both ends of the supported
  versions: `check --deploy --tag r2`, `r2_check`, the generated one-off
  migration, `r2_backfill` and `/healthz` under gunicorn.

Runs with `make test-install` (marker `install`); it needs PyPI for the
virtualenvs' packages and the Python versions of the matrix."""

import json
import os
import re
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
import zipfile

import pytest

from gallery import emulator
from tests.support.servers import ROOT, start_moto

pytestmark = [pytest.mark.install, pytest.mark.slow, pytest.mark.timeout(900)]

INSTALL_DOC = ROOT / "docs" / "install.md"
CONSTRAINTS = ROOT / "constraints"
SITES = {
    "newest": ("python3.13", CONSTRAINTS / "newest.txt"),
    "oldest": ("python3.11", CONSTRAINTS / "oldest.txt"),
}
WAGTAIL = ("python3.12", CONSTRAINTS / "dev.txt")  # Wagtail's pin beside the repository's Django
LIBRARY = {"r2_toolkit/core", "r2_toolkit/toolkit", "r2_toolkit/checks", "r2_toolkit/migrations_r2"}
ORIGIN = "https://app.example.test"
R2_MARKER = "    # The six R2 fields"
# docs/install.md's sections, by the words their headings start with.
SETTINGS, URLS, PLAIN, WAGTAIL_SITE, RECORD = (
    "2. Settings",
    "3. The URLs",
    "4. A plain ImageField site",
    "5. A Wagtail site",
    "6. Optional: a record model",
)
# The same content as tests/wagtail_site (run inside the fresh site: it imports
# only Django, Pillow and Wagtail).
WAGTAIL_LEGACY = (ROOT / "tests" / "wagtail_site" / "legacy.py").read_text() + "\nmain()\n"
WAGTAIL_FIELDS = {
    "wagtailimages.Image.file",
    "wagtailimages.Rendition.file",
    "wagtaildocs.Document.file",
    "wagtailusers.UserProfile.avatar",
}


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


def doc_sections():
    """{section heading: text} of docs/install.md's ``## `` sections."""
    parts = re.split(r"^## (.+)$", INSTALL_DOC.read_text(), flags=re.M)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def doc_blocks(section):
    """[(target file, code, append?)] of one section's fenced Python blocks
    whose first line names their file (``# mysite/settings.py (append)``)."""
    blocks = []
    for code in re.findall(r"```python\n(.*?)```", doc_sections()[section], re.S):
        first, _, body = code.partition("\n")
        found = re.fullmatch(r"# (\S+)( \(append\))?", first.strip())
        if found:
            blocks.append((found.group(1), body, bool(found.group(2))))
    return blocks


def doc_commands(section=None):
    texts = [doc_sections()[section]] if section else [INSTALL_DOC.read_text()]
    return {
        line.split("#")[0].strip()
        for text in texts
        for block in re.findall(r"```sh\n(.*?)```", text, re.S)
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
    assert not any(re.search(r"psycopg|gunicorn|dj-database-url|wagtail", r) for r in runtime)
    assert "Classifier: Framework :: Django :: 4.2" in metadata
    assert "Classifier: Programming Language :: Python :: 3.13" in metadata
    assert "License-Expression: MIT" in metadata
    # The library app ships no migration that depends on a project's (that
    # would break makemigrations for the whole project).
    assert not [n for n in names if n.startswith("migrations_r2/migrations/")]


STEPS_IN_DOC = {
    None: ["pip install r2-toolkit"],
    PLAIN: [
        "python manage.py migrate",
        "python manage.py check --deploy --tag r2",
        "python manage.py r2_check",
        "python manage.py r2_backfill --list-fields",
        "python manage.py r2_backfill",
        "python manage.py r2_audit",
    ],
    WAGTAIL_SITE: [
        "python manage.py r2_check",
        "python manage.py r2_backfill --list-fields",
        "python manage.py r2_backfill",
        "python manage.py r2_audit",
    ],
    RECORD: [
        "python manage.py makemigrations photos",
        "python manage.py migrate",
        "python manage.py r2_check",
        "python manage.py r2_backfill --make-migration photos",
    ],
}


def test_the_commands_this_test_runs_are_the_ones_the_doc_gives():
    for section, steps in STEPS_IN_DOC.items():
        commands = doc_commands(section)
        for step in steps:
            assert step in commands, (
                f"docs/install.md ({section or 'anywhere'}) no longer says `{step}`"
            )


def test_the_url_line_comes_before_any_catch_all():
    ((target, code, append),) = doc_blocks(URLS)
    assert (target, append) == ("mysite/urls.py", True)
    assert 'urlpatterns.insert(0, path("", include("r2_toolkit.toolkit.urls")))' in code


# --- the sites -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def venvs(dist, tmp_path_factory):
    """venvs(python_name, constraints, *packages): a virtualenv with the wheel
    installed beside the project's own pins, made once per module and kind."""
    made = {}

    def venv(python_name, constraints, *packages):
        key = (python_name, constraints, packages)
        if key not in made:
            base_python = shutil.which(python_name)
            if base_python is None:
                pytest.fail(f"{python_name} is not on PATH (the matrix needs it; see the Makefile)")
            where = tmp_path_factory.mktemp("venv")
            run(base_python, "-m", "venv", where, cwd=where)
            run(where / "bin" / "pip", "install", "--quiet", "-c", constraints, dist, *packages,
                cwd=where, timeout=900)  # fmt: skip
            made[key] = where
        return made[key]

    return venv


@pytest.fixture
def bucket():
    """A moto server of the test's own and a public bucket on it; CORS rules
    for ORIGIN when asked (``bucket(cors=True)``)."""
    servers = []

    def make(cors=False):
        server = start_moto()
        servers.append(server)
        name = server.new_bucket_name("install")
        origins = [ORIGIN] if cors else []
        emulator.provision(server.client(), name, origins=origins, cors=cors)
        return server, name

    yield make
    for server in servers:
        server.stop()


class Site:
    """A fresh project in ``root`` run by ``venv``'s Python, its storage the
    bucket ``name`` on ``server``: manage.py commands, the doc's blocks."""

    def __init__(self, venv, root, server, name, **extra_env):
        self.venv, self.root, self.server, self.bucket = venv, root, server, name
        env = {
            key: value
            for key, value in os.environ.items()
            if key not in {"PYTHONPATH", "DJANGO_SETTINGS_MODULE", "VIRTUAL_ENV"}
            and not key.startswith(("R2_TOOLKIT_", "AWS_", "MEDIA_ROOT"))
        }
        env.update(
            PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
            AWS_S3_ENDPOINT_URL=server.endpoint_url,
            AWS_STORAGE_BUCKET_NAME=name,
            AWS_ACCESS_KEY_ID=server.access_key,
            AWS_SECRET_ACCESS_KEY=server.secret_key,
            AWS_S3_REGION_NAME="us-east-1",
            AWS_S3_CUSTOM_DOMAIN=f"127.0.0.1:{server.port}/{name}",
            AWS_S3_URL_PROTOCOL="http:",
            **extra_env,
        )
        self.env = env
        root.mkdir()

    @property
    def python(self):
        return self.venv / "bin" / "python"

    def command(self, program, *args, check=True):
        return run(self.venv / "bin" / program, *args, cwd=self.root, env=self.env, check=check)

    def manage(self, *args, check=True):
        done = run(self.python, "manage.py", *args, cwd=self.root, env=self.env, check=check)
        assert "Traceback" not in done.stderr, done.stderr[-3000:]
        assert self.server.secret_key not in done.stdout + done.stderr
        return done

    def shell(self, code):
        out = self.manage("shell", "-c", code).stdout
        return out.strip().splitlines()  # Django 5.2+ may say what it auto-imported first

    def apply(self, blocks, rename=None):
        """Write the doc's blocks as written; ``rename`` maps a block's target
        to this project's file (a Wagtail site's settings are a package)."""
        for target, code, append in blocks:
            path = self.root / (rename or {}).get(target, target)
            path.write_text(path.read_text() + "\n\n" + code if append else code)

    def toolkit_comes_from_the_wheel(self):
        where = self.command("python", "-c", "import r2_toolkit.toolkit as t; print(t.__file__)")
        assert where.stdout.startswith(str(self.venv)), "the toolkit must come from the wheel"
        assert str(ROOT) not in where.stdout

    def gate(self, expect):
        done = self.manage("r2_check", "--format", "json", check=False)
        assert done.returncode == expect, done.stdout[-3000:] + done.stderr[-3000:]
        return done, {c["id"]: c for c in json.loads(done.stdout)["checks"]}

    def audit(self, expect=0):
        done = self.manage("r2_audit", "--format", "json", check=False)
        assert done.returncode == expect, done.stdout[-3000:] + done.stderr[-3000:]
        return json.loads(done.stdout)

    def keys(self):
        listed = self.server.client().list_objects_v2(Bucket=self.bucket).get("Contents", [])
        return {o["Key"] for o in listed}


def get(url, timeout=10):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, b""


def fails_only_the_sample_naming_the_backfill(site):
    """Before the backfill the gate's only failure is the truth: the rows'
    own files are not in the bucket yet, and the hint names the command."""
    done, checks = site.gate(expect=1)
    failing = [c for c in checks.values() if c["status"] == "fail"]
    assert [c["id"] for c in failing] == ["r2.objects.sample"], failing
    assert "r2_backfill" in failing[0]["hint"], failing
    assert "waiting for the backfill" in failing[0]["message"], failing
    return checks


def listed_fields(site):
    """{field: row count} as ``r2_backfill --list-fields`` prints them."""
    out = site.manage("r2_backfill", "--list-fields").stdout
    return {
        field: int(count) for field, count in re.findall(r"^\s*(\w+\.\w+\.\w+)\D+(\d+)", out, re.M)
    }


def every_url_serves_its_file(site, media, rows):
    for name, url in rows:
        assert (get(url)) == (200, (media / name).read_bytes()), (name, url)


ROW_URLS = """
import json
from django.apps import apps
print(json.dumps([
    (getattr(row, field).name, getattr(row, field).url)
    for label, field in {fields!r}
    for row in apps.get_model(label).objects.exclude(**{{field: ""}}).order_by("pk")
]))
"""


def row_urls(site, fields):
    """[(name, url)] of every row of ``fields`` (``app.Model.field``), in order."""
    pairs = [tuple(f.rsplit(".", 1)) for f in sorted(fields)]
    return [tuple(p) for p in json.loads(site.shell(ROW_URLS.format(fields=pairs))[-1])]


def after_the_backfill_the_gate_passes_and_the_audit_is_clean(site, media, fields):
    before = row_urls(site, fields)
    site.manage("r2_backfill")
    after = row_urls(site, fields)
    assert after == before  # no row's name (or URL) changed
    assert {name for name, _url in after} <= site.keys()
    every_url_serves_its_file(site, media, after)
    again = site.manage("r2_backfill", check=False)
    assert again.returncode == 0, again.stdout + again.stderr
    _, checks = site.gate(expect=0)
    assert checks["r2.objects.sample"]["status"] == "pass"
    audit = site.audit(expect=0)
    assert audit["ok"] and audit["findings"] == [], audit


PLAIN_LEGACY = """
import io, os
from PIL import Image
from django.conf import settings
from photos.models import Photo
os.makedirs(os.path.join(settings.MEDIA_ROOT, "photos"), exist_ok=True)
for i, name in enumerate(("beach.jpg", "harbour.png", "old town.jpg")):
    path = "photos/" + name
    kind = "PNG" if name.endswith(".png") else "JPEG"
    Image.new("RGB", (40 + i, 30), (i * 40, 90, 160)).save(os.path.join(settings.MEDIA_ROOT, path), kind)
    Photo.objects.create(image=path, title=name)
"""


def test_a_plain_imagefield_site_follows_the_install_doc(venvs, bucket, tmp_path):
    server, name = bucket()  # no CORS rules: the site does no browser uploads
    venv = venvs(*SITES["newest"], "gunicorn")
    media = tmp_path / "media"
    site = Site(venv, tmp_path / "site", server, name, MEDIA_ROOT=str(media))
    site.command("django-admin", "startproject", "mysite", ".")
    site.manage("startapp", "photos")
    site.toolkit_comes_from_the_wheel()
    site.apply(doc_blocks(SETTINGS) + doc_blocks(URLS) + doc_blocks(PLAIN))
    site.manage("makemigrations", "photos")
    site.manage("migrate", "-v0")
    deploy = site.manage("check", "--deploy", "--tag", "r2")
    assert "ERRORS:" not in deploy.stderr
    site.shell(PLAIN_LEGACY)  # the rows and their files, as the site saved them on disk

    checks = fails_only_the_sample_naming_the_backfill(site)
    assert {c["status"] for c in checks.values() if c["group"] == "cors"} == {"skip"}
    assert checks["r2.objects.sample"]["details"]["missing"] == {
        "photos.Photo.image": ["photos/old town.jpg", "photos/harbour.png", "photos/beach.jpg"]
    }

    assert listed_fields(site) == {"photos.Photo.image": 3}
    assert site.keys() == set()  # listing uploads nothing
    after_the_backfill_the_gate_passes_and_the_audit_is_clean(site, media, {"photos.Photo.image"})
    assert site.keys() == {"photos/beach.jpg", "photos/harbour.png", "photos/old town.jpg"}


def test_a_wagtail_site_follows_the_install_doc(venvs, bucket, tmp_path):
    server, name = bucket()
    venv = venvs(*WAGTAIL, "wagtail", "gunicorn")
    site = Site(venv, tmp_path / "site", server, name, R2_TOOLKIT_TOKEN="wagtail-token")
    site.command("wagtail", "start", "mysite", ".")
    site.toolkit_comes_from_the_wheel()
    site.manage("migrate", "-v0")
    created = "\n".join(site.shell(WAGTAIL_LEGACY))  # on local disk, before the move
    files = re.findall(r"^FILE (\S+) (.+)$", created, re.M)
    assert {field for field, _ in files} == WAGTAIL_FIELDS

    # Section 2's settings into the template's base module, section 3's line into its urls.
    site.apply(
        doc_blocks(SETTINGS) + doc_blocks(URLS),
        rename={"mysite/settings.py": "mysite/settings/base.py"},
    )
    urls = (site.root / "mysite" / "urls.py").read_text()
    assert 'path("", include(wagtail_urls))' in urls  # the catch-all the include must precede
    checks = fails_only_the_sample_naming_the_backfill(site)
    assert WAGTAIL_FIELDS <= set(checks["r2.schema.file_fields"]["details"]["fields"])
    audit = site.audit(expect=0)
    assert audit["summary"]["legacy_row"] == len(files), audit["summary"]
    # The toolkit's views answer before Wagtail's catch-all would say 404.
    status, body = serve(site, "/debug/r2/config", token="wagtail-token")
    assert status == 200 and json.loads(body)["storages"], body

    counts = listed_fields(site)
    for field in WAGTAIL_FIELDS:
        assert counts[field] == sum(1 for f, _ in files if f == field), counts
    after_the_backfill_the_gate_passes_and_the_audit_is_clean(
        site, site.root / "media", WAGTAIL_FIELDS
    )
    assert {name for _, name in files} <= site.keys()


def serve(site, path, token=None):
    """GET ``path`` from the site under gunicorn (the doc's middleware and URLs)."""
    gunicorn = site.venv / "bin" / "gunicorn"
    port = emulator.free_port()
    process = subprocess.Popen(
        [gunicorn, "mysite.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
        cwd=site.root,
        env=site.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        emulator.wait_for_port(port, process=process)
        request = urllib.request.Request(f"http://127.0.0.1:{port}{path}")
        request.add_header("Host", "localhost")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()
    finally:
        process.terminate()
        process.wait(10)


# --- the record model (section 6), at both ends of the supported versions -----------------
def legacy_images(site, count=3):
    """Legacy rows (no R2 fields yet) with real JPEGs under MEDIA_ROOT."""
    site.shell(f"""
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
""")


def migrated_rows(site):
    script = (
        "import json; from photos.models import Photo; print(json.dumps(list("
        "Photo.objects.order_by('pk').values('object_key','cdn_url','content_type',"
        "'pixel_width','pixel_height','byte_size'))))"
    )
    return json.loads(site.shell(script)[-1])


@pytest.mark.parametrize("end", sorted(SITES))
def test_a_new_site_follows_the_install_doc_and_everything_works(end, venvs, bucket, tmp_path):
    server, bucket_name = bucket(cors=True)
    venv = venvs(*SITES[end], "gunicorn")
    site = Site(
        venv,
        tmp_path / "site",
        server,
        bucket_name,
        MEDIA_ROOT=str(tmp_path / "media"),
        R2_TOOLKIT_CORS_ORIGINS=ORIGIN,
        R2_TOOLKIT_TOKEN="install-test-token",
    )
    site.command("django-admin", "startproject", "mysite", ".")
    site.manage("startapp", "photos")
    site.toolkit_comes_from_the_wheel()

    plain_settings = [b for b in doc_blocks(PLAIN) if b[0] == "mysite/settings.py"]
    ((_, model_code, _),) = [b for b in doc_blocks(RECORD) if b[0] == "photos/models.py"]
    record_settings = [b for b in doc_blocks(RECORD) if b[0] == "mysite/settings.py"]
    # First the legacy model, as the project had it before R2: rows whose
    # files are still on disk.
    site.apply([("photos/models.py", model_code.split(R2_MARKER)[0], False)])
    site.apply(doc_blocks(SETTINGS) + doc_blocks(URLS) + plain_settings + record_settings)
    site.manage("makemigrations", "photos")
    site.manage("migrate", "-v0")
    legacy_images(site)

    # Then the doc's model with the six R2 fields, and its steps in order.
    site.apply([("photos/models.py", model_code, False)])
    site.manage("makemigrations", "photos")
    site.manage("migrate", "-v0")
    deploy = site.manage("check", "--deploy", "--tag", "r2")
    assert "ERRORS:" not in deploy.stderr

    fails_only_the_sample_naming_the_backfill(site)

    made = site.manage("r2_backfill", "--make-migration", "photos")
    assert "0003_r2_backfill.py" in made.stdout
    migrated = site.manage("migrate")
    assert "legacy media backfill: uploaded 3," in migrated.stdout, migrated.stdout
    rows = migrated_rows(site)
    assert all(r["object_key"] and r["content_type"] == "image/jpeg" for r in rows), rows
    assert {r["object_key"] for r in rows} <= site.keys()
    status, body = get(rows[0]["cdn_url"])
    assert status == 200 and body[:2] == b"\xff\xd8"

    again = site.manage("r2_backfill", check=False)
    assert again.returncode == 0, again.stdout + again.stderr

    status, body = serve(site, "/healthz")
    assert status == 200, body
    assert json.loads(body) == {"status": "ok"}, body

    # After the backfill the gate passes again: every row's file is served
    # (the rows keep their names only with the field-mode backfill's engine).
    _, checks = site.gate(expect=0)
    failing = [c for c in checks.values() if c["status"] == "fail"]
    assert not failing, failing
