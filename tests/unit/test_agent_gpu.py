"""nvidia.com/gpu capacity and allocatable from the /dev/nvidia<N> devices."""

from __future__ import annotations

from dataclasses import replace

import pytest

from kubepy.kubelet.agent import node

FACTS = node.MachineFacts(cpus=4, memory_ki=8 * 1024 * 1024, storage_ki=50 * 1024 * 1024,
                          kernel="6.1.0", os_image="Debian", architecture="amd64",
                          machine_id="m", system_uuid="u", boot_id="b", hostname="h",
                          runtime_version="1.1.5")


@pytest.mark.parametrize("entries, gpus", [
    ([], 0),
    (["null", "zero", "tty0", "nvme0", "nvme0n1"], 0),
    (["nvidiactl", "nvidia-uvm", "nvidia-uvm-tools", "nvidia-modeset", "nvidia-caps"], 0),
    (["nvidia0", "nvidiactl", "nvidia-uvm"], 1),
    (["nvidia0", "nvidia1", "nvidia2", "nvidia3", "nvidiactl"], 4),
    (["nvidia10", "nvidia0"], 2),
    (["nvidia", "nvidia0a", "Nvidia1", "nvidia-0"], 0),
])
def test_gpu_count_table(entries: list[str], gpus: int) -> None:
    assert node.gpu_count(entries) == gpus


@pytest.mark.parametrize("gpus, expected", [(0, None), (1, "1"), (8, "8")])
def test_gpu_capacity_and_allocatable(gpus: int, expected: str | None) -> None:
    facts = replace(FACTS, gpus=gpus)
    for resources in (node.capacity(facts), node.allocatable(facts)):
        assert resources.get("nvidia.com/gpu") == expected
        assert resources["pods"] == "110" and resources["cpu"] == "4"
