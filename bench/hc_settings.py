"""The peer under benchmark: django-health-check v4 with its Storage check,
on the same settings (and so the same emulator bucket) as the toolkit."""

from settings.local import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "health_check"]  # noqa: F405
ROOT_URLCONF = "bench.hc_urls"
