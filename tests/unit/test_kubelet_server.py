"""Pure parts of the kubelet server: request heads, stream options, Status objects, the
resize stream, port queries, and the serving certificate."""

from __future__ import annotations

import asyncio
import json
import ssl
from pathlib import Path

import pytest

from kubepy.kubelet.server.http import HttpError, parse_head
from kubepy.kubelet.server.portforward import dial, error_message, parse_ports
from kubepy.kubelet.server.runtime import PodRef
from kubepy.kubelet.server.stats import StatsProvider, parse_cpu_stat, parse_meminfo
from kubepy.kubelet.server.streams import (ResizeDecoder, StreamOptions, exit_code_status,
                                           internal_error_status, status_bytes,
                                           stream_options, success_status)
from kubepy.kubelet.server.tls import ensure_serving_cert, peer_identity


def test_parse_head() -> None:
    request = parse_head(b"POST /exec/ns/my%20pod/c?command=sh&command=-c&command=echo+hi"
                         b"&stdout=1&tty= HTTP/1.1\r\nHost: node\r\n"
                         b"X-Stream-Protocol-Version: v4.channel.k8s.io\r\n"
                         b"X-Stream-Protocol-Version: v3.channel.k8s.io\r\nConnection: Upgrade")
    assert request.method == "POST"
    assert request.path_segments == ["exec", "ns", "my pod", "c"]
    assert request.query == {"command": ["sh", "-c", "echo hi"], "stdout": ["1"], "tty": [""]}
    assert request.headers["x-stream-protocol-version"] == \
        "v4.channel.k8s.io, v3.channel.k8s.io"
    assert request.keep_alive


@pytest.mark.parametrize("head", [b"GET /", b"GET / SPDY/3", b"GET / HTTP/1.1\r\nno colon",
                                  b"GET / HTTP/1.1\r\n bad: space"])
def test_parse_head_refuses(head: bytes) -> None:
    with pytest.raises(HttpError) as e:
        parse_head(head)
    assert e.value.status == 400


@pytest.mark.parametrize("query,options", [
    ({"stdout": ["1"]}, StreamOptions(False, True, False, False)),
    ({"stdin": ["true"], "stdout": ["1"], "stderr": ["1"]}, StreamOptions(True, True, True, False)),
    ({"stdin": ["1"], "stdout": ["1"], "stderr": ["1"], "tty": ["1"]},
     StreamOptions(True, True, False, True)),  # a tty has no separate stderr
    ({"stderr": ["1"], "stdout": ["0"]}, StreamOptions(False, False, True, False)),
])
def test_stream_options(query: dict[str, list[str]], options: StreamOptions) -> None:
    assert stream_options(query) == options


@pytest.mark.parametrize("query", [{}, {"tty": ["1"]}, {"stdout": ["0"], "stderr": ["false"]},
                                   {"tty": ["1"], "stderr": ["1"]}])
def test_stream_options_need_a_stream(query: dict[str, list[str]]) -> None:
    with pytest.raises(HttpError) as e:
        stream_options(query)
    assert (e.value.status, e.value.message) == \
        (400, "you must specify at least 1 of stdin, stdout, stderr")


def test_statuses_as_v4_json_and_v1_text() -> None:
    assert status_bytes(success_status(), as_json=True) == b'{"metadata":{},"status":"Success"}'
    assert status_bytes(success_status(), as_json=False) is None
    failed = exit_code_status(3, ["sh", "-c", "exit 3"])
    assert json.loads(status_bytes(failed, as_json=True) or b"") == {
        "metadata": {}, "status": "Failure", "reason": "NonZeroExitCode",
        "message": "command terminated with non-zero exit code: error executing command "
                   "[sh -c exit 3], exit code 3",
        "details": {"causes": [{"reason": "ExitCode", "message": "3"}]}}
    assert status_bytes(failed, as_json=False) == failed["message"].encode()
    internal = internal_error_status("boom")
    assert (internal["reason"], internal["code"], internal["message"]) == \
        ("InternalError", 500, "Internal error occurred: boom")


def test_resize_decoder_splits_and_joins_objects() -> None:
    decoder = ResizeDecoder()
    assert decoder.feed(b'{"Width":80,"Height":24}{"Width":100,') == [(80, 24)]
    assert decoder.feed(b'"Height":30}\n{"width":1,"height":2}') == [(100, 30), (1, 2)]
    assert decoder.feed(b'"nonsense"{"Width":5,"Height":6}') == [(5, 6)]


