"""A real Dovecot IMAP server for the tests: started on a loopback port with a generated
configuration, a passwd-file of users and Maildir folders under a fresh directory.

Debian's ``dovecot-imapd`` (``.ci/run`` installs it). Dovecot refuses mail users whose uid is
below ``first_valid_uid`` and never lets root own a mailbox, so when the tests run as root the
mailboxes belong to ``nobody``. Mail is loaded over IMAP APPEND, as any client would.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from imapclient import IMAPClient

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"

CONFIG = """\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
instance_name = hub-test-{port}
listen = 127.0.0.1
protocols = imap
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = {uid}
last_valid_uid = 0
first_valid_gid = {gid}
mail_location = maildir:{root}/mail/%u
mail_plugins = $mail_plugins
default_internal_user = {internal_user}
default_login_user = {login_user}
mail_max_userip_connections = 100

# High-performance login mode: one long-lived login process serves every connection, instead
# of a new process per login (what the sync's one login per run per mailbox pays for).
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
  chroot =
  service_count = 0
  process_min_avail = 1
}}
service anvil {{
  chroot =
}}
service auth {{
  unix_listener auth-userdb {{
    mode = 0666
  }}
}}
service stats {{
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd.d/%u
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {root}/passwd.d/%u
}}
namespace inbox {{
  inbox = yes
  separator = /
  mailbox Sent {{
    special_use = \\Sent
    auto = subscribe
  }}
  mailbox Drafts {{
    special_use = \\Drafts
    auto = subscribe
  }}
  mailbox Trash {{
    special_use = \\Trash
    auto = subscribe
  }}
}}
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _mail_owner() -> tuple[int, int]:
    if os.geteuid() != 0:
        return os.geteuid(), os.getegid()
    nobody = pwd.getpwnam("nobody")
    return nobody.pw_uid, nobody.pw_gid


def _system_user(name: str) -> str:
    """Dovecot's own unprivileged users, when the package made them and we are root."""
    if os.geteuid() != 0:
        return pwd.getpwuid(os.geteuid()).pw_name
    try:
        pwd.getpwnam(name)
    except KeyError:
        return "nobody"
    return name


@dataclass
class Dovecot:
    """One running server; ``user_add`` makes a mailbox, ``client`` logs in to it."""

    root: Path
    port: int
    host: str = "127.0.0.1"
    process: subprocess.Popen | None = None
    users: dict[str, str] = field(default_factory=dict)

    @classmethod
    def start(cls, *, extra_config: str = "") -> Dovecot:
        """Start a server; ``extra_config`` is appended to its dovecot.conf (a test's own
        settings, e.g. ``imap_capability``)."""
        if not os.path.exists(DOVECOT):
            raise RuntimeError(
                "Dovecot is not installed: apt-get install dovecot-imapd (.ci/run does)"
            )
        root = Path(tempfile.mkdtemp(prefix="hub-dovecot-"))
        root.chmod(0o755)
        uid, gid = _mail_owner()
        for sub in ("run", "state", "mail", "passwd.d"):
            (root / sub).mkdir()
        os.chown(root / "mail", uid, gid)
        server = cls(root=root, port=_free_port())
        (root / "dovecot.conf").write_text(
            CONFIG.format(
                root=root,
                port=server.port,
                uid=uid,
                gid=gid,
                internal_user=_system_user("dovecot"),
                login_user=_system_user("dovenull"),
            )
            + extra_config
        )
        server.process = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(root / "dovecot.conf")],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        server._wait_listening()
        return server

    def _wait_listening(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                out = (
                    self.process.stdout.read().decode(errors="replace")
                    if self.process.stdout
                    else ""
                )
                raise RuntimeError(f"dovecot exited ({self.process.returncode}): {out}{self.log()}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5) as s:
                    if s.recv(100).startswith(b"* OK"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"dovecot did not answer on {self.host}:{self.port}: {self.log()}")

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def user_add(self, user: str, password: str = "secret-password") -> str:
        """Add a mail user (``user`` is also its login); returns the password."""
        uid, gid = _mail_owner()
        home = self.root / "home" / user
        home.mkdir(parents=True, exist_ok=True)
        os.chown(home, uid, gid)
        os.chown(home.parent, uid, gid)
        # One passwd-file per user: Dovecot re-reads a passwd-file at most once a second, so a
        # user added to a shared file in the second of the last login could not log in yet; a
        # new file is read when first asked for.
        (self.root / "passwd.d" / user).write_text(
            f"{user}:{{PLAIN}}{password}:{uid}:{gid}::{home}::\n"
        )
        self.users[user] = password
        return password

    def user_remove(self, user: str) -> None:
        (self.root / "passwd.d" / user).unlink(missing_ok=True)
        self.users.pop(user, None)

    def client(self, user: str) -> IMAPClient:
        imap = IMAPClient(self.host, port=self.port, ssl=False, timeout=10)
        imap.login(user, self.users[user])
        return imap

    def append(self, user: str, messages: list[bytes], folder: str = "INBOX", flags=()) -> None:
        """APPEND raw messages to a folder of the user's mailbox, in order."""
        with self.client(user) as imap:
            for message in messages:
                imap.append(folder, message, flags=flags)

    def doveadm(self, *args: str) -> str:
        """Run ``doveadm`` against this server (as its administrator would)."""
        done = subprocess.run(
            [
                shutil.which("doveadm") or "/usr/bin/doveadm",
                "-c",
                str(self.root / "dovecot.conf"),
                *args,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"doveadm {' '.join(args)}: {done.stderr or done.stdout}")
        return done.stdout

    def kick(self, user: str, timeout: float = 10.0) -> None:
        """Drop the user's connections, as a server restart would, and return once their
        processes are gone (``doveadm kick`` only signals them: a command already on its way
        could still be answered)."""
        pids = [
            int(line.split()[2])
            for line in self.doveadm("who", "-1").splitlines()[1:]
            if line.split() and line.split()[0] == user
        ]
        self.doveadm("kick", user)
        deadline = time.monotonic() + timeout
        while any(os.path.exists(f"/proc/{pid}") for pid in pids):
            if time.monotonic() > deadline:
                raise RuntimeError(f"dovecot's processes {pids} of {user} did not exit")
            time.sleep(0.01)

    def uidvalidity_set(self, user: str, folder: str, value: int) -> None:
        """Give a folder a new UIDVALIDITY, as a server does after rebuilding its index."""
        self.doveadm("mailbox", "update", "-u", user, "--uid-validity", str(value), folder)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.root, ignore_errors=True)
