"""A private Postfix on 127.0.0.1 for the tests that put mailhub behind a real MTA.

The instance has its own configuration folder, queue and log in a temporary folder of its
own (Postfix's processes drop to the `postfix` user, which cannot enter pytest's private
tmp_path), listens on a free port, looks nothing up in DNS, and hands everything it does
not deliver to mailhub to a relay host on 127.0.0.1 (the tests' sink). Postfix's master
must start as root; as any other user the tests skip, except under CI=true, where a
missing or unusable Postfix fails them.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from smtp_sink import free_port

SBIN = ("/usr/sbin", "/usr/bin", "/sbin")
START_SECONDS = 10.0

MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {root}/queue
data_directory = {root}/data
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.test.example
mydomain = test.example
myorigin = $myhostname
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
smtputf8_enable = no
smtp_dns_support_level = disabled
lmtp_dns_support_level = disabled
smtp_host_lookup = native
lmtp_host_lookup = native
relayhost = [127.0.0.1]:{relay_port}
maillog_file = {root}/maillog
maillog_file_prefixes = {root}
alias_maps =
alias_database =
biff = no
in_flow_delay = 0
"""

MASTER_CF = """\
127.0.0.1:{port} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


def command(name: str) -> str | None:
    """A Postfix program, found where Debian puts it even when PATH lacks the sbin folders."""
    found = shutil.which(name)
    if found:
        return found
    for folder in SBIN:
        if os.access(Path(folder) / name, os.X_OK):
            return str(Path(folder) / name)
    return None


def require_postfix() -> str:
    """The `postfix` program; skips without it (or without root), fails instead under CI."""
    postfix = command("postfix")
    problem = None
    if postfix is None:
        problem = "Postfix is not installed (apt-get install postfix; .ci/run does)"
    elif os.geteuid() != 0:
        problem = "Postfix's master must start as root"
    if problem is None:
        assert postfix is not None
        return postfix
    if os.environ.get("CI") == "true":
        pytest.fail(f"{problem}; under CI these tests must run")
    pytest.skip(problem)


@dataclass
class Postfix:
    """A private Postfix: its folder, SMTP port and log; started by `start`."""

    root: Path
    port: int
    program: str
    started: bool = False

    @property
    def config_dir(self) -> Path:
        return self.root / "etc"

    def add_main_cf(self, lines: list[str]) -> None:
        with (self.config_dir / "main.cf").open("a") as main_cf:
            main_cf.write("\n".join(lines) + "\n")

    def start(self) -> None:
        done = subprocess.run(
            [self.program, "-c", str(self.config_dir), "start"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        self.started = True
        if done.returncode != 0:
            pytest.fail(f"postfix start failed: {done.stderr}{self.log()}")
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        pytest.fail(f"Postfix did not listen on {self.port}:\n{self.log()}")

    def reload(self) -> None:
        """`postfix reload`: a running Postfix reads main.cf again (its new processes do)."""
        done = subprocess.run(
            [self.program, "-c", str(self.config_dir), "reload"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        if done.returncode != 0:
            pytest.fail(f"postfix reload failed: {done.stderr}{self.log()}")

    def stop(self) -> None:
        """`postfix stop`, then make sure the master (whose pid Postfix keeps) is gone."""
        if not self.started:
            return
        subprocess.run(
            [self.program, "-c", str(self.config_dir), "stop"], capture_output=True, timeout=30
        )
        self.started = False
        try:
            pid = int((self.root / "queue" / "pid" / "master.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)
        os.kill(pid, signal.SIGKILL)

    def log(self) -> str:
        path = self.root / "maillog"
        return path.read_text(errors="replace") if path.exists() else ""

    def queue(self) -> list[dict[str, Any]]:
        """What waits in the queue (postqueue -j): one object per message."""
        done = subprocess.run(
            [command("postqueue") or "postqueue", "-c", str(self.config_dir), "-j"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]

    def flush(self) -> None:
        """Try every deferred message again now (postqueue -f)."""
        subprocess.run(
            [command("postqueue") or "postqueue", "-c", str(self.config_dir), "-f"],
            capture_output=True,
            timeout=10,
            check=True,
        )

    def wait_for(self, condition: Callable[[], object], what: str, seconds: float = 10.0) -> None:
        """Poll ``condition`` until it holds; fail with Postfix's log if it never does."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if condition():
                return
            time.sleep(0.05)
        pytest.fail(f"{what} did not happen in {seconds} s; Postfix log:\n{self.log()[-4000:]}")


@contextmanager
def postfix_folder(relay_port: int) -> Iterator[Postfix]:
    """A private Postfix's folder with the base main.cf and master.cf, not yet started
    (add the lines mailhub prints, then start it); always stopped and removed at the end."""
    program = require_postfix()
    root = Path(tempfile.mkdtemp(prefix="mailhub-postfix-"))
    root.chmod(0o755)
    for folder in (root / "etc", root / "queue", root / "data"):
        folder.mkdir()
    # Postfix warns unless its data folder belongs to mail_owner.
    shutil.chown(root / "data", "postfix")
    instance = Postfix(root, free_port(), program)
    (root / "etc" / "main.cf").write_text(MAIN_CF.format(root=root, relay_port=relay_port))
    (root / "etc" / "master.cf").write_text(MASTER_CF.format(port=instance.port))
    try:
        yield instance
    finally:
        instance.stop()
        shutil.rmtree(root, ignore_errors=True)
