"""``make demo``: the whole story on the embedded default, start to finish.

Migrates SQLite, writes a handful of legacy images, starts the local S3
emulator with the bucket provisioned, runs ``r2_check`` (all but the sample of
the site's own files), backfills the legacy images with ``r2_backfill`` (dry
run, run, verify), runs the whole ``r2_check``, shows what a monitor sees
on the endpoints, and stops the emulator again, whatever happens in between.
"""

import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings.local")


def banner(text):
    print(f"\n=== {text} ===", flush=True)


def command(name, *args):
    """Run a management command as an operator would; its exit status."""
    from django.core.management import call_command

    banner(" ".join(["manage.py", name, *args]))
    try:
        call_command(name, *args)
        status = 0
    except SystemExit as exc:
        status = exc.code or 0
    print(f"({name} exit status: {status})")
    return status


def main():
    import django
    from django.conf import settings
    from django.core.management import call_command

    django.setup()
    from gallery import emulator
    from gallery.models import UserImage
    from r2_toolkit.core.conf import toolkit_settings

    banner("migrate (SQLite)")
    call_command("migrate", verbosity=0)
    # The emulator starts empty every time: rows an earlier demo migrated
    # point at objects that are gone, so they are legacy rows again.
    UserImage.objects.update(
        storage_key=None, public_url=None, mime_type=None, width=None, height=None, size_bytes=None
    )
    if not UserImage.objects.exists():
        call_command("seed_legacy_images", count=6)
    print(
        f"{UserImage.objects.filter(storage_key__isnull=True).count()} legacy images "
        f"in {settings.MEDIA_ROOT}"
    )

    port = settings.EMULATOR_PORT
    banner(f"local S3 emulator on 127.0.0.1:{port}")
    process = emulator.spawn_moto(port)
    status = 0
    try:
        emulator.provision_from_settings()
        print(
            f"bucket {settings.AWS_STORAGE_BUCKET_NAME!r}: CORS for "
            f"{', '.join(toolkit_settings.CORS_ORIGINS)}, public read"
        )
        # Before the files move, the gate checks everything but the files
        # themselves; once the backfill has run, the whole gate passes.
        status = command("r2_check", "--skip", "objects")
        for flags in (["--dry-run"], [], ["--verify"]):
            status = status or command("r2_backfill", *flags)
        status = status or command("r2_check")
        banner("what a monitor sees: /healthz and /debug/r2/config under gunicorn")
        from gallery.serve import show_endpoints

        print(show_endpoints())
    finally:
        process.terminate()
        process.wait(timeout=10)
        banner("emulator stopped")
    return status


if __name__ == "__main__":
    sys.exit(main())
