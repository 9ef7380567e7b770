"""How large and how wide a backfill or audit run goes: rows per page and
per database write, and threads, each as given (``--batch-size``,
``--workers``) or else the settings'."""

from dataclasses import dataclass

from r2_toolkit.core.conf import toolkit_settings


@dataclass
class Pace:
    # 0 or None (an option not given): the setting. Resolved once, at construction.
    batch_size: int = 0  # BACKFILL_BATCH_SIZE
    workers: int = 0  # BACKFILL_WORKERS

    def __post_init__(self) -> None:
        self.batch_size = self.batch_size or toolkit_settings.BACKFILL_BATCH_SIZE
        self.workers = self.workers or toolkit_settings.BACKFILL_WORKERS
