"""A real PostgreSQL server for tests and benchmarks: Debian's binaries, a temporary directory, a free port.

``initdb`` and ``pg_ctl`` run in a directory of their own (data, Unix socket, log), the server
listens on 127.0.0.1 on a free port, and a password-protected role owns the databases the tests
create, so engines connect with the same kind of URI a Kubernetes Secret holds
(``postgresql://user:password@host:port/db``). PostgreSQL refuses to run as root: when the tests
run as root, the server runs as the ``postgres`` user (Debian's package creates it) through
``setpriv``, and the directory is handed to that user.

Nothing here skips: a server that cannot start raises ``PostgresUnavailable`` with the reason and
the server's log, and the fixtures turn that into a failure.
"""

from __future__ import annotations

import glob
import hashlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

USER = "pim"
PASSWORD = "pim-test-password"  # a throwaway server's
START_TIMEOUT = 60.0


class PostgresUnavailable(RuntimeError):
    """The server cannot be started here; the message says why."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bin_dir() -> Path:
    """The directory of ``initdb``/``pg_ctl``: ``$PIM_PG_BIN``, else Debian's newest installed major."""
    if os.environ.get("PIM_PG_BIN"):
        return Path(os.environ["PIM_PG_BIN"])
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).parent
    raise PostgresUnavailable(
        "PostgreSQL is not installed: no /usr/lib/postgresql/*/bin/initdb and no initdb on PATH "
        "(install Debian's postgresql package: hack/ci/system-deps.sh)"
    )


