"""``make demo``: the whole story on the embedded default, start to finish.

Migrates SQLite, writes a handful of legacy images, starts the local S3
emulator with the bucket provisioned, runs ``r2_check``, prints what it says,
and stops the emulator again, whatever happens in between.
"""

import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings.local")


def banner(text):
    print(f"\n=== {text} ===", flush=True)


def main():
    import django
    from django.conf import settings
    from django.core.management import call_command

    django.setup()
    from gallery import emulator
    from gallery.models import UserImage

    banner("migrate (SQLite)")
    call_command("migrate", verbosity=0)
    if not UserImage.objects.filter(storage_key__isnull=True).exists():
        call_command("seed_legacy_images", count=6)
    print(f"{UserImage.objects.filter(storage_key__isnull=True).count()} legacy images "
          f"in {settings.MEDIA_ROOT}")

    port = settings.EMULATOR_PORT
    banner(f"local S3 emulator on 127.0.0.1:{port}")
    process = emulator.spawn_moto(port)
    status = 0
    try:
        emulator.provision_from_settings()
        print(f"bucket {settings.AWS_STORAGE_BUCKET_NAME!r}: CORS for "
              f"{', '.join(settings.R2_TOOLKIT['CORS_ORIGINS'])}, public read")
        banner("manage.py r2_check")
        try:
            call_command("r2_check")
        except SystemExit as exc:
            status = exc.code or 0
        print(f"(r2_check exit status: {status})")
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
