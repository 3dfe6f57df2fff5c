"""The embedded SQLite backend of the Store protocol (see ``store.SQLiteStore``)."""

from kubepy.storage.sqlite.store import SQLiteStore, StoreClosedError
from kubepy.storage.sqlite.watch import WatchOverflowError

__all__ = ["SQLiteStore", "StoreClosedError", "WatchOverflowError"]
