#!/usr/bin/env python3
"""Container lifecycle benchmark: cryo against runc and crun.

Run as root with Debian's python3 (standard library + python3-matplotlib for
the plot):   make bench     or     /usr/bin/python3 bench/lifecycle.py

Measures (every repetition interleaves the runtimes, rotating which one goes
first; medians are reported with the ratios cryo/runc and cryo/crun):

  * `run` of a busybox /bin/true container (foreground; all three runtimes
    delete a container whose process exited, so this is run + delete);
  * `create`, `start`, `kill KILL`, `delete --force` of `sleep 1000`;
  * 100 sequential `run`s, and 10 concurrent `run`s: total wall time;
  * CPU time (user+sys) and peak RSS of `create`, from the rusage that
    wait4() returns for the `create` process itself, and separately the CPU
    time and peak RSS the container's init process used before exec'ing
    the user process (from /proc/<pid>/schedstat and VmHWM).

crun 1.8.1 refuses this host's cgroup layout (v1 hierarchies plus a cgroup2
mount holding hugetlb). The harness moves hugetlb to a v1 hierarchy for the
whole measurement, so that all three runtimes run on the same layout, and
restores the original layout at the end (see bench/README.md).

Everything it creates (containers, /run/bench-<rt> roots, bundles, the
hugetlb mount) is removed at the end, also on error or SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
ORDER = ("cryo", "runc", "crun")
DEFAULT_BINS = {"cryo": "/usr/local/bin/cryo", "runc": "/usr/sbin/runc", "crun": "/usr/bin/crun"}
GNU_TIME = "/usr/bin/time"

CGROUP_ROOT = Path("/sys/fs/cgroup")
UNIFIED = CGROUP_ROOT / "unified"
HUGETLB_V1 = CGROUP_ROOT / "hugetlb"

DEVNULL_FD = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
ENV = dict(os.environ)
TAG = f"bench{os.getpid()}"


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


class CmdError(RuntimeError):
    pass


# --------------------------------------------------------------- spawning --


def spawn_wait(argv: list[str], err_fd: int) -> tuple[float, int, os.struct_rusage]:
    """posix_spawn argv (stdin/stdout on /dev/null, stderr on err_fd) and
    wait4() it. Returns (wall ms from spawn to reap, exit code, rusage of
    that process and of the descendants it reaped)."""
    fa = [
        (os.POSIX_SPAWN_DUP2, DEVNULL_FD, 0),
        (os.POSIX_SPAWN_DUP2, DEVNULL_FD, 1),
        (os.POSIX_SPAWN_DUP2, err_fd, 2),
    ]
    t0 = time.perf_counter_ns()
    pid = os.posix_spawn(argv[0], argv, ENV, file_actions=fa)
    _, status, ru = os.wait4(pid, 0)
    t1 = time.perf_counter_ns()
    return (t1 - t0) / 1e6, os.waitstatus_to_exitcode(status), ru


class RuntimeCommon:
    """What both harnesses ask of a runtime under its private --root
    (needs `binary`, `root` and a `cmd(*args, check=...)`)."""

    def exists(self, cid: str) -> bool:
        return (self.root / cid).exists()

    def force_delete(self, cid: str) -> None:
        try:
            self.cmd("delete", "--force", cid, check=False)
        except OSError:
            pass

    def leftovers(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir())

    def version(self) -> str:
        try:
            out = subprocess.run([self.binary, "--version"], capture_output=True, text=True, timeout=10)
            return " / ".join(l.strip() for l in out.stdout.splitlines() if l.strip())
        except (OSError, subprocess.SubprocessError) as e:
            return f"? ({e})"


@dataclass
class Runtime(RuntimeCommon):
    name: str
    binary: str
    root: Path
    counter: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def new_id(self, kind: str) -> str:
        with self.lock:
            self.counter += 1
            return f"{TAG}-{self.name}-{kind}-{self.counter}"

    def cmd(
        self, *args: str, check: bool = True, prefix: tuple[str, ...] = ()
    ) -> tuple[float, os.struct_rusage, int]:
        argv = [*prefix, self.binary, "--root", str(self.root), *args]
        with tempfile.TemporaryFile() as err:
            ms, rc, ru = spawn_wait(argv, err.fileno())
            if rc != 0 and check:
                err.seek(0)
                msg = err.read().decode(errors="replace").strip()[-2000:]
                raise CmdError(f"`{' '.join(argv)}` exited {rc}: {msg}")
        return ms, ru, rc


# ---------------------------------------------------------------- hugetlb --


def mountinfo_hugetlb_v1() -> str | None:
    """Mount point of a cgroup v1 hierarchy holding hugetlb, if any."""
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            fstype, _src, opts = (right.split() + ["", "", ""])[:3]
            if fstype == "cgroup" and "hugetlb" in opts.split(","):
                return left.split()[4]
    return None


def hugetlb_proc_cgroups() -> tuple[int, int]:
    """(hierarchy id, number of cgroups) of hugetlb in /proc/cgroups; the
    id is 0 while hugetlb belongs to the cgroup2 hierarchy."""
    with open("/proc/cgroups") as f:
        for line in f:
            parts = line.split()
            if parts and parts[0] == "hugetlb":
                return int(parts[1]), int(parts[2])
    return 0, 0


def read(p: Path) -> str:
    return p.read_text().strip()


def unified_dirs() -> list[Path]:
    """Every cgroup directory of the cgroup2 mount, parents first."""
    out = []
    for dirpath, dirnames, _ in os.walk(UNIFIED):
        out.append(Path(dirpath))
        dirnames.sort()
    return out


class HugetlbLayout:
    """Moves hugetlb from the cgroup2 mount to a v1 hierarchy (crun 1.8.1
    refuses hybrid hosts whose cgroup2 mount holds controllers) and back."""

    def __init__(self) -> None:
        self.enabled_in: list[Path] = []  # dirs whose subtree_control had hugetlb
        self.mounted = False
        self.created_mountpoint = False
        self.note = ""

    def setup(self) -> None:
        existing = mountinfo_hugetlb_v1()
        if existing:
            self.note = f"hugetlb already on a v1 hierarchy ({existing}); layout left untouched"
            log(self.note)
            return
        if hugetlb_proc_cgroups()[0] != 0:
            # a v1 hierarchy that outlived its umount: mount it again so
            # that crun sees hugetlb on v1, and unmount it at the end
            log("hugetlb is on an unmounted v1 hierarchy; mounting it for the run")
            self._mount()
            self.note = ("hugetlb was on an unmounted v1 hierarchy: it was mounted at "
                         f"{HUGETLB_V1} for the run and unmounted at the end")
            return
        if not (UNIFIED / "cgroup.controllers").exists() or "hugetlb" not in read(
            UNIFIED / "cgroup.controllers"
        ).split():
            self.note = "no hugetlb controller on the cgroup2 mount; layout left untouched"
            log(self.note)
            return
        dirs = unified_dirs()
        self.enabled_in = [d for d in dirs if "hugetlb" in read(d / "cgroup.subtree_control").split()]
        log(
            "moving hugetlb to a v1 hierarchy for crun; it is enabled in the "
            f"subtree_control of {len(self.enabled_in)} cgroup2 dir(s): "
            + ", ".join(str(d) for d in self.enabled_in)
        )
        # children before parents: the kernel refuses to disable a
        # controller that a child still enables for its own children
        for d in sorted(self.enabled_in, key=lambda p: len(p.parts), reverse=True):
            (d / "cgroup.subtree_control").write_text("-hugetlb")
        self._mount()
        self.note = (
            "hugetlb was moved from the cgroup2 mount to a v1 hierarchy at "
            f"{HUGETLB_V1} for the whole measurement (all three runtimes ran on "
            "that layout), then moved back and re-enabled in the subtree_control "
            f"of the {len(self.enabled_in)} cgroup2 dir(s) that had it"
        )

    def _mount(self) -> None:
        if not HUGETLB_V1.exists():
            HUGETLB_V1.mkdir()
            self.created_mountpoint = True
        # the hugetlb css of the former children go away asynchronously;
        # mount fails with EBUSY until they have
        deadline = time.monotonic() + 15
        while True:
            r = subprocess.run(
                ["mount", "-t", "cgroup", "-o", "hugetlb", "cgroup", str(HUGETLB_V1)],
                capture_output=True,
                text=True,
            )
            if r.returncode == 0:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"cannot mount the hugetlb v1 hierarchy: {r.stderr.strip()}")
            time.sleep(0.2)
        self.mounted = True

    def restore(self) -> None:
        if self.mounted:
            for attempt in range(3):
                try:
                    done = self._unmount()
                except (RuntimeError, subprocess.CalledProcessError) as e:
                    log(f"WARNING: {e}")
                    self.note += " -- RESTORE FAILED, see the log"
                    return
                if done:
                    break
                # the hierarchy outlived the umount (a child cgroup was
                # still being freed): mount it again and retry
                log(f"hugetlb v1 hierarchy still alive after umount (attempt {attempt + 1}); retrying")
                self._mount()
            else:
                log(f"WARNING: could not hand hugetlb back to cgroup2; it stays at {HUGETLB_V1}")
                self.note += " -- RESTORE FAILED, see the log"
                return
        if self.created_mountpoint and not os.path.ismount(HUGETLB_V1):
            try:
                HUGETLB_V1.rmdir()
                self.created_mountpoint = False
            except OSError:
                pass
        self._reenable()

    def _unmount(self) -> bool:
        """rmdir every child cgroup, wait until the kernel has freed them
        (else the hierarchy survives the umount), umount, and wait for
        hugetlb to come back to the cgroup2 mount. False if it did not."""
        deadline = time.monotonic() + 30
        while True:
            busy = []
            for dirpath, _, _ in os.walk(HUGETLB_V1, topdown=False):
                p = Path(dirpath)
                if p == HUGETLB_V1:
                    continue
                try:
                    p.rmdir()
                except OSError:
                    busy.append(p)
            if not busy and hugetlb_proc_cgroups()[1] <= 1:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(
                    "cgroups still in use under the hugetlb v1 hierarchy "
                    f"({', '.join(map(str, busy)) or 'being freed'}); leaving it mounted. Restore by "
                    f"hand: rmdir them, umount {HUGETLB_V1}, then echo +hugetlb > "
                    "<dir>/cgroup.subtree_control for: " + ", ".join(map(str, self.enabled_in))
                )
            time.sleep(0.1)
        subprocess.run(["umount", str(HUGETLB_V1)], check=True)
        self.mounted = False
        deadline = time.monotonic() + 10
        while hugetlb_proc_cgroups()[0] != 0:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)
        return True

    def _reenable(self) -> None:
        if not self.enabled_in:
            return
        # the v1 hierarchy is destroyed asynchronously after umount
        deadline = time.monotonic() + 15
        while "hugetlb" not in read(UNIFIED / "cgroup.controllers").split():
            if time.monotonic() > deadline:
                log("WARNING: hugetlb did not come back to the cgroup2 mount")
                self.note += " -- RESTORE FAILED, see the log"
                return
            time.sleep(0.1)
        failed = []
        for d in sorted(self.enabled_in, key=lambda p: len(p.parts)):
            if not d.exists():
                continue
            try:
                (d / "cgroup.subtree_control").write_text("+hugetlb")
            except OSError as e:
                failed.append(f"{d}: {e}")
        if failed:
            log("WARNING: could not re-enable hugetlb in " + "; ".join(failed))
            self.note += " -- partial restore, see the log"
        else:
            log("hugetlb restored on the cgroup2 mount")
        self.enabled_in = []


# ------------------------------------------------------------ measurement --


def rotations(k: int) -> list[str]:
    """Runtime order of repetition k: A B C, B C A, C A B, A B C, ..."""
    i = k % len(ORDER)
    return list(ORDER[i:] + ORDER[:i])


def ru_cpu_ms(ru: os.struct_rusage) -> float:
    return (ru.ru_utime + ru.ru_stime) * 1000.0


def proc_init_stats(pid: int) -> tuple[float, float]:
    """(CPU ms from schedstat, VmHWM MiB) of a live process."""
    cpu_ns = int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])
    hwm_kb = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            hwm_kb = int(line.split()[1])
    return cpu_ns / 1e6, hwm_kb / 1024.0


def wait_dead(pid: int, timeout: float = 10.0) -> None:
    """Until pid is gone or a zombie."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            st = Path(f"/proc/{pid}/stat").read_text()
        except (FileNotFoundError, ProcessLookupError):
            return
        if st.rpartition(")")[2].split()[0] in ("Z", "X"):
            return
        time.sleep(0.001)
    raise RuntimeError(f"pid {pid} still alive {timeout}s after kill KILL")


