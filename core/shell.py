"""Commands to paste: hints show shell commands with values in them (object
keys, bucket names, endpoints, origins, app labels), and anyone who can
upload a file chooses its key. Every command a hint shows is built here, each
word quoted for a POSIX shell, so a value stays one argument and runs nothing
(``a.jpg;touch${IFS}PWNED;#.jpg``, ``$(…)``, backticks, quotes, spaces,
newlines)."""

import shlex


def command(*words: object) -> str:
    """``words`` as one line for a POSIX shell, each quoted (``shlex.quote``)."""
    return " ".join(shlex.quote(str(word)) for word in words)


def manage(*args: object) -> str:
    """A ``python manage.py`` command line."""
    return command("python", "manage.py", *args)
