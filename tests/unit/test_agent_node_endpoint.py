"""The kubelet API port a node advertises (``daemonEndpoints.kubeletEndpoint.Port``) and the
images it reports (``status.images``)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from kubepy.kubelet.agent import node
from kubepy.kubelet.agent.kubelet import AgentConfig

FACTS = node.MachineFacts(cpus=1, memory_ki=1024 * 1024, storage_ki=1024 * 1024,
                          kernel="k", os_image="o", architecture="amd64", machine_id="m" * 32,
                          system_uuid="u", boot_id="b", hostname="h", runtime_version="1")
NOW = datetime(2024, 5, 1, 10, tzinfo=timezone.utc)


@pytest.mark.parametrize("kwargs,want", [({}, 10250), ({"kubelet_port": 43117}, 43117)],
                         ids=["default", "picked"])
def test_daemon_endpoint_port(kwargs: dict[str, int], want: int) -> None:
    created = node.new_node("n1", FACTS, "192.0.2.7", "v1.32.0", NOW, **kwargs)
    assert created["status"]["daemonEndpoints"] == {"kubeletEndpoint": {"Port": want}}
    again = node.node_status("n1", FACTS, "192.0.2.7", "v1.32.0", created["status"], NOW,
                             **kwargs)
    assert again["daemonEndpoints"]["kubeletEndpoint"]["Port"] == want


def test_agent_config_defaults() -> None:
    from pathlib import Path
    cfg = AgentConfig(node_name="n1", data_dir=Path("/nonexistent"))
    assert (cfg.kubelet_port, cfg.client_ca_pem) == (10250, b"")


def _image(i: int, size: int, tags: int = 1) -> dict[str, object]:
    return {"id": f"sha256:{i:064x}", "size": size,
            "repo_digests": [f"docker.io/library/i{i}@sha256:{i:064x}"],
            "repo_tags": [f"docker.io/library/i{i}:t{t}" for t in range(tags)]}


def test_node_images_biggest_first_with_digests_then_tags() -> None:
    images = [_image(1, 10), _image(2, 30, tags=7), _image(3, 20)]
    got = node.node_images(images)
    assert [g["sizeBytes"] for g in got] == [30, 20, 10]
    assert got[0]["names"][0] == f"docker.io/library/i2@sha256:{2:064x}"
    assert got[0]["names"][1:] == [f"docker.io/library/i2:t{t}" for t in range(4)]
    assert len(node.node_images([_image(i, i) for i in range(60)])) == 50
    registered = node.new_node("n1", FACTS, "192.0.2.7", "v1.32.0", NOW, images=got)
    assert registered["status"]["images"] == got
    status = node.node_status("n1", FACTS, "192.0.2.7", "v1.32.0", {"images": [{"x": 1}]}, NOW,
                              images=got)
    assert status["images"] == got
    kept = node.node_status("n1", FACTS, "192.0.2.7", "v1.32.0", {"images": [{"x": 1}]}, NOW)
    assert kept["images"] == [{"x": 1}]
