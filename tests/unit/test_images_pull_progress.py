"""``kubepy images pull``'s progress lines, one per pull_image progress event."""

from __future__ import annotations

import pytest

from kubepy.kubelet.images.cli import progress_line

DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize("event, line", [
    ({"phase": "resolved", "digest": DIGEST, "layers": [1000, 2500]},
     f"resolved {DIGEST} (2 layers, 3.5kB)"),
    ({"phase": "downloading", "digest": DIGEST, "current": 1_200_000, "total": 3_400_000},
     "abababababab: downloading 1.2MB/3.4MB"),
    ({"phase": "downloading", "digest": DIGEST, "current": 512, "total": 0},
     "abababababab: downloading 512B"),
    ({"phase": "downloaded", "digest": DIGEST}, "abababababab: done"),
    ({"phase": "unpacking"}, "unpacking layers"),
    ({"phase": "done", "id": "sha256:cafe"}, "image sha256:cafe"),
    ({"phase": "something-new"}, None),
], ids=["resolved", "downloading", "downloading-unknown-size", "downloaded", "unpacking",
        "done", "unknown"])
def test_progress_line(event: dict[str, object], line: str | None) -> None:
    assert progress_line(event) == line
