"""A private Dovecot on 127.0.0.1 for IMAP tests: its own config, user, Maildir, TLS and log.

Dovecot refuses to serve mail or run login processes as root, so when the tests run as
root the instance uses the Debian system users (`dovecot`, `dovenull`) for its internal and
login processes and `nobody` for mail; as any other user it runs everything as that user.
The instance lives in its own world-readable temporary folder, because those users cannot
enter pytest's private tmp_path.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from imapclient import IMAPClient
from needs import need
from smtp_sink import free_port

USER = "list"
PASSWORD = "imap-test-password"
START_SECONDS = 10.0

CONFIG = """\
instance_name = {name}
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
default_internal_user = {internal_user}
default_internal_group = {internal_group}
default_login_user = {login_user}
mail_uid = {mail_user}
mail_gid = {mail_group}
mail_location = maildir:~/Maildir
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
login_trusted_networks = 127.0.0.0/8
ssl = yes
ssl_cert = <{root}/cert.pem
ssl_key = <{root}/key.pem
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {root}/users
}}
userdb {{
  driver = passwd-file
  args = {root}/users
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    port = {port}
  }}
  inet_listener imaps {{
    port = {tls_port}
  }}
}}
service anvil {{
  chroot =
}}
"""


def _accounts() -> dict[str, str]:
    """Which system users run the internal, login and mail processes."""
    if os.geteuid() != 0:
        me = pwd.getpwuid(os.getuid())
        group = grp.getgrgid(me.pw_gid).gr_name
        return dict.fromkeys(("internal", "login", "mail"), me.pw_name) | {
            "internal_group": group,
            "mail_group": group,
        }
    users = {entry.pw_name for entry in pwd.getpwall()}
    need(
        {"dovecot", "dovenull", "nobody"} <= users,
        "running as root needs the users dovecot, dovenull and nobody",
    )
    internal = pwd.getpwnam("dovecot")
    mail = pwd.getpwnam("nobody")
    return {
        "internal": internal.pw_name,
        "internal_group": internal.pw_name,
        "login": "dovenull",
        "mail": mail.pw_name,
        "mail_group": grp.getgrgid(mail.pw_gid).gr_name,
    }


def _self_signed_certificate(root: Path) -> None:
    """A throwaway certificate for localhost, made with the openssl command."""
    need(shutil.which("openssl") is not None, "openssl is needed to make the test certificate")
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-nodes", "-days", "2", "-subj", "/CN=localhost"),
            *("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"),
            *("-keyout", str(root / "key.pem"), "-out", str(root / "cert.pem")),
        ],
        check=True,
        capture_output=True,
    )


@dataclass
class Dovecot:
    """One running instance; `restart` keeps its ports, users and mail."""

    root: Path
    port: int = field(default_factory=free_port)
    tls_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def config(self) -> Path:
        return self.root / "dovecot.conf"

    def write_config(self) -> None:
        accounts = _accounts()
        text = CONFIG.format(
            name=self.root.name,
            root=self.root,
            port=self.port,
            tls_port=self.tls_port,
            internal_user=accounts["internal"],
            internal_group=accounts["internal_group"],
            login_user=accounts["login"],
            mail_user=accounts["mail"],
            mail_group=accounts["mail_group"],
        )
        self.config.write_text(text)
        (self.root / "users").write_text(f"{USER}:{{PLAIN}}{PASSWORD}::::{self.root}/mail/{USER}\n")
        mail = self.root / "mail"
        mail.mkdir(exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(mail, user=accounts["mail"], group=accounts["mail_group"])
        _self_signed_certificate(self.root)

    def start(self) -> None:
        dovecot = shutil.which("dovecot") or "/usr/sbin/dovecot"
        need(Path(dovecot).exists(), "dovecot is not installed (apt-get install dovecot-imapd)")
        self.process = subprocess.Popen(
            [dovecot, "-F", "-c", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        self._wait_for_port()

    def _wait_for_port(self) -> None:
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                error = self.process.stderr.read().decode() if self.process.stderr else ""
                raise RuntimeError(f"dovecot exited: {error}{self.log_text()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"dovecot did not listen on {self.port}: {self.log_text()}")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        # The whole process group goes at once, open IMAP sessions included, as in a crash:
        # a graceful shutdown takes seconds and leaves existing sessions running.
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        if process.stderr:
            process.stderr.close()

    def restart(self) -> None:
        self.stop()
        self.start()

    def log_text(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    @contextmanager
    def client(self) -> Iterator[IMAPClient]:
        """A logged-in client for the test's own reading and writing of the mailbox."""
        client = IMAPClient("127.0.0.1", port=self.port, ssl=False, timeout=10)
        try:
            client.login(USER, PASSWORD)
            yield client
        finally:
            client.logout()


@contextmanager
def running_dovecot() -> Iterator[Dovecot]:
    """Start a fresh instance in its own folder; always stop it and remove the folder."""
    root = Path(tempfile.mkdtemp(prefix="mailhub-dovecot-"))
    root.chmod(0o755)
    server = Dovecot(root)
    try:
        server.write_config()
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
