"""``kubepy server``: the API server in this process and, as supervised child processes
started once it is ready (restarted if they die, stopped on shutdown):

* the controller-manager and scheduler (``kubepy components``) unless both are disabled;
* as root and unless ``--disable-agent``: the node agent (``kubepy agent``: kubelet and
  service proxy) with a node kubeconfig of its own, the kubelet API's serving certificate
  issued from the cluster CA (``ensure_node_serving_cert``; agents that join elsewhere serve
  a self-signed one), the control-plane node labels k3s sets, and the cluster DNS server (``kubepy dns``) on the node address, published as the
  endpoints of kube-system/kube-dns (created here unless ``--disable coredns``).

Flags follow k3s where k3s has one (``--disable-scheduler``, ``--disable-controller-manager``,
``--disable coredns,servicelb``, ``--disable-kube-proxy``, ``--node-ip``, ``--node-label``,
``--kubelet-arg`` aside); the isolation flags (``--bridge``, ``--netns-dir``,
``--cgroup-parent``, ``--cni-bin-dir``) go to the agent as given.

Agents on other machines join with ``kubepy agent --server URL --token TOKEN``: the server
accepts the secret of ``--token`` (or, without it, the one ``<data-dir>/token`` holds, made up
on the first start) as a bearer token of the user ``kubepy-agent:server``, groups
system:nodes and system:masters (as its own node certificate: there is no node authorizer
yet), and writes the secure form ``K10<sha256 of the CA>::server:<secret>`` to
``<data-dir>/token`` (kubepy.cli.jointoken).
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from kubepy.cli import jointoken
from kubepy.cli.common import default_data_dir, run_until_signalled, setup_logging

# what ``--disable`` knows (k3s's packaged components); traefik and local-storage are
# accepted and ignored, as kubepy has neither
DISABLE_CHOICES = ("coredns", "servicelb", "traefik", "local-storage", "metrics-server")
if TYPE_CHECKING:
    from kubepy.apiserver.certs import KeyPair
    from kubepy.cli.supervisor import ComponentSupervisor

# who a join token authenticates as; O=system:masters as the server's own node certificate
# (kubepy.cli.supervisor.write_node_kubeconfig): there is no node authorizer yet
AGENT_TOKEN_USER = "kubepy-agent:server"
AGENT_TOKEN_GROUPS = ("system:nodes", "system:masters")
CONTROL_PLANE_LABELS = ("node-role.kubernetes.io/control-plane=true",
                        "node-role.kubernetes.io/master=true")


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("server", help="run the control plane and, as root, the node agent")
    p.add_argument("--data-dir", "-d", type=Path, default=None,
                   help="state directory (default /var/lib/kubepy as root, else "
                        "~/.local/share/kubepy)")
    p.add_argument("--https-listen-port", type=int, default=6443)
    p.add_argument("--bind-address", default="0.0.0.0")
    p.add_argument("--write-kubeconfig", "-o", type=Path, default=None,
                   help="also write the admin kubeconfig here")
    p.add_argument("--datastore-endpoint", default="",
                   help="store endpoint (default: sqlite file in the data dir)")
    p.add_argument("--disable-agent", action="store_true",
                   help="control plane only (no kubelet on this machine)")
    p.add_argument("--disable-controller-manager", action="store_true",
                   help="do not run the controller-manager")
    p.add_argument("--disable-scheduler", action="store_true",
                   help="do not run the scheduler")
    p.add_argument("--service-cidr", default="10.43.0.0/16")
    p.add_argument("--cluster-cidr", default="10.42.0.0/16")
    p.add_argument("--cluster-domain", default="cluster.local")
    p.add_argument("--cluster-dns", default="10.43.0.10")
    p.add_argument("--node-name", default=None)
    p.add_argument("--disable", action="append", default=[],
                   help="do not deploy a packaged component: coredns, servicelb "
                        "(repeatable or comma-separated)")
    p.add_argument("--disable-kube-proxy", action="store_true",
                   help="no service proxy in the node agent")
    p.add_argument("--node-ip", default=None,
                   help="the node's InternalIP (default: the address of the default route)")
    p.add_argument("--node-label", action="append", default=[],
                   help="key=value label for the node (repeatable)")
    p.add_argument("--kubelet-port", type=int, default=10250,
                   help="the kubelet API port (0: any free port)")
    p.add_argument("--eviction-hard", default=None,
                   help="the node agent's hard eviction thresholds (see kubepy agent)")
    p.add_argument("--cluster-dns-port", type=int, default=10053,
                   help="port of the cluster DNS server on the node address (0: any free "
                        "port; the kube-dns Service maps 53 to it)")
    p.add_argument("--bridge", default=None, help="the pods' Linux bridge (agent)")
    p.add_argument("--netns-dir", default=None, help="network namespaces dir (agent)")
    p.add_argument("--cgroup-parent", default=None, help="the pods' cgroup parent (agent)")
    p.add_argument("--cni-bin-dir", default=None, help="CNI plugins (agent)")
    p.add_argument("--insecure-registry", action="append", default=[],
                   help="registry host[:port] reached over plain HTTP (agent; repeatable)")
    p.add_argument("--token", "-t", default=None,
                   help="shared secret agents join with (default: the one <data-dir>/token "
                        "holds, generated on the first start)")
    p.add_argument("--token-auth-file", default=None,
                   help='static bearer tokens, CSV lines: token,user,uid[,"group1,group2"]')
    p.add_argument("--apiserver-workers", type=int, default=1,
                   help="API server processes sharing the port and the store (more cores "
                        "for requests, one watch cache each)")
    p.add_argument("--worker-id", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--log-level", default="INFO")


def disabled(args: argparse.Namespace) -> set[str]:
    """``--disable a,b --disable c`` as a set; unknown names are an error."""
    out = {s.strip() for item in args.disable for s in item.split(",") if s.strip()}
    unknown = out - set(DISABLE_CHOICES)
    if unknown:
        raise SystemExit(f"kubepy server: --disable: unknown {', '.join(sorted(unknown))} "
                         f"(known: {', '.join(DISABLE_CHOICES)})")
    return out


def component_args(args: argparse.Namespace, kubeconfig: Path) -> list[str]:
    out = ["--kubeconfig", str(kubeconfig), "--cluster-cidr", args.cluster_cidr,
           "--service-cidr", args.service_cidr, "--log-level", args.log_level]
    if args.disable_controller_manager:
        out.append("--disable-controller-manager")
    if args.disable_scheduler:
        out.append("--disable-scheduler")
    if "servicelb" in disabled(args):
        out += ["--controllers", "*,-servicelb"]
    return out


def agent_skip_reason(args: argparse.Namespace, *, euid: int | None = None) -> str | None:
    """Why ``kubepy server`` runs no node agent, or None when it runs one."""
    if args.disable_agent:
        return "--disable-agent"
    if (os.geteuid() if euid is None else euid) != 0:
        return "not running as root (pods need runc, CNI and iptables)"
    return None


def agent_args(args: argparse.Namespace, *, server_url: str, kubeconfig: Path,
               data_dir: Path, node_name: str, node_ip: str) -> list[str]:
    """The ``kubepy agent`` command line of this server's node (pure)."""
    out = ["--server", server_url, "--kubeconfig", str(kubeconfig), "--node-name", node_name,
           "--node-ip", node_ip, "--data-dir", str(data_dir),
           "--cluster-dns", args.cluster_dns, "--cluster-domain", args.cluster_domain,
           "--cluster-cidr", args.cluster_cidr, "--kubelet-port", str(args.kubelet_port),
           "--log-level", args.log_level, "--watch-parent"]
    for label in (*CONTROL_PLANE_LABELS, *args.node_label):
        out += ["--node-label", label]
    for flag in ("bridge", "netns_dir", "cgroup_parent", "cni_bin_dir"):
        value = getattr(args, flag)
        if value is not None:
            out += ["--" + flag.replace("_", "-"), value]
    for registry in args.insecure_registry:
        out += ["--insecure-registry", registry]
    if args.disable_kube_proxy:
        out.append("--disable-kube-proxy")
    if getattr(args, "eviction_hard", None) is not None:
        out += ["--eviction-hard", args.eviction_hard]
    return out


