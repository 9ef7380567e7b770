"""The numeric command-line arguments of r2_check, r2_backfill and r2_audit,
checked where argparse reads them: finite, in range, and a refusal that
names the range, so a bad value is one sentence and exit 2 before anything
runs (``inf`` would overflow a deadline, ``nan`` compares false with every
bound, a 20-digit batch size does not fit the database's LIMIT).

Each factory returns an argparse ``type``: ``type=whole(1, 1000)``.
"""

import argparse
import math
from collections.abc import Callable

# The largest value every supported database takes as an integer (LIMIT,
# a modulus in SQL): PostgreSQL's and SQLite's signed 64 bits.
DATABASE_INT_MAX = 2**63 - 1


def whole(minimum: int, maximum: int, what: str = "a whole number") -> Callable[[str], int]:
    """A type for an int from ``minimum`` to ``maximum`` inclusive."""

    def parse(text: str) -> int:
        number: int | None
        try:
            number = int(text)
        except ValueError:
            number = None
        if number is None or not minimum <= number <= maximum:
            raise argparse.ArgumentTypeError(
                f"expected {what} from {minimum} to {maximum}, not {text!r}"
            )
        return number

    parse.__name__ = what  # argparse names the type in its own messages
    return parse


def finite(minimum: float, maximum: float, unit: str) -> Callable[[str], float]:
    """A type for a finite float from ``minimum`` to ``maximum`` ``unit``
    inclusive (``nan`` and ``inf`` refused: they pass no comparison or
    overflow the clocks they are added to)."""

    def parse(text: str) -> float:
        try:
            number = float(text)
        except ValueError:
            number = math.nan
        if not (math.isfinite(number) and minimum <= number <= maximum):
            raise argparse.ArgumentTypeError(
                f"expected a number of {unit} from {plain(minimum)} to {plain(maximum)}, "
                f"not {text!r}"
            )
        return number

    parse.__name__ = f"number of {unit}"
    return parse


def plain(number: float) -> str:
    """``3153600000`` -> ``"3153600000"``, ``0.1`` -> ``"0.1"``: a bound as people write it."""
    return f"{int(number)}" if float(number).is_integer() else f"{number:g}"


def shard_parts(text: str, maximum: int = 10_000) -> tuple[int, int]:
    """``"K/N"`` -> (K, N) with 1 <= K <= N <= ``maximum``; ValueError with the fix."""
    try:
        index, count = (int(part) for part in str(text).split("/"))
    except ValueError:
        raise ValueError(
            f"--shard {text!r} is not K/N; write e.g. --shard 1/4 for the first of four shards."
        ) from None
    if not 1 <= count <= maximum or not 1 <= index <= count:
        raise ValueError(
            f"--shard {text} is out of range: K must be between 1 and N, N at most "
            f"{maximum} (e.g. --shard 1/{min(max(count, 2), maximum)})."
        )
    return index, count


def checked(parse: Callable[[str], object]) -> Callable[[str], object]:
    """A type from a parser that raises ValueError with its own sentence."""

    def parse_or_refuse(text: str) -> object:
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc).rstrip(".")) from None

    parse_or_refuse.__name__ = getattr(parse, "__name__", "value")
    return parse_or_refuse


# The commands' arguments, each bounded where the toolkit's settings bound
# the same number (core/conf.py) or where a larger value stops making sense.
TIMEOUT = finite(0.1, 86_400, "seconds")  # r2_check --timeout
GRACE = finite(0, 36_500 * 86_400, "seconds")  # r2_audit --grace: up to a century
DAYS = finite(0, 36_500, "days")  # r2_audit --older-than
BATCH_SIZE = whole(1, 1000)  # rows per page and per write, as BACKFILL_BATCH_SIZE
WORKERS = whole(1, 512)  # upload threads, as BACKFILL_WORKERS
LIMIT = whole(1, DATABASE_INT_MAX)  # r2_backfill --limit: a LIMIT the database takes
