"""The agent's image GC decision (the kubelet's image GC manager): thresholds, then unused
images least recently used first; and one GC round on a real image store."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
import time
from pathlib import Path

import pytest

from kubepy.kubelet.agent.kubelet import image_gc_round
from kubepy.kubelet.images.reference import parse_reference
from kubepy.kubelet.images.store import ImageStore
from kubepy.kubelet.agent.imagegc import ImageInfo, ImageUsage, amount_to_free, \
    images_to_remove, shortfall_message

GB = 1000 ** 3

AMOUNTS = [
    ("below-high", 100 * GB, 16 * GB, 85, 80, 0),          # 84 % used
    ("at-high", 100 * GB, 15 * GB, 85, 80, 5 * GB),         # 85 %: down to 80 %
    ("full", 100 * GB, 0, 85, 80, 20 * GB),
    ("off-at-100", 100 * GB, 0, 100, 80, 0),
    ("no-capacity", 0, 0, 85, 80, 0),
    ("low-above-usage", 100 * GB, 10 * GB, 85, 95, 0),      # nothing below zero
]


@pytest.mark.parametrize("capacity,available,high,low,expected", [a[1:] for a in AMOUNTS],
                         ids=[a[0] for a in AMOUNTS])
def test_amount_to_free(capacity: int, available: int, high: int, low: int,
                        expected: int) -> None:
    assert amount_to_free(capacity, available, high=high, low=low) == expected


NOW = 10_000.0
IMAGES = [
    ImageInfo("old-unused", 3, first_detected=100, last_used=0),
    ImageInfo("used-long-ago", 4, first_detected=50, last_used=500),
    ImageInfo("used-lately", 5, first_detected=60, last_used=9_000),
    ImageInfo("in-use", 100, first_detected=10, last_used=NOW),
    ImageInfo("just-pulled", 100, first_detected=NOW - 60, last_used=0),
    ImageInfo("never-used-earlier", 2, first_detected=90, last_used=0),
]

REMOVALS = [
    ("nothing-to-free", 0, [], 0),
    ("lru-first-then-first-detected", 1, ["never-used-earlier"], 2),
    ("until-the-amount", 5, ["never-used-earlier", "old-unused"], 5),
    ("more", 6, ["never-used-earlier", "old-unused", "used-long-ago"], 9),
    ("not-enough-eligible", 1000, ["never-used-earlier", "old-unused", "used-long-ago",
                                   "used-lately"], 14),
]


@pytest.mark.parametrize("amount,expected,freed", [r[1:] for r in REMOVALS],
                         ids=[r[0] for r in REMOVALS])
def test_images_to_remove(amount: int, expected: list[str], freed: int) -> None:
    assert images_to_remove(IMAGES, {"in-use"}, amount=amount, now=NOW) == (expected, freed)


def test_min_age_zero_makes_new_images_eligible() -> None:
    chosen, _ = images_to_remove(IMAGES, {"in-use"}, amount=1000, now=NOW, min_age=0)
    assert "just-pulled" in chosen and "in-use" not in chosen


def test_usage_records_first_detection_and_last_use() -> None:
    usage = ImageUsage()
    first = usage.detect({"a": (1, 50.0), "b": (2, 500.0)}, {"b"}, now=100.0)
    assert first == [ImageInfo("a", 1, 50.0, 0.0), ImageInfo("b", 2, 100.0, 100.0)]
    later = usage.detect({"a": (1, 50.0)}, {"a"}, now=200.0)
    assert later == [ImageInfo("a", 1, 50.0, 200.0)]
    assert "b" not in usage.first_detected and "b" not in usage.last_used
    again = usage.detect({"a": (1, 50.0)}, set(), now=300.0)
    assert again == [ImageInfo("a", 1, 50.0, 200.0)]


def test_shortfall_message_is_the_kubelets() -> None:
    assert shortfall_message(10, 4) == (
        "Failed to garbage collect required amount of images. Attempted to free 10 bytes, "
        "but only found 4 bytes eligible to free.")


def _layer(name: str, data: bytes) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _add_image(store: ImageStore, ref: str, layers: list[bytes]) -> str:
    """Put an image of *layers* (uncompressed tars) into *store* as a pull would; its id."""
    descriptors = []
    for raw in layers:
        packed = gzip.compress(raw, mtime=0)
        descriptors.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                            "digest": store.write_blob(packed), "size": len(packed)})
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                         "rootfs": {"type": "layers", "diff_ids": [
                             "sha256:" + hashlib.sha256(r).hexdigest() for r in layers]}})
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": store.write_blob(config.encode()), "size": len(config)},
        "layers": descriptors})
    config_digest = "sha256:" + hashlib.sha256(config.encode()).hexdigest()
    store.add_image([parse_reference(ref)], store.write_blob(manifest.encode()), config_digest)
    return config_digest


def _store_with_two_images(root: Path) -> tuple[ImageStore, str, str]:
    """A real store holding ``reg.test/app:keep`` and ``reg.test/app:old``, which share a
    bottom layer; their ids."""
    store = ImageStore(root / "images")
    base = _layer("base", b"base")
    keep = _add_image(store, "reg.test/app:keep", [base, _layer("keep", b"k" * 4096)])
    old = _add_image(store, "reg.test/app:old", [base, _layer("old", b"o" * 4096)])
    return store, keep, old


def _layers(store: ImageStore) -> set[str]:
    return {p.name for p in (store.root / "layers" / "sha256").iterdir()}


def test_gc_round_removes_the_unused_image_and_frees_only_its_own_content(
        tmp_path: Path) -> None:
    store, keep, old = _store_with_two_images(tmp_path)
    kept_image = store.get(keep)
    assert kept_image is not None
    before = _layers(store)
    usage = ImageUsage()
    # high 0 / low 0: the whole used space is to be freed, so every eligible image goes
    amount, removed, freed = image_gc_round(store, usage, {"reg.test/app:keep"}, time.time(),
                                            high=0, low=0, min_age=0)
    assert amount > 0 and removed == [old] and freed > 0
    assert [i["id"] for i in store.list()] == [keep]
    assert _layers(store) == {c.removeprefix("sha256:") for c in kept_image["layers"]}
    assert len(before - _layers(store)) == 1            # the shared base layer stays
    assert all(store.has_blob(d) for d in (keep, kept_image["manifest_digest"]))


def test_gc_round_below_the_threshold_removes_nothing(tmp_path: Path) -> None:
    store, keep, old = _store_with_two_images(tmp_path)
    amount, removed, freed = image_gc_round(store, ImageUsage(), set(), time.time(),
                                            high=100, low=80, min_age=0)
    assert (amount, removed, freed) == (0, [], 0)
    assert {i["id"] for i in store.list()} == {keep, old}


def test_gc_round_keeps_images_younger_than_min_age(tmp_path: Path) -> None:
    store, keep, old = _store_with_two_images(tmp_path)
    amount, removed, _ = image_gc_round(store, ImageUsage(), set(), time.time(),
                                        high=0, low=0, min_age=3600)
    assert amount > 0 and removed == []
    assert {i["id"] for i in store.list()} == {keep, old}