def dns_args(args: argparse.Namespace, *, kubeconfig: Path, node_name: str,
             node_ip: str) -> list[str]:
    """The ``kubepy dns`` command line: listening on the node address (pure)."""
    return ["--kubeconfig", str(kubeconfig), "--listen", f"{node_ip}:{args.cluster_dns_port}",
            "--node-name", node_name, "--cluster-domain", args.cluster_domain,
            "--cluster-dns", args.cluster_dns, "--log-level", args.log_level,
            "--watch-parent"]


def join_secret(given: str | None, saved: str | None, generate: Callable[[], str]) -> str:
    """The secret agents join with: ``--token``'s, else the one ``<data-dir>/token`` holds,
    else a new one (pure; either may be in the secure or the short form)."""
    for token in (given, saved):
        if token and token.strip():
            return jointoken.parse(token).password
    return generate()


def setup_join_token(args: argparse.Namespace, data_dir: Path) -> str:
    """The join secret of this server (see join_secret), read from --token or the token file."""
    path = data_dir / "token"
    saved = path.read_text() if path.exists() else None
    try:
        return join_secret(args.token, saved, jointoken.generate_secret)
    except jointoken.JoinTokenError as e:
        raise SystemExit(f"kubepy server: --token: {e}") from None


def check_token_ca(args: argparse.Namespace, ca_bundle: bytes) -> None:
    """Refuse a secure --token that names another cluster's CA."""
    if args.token:
        try:
            jointoken.check_ca(jointoken.parse(args.token), ca_bundle)
        except jointoken.JoinTokenError as e:
            raise SystemExit(f"kubepy server: --token: {e}") from None