@dataclass
class Measure:
    key: str
    label: str
    unit: str
    scale: float = 1.0  # stored value * scale = displayed value
    samples: dict[str, list[float]] = field(default_factory=lambda: {r: [] for r in ORDER})

    def median(self, rt: str) -> float:
        return statistics.median(self.samples[rt]) * self.scale

    def quartiles(self, rt: str) -> tuple[float, float]:
        s = sorted(self.samples[rt])
        if len(s) < 2:
            return s[0] * self.scale, s[0] * self.scale
        q = statistics.quantiles(s, n=4, method="inclusive")
        return q[0] * self.scale, q[2] * self.scale


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.rts = {
            n: Runtime(n, getattr(args, n), Path(f"/run/bench-{n}")) for n in ORDER
        }
        self.workdir = Path(tempfile.mkdtemp(prefix="cryo-bench-"))
        self.true_bundle = self.workdir / "true"
        self.sleep_bundle = self.workdir / "sleep"
        self.layout = HugetlbLayout()
        m = [
            Measure("run", "run /bin/true (foreground, auto-delete)", "ms"),
            Measure("create", "create (sleep 1000)", "ms"),
            Measure("start", "start", "ms"),
            Measure("kill", "kill KILL", "ms"),
            Measure("delete", "delete --force (stopped)", "ms"),
            Measure("lifecycle", "create+start+kill+delete", "ms"),
            Measure("seq", f"{args.seq_n} sequential runs", "s", 1 / 1000),
            Measure("conc", f"{args.conc_n} concurrent runs", "s", 1 / 1000),
            Measure("create_cpu", "create: CPU user+sys of the create process", "ms"),
            Measure("create_rss", "create: peak RSS of the create process (GNU time)", "MiB", 1 / 1024),
            Measure("init_cpu", "create: CPU of the container init before exec", "ms"),
            Measure("init_rss", "create: peak RSS of the container init before exec", "MiB"),
            Measure("create_cpu_total", "create: CPU, create process + container init", "ms"),
        ]
        self.m = {x.key: x for x in m}
        self.meta: dict = {}

    # -- setup / teardown

    def preflight(self) -> None:
        if os.geteuid() != 0:
            sys.exit("bench: must run as root")
        for rt in self.rts.values():
            if not os.access(rt.binary, os.X_OK):
                sys.exit(f"bench: {rt.name} binary {rt.binary} not found or not executable")
        if not os.access(GNU_TIME, os.X_OK):
            sys.exit(f"bench: {GNU_TIME} not found (apt-get install time)")
        for rt in self.rts.values():
            if rt.root.exists():
                stale = rt.leftovers()
                if stale:
                    log(f"{rt.root} holds {len(stale)} container(s) from an earlier run; deleting them")
                    for cid in stale:
                        rt.force_delete(cid)
                shutil.rmtree(rt.root, ignore_errors=True)
            rt.root.mkdir(parents=True, mode=0o700)
        mk = REPO / "scripts" / "make-bundle.sh"
        env = dict(os.environ, BUNDLE_TERMINAL="false")
        subprocess.run(["bash", str(mk), str(self.true_bundle), "/bin/true"], env=env, check=True, stdout=subprocess.DEVNULL)
        subprocess.run(["bash", str(mk), str(self.sleep_bundle), "sleep", "1000"], env=env, check=True, stdout=subprocess.DEVNULL)

    def cleanup(self) -> None:
        # containers first, while crun still works on the modified layout
        for rt in self.rts.values():
            try:
                for cid in rt.leftovers():
                    log(f"cleanup: deleting leftover {rt.name} container {cid}")
                    rt.force_delete(cid)
                left = rt.leftovers()
                if left:
                    log(f"WARNING: {rt.name} containers not deleted: {left}")
                shutil.rmtree(rt.root, ignore_errors=True)
            except Exception as e:  # keep cleaning the rest
                log(f"WARNING: cleanup of {rt.name}: {e}")
        try:
            self.layout.restore()
        except Exception as e:
            log(f"WARNING: hugetlb restore failed: {e}")
        shutil.rmtree(self.workdir, ignore_errors=True)

    # -- single operations

    def one_run(self, rt: Runtime) -> float:
        cid = rt.new_id("run")
        ms, _, _ = rt.cmd("run", "--bundle", str(self.true_bundle), cid)
        if rt.exists(cid):  # not expected: all three delete on exit
            rt.force_delete(cid)
            raise CmdError(f"{rt.name} run left container {cid} behind")
        return ms

    def one_lifecycle(self, rt: Runtime) -> dict[str, float]:
        cid = rt.new_id("life")
        pidfile = self.workdir / f"{cid}.pid"
        out: dict[str, float] = {}
        try:
            out["create"], ru, _ = rt.cmd(
                "create", "--bundle", str(self.sleep_bundle), "--pid-file", str(pidfile), cid
            )
            # ru_maxrss is useless here: exec records the RSS of the mm
            # it replaces, i.e. of this Python process (see one_create_rss)
            out["create_cpu"] = ru_cpu_ms(ru)
            pid = int(pidfile.read_text().strip())
            out["init_cpu"], out["init_rss"] = proc_init_stats(pid)
            out["create_cpu_total"] = out["create_cpu"] + out["init_cpu"]
            out["start"], _, _ = rt.cmd("start", cid)
            out["kill"], _, _ = rt.cmd("kill", cid, "KILL")
            wait_dead(pid)
            out["delete"], _, _ = rt.cmd("delete", "--force", cid)
            out["lifecycle"] = out["create"] + out["start"] + out["kill"] + out["delete"]
        finally:
            if rt.exists(cid):
                rt.force_delete(cid)
            pidfile.unlink(missing_ok=True)
        return out

    def one_create_rss(self, rt: Runtime) -> float:
        """Peak RSS (KiB) of `create`, from GNU time: its wait4() on the
        runtime gives the max RSS of the runtime process and of the
        descendants it reaped, with a floor of time's own small RSS (the
        child's copy of its memory at exec), not Python's."""
        cid = rt.new_id("rss")
        out = self.workdir / f"{cid}.time"
        try:
            rt.cmd("create", "--bundle", str(self.sleep_bundle), cid,
                   prefix=(GNU_TIME, "-f", "%M", "-o", str(out)))
            return float(out.read_text().split()[-1])
        finally:
            if rt.exists(cid):
                rt.force_delete(cid)
            out.unlink(missing_ok=True)

    def seq_block(self, rt: Runtime, n: int) -> float:
        t0 = time.perf_counter_ns()
        for _ in range(n):
            self.one_run(rt)
        return (time.perf_counter_ns() - t0) / 1e6

    def conc_block(self, rt: Runtime, n: int) -> float:
        errors: list[BaseException] = []
        barrier = threading.Barrier(n + 1)

        def worker() -> None:
            try:
                barrier.wait()
                self.one_run(rt)
            except BaseException as e:  # reported by the caller
                errors.append(e)

        threads = [threading.Thread(target=worker) for _ in range(n)]
        for t in threads:
            t.start()
        t0 = time.perf_counter_ns()
        barrier.wait()
        for t in threads:
            t.join()
        ms = (time.perf_counter_ns() - t0) / 1e6
        if errors:
            raise errors[0]
        return ms

    # -- the run

    def run(self) -> None:
        a = self.args
        self.meta["started"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")
        self.meta["loadavg_start"] = read(Path("/proc/loadavg"))
        self.preflight()
        self.layout.setup()
        # crun must really work on this layout before we measure anything
        for name in ORDER:
            rt = self.rts[name]
            try:
                self.one_run(rt)
                self.one_lifecycle(rt)
            except CmdError as e:
                raise RuntimeError(f"{name} does not work on this host: {e}") from e
            log(f"{name}: run and create/start/kill/delete work")
        for rt in self.rts.values():  # warm-up (page cache, binaries)
            for _ in range(a.warmup):
                self.one_run(rt)
                self.one_lifecycle(rt)

        gc.disable()
        t_all = time.monotonic()
        log(f"single operations: {a.reps} repetitions x {len(ORDER)} runtimes")
        for k in range(a.reps):
            for name in rotations(k):
                self.m["run"].samples[name].append(self.one_run(self.rts[name]))
            for name in rotations(k + 1):
                for key, v in self.one_lifecycle(self.rts[name]).items():
                    self.m[key].samples[name].append(v)
        log(f"create peak RSS: {a.rss_reps} repetitions x {len(ORDER)} runtimes")
        for k in range(a.rss_reps):
            for name in rotations(k):
                self.m["create_rss"].samples[name].append(self.one_create_rss(self.rts[name]))
        log(f"{a.seq_n} sequential runs: {a.seq_reps} repetitions x {len(ORDER)} runtimes")
        for k in range(a.seq_reps):
            for name in rotations(k):
                self.m["seq"].samples[name].append(self.seq_block(self.rts[name], a.seq_n))
                log(f"  seq rep {k + 1} {name}: {self.m['seq'].samples[name][-1] / 1000:.2f} s")
        log(f"{a.conc_n} concurrent runs: {a.conc_reps} repetitions x {len(ORDER)} runtimes")
        for k in range(a.conc_reps):
            for name in rotations(k):
                self.m["conc"].samples[name].append(self.conc_block(self.rts[name], a.conc_n))
        gc.enable()
        self.meta["measure_seconds"] = round(time.monotonic() - t_all, 1)
        self.meta["loadavg_end"] = read(Path("/proc/loadavg"))
        self.meta["finished"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")

    # -- output

    def collect_meta(self) -> None:
        self.meta.update(
            kernel=platform.release(),
            cpus=os.cpu_count(),
            versions={n: self.rts[n].version() for n in ORDER},
            binaries={n: self.rts[n].binary for n in ORDER},
            reps=self.args.reps,
            seq_reps=self.args.seq_reps,
            conc_reps=self.args.conc_reps,
            rss_reps=self.args.rss_reps,
            hugetlb=self.layout.note,
        )

    def fmt(self, v: float, unit: str) -> str:
        if unit == "s":
            return f"{v:.2f} s"
        if unit == "MiB":
            return f"{v:.1f} MiB"
        return f"{v:.1f} ms" if v >= 10 else f"{v:.2f} ms"

    def write(self, outdir: Path) -> None:
        outdir.mkdir(parents=True, exist_ok=True)
        self.collect_meta()
        rows = []
        for m in self.m.values():
            if not all(m.samples[r] for r in ORDER):
                continue
            med = {r: m.median(r) for r in ORDER}
            rows.append((m, med))
        md = []
        md.append("# Lifecycle benchmark: cryo vs runc vs crun\n")
        md.append(
            "Generated by `make bench` (`bench/lifecycle.py`); see `bench/README.md` for what is "
            "measured and how. Lower is better; a ratio below 1.00 means cryo is faster / smaller.\n"
        )
        md.append("| measure | cryo median | runc median | crun median | cryo/runc | cryo/crun |")
        md.append("|---|---:|---:|---:|---:|---:|")
        for m, med in rows:
            r1 = med["cryo"] / med["runc"] if med["runc"] else float("nan")
            r2 = med["cryo"] / med["crun"] if med["crun"] else float("nan")
            md.append(
                f"| {m.label} | {self.fmt(med['cryo'], m.unit)} | {self.fmt(med['runc'], m.unit)} | "
                f"{self.fmt(med['crun'], m.unit)} | {r1:.2f} | {r2:.2f} |"
            )
        md.append("\nSpread (interquartile range, p25-p75, and sample count n):\n")
        md.append("| measure | n | cryo | runc | crun |")
        md.append("|---|---:|---:|---:|---:|")
        for m, _ in rows:
            cells = []
            for r in ORDER:
                lo, hi = m.quartiles(r)
                cells.append(f"{self.fmt(lo, m.unit)} - {self.fmt(hi, m.unit)}")
            md.append(f"| {m.label} | {len(m.samples['cryo'])} | " + " | ".join(cells) + " |")
        md.append("\n## Run\n")
        md.append(f"- date: {self.meta.get('started')} to {self.meta.get('finished')} "
                  f"(measurements {self.meta.get('measure_seconds')} s)")
        md.append(f"- kernel {self.meta['kernel']}, {self.meta['cpus']} CPUs; "
                  f"loadavg at start `{self.meta.get('loadavg_start')}`, at end `{self.meta.get('loadavg_end')}`")
        for n in ORDER:
            md.append(f"- {n}: `{self.meta['binaries'][n]}`: {self.meta['versions'][n]}")
        md.append(
            f"- repetitions: {self.meta['reps']} for single operations, {self.meta['seq_reps']} for the "
            f"{self.args.seq_n} sequential runs, {self.meta['conc_reps']} for the {self.args.conc_n} concurrent "
            f"runs, {self.meta['rss_reps']} for the peak RSS of create; runtimes interleaved in every repetition (first runtime rotated)"
        )
        md.append(f"- cgroups: {self.meta['hugetlb']}")
        md.append("")
        (outdir / "lifecycle.md").write_text("\n".join(md))
        raw = {
            "meta": self.meta,
            "measures": {
                m.key: {"label": m.label, "unit": m.unit, "scale": m.scale, "samples": m.samples}
                for m in self.m.values()
            },
        }
        (outdir / "lifecycle.json").write_text(json.dumps(raw, indent=1) + "\n")
        self.plot(rows, outdir / "lifecycle.png")
        log(f"wrote {outdir / 'lifecycle.md'}, lifecycle.json, lifecycle.png")

    def plot(self, rows, path: Path) -> None:
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            log("WARNING: matplotlib not importable (apt-get install python3-matplotlib); no PNG")
            return
        n = len(rows)
        cols = 4
        nrows = (n + cols - 1) // cols
        fig, axes = plt.subplots(nrows, cols, figsize=(4.4 * cols, 3.6 * nrows), squeeze=False)
        colors = {"cryo": "#2a7ab9", "runc": "#8c8c8c", "crun": "#d9822b"}
        for ax, (m, med) in zip(axes.flat, rows):
            vals = [med[r] for r in ORDER]
            q = [m.quartiles(r) for r in ORDER]
            err = [[v - lo for v, (lo, _) in zip(vals, q)], [hi - v for v, (_, hi) in zip(vals, q)]]
            ax.bar(ORDER, vals, color=[colors[r] for r in ORDER], yerr=err, capsize=4)
            for i, v in enumerate(vals):
                ax.annotate(f"{v:.3g}", (i, v), ha="center", va="bottom", fontsize=8,
                            xytext=(8, 1), textcoords="offset points")
            title = "\n".join(textwrap.wrap(m.label, 42))
            ax.set_title(f"{title}\ncryo/runc {med['cryo'] / med['runc']:.2f}, "
                         f"cryo/crun {med['cryo'] / med['crun']:.2f}", fontsize=9)
            ax.set_ylabel(m.unit)
            ax.tick_params(labelsize=8)
        for ax in list(axes.flat)[n:]:
            ax.axis("off")
        fig.suptitle("cryo vs runc vs crun: container lifecycle (median, bars = p25-p75; lower is better)",
                     fontsize=11)
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for n in ORDER:
        p.add_argument(f"--{n}", default=os.environ.get(n.upper(), DEFAULT_BINS[n]), help=f"{n} binary")
    p.add_argument("--reps", type=int, default=20, help="repetitions of the single-operation timings")
    p.add_argument("--seq-n", type=int, default=100)
    p.add_argument("--seq-reps", type=int, default=3)
    p.add_argument("--conc-n", type=int, default=10)
    p.add_argument("--conc-reps", type=int, default=7)
    p.add_argument("--rss-reps", type=int, default=10, help="repetitions of the create peak-RSS pass")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--out", type=Path, default=HERE / "results")
    p.add_argument("--quick", action="store_true", help="smoke test: few repetitions, results to /tmp")
    args = p.parse_args()
    if args.quick:
        args.reps, args.seq_n, args.seq_reps, args.conc_reps, args.rss_reps, args.warmup = 3, 10, 1, 1, 2, 0
        if args.out == HERE / "results":
            args.out = Path("/tmp/cryo-bench-quick")

    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    for s in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, on_signal)

    bench = Bench(args)
    ok = False
    try:
        bench.run()
        ok = True
    finally:
        # block signals while restoring the host; a second ^C must not
        # leave hugetlb half-moved
        old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM, signal.SIGHUP})
        try:
            bench.cleanup()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)
    if ok:
        bench.write(args.out)
        print()
        print((args.out / "lifecycle.md").read_text())
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
