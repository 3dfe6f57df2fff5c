"""Running iptables for the service proxy: the only I/O of the package.

``Iptables`` runs ``iptables``, ``iptables-save`` and ``iptables-restore`` (optionally through
a prefix such as ``ip netns exec NAME``, which is how tests program a network namespace).
``sync`` writes the whole ruleset with one ``iptables-restore --noflush`` (each table is
committed atomically; rules in other chains are untouched), deleting our chains that are no
longer wanted, then makes sure the built-in chains jump to ours (``-C`` then ``-I``, so
repeated syncs add nothing). ``cleanup`` removes every KUBEPY-* chain and every rule that
jumps to one, in one restore per table (for ``kubepy killall``). ``sctp_supported`` asks
the kernel once whether SCTP rules load (a real restore of a throwaway chain, then its
removal), since one unloadable SCTP rule would fail the whole restore.
"""

from __future__ import annotations

import asyncio
import shlex
from typing import Sequence

from kubepy.proxy import rules
from kubepy.proxy.rules import JUMPS, PREFIX, Ruleset

TABLES = ("filter", "nat")


class IptablesError(RuntimeError):
    pass


class Iptables:
    def __init__(self, prefix: Sequence[str] = (), *, timeout: float = 30.0) -> None:
        self.prefix = list(prefix)
        self.timeout = timeout

    async def _run(self, argv: Sequence[str], stdin: str | None = None,
                   *, check: bool = True) -> tuple[int, str]:
        proc = await asyncio.create_subprocess_exec(
            *self.prefix, *argv, stdin=asyncio.subprocess.PIPE if stdin is not None else None,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(
            proc.communicate(stdin.encode() if stdin is not None else None), self.timeout)
        if check and proc.returncode:
            raise IptablesError(f"{' '.join(argv)}: exit {proc.returncode}: "
                                f"{err.decode().strip()}")
        return proc.returncode or 0, out.decode()

    async def save(self, table: str) -> str:
        return (await self._run(["iptables-save", "-t", table]))[1]

    async def restore(self, text: str) -> None:
        await self._run(["iptables-restore", "-w", "5", "--noflush"], text)

    async def ensure_rule(self, table: str, chain: str, args: Sequence[str]) -> bool:
        """Insert the rule first in ``chain`` unless present; True when inserted."""
        code, _ = await self._run(["iptables", "-w", "5", "-t", table, "-C", chain, *args],
                                  check=False)
        if code == 0:
            return False
        await self._run(["iptables", "-w", "5", "-t", table, "-I", chain, "1", *args])
        return True

    async def set_route_localnet(self) -> None:
        """Let 127.0.0.1 node ports be DNATed elsewhere (kube-proxy sets the same)."""
        await self._run(["sysctl", "-q", "-w", "net.ipv4.conf.all.route_localnet=1"])


SCTP_PROBE_CHAIN = f"{PREFIX}SCTP-PROBE"


def sctp_probe_input(*, remove: bool) -> str:
    """Restore input creating (or removing) a filter chain holding one SCTP match rule."""
    if remove:
        return f"*filter\n:{SCTP_PROBE_CHAIN} - [0:0]\n-X {SCTP_PROBE_CHAIN}\nCOMMIT\n"
    return (f"*filter\n:{SCTP_PROBE_CHAIN} - [0:0]\n"
            f"-A {SCTP_PROBE_CHAIN} -p sctp -m sctp --dport 9 -j RETURN\nCOMMIT\n")


async def sctp_supported(ipt: Iptables) -> bool:
    """Whether this kernel's iptables loads SCTP rules (the probe chain is removed again)."""
    try:
        await ipt.restore(sctp_probe_input(remove=False))
    except (IptablesError, OSError):
        return False
    try:
        await ipt.restore(sctp_probe_input(remove=True))
    except (IptablesError, OSError):
        pass  # a leftover KUBEPY-* chain goes with the next cleanup
    return True


def has_jump(save_output: str, chain: str, args: Sequence[str]) -> bool:
    """Whether ``iptables-save`` output shows the jump: same chain, target and comment."""
    target, comment = args[-1], args[args.index("--comment") + 1]
    return any(line.startswith(f"-A {chain} ") and line.endswith(f"-j {target}")
               and comment in line for line in save_output.splitlines())


async def sync(ipt: Iptables, ruleset: Ruleset, *, route_localnet: bool = False) -> str:
    """Replace our chains with ``ruleset`` and ensure the jumps (in ``JUMPS`` order, first
    in each built-in chain); returns the restore input."""
    saves = {t: await ipt.save(t) for t in TABLES}
    text = rules.render(ruleset, {t: rules.our_chains(s) for t, s in saves.items()})
    await ipt.restore(text)
    for jump in reversed(JUMPS):
        if not has_jump(saves[jump.table], jump.chain, jump.args):
            await ipt.ensure_rule(jump.table, jump.chain, jump.args)
    if route_localnet:
        await ipt.set_route_localnet()
    return text


def cleanup_input(saves: dict[str, str]) -> str:
    """Restore input removing our chains and the rules jumping to them, from each table's
    ``iptables-save`` output (pure; empty when nothing of ours is there)."""
    out: list[str] = []
    for table, text in saves.items():
        ours = rules.our_chains(text)
        jumps = []
        for line in text.splitlines():
            if not line.startswith("-A "):
                continue
            parts = shlex.split(line)
            target = parts[parts.index("-j") + 1] if "-j" in parts else ""
            if not parts[1].startswith(PREFIX) and target.startswith(PREFIX):
                jumps.append(rules.rule_line(parts[1], parts[2:], op="-D"))
        if not ours and not jumps:
            continue
        out += [f"*{table}", *jumps, *(f":{c} - [0:0]" for c in ours),
                *(f"-X {c}" for c in ours), "COMMIT"]
    return "\n".join(out) + "\n" if out else ""


async def cleanup(ipt: Iptables | None = None) -> bool:
    """Remove every KUBEPY-* chain and jump; True when something was removed."""
    ipt = ipt or Iptables()
    text = cleanup_input({t: await ipt.save(t) for t in TABLES})
    if text:
        await ipt.restore(text)
    return bool(text)