class PostgresServer:
    """One throwaway server; ``start`` and ``stop`` may be called again (the data directory stays)."""

    def __init__(
        self, directory: Path | None = None, *, settings: dict[str, str] | None = None, cpus: str | None = None
    ) -> None:
        self.bin = bin_dir()
        # /tmp, not $TMPDIR: the server's user must be able to reach the directory (a private
        # $TMPDIR of the test runner's may not be traversable by it).
        self.dir = directory or Path(tempfile.mkdtemp(prefix="pim-pg-", dir=os.environ.get("PIM_PG_TMPDIR", "/tmp")))
        self.data = self.dir / "data"
        self.socket_dir = self.dir / "run"
        self.log = self.dir / "server.log"
        self.port = _free_port()
        self.settings = {
            "listen_addresses": "127.0.0.1",
            "max_connections": "200",
            "fsync": "off",  # a test server: crash safety of the host is not under test
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "shared_buffers": "64MB",
            **(settings or {}),
        }
        self.run_as = _server_user()
        #: Pin the server (and every backend it forks) to these CPUs (``taskset -c``); benchmarks do.
        self.cpus = cpus

    # --- running commands as the server's user -----------------------------------------------

    def _as_server_user(self, cmd: list[str]) -> list[str]:
        if self.cpus is not None and shutil.which("taskset"):
            cmd = ["taskset", "-c", self.cpus, *cmd]
        if self.run_as is None:
            return cmd
        user = self.run_as
        return ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--init-groups", "--", *cmd]

    def _run(self, cmd: list[str], timeout: float = START_TIMEOUT) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}
        return subprocess.run(self._as_server_user(cmd), capture_output=True, text=True, timeout=timeout, env=env)

    def _hand_over(self, path: Path) -> None:
        if self.run_as is not None:
            os.chown(path, self.run_as.pw_uid, self.run_as.pw_gid)

    # --- lifecycle ----------------------------------------------------------------------------

    def init(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(exist_ok=True)
        self._hand_over(self.dir)
        self._hand_over(self.socket_dir)
        pwfile = self.dir / "pwfile"
        pwfile.write_text(PASSWORD + "\n")
        self._hand_over(pwfile)
        done = self._run(
            [
                str(self.bin / "initdb"),
                "-D",
                str(self.data),
                "-U",
                USER,
                f"--pwfile={pwfile}",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
            ]
        )
        pwfile.unlink()
        if done.returncode != 0:
            raise PostgresUnavailable(f"initdb failed ({done.returncode}): {done.stderr.strip() or done.stdout}")

    def start(self) -> PostgresServer:
        """Start (initialising on first use) and wait until it accepts connections."""
        if not (self.data / "PG_VERSION").exists():
            self.init()
        options = " ".join(f"-c {k}={v}" for k, v in self.settings.items())
        last = ""
        for _ in range(3):  # a port taken between _free_port and the bind: try another
            options_here = f"{options} -p {self.port} -k {self.socket_dir}"
            pg_ctl = [str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options_here]
            done = self._run([*pg_ctl, "-w", "-t", str(int(START_TIMEOUT)), "start"])
            if done.returncode == 0:
                return self
            last = f"pg_ctl start failed ({done.returncode}): {done.stderr.strip()}; log: {self.log_tail()}"
            if "already in use" not in last and "could not bind" not in last:
                break
            self.port = _free_port()
        raise PostgresUnavailable(last)

    def stop(self, mode: str = "fast") -> None:
        if (self.data / "postmaster.pid").exists():
            self._run([str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"])

    def destroy(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)

    def cpu_seconds(self) -> float:
        """CPU time (user + system) of the server so far: the postmaster, its exited children, live backends."""
        pid = int((self.data / "postmaster.pid").read_text().split()[0])
        tick = os.sysconf("SC_CLK_TCK")
        total = 0
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(entry.name) == pid:
                total += sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
            elif int(fields[1]) == pid:
                total += int(fields[11]) + int(fields[12])
        return total / tick

    def log_tail(self, lines: int = 20) -> str:
        try:
            return " | ".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.destroy()

    # --- databases ----------------------------------------------------------------------------

    def url(self, database: str = "postgres", query: str = "") -> str:
        """The URI an engine gets, as a CloudNativePG ``-app`` Secret holds it."""
        return f"postgresql://{USER}:{PASSWORD}@127.0.0.1:{self.port}/{database}" + (f"?{query}" if query else "")

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Run ``sql`` over the Unix socket; the output, unaligned and without headers."""
        cmd = [str(self.bin / "psql"), "-h", str(self.socket_dir), "-p", str(self.port), "-U", USER, "-d", database]
        cmd += ["-v", "ON_ERROR_STOP=1", "-X", "-q", "-A", "-t", "-c", sql]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            raise RuntimeError(f"psql failed: {done.stderr.strip()}")
        return done.stdout.strip()

    def create_database(self, name: str | None = None, *, tablespace: str | None = None) -> str:
        """A new empty database; its name."""
        name = name or "t_" + uuid.uuid4().hex[:12]
        extra = f' TABLESPACE "{tablespace}"' if tablespace else ""
        self.psql(f'CREATE DATABASE "{name}"{extra}')
        return name

    def dump(self, database: str) -> str:
        """Schema and data of a database as text (to prove a refused migration changed nothing)."""
        cmd = [str(self.bin / "pg_dump"), "-h", str(self.socket_dir), "-p", str(self.port), "-U", USER]
        cmd += ["--no-owner", "--no-comments", database]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            raise RuntimeError(f"pg_dump failed: {done.stderr.strip()}")
        return done.stdout

    def digest(self, database: str) -> str:
        """A digest of ``dump`` (without the random ``\\restrict`` keys newer pg_dumps write)."""
        kept = [
            line for line in self.dump(database).splitlines() if not line.startswith(("\\restrict", "\\unrestrict"))
        ]
        return hashlib.sha256("\n".join(kept).encode()).hexdigest()

    def wait_down(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while (self.data / "postmaster.pid").exists():
            if time.monotonic() > deadline:
                raise RuntimeError("server did not stop")
            time.sleep(0.05)


def _server_user() -> pwd.struct_passwd | None:
    """Who the server runs as: ourselves, or ``postgres`` when we are root (PostgreSQL refuses root)."""
    if os.geteuid() != 0:
        return None
    name = os.environ.get("PIM_PG_USER", "postgres")
    try:
        return pwd.getpwnam(name)
    except KeyError:
        raise PostgresUnavailable(
            f"running as root and there is no {name!r} user to run PostgreSQL as "
            "(Debian's postgresql package creates it; or set PIM_PG_USER)"
        ) from None
