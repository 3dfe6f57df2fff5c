"""``ConmonRunner`` with conmon's stderr in a file instead of a pipe. I/O.

Why: under uvloop (the loop ``kubepy agent`` runs on) the stdio of a child is a socketpair
and libuv leaves a duplicate of it open in the child; conmon daemonizes and keeps that
duplicate, so ``communicate()`` on its stderr waits until the container's end and
``create`` never returns. A file has no end to wait for: the runner waits for conmon's
first process to exit (once it has forked) and reads the file. The behaviour is otherwise
``kubepy.kubelet.runtime.conmon.ConmonRunner._spawn``'s; this module goes once that method
does the same.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile

from kubepy.kubelet.runtime import conmon as _conmon
from kubepy.kubelet.runtime.conmon import ConmonError, ConmonRunner


class FileStderrConmonRunner(ConmonRunner):
    async def _spawn(self, container_id: str, meta: "_conmon.ContainerMeta") -> int:  # type: ignore[override]
        sync_r, sync_w = os.pipe()
        try:
            with tempfile.TemporaryFile() as err_file:
                env = dict(os.environ, _OCI_SYNCPIPE=str(sync_w))
                proc = await asyncio.create_subprocess_exec(
                    *self.command(container_id, meta), cwd=meta.bundle, env=env,
                    pass_fds=(sync_w,), stdin=asyncio.subprocess.DEVNULL,
                    stdout=asyncio.subprocess.DEVNULL, stderr=err_file,
                    start_new_session=True)
                os.close(sync_w)
                sync_w = -1
                await proc.wait()              # the parent exits once conmon has forked
                if proc.returncode != 0:
                    err_file.seek(0)
                    err = err_file.read(64 * 1024).decode(errors="replace").strip()
                    raise ConmonError(container_id, f"conmon exited {proc.returncode}: {err}")
            line = await _conmon._read_line(sync_r, timeout=60)
        finally:
            os.close(sync_r)
            if sync_w >= 0:
                os.close(sync_w)
        try:
            msg = json.loads(line) if line.strip() else {}
        except ValueError:
            msg = {}
        pid = int(msg.get("pid", msg.get("data", -1)))
        if pid <= 0:
            raise ConmonError(container_id, str(msg.get("message") or
                                                "conmon exited without reporting a pid"))
        return pid