@pytest.mark.parametrize("query,ports", [
    ({"port": ["80"]}, [80]), ({"port": ["80,443", "8080"]}, [80, 443, 8080]),
    ({"ports": ["81,82"]}, [81, 82]), ({"port": ["80"], "ports": ["81"]}, [80]),
])
def test_parse_ports(query: dict[str, list[str]], ports: list[int]) -> None:
    assert parse_ports(query) == ports


@pytest.mark.parametrize("query,message", [
    ({}, 'query parameter "port" is required'),
    ({"port": [""]}, 'query parameter "port" cannot be empty'),
    ({"port": ["http"]}, 'unable to parse "http" as a port'),
    ({"port": ["70000"]}, 'unable to parse "70000" as a port'),
    ({"port": ["0"]}, 'port "0" must be > 0'),
])
def test_parse_ports_refuses(query: dict[str, list[str]], message: str) -> None:
    with pytest.raises(HttpError) as e:
        parse_ports(query)
    assert e.value.message == message


def test_error_message() -> None:
    pod = PodRef("uid-1", "default", "web", None, ("app",))
    assert error_message(9, pod, ConnectionRefusedError(111, "Connection refused")) == \
        "error forwarding port 9 to pod web, uid uid-1: dial tcp4 127.0.0.1:9: connect: " \
        "connection refused"


def test_serving_cert_made_once_and_remade_for_a_new_ip(tmp_path: Path) -> None:
    cert, key = ensure_serving_cert(tmp_path, "node-1", "10.0.0.5")
    first = cert.read_bytes()
    assert (key.stat().st_mode & 0o777) == 0o600
    assert ensure_serving_cert(tmp_path, "node-1", "10.0.0.5")[0].read_bytes() == first
    assert ensure_serving_cert(tmp_path, "node-1", "10.0.0.6")[0].read_bytes() != first
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert), str(key))  # a usable pair


def test_peer_identity() -> None:
    assert peer_identity(None) is None and peer_identity({}) is None
    cert = {"subject": ((("commonName", "kube-apiserver-kubelet-client"),),
                        (("organizationName", "system:masters"),))}
    assert peer_identity(cert) == ("kube-apiserver-kubelet-client", ["system:masters"])


def test_stats_parsers() -> None:
    assert parse_cpu_stat("usage_usec 1500\nuser_usec 1000\n") == 1_500_000
    assert parse_cpu_stat("nr_periods 0\n") is None
    assert parse_meminfo("MemTotal:  2048 kB\nMemAvailable: 1024 kB\nHugePages_Total: 0\n") \
        == {"MemTotal": 2048 * 1024, "MemAvailable": 1024 * 1024, "HugePages_Total": 0}


def test_stats_summary_and_resource_metrics(tmp_path: Path) -> None:
    (tmp_path / "cpu.stat").write_text("usage_usec 2000000\n")
    stats = StatsProvider("node-1", cgroup_root=str(tmp_path))
    first = stats.summary()
    (tmp_path / "cpu.stat").write_text("usage_usec 4000000\n")
    second = stats.summary()
    assert first["node"]["cpu"]["usageCoreNanoSeconds"] == 2_000_000_000
    assert "usageNanoCores" not in first["node"]["cpu"]
    assert second["node"]["cpu"]["usageNanoCores"] > 0
    assert second["node"]["memory"]["workingSetBytes"] > 0 and second["pods"] == []
    metrics = stats.resource_metrics().splitlines()
    assert [m.split()[0] for m in metrics if not m.startswith("#")] == [
        "node_cpu_usage_seconds_total", "node_memory_working_set_bytes",
        "resource_scrape_error"]
    assert "node_cpu_usage_seconds_total 4.0 " in stats.resource_metrics()
    assert metrics[-1] == "resource_scrape_error 0"


def test_dial_on_the_host_for_host_network_pods() -> None:
    async def main() -> tuple[bytes, type[BaseException]]:
        async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(b"echo:" + await reader.readline())
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(echo, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        sock = await dial(None, port)
        reader, writer = await asyncio.open_connection(sock=sock)
        writer.write(b"hi\n")
        answer = await reader.read()
        writer.close()
        server.close()
        await server.wait_closed()
        try:
            await dial(None, port)  # nobody listens any more
        except OSError as e:
            return answer, type(e)
        return answer, type(None)  # type: ignore[return-value]

    answer, error = asyncio.run(main())
    assert answer == b"echo:hi\n" and issubclass(error, ConnectionRefusedError)
