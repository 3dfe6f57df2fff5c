"""exec probes and exec lifecycle hooks, run through the caller's ``ExecSync``.

Probe (pkg/probe/exec): exit code 0 is success, anything else failure; the message is the
combined stdout+stderr, read up to 10 KiB. A timeout is a failure whose message is CRI's
'command "sh -c sleep 5" timed out'. Any other exception means the probe could not run
(UNKNOWN, the kubelet's err != nil). The command is expanded ($(VAR)) against the
container's literal env values only, as ExpandContainerCommandOnlyStatic does.

Hook (lifecycle/handlers.go): a non-zero exit or an error fails the hook with the kubelet's
'Exec lifecycle hook ([...]) for Container "c" in Pod "p_ns(uid)" failed - error: ...,
message: "..."'.
"""

from __future__ import annotations

import asyncio

from kubepy.kubelet.prober.common import MAX_READ_LENGTH, go_list, go_quote, pod_full_name
from kubepy.kubelet.prober.types import ExecSync, Obj, Outcome, ProbeResult
from kubepy.kubelet.runtime.env import expand


def static_command(command: list[str], container: Obj) -> list[str]:
    """$(VAR) expansion against the container's env entries that have a literal value."""
    mapping = {e["name"]: e.get("value", "") for e in container.get("env") or []
               if "name" in e and "valueFrom" not in e}
    return [expand(str(arg), mapping) for arg in command]


def timed_out_message(argv: list[str]) -> str:
    return f"command {go_quote(' '.join(argv))} timed out"


async def probe_exec(command: list[str], container: Obj, exec_sync: ExecSync,
                     timeout: float | None) -> Outcome:
    argv = static_command(command, container)
    try:
        code, out, err = await exec_sync(argv, timeout)
    except (TimeoutError, asyncio.TimeoutError):
        return Outcome(ProbeResult.FAILURE, timed_out_message(argv))
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # the runtime could not run it: an errored probe
        return Outcome(ProbeResult.UNKNOWN, str(exc) or type(exc).__name__)
    output = (out + err)[:MAX_READ_LENGTH].decode("utf-8", "replace")
    return Outcome(ProbeResult.SUCCESS if code == 0 else ProbeResult.FAILURE, output)


async def hook_exec(command: list[str], *, pod: Obj, container: Obj, exec_sync: ExecSync,
                    timeout: float | None) -> Outcome:
    argv = [str(a) for a in command]
    output = b""
    try:
        code, out, err = await exec_sync(argv, timeout)
        output = out + err
        error = "" if code == 0 else (f"command '{' '.join(argv)}' exited with {code}: "
                                      f"{err.decode('utf-8', 'replace')}")
    except (TimeoutError, asyncio.TimeoutError):
        error = timed_out_message(argv)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        error = str(exc) or type(exc).__name__
    if not error:
        return Outcome(ProbeResult.SUCCESS, "")
    message = (f"Exec lifecycle hook ({go_list(argv)}) for Container "
               f"{go_quote(container.get('name', ''))} in Pod {go_quote(pod_full_name(pod))} "
               f"failed - error: {error}, message: "
               f"{go_quote(output.decode('utf-8', 'replace'))}")
    return Outcome(ProbeResult.FAILURE, message)
