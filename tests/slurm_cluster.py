"""A real single-node Slurm for tests and benchmarks: ``munged`` + ``slurmctld`` + ``slurmd``.

Started the way /work/shared/DESIGN.md and issue 16 describe (Slurm 22.05 from Debian's
``slurm-wlm``): ``munged`` as the ``munge`` user (``/run/munge`` owned by it; an already running
``munged`` is reused and left alone), a minimal ``slurm.conf`` in a temporary folder (this host's
short name as node and controller, ``CPUs=nproc``, ``SlurmUser=root``, ``proctrack/linuxproc``,
``task/none``, ``select/cons_tres`` with ``CR_Core``, every state/spool/log/pid path in the
folder, free ports), then ``slurmctld`` and ``slurmd`` in the foreground (``-D``) with
``SLURM_CONF`` set, until ``sinfo`` shows the node idle. Stopped by their process ids.

There is no accounting storage, so ``sacct`` fails here: nnexp follows jobs with ``squeue`` and
the jobs' own files, which is what this cluster can tell.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

START_TIMEOUT = 60.0
MUNGE_SOCKET = Path("/run/munge/munge.socket.2")
DAEMONS = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scancel", "sinfo")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("", 0))
        return sock.getsockname()[1]


def missing_reason() -> str | None:
    """Why a Slurm cannot be started here (None if it can)."""
    for name in DAEMONS:
        if shutil.which(name) is None and not Path(f"/usr/sbin/{name}").exists():
            return f"{name} not found: apt-get install -y slurm-wlm munge (.ci/run does)"
    if os.geteuid() != 0:
        return "starting slurmd needs root (SlurmUser=root, jobs run as the submitting user)"
    try:
        pwd.getpwnam("munge")
    except KeyError:
        return "no 'munge' user to run munged as"
    if not Path("/etc/munge/munge.key").exists():
        return "no /etc/munge/munge.key (the munge package creates it)"
    return None


def _which(name: str) -> str:
    return shutil.which(name) or f"/usr/sbin/{name}"


@dataclass
class SlurmCluster:
    """A running single-node cluster; ``env`` has ``SLURM_CONF`` for the client commands."""

    root: Path
    conf: Path
    node: str
    cpus: int
    processes: list[subprocess.Popen]

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "SLURM_CONF": str(self.conf)}

    def run(self, *args: str, timeout: float = 30) -> subprocess.CompletedProcess:
        return subprocess.run(
            list(args), capture_output=True, text=True, timeout=timeout, env=self.env
        )

    def queue(self) -> list[str]:
        """``JOBID STATE`` of every job the controller still lists (array tasks one by one)."""
        out = self.run("squeue", "-h", "-r", "-o", "%i %T").stdout
        return [line.strip() for line in out.splitlines() if line.strip()]

    def wait_idle(self, timeout: float = 60) -> None:
        """Wait until no job is listed (the previous test's jobs are gone)."""
        deadline = time.monotonic() + timeout
        while self.queue() and time.monotonic() < deadline:
            time.sleep(0.5)


def _munge_works() -> bool:
    if not MUNGE_SOCKET.exists():
        return False
    encoded = subprocess.run(["munge", "-n"], capture_output=True, timeout=10)
    if encoded.returncode != 0:
        return False
    decoded = subprocess.run(["unmunge"], input=encoded.stdout, capture_output=True, timeout=10)
    return decoded.returncode == 0


def _start_munge(root: Path) -> subprocess.Popen | None:
    """Start ``munged`` as ``munge`` unless one already answers; return the process we started."""
    if _munge_works():
        return None
    owner = pwd.getpwnam("munge")
    run_dir = MUNGE_SOCKET.parent
    run_dir.mkdir(parents=True, exist_ok=True)
    os.chown(run_dir, owner.pw_uid, owner.pw_gid)
    run_dir.chmod(0o755)
    process = subprocess.Popen(
        ["runuser", "-u", "munge", "--", _which("munged"), "--foreground"],
        stdout=(root / "munged.log").open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 20
    while not _munge_works():
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"munged did not start: {(root / 'munged.log').read_text()}")
        time.sleep(0.2)
    return process


def _write_conf(root: Path, node: str, cpus: int, oversubscribe: str) -> Path:
    for sub in ("state", "spool", "log"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    conf = root / "slurm.conf"
    conf.write_text(
        f"""ClusterName=nnexp-test
SlurmctldHost={node}
SlurmUser=root
AuthType=auth/munge
SlurmctldPort={_free_port()}
SlurmdPort={_free_port()}
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd.pid
SlurmctldLogFile={root}/log/slurmctld.log
SlurmdLogFile={root}/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
KillWait=5
MinJobAge=30
InactiveLimit=0
SlurmctldTimeout=30
SlurmdTimeout=30
NodeName={node} CPUs={cpus} State=UNKNOWN
PartitionName=debug Nodes={node} Default=YES MaxTime=INFINITE State=UP OverSubscribe={oversubscribe}
"""
    )
    return conf


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    for sig, grace in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue


@contextlib.contextmanager
def slurm_cluster(oversubscribe: str = "NO") -> Iterator[SlurmCluster]:
    """Start munged (if needed), slurmctld and slurmd; yield the cluster; stop what we started.

    ``oversubscribe``: the partition's ``OverSubscribe`` (``FORCE:4`` lets four one-CPU jobs
    share each core, so that tests run more workers at once than this machine has cores).
    """
    root = Path(tempfile.mkdtemp(prefix="nnexp-slurm-"))
    root.chmod(0o755)
    node = socket.gethostname().split(".")[0]
    cpus = os.cpu_count() or 1
    conf = _write_conf(root, node, cpus, oversubscribe)
    started: list[subprocess.Popen] = []
    cluster = SlurmCluster(root, conf, node, cpus, started)
    try:
        munged = _start_munge(root)
        if munged is not None:
            started.append(munged)
        for daemon in ("slurmctld", "slurmd"):
            started.append(
                subprocess.Popen(
                    [_which(daemon), "-D", "-f", str(conf)],
                    env=cluster.env,
                    stdout=(root / "log" / f"{daemon}.out").open("w"),
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            for process in started:
                if process.poll() is not None:
                    raise RuntimeError(f"{process.args[0]} exited: {_logs(root)}")
            state = cluster.run("sinfo", "-h", "-o", "%T").stdout.strip()
            if state == "idle":
                break
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"node not idle after {START_TIMEOUT:.0f} s ({state}): {_logs(root)}"
                )
            time.sleep(0.5)
        yield cluster
    finally:
        with contextlib.suppress(Exception):
            cluster.run("scancel", "--user=root", timeout=10)
        for process in reversed(started):
            _stop(process)
        shutil.rmtree(root, ignore_errors=True)


def _logs(root: Path) -> str:
    parts = []
    for path in sorted((root / "log").glob("*")):
        parts.append(f"--- {path.name}\n{path.read_text()[-2000:]}")
    return "\n".join(parts)
