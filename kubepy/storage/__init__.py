"""Storage: the Store protocol (``interface``) and its backends.

``open_store(endpoint)`` picks the backend from a k3s-style ``--datastore-endpoint``:
``sqlite:///abs/path/state.db``, ``sqlite://rel/path.db`` or a bare file path select the
embedded SQLite store. (``etcd://`` is not implemented yet.)
"""

from __future__ import annotations

from kubepy.storage.interface import Store


def sqlite_path(endpoint: str) -> str:
    """The file path an endpoint names: ``sqlite:///a/b.db`` -> ``/a/b.db``; query strings
    (``?_journal=WAL`` as in kine's DSNs) are ignored."""
    if endpoint.startswith("sqlite://"):
        endpoint = endpoint[len("sqlite://"):]
    return endpoint.split("?", 1)[0]


def open_store(endpoint: str, **options: object) -> Store:
    """Open the store ``endpoint`` names; ``options`` go to the backend's constructor."""
    scheme = endpoint.split("://", 1)[0] if "://" in endpoint else ""
    if scheme in ("", "sqlite"):
        from kubepy.storage.sqlite import SQLiteStore
        path = sqlite_path(endpoint)
        if not path:
            raise ValueError(f"datastore endpoint {endpoint!r} names no file")
        return SQLiteStore(path, **options)  # type: ignore[arg-type]
    raise ValueError(f"unsupported datastore endpoint {endpoint!r} (supported: sqlite://)")
