"""Removing the nat-table rules the CNI plugins left for kubepy's network.

The plugins clean up after a successful DEL, but ``kubepy killall`` must also handle pods whose
DEL never ran (a crash, a lost cache) and the chains portmap shares between containers
(``CNI-HOSTPORT-*``, never deleted by the plugin). ``cleanup_commands`` is the pure part: from
``iptables-save -t nat`` text and the network name it decides which rules and chains are ours:

- a ``CNI-*`` chain holding or targeted by a rule with the plugins' comment
  ``name: "<network>" id: ...``, or named in ``extra_chains`` (computed from cached IDs);
- the shared portmap chains, only when no other network's container still uses them (the
  top-level DNAT chain would be empty without our jumps);
- any other rule carrying that comment (the node's masquerade rule, ``cni.masquerade_rule``).

It returns the iptables argument lists to run in order: delete every rule elsewhere that jumps
to a chain being removed, then flush, then delete the chains.
"""

from __future__ import annotations

import shlex
from typing import Iterable

from kubepy.kubelet.network.cni import PORTMAP_SHARED_CHAINS
from kubepy.kubelet.network.process import run_process

TABLE = "nat"


def parse_save(text: str) -> tuple[list[str], list[tuple[str, list[str]]]]:
    """The chains declared in one table of ``iptables-save`` output and its ``-A`` rules as
    ``(chain, args after the chain name)``."""
    chains: list[str] = []
    rules: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        if line.startswith(":"):
            chains.append(line[1:].split()[0])
        elif line.startswith("-A "):
            parts = shlex.split(line)
            rules.append((parts[1], parts[2:]))
    return chains, rules


def _target(args: list[str]) -> str | None:
    for flag in ("-j", "--jump", "-g", "--goto"):
        if flag in args:
            i = args.index(flag)
            if i + 1 < len(args):
                return args[i + 1]
    return None


def _comment(args: list[str]) -> str:
    return args[args.index("--comment") + 1] if "--comment" in args[:-1] else ""


def cleanup_commands(save_text: str, network: str,
                     extra_chains: Iterable[str] = ()) -> list[list[str]]:
    """iptables argument lists (``-t nat ...``) removing network ``network``'s leftovers."""
    chains, rules = parse_save(save_text)
    present = set(chains)
    marker = f'name: "{network}" id: '
    shared = set(PORTMAP_SHARED_CHAINS)
    own = {c for c in extra_chains if c in present and c not in shared}
    for chain, args in rules:
        if marker not in _comment(args):
            continue
        for c in (chain, _target(args)):
            if c and c.startswith("CNI-") and c not in shared:
                own.add(c)
    # the shared portmap chains go when nothing but our containers' chains hang off them
    dnat_users = [_target(a) for c, a in rules if c == "CNI-HOSTPORT-DNAT"]
    if all(t in own for t in dnat_users):
        own |= shared & present
    cmds: list[list[str]] = []
    for chain, args in rules:
        if chain not in own and (_target(args) in own or marker in _comment(args)):
            cmds.append(["-t", TABLE, "-D", chain, *args])
    ordered = [c for c in chains if c in own]
    cmds += [["-t", TABLE, "-F", c] for c in ordered]
    cmds += [["-t", TABLE, "-X", c] for c in ordered]
    return cmds


async def _run(*argv: str) -> tuple[int, str]:
    rc, out, err = await run_process(list(argv))
    return rc, (out + err).decode(errors="replace")


async def run(*args: str) -> tuple[int, str]:
    """``iptables -w ARGS``: (exit code, output)."""
    return await _run("iptables", "-w", *args)


async def save_nat() -> str:
    rc, out = await _run("iptables-save", "-t", TABLE)
    if rc != 0:
        raise OSError(f"iptables-save failed: {out.strip()}")
    return out


async def remove_leftovers(network: str, extra_chains: Iterable[str] = ()) -> list[str]:
    """Run ``cleanup_commands`` against the live nat table; the commands that failed."""
    failed = []
    for cmd in cleanup_commands(await save_nat(), network, extra_chains):
        rc, out = await _run("iptables", "-w", *cmd)
        if rc != 0:
            failed.append(f"iptables {shlex.join(cmd)}: {out.strip()}")
    return failed