def write_join_token(data_dir: Path, ca_bundle: bytes, secret: str) -> Path:
    """``<data-dir>/token``: the secure form of *secret* (0600)."""
    path = data_dir / "token"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(jointoken.format_token(ca_bundle, secret) + "\n")
    os.chmod(path, 0o600)
    return path


def cluster_dns_problem(args: argparse.Namespace) -> str | None:
    """Why the kube-dns Service cannot have ``--cluster-dns`` as its IP, or None."""
    try:
        ip = ipaddress.ip_address(args.cluster_dns.split(",")[0])
        if ip not in ipaddress.ip_network(args.service_cidr, strict=False):
            return f"--cluster-dns {ip} is outside --service-cidr {args.service_cidr}"
    except ValueError as e:
        return str(e)
    return None


def run(args: argparse.Namespace) -> int:
    from kubepy.apiserver.auth import User
    from kubepy.apiserver.server import ApiServer, ServerConfig
    from kubepy.cli.supervisor import ComponentSupervisor, write_components_kubeconfig

    started = time.monotonic()
    setup_logging(args.log_level)
    skip_agent = agent_skip_reason(args)
    run_coredns = "coredns" not in disabled(args)
    config = ServerConfig(
        data_dir=(args.data_dir or default_data_dir()).resolve(),
        bind_address=args.bind_address, port=args.https_listen_port,
        datastore_endpoint=args.datastore_endpoint, service_cidr=args.service_cidr,
        cluster_cidr=args.cluster_cidr, cluster_domain=args.cluster_domain,
        write_kubeconfig=args.write_kubeconfig,
        workers=max(1, args.apiserver_workers), worker_id=args.worker_id)
    if args.token_auth_file:
        from kubepy.apiserver.auth import load_token_file

        config.tokens.update(load_token_file(args.token_auth_file))
    secret = setup_join_token(args, config.data_dir)
    if args.worker_id == 0:  # the CA exists from here on (as ApiServer.start makes it)
        from kubepy.apiserver.certs import ensure_ca

        config.data_dir.mkdir(parents=True, exist_ok=True)
        check_token_ca(args, ensure_ca(config.data_dir / "tls").cert_path.read_bytes())
    config.tokens[secret] = User(AGENT_TOKEN_USER, AGENT_TOKEN_GROUPS, "kubepy-join-token")
    server = ApiServer(config)

    async def worker(stop: asyncio.Event) -> None:
        await server.start()
        try:
            await stop.wait()
        finally:
            await server.stop()

    if args.worker_id > 0:  # an extra API server process, started by worker 0
        run_until_signalled(worker)
        return 0

    async def main(stop: asyncio.Event) -> None:
        await server.start()
        assert server.pki is not None and server.objects is not None
        token_path = write_join_token(config.data_dir, server.pki.ca.cert_path.read_bytes(),
                                      secret)
        if run_coredns:
            problem = cluster_dns_problem(args)
            if problem:
                print(f"kubepy: note: no kube-dns Service: {problem}", flush=True)
            else:
                from kubepy.apiserver.bootstrap import ensure_cluster_dns

                await ensure_cluster_dns(server.objects, server.registry,
                                         cluster_dns=args.cluster_dns.split(",")[0])
        workers = [ComponentSupervisor([*sys.argv[2:], "--worker-id", str(i)],
                                       subcommand="server")
                   for i in range(1, config.workers)]
        for w in workers:
            w.start()
        kubeconfig = config.write_kubeconfig or (config.data_dir / "admin.kubeconfig")
        print(f"kubepy: apiserver ready at {server.server_url()} "
              f"({time.monotonic() - started:.2f}s)", flush=True)
        print(f"kubepy: kubeconfig written to {kubeconfig}", flush=True)
        print(f"kubepy: use it with:  export KUBECONFIG={kubeconfig}; kubectl get nodes",
              flush=True)
        print(f"kubepy: node join token written to {token_path} (kubepy agent --server "
              f"{server.server_url()} --token $(cat {token_path}))", flush=True)
        components: ComponentSupervisor | None = None
        if not (args.disable_controller_manager and args.disable_scheduler):
            assert server.pki is not None
            path = write_components_kubeconfig(config.data_dir, server.server_url(),
                                               server.pki.ca)
            components = ComponentSupervisor(component_args(args, path))
            components.start()
        children: list[ComponentSupervisor] = []
        if skip_agent:
            print(f"kubepy: no node agent on this machine: {skip_agent}", flush=True)
        else:
            children = start_node(args, config.data_dir, server.server_url(), server.pki.ca,
                                  run_coredns=run_coredns)
        try:
            await stop.wait()
        finally:
            print("kubepy: shutting down", flush=True)
            for child in children:
                await child.stop()
            if components is not None:
                await components.stop()
            for w in workers:
                await w.stop()
            await server.stop()

    run_until_signalled(main)
    return 0


