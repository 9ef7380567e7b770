"""The framework's ceiling for the health benchmark: a Django site with no
apps, two middlewares and one view returning constant JSON, on the same
stack as the product (gunicorn, 2 sync workers)."""

SECRET_KEY = "bench-minimal-site"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = []
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
]
ROOT_URLCONF = "bench.minimal_urls"
DATABASES = {}
USE_TZ = True