def start_node(args: argparse.Namespace, data_dir: Path, server_url: str, ca: "KeyPair", *,
               run_coredns: bool) -> list["ComponentSupervisor"]:
    """Start the node agent (and the cluster DNS next to it) as supervised children."""
    from kubepy.cli.supervisor import (ComponentSupervisor, write_components_kubeconfig,
                                       write_node_kubeconfig)
    from kubepy.kubelet.agent.kubelet import node_name_default
    from kubepy.kubelet.agent.node import default_node_ip

    node_name = args.node_name or node_name_default()
    node_ip = args.node_ip or default_node_ip("127.0.0.1")
    node_kubeconfig = write_node_kubeconfig(data_dir, server_url, ca, node_name)
    ensure_node_serving_cert(ca, agent_cert_dir(data_dir), node_name, node_ip)
    agent = ComponentSupervisor(agent_args(args, server_url=server_url,
                                           kubeconfig=node_kubeconfig, data_dir=data_dir,
                                           node_name=node_name, node_ip=node_ip),
                                subcommand="agent", stop_timeout=20.0)
    agent.start()
    print(f"kubepy: node agent started for node {node_name} (InternalIP {node_ip})",
          flush=True)
    children = [agent]
    if run_coredns:
        kubeconfig = write_components_kubeconfig(data_dir, server_url, ca)
        dns = ComponentSupervisor(dns_args(args, kubeconfig=kubeconfig, node_name=node_name,
                                           node_ip=node_ip), subcommand="dns")
        dns.start()
        children.insert(0, dns)
    return children


def agent_cert_dir(data_dir: Path) -> Path:
    """Where the agent of ``--data-dir data_dir`` keeps its kubelet API certificates (the
    agent's state is ``<data-dir>/agent``, its KubeletServer's cert_dir ``pki`` in it)."""
    return data_dir.resolve() / "agent" / "pki"


def ensure_node_serving_cert(ca: "KeyPair", cert_dir: Path, node_name: str,
                             node_ip: str) -> bool:
    """Issue this node's kubelet serving certificate from the cluster CA into ``cert_dir``
    (kubelet-serving.crt/.key; SANs: node name, localhost, node IP, 127.0.0.1; ServerAuth)
    unless the one there is still usable and signed by this CA; True when issued."""
    from kubepy.apiserver.certs import KeyPair, issue
    from kubepy.kubelet.server.tls import (PROVIDED_CERT, PROVIDED_KEY, provided_usable,
                                           serving_names)

    out = KeyPair(cert_dir / PROVIDED_CERT, cert_dir / PROVIDED_KEY)
    if provided_usable(out.cert_path, out.key_path, node_name, node_ip,
                       ca.cert_path.read_bytes()):
        return False
    dns, ips = serving_names(node_name, node_ip)
    issue(ca, out, common_name=f"system:node:{node_name}", organizations=("system:nodes",),
          dns_names=dns, ip_addresses=ips, server=True)
    return True
