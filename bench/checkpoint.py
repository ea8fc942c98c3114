#!/usr/bin/env python3
"""Checkpoint/restore benchmark: cryo against runc (and crun, if it was
built with CRIU support).

Run as root with Debian's python3 (standard library + python3-matplotlib for
the plot):   make bench     or     /usr/bin/python3 bench/checkpoint.py

Measures, for a container holding 16, 64, 256 and 1024 MiB of touched
memory (a small static C program that answers on a FIFO in a bind-mounted
directory), with the CRIU images on a tmpfs the harness mounts:

  * wall time of `checkpoint`, and of `restore -d` until the restored
    container answers;
  * the runtime's time outside CRIU: the wall time minus what CRIU itself
    reports (its stats-dump / stats-restore image, decoded here by hand, and
    the span of its dump.log / restore.log);
  * CPU time and peak RSS of `checkpoint`: wait4()'s rusage of the runtime
    process (CRIU is a child it reaps, so it is included), and separately
    CRIU's own (a criu stand-in that records its child's rusage) and the
    runtime's own peak RSS (VmHWM read under ptrace when it exits);
  * lazy restore (post-copy from the local images): `cryo restore -d --lazy`
    and runc's way, `criu lazy-pages` started by the harness plus
    `runc restore -d --lazy-pages`, until the container answers and until
    all of its memory has been read back;
  * quick startup: cold start of scripts/warmup.c vs restoring its warm
    checkpoint with `cryo restore -d --lazy`, for 1 and for 10 copies.

Every repetition interleaves the runtimes (the first one alternates);
medians are reported with the ratio cryo/runc and the p25-p75 spread.
Everything it creates (containers, /run/bench-ckpt-<rt> roots, lazy-pages
daemons, the tmpfs, cgroups, bundles) is removed at the end, also on error
or SIGINT/SIGTERM. See bench/README.md.
"""

from __future__ import annotations

import argparse
import errno
import gc
import json
import os
import platform
import re
import select
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lifecycle import RuntimeCommon  # noqa: E402  (the helpers both harnesses share)

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DEFAULT_BINS = {"cryo": "/usr/local/bin/cryo", "runc": "/usr/sbin/runc", "crun": "/usr/bin/crun"}
DEFAULT_CRIU = "/usr/local/sbin/criu"
SIZES = (16, 64, 256, 1024)
VARIANT = "cryo-nonet"
CGROUP_ROOT = Path("/sys/fs/cgroup")

DEVNULL_FD = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
ENV = dict(os.environ)
ENV["PATH"] = "/usr/local/sbin:/usr/local/bin:" + ENV.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
TAG = f"ckb{os.getpid()}"


def log(msg: str) -> None:
    print(f"[ckpt-bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


class CmdError(RuntimeError):
    pass


def now() -> float:
    return time.perf_counter()


# ------------------------------------------------------------ C programs --

# The workload: touches MiB of memory (every byte, a pattern per page),
# opens the FIFOs /out/req and /out/resp (O_RDWR: it never blocks in open
# and keeps them open across checkpoint/restore), writes /out/ready, then
# answers each byte on req with a line on resp: "n sum", where for 's' sum
# reads two bytes of every page (all of its memory: after a lazy restore
# that fetches every page) and for 'p' (ping) it is 0.
MEMFIFO_C = r"""
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
int main(int argc, char **argv) {
    size_t mb = argc > 1 ? strtoul(argv[1], 0, 10) : 64;
    size_t len = mb << 20;
    unsigned char *p = malloc(len);
    if (!p) return 1;
    for (size_t i = 0; i < len; i += 4096) memset(p + i, (int)((i >> 12) * 7 + 1), 4096);
    int rq = open("/out/req", O_RDWR);
    int rs = open("/out/resp", O_RDWR);
    if (rq < 0 || rs < 0) return 2;
    FILE *f = fopen("/out/ready.tmp", "w");
    if (!f) return 3;
    fprintf(f, "%zu\n", mb);
    fclose(f);
    rename("/out/ready.tmp", "/out/ready");
    unsigned long n = 0;
    for (;;) {
        char c;
        ssize_t r = read(rq, &c, 1);
        if (r < 0 && errno == EINTR) continue;
        if (r != 1) return 4;
        n++;
        unsigned long sum = 0;
        if (c == 's')
            for (size_t i = 0; i < len; i += 4096) sum += p[i] + p[i + 4095];
        char buf[64];
        int k = snprintf(buf, sizeof buf, "%lu %lu\n", n, sum);
        while (write(rs, buf, k) < 0 && errno == EINTR) ;
    }
}
"""

# ptrun OUT PROG [ARGS...]: runs PROG and writes "wall_ns vmhwm_kb utime_us
# stime_us maxrss_kb wait_status" to OUT. vmhwm is PROG's own peak RSS,
# read from /proc/TID/status at each of its threads' ptrace exit stops
# (the mm still exists then); utime/stime/maxrss are wait4()'s, i.e. PROG
# plus the children it reaped. A small static program, so that its
# fork+exec of PROG records no large RSS of its own (as Python's would).
PTRUN_C = r"""
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static long vmhwm_kb(pid_t tid) {
    char path[64], line[256];
    long v = -1;
    snprintf(path, sizeof path, "/proc/%d/status", tid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "VmHWM:", 6)) v = strtol(line + 6, 0, 10);
    fclose(f);
    return v;
}

static long us(struct timeval t) { return t.tv_sec * 1000000L + t.tv_usec; }

int main(int argc, char **argv) {
    if (argc < 3) return 125;
    long long t0 = now_ns();
    pid_t pid = fork();
    if (pid < 0) return 126;
    if (pid == 0) {
        if (ptrace(PTRACE_TRACEME, 0, 0, 0) < 0) _exit(126);
        execv(argv[2], argv + 2);
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, __WALL) < 0 && errno == EINTR) ;
    if (!WIFSTOPPED(st)) return 126;
    ptrace(PTRACE_SETOPTIONS, pid, 0, PTRACE_O_TRACEEXIT | PTRACE_O_TRACECLONE | PTRACE_O_EXITKILL);
    ptrace(PTRACE_CONT, pid, 0, 0);
    long hwm = -1;
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    int status = 0;
    for (;;) {
        struct rusage r;
        pid_t w = wait4(-1, &st, __WALL, &r);
        if (w < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (WIFEXITED(st) || WIFSIGNALED(st)) {
            if (w == pid) { status = st; ru = r; break; }
            continue;
        }
        if (!WIFSTOPPED(st)) continue;
        int sig = WSTOPSIG(st), ev = (unsigned)st >> 16;
        if (ev == PTRACE_EVENT_EXIT) {
            long h = vmhwm_kb(w);
            if (h > hwm) hwm = h;
            sig = 0;
        } else if (ev) {
            sig = 0;               /* clone event */
        } else if (sig == SIGSTOP) {
            sig = 0;               /* a new thread's attach stop */
        }
        ptrace(PTRACE_CONT, w, 0, sig);
    }
    long long t1 = now_ns();
    FILE *f = fopen(argv[1], "w");
    if (f) {
        fprintf(f, "%lld %ld %ld %ld %ld %d\n", t1 - t0, hwm, us(ru.ru_utime), us(ru.ru_stime),
                ru.ru_maxrss, status);
        fclose(f);
    }
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return WEXITSTATUS(status);
}
"""

# A stand-in for criu (given to the runtime with --criu): runs the real one
# ($CRIUWRAP_REAL) as its child and appends "argv1 wall_ns utime_us
# stime_us maxrss_kb wait_status" of it (and of what it reaped) to
# $CRIUWRAP_LOG. For checkpoint only: on restore CRIU's restored tasks
# must be the runtime's own children.
CRIUWRAP_C = r"""
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static pid_t child;
static void forward(int sig) { if (child > 0) kill(child, sig); }
static long long now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000LL + t.tv_nsec;
}
static long us(struct timeval t) { return t.tv_sec * 1000000L + t.tv_usec; }

int main(int argc, char **argv) {
    const char *real = getenv("CRIUWRAP_REAL");
    const char *log = getenv("CRIUWRAP_LOG");
    if (!real) real = "/usr/local/sbin/criu";
    long long t0 = now_ns();
    child = fork();
    if (child < 0) return 126;
    if (child == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        argv[0] = (char *)real;
        execv(real, argv);
        _exit(127);
    }
    for (int fd = 3; fd < 1024; fd++) close(fd); /* not the caller's swrk socket */
    int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
    for (unsigned i = 0; i < sizeof sigs / sizeof *sigs; i++) signal(sigs[i], forward);
    int st;
    struct rusage ru;
    while (wait4(child, &st, 0, &ru) < 0)
        if (errno != EINTR) return 126;
    long long t1 = now_ns();
    if (log) {
        int fd = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
        if (fd >= 0) {
            dprintf(fd, "%s %lld %ld %ld %ld %d\n", argc > 1 ? argv[1] : "-", t1 - t0,
                    us(ru.ru_utime), us(ru.ru_stime), ru.ru_maxrss, st);
            close(fd);
        }
    }
    if (WIFSIGNALED(st)) {
        signal(WTERMSIG(st), SIG_DFL);
        raise(WTERMSIG(st));
        return 128 + WTERMSIG(st);
    }
    return WEXITSTATUS(st);
}
"""


# ------------------------------------------------------- CRIU's own data --

STATS_MAGICS = (0x55105940, 0x57093306)  # IMG_SERVICE_MAGIC, STATS_MAGIC
# images/stats.proto of CRIU 4.2.1 (field number -> name)
DUMP_FIELDS = {
    1: "freezing_time", 2: "frozen_time", 3: "memdump_time", 4: "memwrite_time",
    5: "pages_scanned", 6: "pages_skipped_parent", 7: "pages_written", 8: "irmap_resolve",
    9: "pages_lazy", 10: "page_pipes", 11: "page_pipe_bufs", 12: "shpages_scanned",
    13: "shpages_skipped_parent", 14: "shpages_written",
}
RESTORE_FIELDS = {1: "pages_compared", 2: "pages_skipped_cow", 3: "forking_time",
                  4: "restore_time", 5: "pages_restored"}


def _varint(b: bytes, i: int) -> tuple[int, int]:
    v = shift = 0
    while True:
        c = b[i]
        i += 1
        v |= (c & 0x7F) << shift
        shift += 7
        if not c & 0x80:
            return v, i


def _pb_fields(b: bytes) -> dict[int, object]:
    out: dict[int, object] = {}
    i = 0
    while i < len(b):
        key, i = _varint(b, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = _varint(b, i)
        elif wt == 2:
            n, i = _varint(b, i)
            v = b[i:i + n]
            i += n
        elif wt == 5:
            v = struct.unpack_from("<I", b, i)[0]
            i += 4
        elif wt == 1:
            v = struct.unpack_from("<Q", b, i)[0]
            i += 8
        else:
            raise ValueError(f"protobuf wire type {wt}")
        out[num] = v
    return out


def parse_stats(path: Path) -> dict[str, int]:
    """stats-dump / stats-restore: two u32 magics, a u32 size, then a
    StatsEntry (1: dump_stats_entry, 2: restore_stats_entry). Times in us."""
    data = path.read_bytes()
    m1, m2, size = struct.unpack_from("<III", data)
    if (m1, m2) != STATS_MAGICS:
        raise ValueError(f"{path}: magics {m1:#x} {m2:#x}")
    top = _pb_fields(data[12:12 + size])
    if 1 in top:
        names, sub = DUMP_FIELDS, top[1]
    elif 2 in top:
        names, sub = RESTORE_FIELDS, top[2]
    else:
        raise ValueError(f"{path}: neither dump nor restore stats")
    return {names.get(k, str(k)): v for k, v in _pb_fields(sub).items()}  # type: ignore[arg-type]


LOG_TS = re.compile(rb"^\((\d+)\.(\d+)\)")


def log_span_ms(path: Path) -> float:
    """Largest timestamp in a CRIU log: ms from CRIU's log_init (early in
    the request) to its last line."""
    best = 0.0
    with open(path, "rb") as f:
        for line in f:
            m = LOG_TS.match(line)
            if m:
                t = int(m[1]) * 1000.0 + int(m[2]) / 1000.0
                if t > best:
                    best = t
    return best


def log_errors(path: Path, n: int = 8) -> list[str]:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return []
    errs = [l for l in lines if ("Error" in l or "error" in l) and "RLIMIT_NOFILE" not in l]
    return errs[-n:]


def dir_mib(p: Path) -> float:
    total = 0
    for dirpath, _, files in os.walk(p):
        for f in files:
            try:
                total += os.lstat(os.path.join(dirpath, f)).st_size
            except OSError:
                pass
    return total / (1 << 20)


# --------------------------------------------------------------- spawning --


class Pipes:
    """stdio pipes for a runtime command: the child gets (stdin read end,
    stdout write end, stderr write end); the harness keeps the other ends
    open for as long as the container lives (the container's stdio)."""

    def __init__(self) -> None:
        r0, w0 = os.pipe2(os.O_CLOEXEC)
        r1, w1 = os.pipe2(os.O_CLOEXEC)
        r2, w2 = os.pipe2(os.O_CLOEXEC)
        self.child = [r0, w1, w2]
        self.keep = [w0, r1, r2]

    def drain(self) -> str:
        """What the runtime wrote to stdout/stderr (non-blocking)."""
        out = b""
        for fd in self.keep[1:]:
            os.set_blocking(fd, False)
            try:
                out += os.read(fd, 65536)
            except BlockingIOError:
                pass
        return out.decode(errors="replace")

    def close_child(self) -> None:
        for fd in self.child:
            os.close(fd)
        self.child = []

    def close(self) -> None:
        self.close_child()
        for fd in self.keep:
            os.close(fd)
        self.keep = []


def spawn_wait(argv: list[str], stdio: list[int], err_fd: int, env: dict | None = None
               ) -> tuple[float, int, os.struct_rusage]:
    """posix_spawn argv with stdin/stdout from stdio (stderr to err_fd if
    stdio has only two entries) and wait4() it: (wall ms, exit code, rusage)."""
    fds = list(stdio[:2]) + [stdio[2] if len(stdio) > 2 else err_fd]
    fa = [(os.POSIX_SPAWN_DUP2, fd, i) for i, fd in enumerate(fds)]
    t0 = time.perf_counter_ns()
    pid = os.posix_spawn(argv[0], argv, env or ENV, file_actions=fa)
    _, status, ru = os.wait4(pid, 0)
    t1 = time.perf_counter_ns()
    return (t1 - t0) / 1e6, os.waitstatus_to_exitcode(status), ru


@dataclass
class Runtime(RuntimeCommon):
    name: str
    binary: str
    root: Path
    criu: str
    criu_flag: bool = True  # --criu PATH (crun links libcriu instead)
    label: str = ""
    ckpt_extra: tuple[str, ...] = ()  # extra flags of checkpoint and of restore
    full: bool = True  # False: checkpoint + full restore only (no rusage pass, no lazy)
    counter: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def new_id(self, kind: str) -> str:
        with self.lock:
            self.counter += 1
            return f"{TAG}-{self.name}-{kind}-{self.counter}"

    def argv(self, *args: str, criu: str | None = None) -> list[str]:
        a = [self.binary, "--root", str(self.root)]
        if self.criu_flag:
            a += ["--criu", criu or self.criu]
        return a + list(args)

    def cmd(self, *args: str, pipes: Pipes | None = None, check: bool = True,
            logs: tuple[Path, ...] = ()) -> tuple[float, os.struct_rusage, int]:
        """Runs the runtime: stdin/stdout on /dev/null and stderr to a
        file, or all three on `pipes` (the container's stdio; the error
        message is then read back from the pipe)."""
        argv = self.argv(*args)
        with tempfile.TemporaryFile() as err:
            ms, rc, ru = spawn_wait(argv, pipes.child if pipes else [DEVNULL_FD, DEVNULL_FD], err.fileno())
            if rc != 0 and check:
                err.seek(0)
                msg = err.read().decode(errors="replace") + (pipes.drain() if pipes else "")
                raise CmdError(failure_text(argv, rc, msg.strip()[-1500:], logs))
        return ms, ru, rc


def failure_text(argv: list[str], rc: int, stderr: str, logs: tuple[Path, ...]) -> str:
    parts = [f"`{' '.join(argv)}` exited {rc}: {stderr}"]
    for p in logs:
        errs = log_errors(p)
        if errs:
            parts.append(f"{p.name}: " + " | ".join(errs))
    return "\n".join(parts)


def crun_has_criu(binary: str) -> tuple[bool, str]:
    """crun has `checkpoint` only when built with CRIU (+CRIU in --version)."""
    try:
        v = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10).stdout
        h = subprocess.run([binary, "checkpoint", "--help"], capture_output=True, text=True, timeout=10)
        f = subprocess.run([binary, "features"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError) as e:
        return False, f"crun not usable: {e}"
    flags = next((l for l in v.splitlines() if l.startswith("+")), "")
    ok = "+CRIU" in flags.split() and h.returncode == 0
    if ok:
        return True, f"crun built with CRIU ({flags.strip()})"
    why = (h.stdout + h.stderr).strip().splitlines()[:1]
    feat = (f.stdout + f.stderr).strip().splitlines()[:1]
    return False, (
        f"crun: built without CRIU (`crun --version` flags: {flags.strip() or '?'}; "
        f"`crun checkpoint --help`: {why[0] if why else '?'}; `crun features`: {feat[0] if feat else '?'})"
    )


# ------------------------------------------------------------ workload io --


def wait_files(paths: list[Path], timeout: float, interval: float = 0.001) -> float:
    """Until every path exists; returns perf_counter() when the last appeared."""
    deadline = now() + timeout
    left = list(paths)
    while True:
        left = [p for p in left if not p.exists()]
        if not left:
            return now()
        if now() > deadline:
            raise TimeoutError(f"{len(left)} file(s) did not appear within {timeout}s: {left[0]}")
        time.sleep(interval)


def ask(out: Path, req: bytes, timeout: float = 60.0) -> tuple[float, str]:
    """Sends req on out/req, waits for the line on out/resp; returns
    (perf_counter() at the answer, the line)."""
    deadline = now() + timeout
    while True:
        try:
            fq = os.open(out / "req", os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
            break
        except OSError as e:  # ENXIO: no reader (yet)
            if e.errno != errno.ENXIO or now() > deadline:
                raise
            time.sleep(0.0005)
    fs = os.open(out / "resp", os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        os.write(fq, req)
        buf = b""
        while not buf.endswith(b"\n"):
            left = deadline - now()
            if left <= 0:
                raise TimeoutError(f"no answer on {out}/resp within {timeout}s")
            r, _, _ = select.select([fs], [], [], left)
            if r:
                try:
                    chunk = os.read(fs, 256)
                except BlockingIOError:
                    continue
                buf += chunk
        return now(), buf.decode().strip()
    finally:
        os.close(fq)
        os.close(fs)


# ------------------------------------------------------------ measurement --


@dataclass
class Measure:
    key: str
    label: str
    unit: str
    group: str  # "ckpt" (per size, per runtime) or "quick" (cryo, per copies)
    samples: dict = field(default_factory=dict)  # size -> rt -> [values]

    def add(self, size, rt: str, v: float) -> None:
        self.samples.setdefault(str(size), {}).setdefault(rt, []).append(v)

    def get(self, size, rt: str) -> list[float]:
        return self.samples.get(str(size), {}).get(rt, [])

    def median(self, size, rt: str) -> float | None:
        s = self.get(size, rt)
        return statistics.median(s) if s else None

    def quartiles(self, size, rt: str) -> tuple[float, float] | None:
        s = sorted(self.get(size, rt))
        if not s:
            return None
        if len(s) < 2:
            return s[0], s[0]
        q = statistics.quantiles(s, n=4, method="inclusive")
        return q[0], q[2]


MEASURES = [
    # key, label, unit
    ("ckpt", "checkpoint: wall time", "ms"),
    ("ckpt_cpu", "checkpoint: CPU user+sys, runtime + CRIU (wait4)", "ms"),
    ("ckpt_criu_stats", "checkpoint: CRIU's timed phases (stats-dump freezing+frozen)", "ms"),
    ("ckpt_memdump", "checkpoint: CRIU memdump_time (stats-dump)", "ms"),
    ("ckpt_memwrite", "checkpoint: CRIU memwrite_time (stats-dump)", "ms"),
    ("ckpt_freezing", "checkpoint: CRIU freezing_time (stats-dump)", "ms"),
    ("ckpt_nofreeze", "checkpoint: wall - CRIU freezing_time (without the freezer's 100 ms sleep)", "ms"),
    ("ckpt_over_stats", "checkpoint: wall - CRIU's timed phases", "ms"),
    ("ckpt_criu_log", "checkpoint: CRIU's run as logged (dump.log span)", "ms"),
    ("ckpt_over_log", "checkpoint: wall - dump.log span", "ms"),
    ("image_mib", "checkpoint: image size", "MiB"),
    ("rst_answer", "full restore: restore -d until the container answers", "ms"),
    ("rst_wall", "full restore: restore -d command", "ms"),
    ("rst_criu_stats", "full restore: CRIU restore_time (stats-restore)", "ms"),
    ("rst_over_stats", "full restore: command - restore_time", "ms"),
    ("rst_criu_log", "full restore: CRIU's run as logged (restore.log span)", "ms"),
    ("rst_over_log", "full restore: command - restore.log span", "ms"),
    ("rst_over_est", "full restore: command - restore.log span - CRIU's unlogged time (estimate)", "ms"),
    ("ru_total_cpu", "checkpoint (rusage pass): CPU, runtime + CRIU", "ms"),
    ("ru_criu_cpu", "checkpoint (rusage pass): CPU of CRIU alone", "ms"),
    ("ru_rt_cpu", "checkpoint (rusage pass): CPU of the runtime alone", "ms"),
    ("ru_total_rss", "checkpoint (rusage pass): peak RSS, max(runtime, CRIU) (wait4)", "MiB"),
    ("ru_criu_rss", "checkpoint (rusage pass): peak RSS of CRIU alone", "MiB"),
    ("ru_rt_rss", "checkpoint (rusage pass): peak RSS of the runtime alone (VmHWM)", "MiB"),
    ("ru_criu_wall", "checkpoint (rusage pass): wall time inside CRIU processes", "ms"),
    ("ru_outside", "checkpoint (rusage pass): wall - time inside CRIU processes", "ms"),
    ("ru_criu_unlogged", "checkpoint (rusage pass): CRIU's dump process time not in dump.log (exec, set-up, exit)",
     "ms"),
    ("lazy_answer", "lazy restore: until the container answers", "ms"),
    ("lazy_wall", "lazy restore: restore command (runc: + starting criu lazy-pages)", "ms"),
    ("lazy_all", "lazy restore: until all memory was read back", "ms"),
]
QUICK_MEASURES = [
    ("qs_cold", "cold start: run -d until /tmp/ready (warm)", "ms"),
    ("qs_lazy", "restore -d --lazy until the first new tick", "ms"),
    ("qs_lazy_cmd", "restore -d --lazy: command(s) returned", "ms"),
    ("qs_full", "restore -d (full) until the first new tick", "ms"),
    ("qs_full_cmd", "restore -d (full): command(s) returned", "ms"),
]


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.crun_ok, self.crun_note = crun_has_criu(args.crun)
        names = ["cryo", "runc"] + (["crun"] if self.crun_ok else [])
        self.rts = {
            n: Runtime(n, getattr(args, n), Path(f"/run/bench-ckpt-{n}"), args.criu, criu_flag=(n != "crun"),
                       label=n)
            for n in names
        }
        if args.variant:
            # cryo with runc's network handling: runc always passes
            # empty_ns=CLONE_NEWNET ("runc doesn't manage network devices"),
            # so CRIU skips the netns' links, addresses and iptables/nft
            # rules; cryo dumps and restores them unless --empty-ns network
            self.rts[VARIANT] = Runtime(VARIANT, args.cryo, Path(f"/run/bench-ckpt-{VARIANT}"), args.criu,
                                        label="cryo --empty-ns network", ckpt_extra=("--empty-ns", "network"),
                                        full=False)
            names.append(VARIANT)
        self.order = names
        self.workdir = Path(tempfile.mkdtemp(prefix="cryo-ckpt-bench-"))
        self.bin = self.workdir / "bin"
        self.img = self.workdir / "img"  # the tmpfs
        self.tmpfs_mounted = False
        self.layout = None  # lifecycle.HugetlbLayout, only for crun
        self.m = {k: Measure(k, l, u, "ckpt") for k, l, u in MEASURES}
        self.m.update({k: Measure(k, l, u, "quick") for k, l, u in QUICK_MEASURES})
        self.meta: dict = {"crun": self.crun_note}
        self.failures: list[dict] = []
        self.rounds: list[dict] = []  # raw CRIU stats per round
        self.lazy_broken: dict[str, str] = {}
        self.live: dict[str, set[str]] = {n: set() for n in names}
        self.pipes: list[Pipes] = []
        self.daemons: list[subprocess.Popen] = []

    # -- setup / teardown

    def preflight(self) -> None:
        if os.geteuid() != 0:
            sys.exit("bench: must run as root")
        for rt in self.rts.values():
            if not os.access(rt.binary, os.X_OK):
                sys.exit(f"bench: {rt.name} binary {rt.binary} not found or not executable")
        if not os.access(self.args.criu, os.X_OK):
            sys.exit(f"bench: CRIU {self.args.criu} not found (make deps builds CRIU 4.x)")
        if not shutil.which("gcc"):
            sys.exit("bench: gcc not found (needed to build the static workload)")
        for rt in self.rts.values():
            if rt.root.exists():
                stale = rt.leftovers()
                if stale:
                    log(f"{rt.root} holds {len(stale)} container(s) from an earlier run; deleting them")
                    for cid in stale:
                        rt.force_delete(cid)
                shutil.rmtree(rt.root, ignore_errors=True)
            rt.root.mkdir(parents=True, mode=0o700)

    def compile(self, name: str, src: str) -> Path:
        self.bin.mkdir(exist_ok=True)
        c = self.bin / f"{name}.c"
        c.write_text(src)
        out = self.bin / name
        subprocess.run(["gcc", "-O2", "-static", "-Wall", "-o", str(out), str(c)], check=True)
        return out

    def make_bundle(self, d: Path, *args: str) -> dict:
        env = dict(ENV, BUNDLE_TERMINAL="false")
        subprocess.run(["bash", str(REPO / "scripts" / "make-bundle.sh"), str(d), *args],
                       env=env, check=True, stdout=subprocess.DEVNULL)
        return json.loads((d / "config.json").read_text())

    def setup(self) -> None:
        self.memfifo = self.compile("memfifo", MEMFIFO_C)
        self.ptrun = self.compile("ptrun", PTRUN_C)
        self.criuwrap = self.compile("criuwrap", CRIUWRAP_C)
        self.warmup = self.bin / "warmup"
        subprocess.run(["gcc", "-O2", "-static", "-o", str(self.warmup), str(REPO / "scripts" / "warmup.c")],
                       check=True)
        self.img.mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={self.args.tmpfs_size},mode=0700",
                        f"{TAG}-img", str(self.img)], check=True)
        self.tmpfs_mounted = True
        # the memory bundle: busybox rootfs + /memfifo, /out bound from the host
        self.mem_bundle = self.workdir / "mem"
        self.mem_cfg = self.make_bundle(self.mem_bundle, "/memfifo", "16")
        shutil.copy(self.memfifo, self.mem_bundle / "rootfs" / "memfifo")
        (self.mem_bundle / "rootfs" / "out").mkdir()
        self.out = self.workdir / "out"
        self.out.mkdir()
        os.mkfifo(self.out / "req", 0o600)
        os.mkfifo(self.out / "resp", 0o600)
        self.mem_cfg["mounts"].append(
            {"destination": "/out", "type": "bind", "source": str(self.out), "options": ["rbind", "rw"]})
        # quick startup: one read-only rootfs with /warmup, N bundles that
        # bind their own host dir at /tmp
        qs = self.workdir / "qs"
        cfg = self.make_bundle(qs, "/warmup", *self.args.warmup_args.split())
        shutil.copy(self.warmup, qs / "rootfs" / "warmup")
        cfg["root"]["path"] = str(qs / "rootfs")
        self.qs_copies: list[tuple[Path, Path]] = []
        for i in range(max(self.args.copies)):
            b = self.workdir / f"qs{i}"
            tmp = b / "tmp"
            tmp.mkdir(parents=True)
            tmp.chmod(0o1777)
            c = json.loads(json.dumps(cfg))
            c["mounts"].append({"destination": "/tmp", "type": "bind", "source": str(tmp),
                                "options": ["rbind", "rw"]})
            (b / "config.json").write_text(json.dumps(c, indent=1))
            self.qs_copies.append((b, tmp))

    def set_size(self, mb: int) -> None:
        cfg = json.loads(json.dumps(self.mem_cfg))
        cfg["process"]["args"] = ["/memfifo", str(mb)]
        (self.mem_bundle / "config.json").write_text(json.dumps(cfg, indent=1))

    def our_criu_pids(self) -> list[int]:
        """CRIU processes working for us: a lazy-pages daemon or a criu
        whose cwd or arguments are under our workdir or state roots."""
        mine = [str(self.workdir)] + [str(rt.root) for rt in self.rts.values()]
        pids = []
        for e in os.scandir("/proc"):
            if not e.name.isdigit():
                continue
            try:
                cmd = Path(e.path, "cmdline").read_bytes().split(b"\0")
                if not cmd or not os.path.basename(cmd[0].decode(errors="replace")).startswith(("criu", "criuwrap")):
                    continue
                args = " ".join(a.decode(errors="replace") for a in cmd)
                try:
                    cwd = os.readlink(Path(e.path, "cwd"))
                except OSError:
                    cwd = ""
                if any(m in args or cwd.startswith(m) for m in mine):
                    pids.append(int(e.name))
            except OSError:
                continue
        return pids

    def wait_criu_gone(self, timeout: float = 60.0) -> None:
        """Lazy-pages daemons exit once every page went over or the
        restored tasks are gone; wait for ours, then kill what is left."""
        for d in self.daemons:
            try:
                d.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                log(f"WARNING: criu lazy-pages {d.pid} still running after {timeout}s; killing it")
                d.kill()
                d.wait()
        self.daemons.clear()
        deadline = now() + timeout
        while True:
            pids = self.our_criu_pids()
            if not pids:
                return
            if now() > deadline:
                log(f"WARNING: CRIU process(es) {pids} still running; killing them")
                for p in pids:
                    try:
                        os.kill(p, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                return
            time.sleep(0.01)

    def delete(self, rt: Runtime, cid: str) -> None:
        rt.cmd("delete", "--force", cid, check=False)
        if rt.exists(cid):
            raise CmdError(f"{rt.name} delete --force {cid} left its state behind")
        self.live[rt.name].discard(cid)

    def close_pipes(self) -> None:
        for p in self.pipes:
            p.close()
        self.pipes.clear()

    def cleanup(self) -> None:
        for rt in self.rts.values():
            try:
                for cid in rt.leftovers():
                    log(f"cleanup: deleting leftover {rt.name} container {cid}")
                    rt.force_delete(cid)
                left = rt.leftovers()
                if left:
                    log(f"WARNING: {rt.name} containers not deleted: {left}")
                    for cid in left:  # a restore killed half-way: its CRIU root bind
                        subprocess.run(["umount", "-R", "-l", str(rt.root / cid / "criu-root")],
                                       stderr=subprocess.DEVNULL, check=False)
                shutil.rmtree(rt.root, ignore_errors=True)
            except Exception as e:  # keep cleaning the rest
                log(f"WARNING: cleanup of {rt.name}: {e}")
        try:
            self.wait_criu_gone(timeout=10)
        except Exception as e:
            log(f"WARNING: cleanup of CRIU processes: {e}")
        self.close_pipes()
        self.remove_cgroups()  # and kill what a runtime left in them
        if self.tmpfs_mounted:
            for attempt in range(50):
                r = subprocess.run(["umount", str(self.img)], capture_output=True, text=True)
                if r.returncode == 0:
                    self.tmpfs_mounted = False
                    break
                time.sleep(0.1)
            else:
                log(f"WARNING: umount {self.img}: {r.stderr.strip()}; detaching it (umount -l)")
                subprocess.run(["umount", "-l", str(self.img)], check=False)
                self.tmpfs_mounted = False
        if self.layout is not None:
            try:
                self.layout.restore()
            except Exception as e:
                log(f"WARNING: hugetlb restore failed: {e}")
        shutil.rmtree(self.workdir, ignore_errors=True)

    def remove_cgroups(self) -> None:
        """Cgroups named after our container ids (runc: /<id>, cryo:
        /cryo/<id>) that a failed run left behind."""
        for hier in CGROUP_ROOT.iterdir():
            if not hier.is_dir():
                continue
            for parent in (hier, hier / "cryo", hier / "unified"):
                try:
                    entries = list(parent.iterdir())
                except OSError:
                    continue
                for d in entries:
                    if d.is_dir() and d.name.startswith(TAG):
                        # a container init the runtime lost track of (its
                        # state is gone, its process is not): ours, by pid
                        try:
                            pids = [int(x) for x in (d / "cgroup.procs").read_text().split()]
                        except OSError:
                            pids = []
                        for pid in pids:
                            log(f"cleanup: killing {pid}, left in our cgroup {d}")
                            try:
                                os.kill(pid, signal.SIGKILL)
                            except ProcessLookupError:
                                pass
                        deadline = now() + 5
                        while pids and now() < deadline:
                            try:
                                if not (d / "cgroup.procs").read_text().split():
                                    break
                            except OSError:
                                break
                            time.sleep(0.05)
                        for dirpath, _, _ in os.walk(d, topdown=False):
                            try:
                                os.rmdir(dirpath)
                            except OSError as e:
                                log(f"WARNING: cgroup {dirpath} not removed: {e}")

    # -- one round of the memory benchmark

    def fail(self, rt: Runtime, size, rep, stage: str, e: BaseException) -> None:
        msg = str(e)
        self.failures.append({"runtime": rt.name, "size": size, "rep": rep, "stage": stage, "error": msg})
        log(f"FAILED {rt.name} {size} MiB rep {rep} {stage}: {msg.splitlines()[0][:300]}")
        for line in msg.splitlines()[1:]:
            log(f"    {line[:400]}")

    def mem_round(self, rt: Runtime, mb: int, rep, record: bool = True) -> None:
        add = (lambda k, v: self.m[k].add(mb, rt.name, v)) if record else (lambda k, v: None)
        raw: dict = {"runtime": rt.name, "size": mb, "rep": rep}
        cid = rt.new_id(f"m{mb}")
        stage = "run"
        imgs: list[Path] = []
        try:
            self.set_size(mb)
            (self.out / "ready").unlink(missing_ok=True)
            p = Pipes()
            self.pipes.append(p)
            self.live[rt.name].add(cid)
            rt.cmd("run", "-d", "--bundle", str(self.mem_bundle), cid, pipes=p)
            p.close_child()
            wait_files([self.out / "ready"], timeout=120, interval=0.005)
            _, expect = ask(self.out, b"s")
            want = expect.split()[1]

            stage = "checkpoint"
            a = self.img / f"{cid}-a"
            a.mkdir(mode=0o700)
            imgs.append(a)
            ms, ru, _ = rt.cmd("checkpoint", *rt.ckpt_extra, "--image-path", str(a), "--work-path", str(a), cid,
                               logs=(a / "dump.log",))
            self.live[rt.name].discard(cid)
            st = parse_stats(a / "stats-dump")
            span = log_span_ms(a / "dump.log")
            raw["dump"] = st
            crit = (st["freezing_time"] + st["frozen_time"]) / 1000
            add("ckpt", ms)
            add("ckpt_cpu", (ru.ru_utime + ru.ru_stime) * 1000)
            add("ckpt_criu_stats", crit)
            add("ckpt_memdump", st["memdump_time"] / 1000)
            add("ckpt_memwrite", st["memwrite_time"] / 1000)
            add("ckpt_freezing", st["freezing_time"] / 1000)
            add("ckpt_nofreeze", ms - st["freezing_time"] / 1000)
            add("ckpt_over_stats", ms - crit)
            add("ckpt_criu_log", span)
            add("ckpt_over_log", ms - span)
            add("image_mib", dir_mib(a))

            stage = "restore"
            p2 = Pipes()
            self.pipes.append(p2)
            self.live[rt.name].add(cid)
            t0 = now()
            ms, _, _ = rt.cmd("restore", "-d", *rt.ckpt_extra, "--bundle", str(self.mem_bundle), "--image-path",
                              str(a), "--work-path", str(a), cid, pipes=p2, logs=(a / "restore.log",))
            t_ans, _ = ask(self.out, b"p")
            p2.close_child()
            _, got = ask(self.out, b"s")
            if got.split()[1] != want:
                raise CmdError(f"restored memory differs: sum {got.split()[1]}, expected {want}")
            st = parse_stats(a / "stats-restore")
            span = log_span_ms(a / "restore.log")
            raw["restore"] = st
            add("rst_answer", (t_ans - t0) * 1000)
            add("rst_wall", ms)
            add("rst_criu_stats", st["restore_time"] / 1000)
            add("rst_over_stats", ms - st["restore_time"] / 1000)
            add("rst_criu_log", span)
            add("rst_over_log", ms - span)
            raw["rst_over_log"] = ms - span
            shutil.rmtree(a)
            imgs.remove(a)
            if not rt.full:
                stage = "delete"
                self.delete(rt, cid)
                return

            if rt.criu_flag:
                stage = "rusage checkpoint"
                b = self.img / f"{cid}-b"
                b.mkdir(mode=0o700)
                imgs.append(b)
                wrap_log = self.workdir / f"{cid}.criu"
                pt_out = self.workdir / f"{cid}.pt"
                env = dict(ENV, CRIUWRAP_LOG=str(wrap_log), CRIUWRAP_REAL=rt.criu)
                argv = [str(self.ptrun), str(pt_out)] + rt.argv(
                    "checkpoint", "--image-path", str(b), "--work-path", str(b), cid, criu=str(self.criuwrap))
                with tempfile.TemporaryFile() as err:
                    wall, rc, _ = spawn_wait(argv, [DEVNULL_FD, DEVNULL_FD], err.fileno(), env=env)
                    if rc != 0:
                        err.seek(0)
                        raise CmdError(failure_text(argv, rc, err.read().decode(errors="replace")[-1500:],
                                                    (b / "dump.log",)))
                self.live[rt.name].discard(cid)
                p2.close()
                self.pipes.remove(p2)
                pt = pt_out.read_text().split()
                crius = [l.split() for l in wrap_log.read_text().splitlines() if l.strip()]
                pt_wall_ms, hwm_kb = int(pt[0]) / 1e6, int(pt[1])
                tot_cpu = (int(pt[2]) + int(pt[3])) / 1000
                criu_cpu = sum(int(c[2]) + int(c[3]) for c in crius) / 1000
                criu_wall = sum(int(c[1]) for c in crius) / 1e6
                add("ru_total_cpu", tot_cpu)
                add("ru_criu_cpu", criu_cpu)
                add("ru_rt_cpu", tot_cpu - criu_cpu)
                add("ru_total_rss", int(pt[4]) / 1024)
                add("ru_criu_rss", max(int(c[4]) for c in crius) / 1024)
                add("ru_rt_rss", hwm_kb / 1024)
                add("ru_criu_wall", criu_wall)
                add("ru_outside", pt_wall_ms - criu_wall)
                # the dump is the longest CRIU run (runc first runs one for a version check)
                unlogged = max(int(c[1]) for c in crius) / 1e6 - log_span_ms(b / "dump.log")
                add("ru_criu_unlogged", unlogged)
                # CRIU's start-up before its log clock starts, taken from this
                # dump, applied to the restore of the same runtime and size
                if raw.get("rst_over_log") is not None:
                    add("rst_over_est", raw["rst_over_log"] - unlogged)
                raw["rusage"] = {"ptrun": pt, "criu": crius, "spawn_wall_ms": wall}
                pt_out.unlink()
                wrap_log.unlink()
            else:  # no criu stand-in: the plain image for the lazy restore
                stage = "second checkpoint"
                b = self.img / f"{cid}-b"
                b.mkdir(mode=0o700)
                imgs.append(b)
                rt.cmd("checkpoint", "--image-path", str(b), "--work-path", str(b), cid, logs=(b / "dump.log",))
                self.live[rt.name].discard(cid)
                p2.close()
                self.pipes.remove(p2)

            stage = "lazy restore"
            if rt.name in self.lazy_broken:
                return
            p3 = Pipes()
            self.pipes.append(p3)
            self.live[rt.name].add(cid)
            try:
                t0 = now()
                if rt.name == "cryo":
                    lazy_log = (rt.root / cid / "lazy" / "restore.log", rt.root / cid / "lazy" / "lazy-pages.log")
                    rt.cmd("restore", "-d", "--lazy", "--bundle", str(self.mem_bundle), "--image-path", str(b),
                           cid, pipes=p3, logs=lazy_log)
                else:
                    # runc's way: the caller runs CRIU's lazy-pages daemon
                    w = self.img / f"{cid}-lw"
                    w.mkdir(mode=0o700)
                    imgs.append(w)
                    lazy_log = (w / "restore.log", w / "lazy-pages.log")
                    d = subprocess.Popen([rt.criu, "lazy-pages", "--images-dir", str(b), "--work-dir", str(w),
                                          "--log-file", "lazy-pages.log", "-v4"],
                                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL, env=ENV)
                    self.daemons.append(d)
                    sock = w / "lazy-pages.socket"
                    deadline = now() + 10
                    while not sock.exists():
                        if d.poll() is not None or now() > deadline:
                            raise CmdError("criu lazy-pages did not start: " + " | ".join(log_errors(w / "lazy-pages.log")))
                        time.sleep(0.0005)
                    rt.cmd("restore", "-d", "--lazy-pages", "--bundle", str(self.mem_bundle), "--image-path", str(b),
                           "--work-path", str(w), cid, pipes=p3, logs=lazy_log)
                t_cmd = now()
                t_ans, _ = ask(self.out, b"p")
                p3.close_child()
                t_all, got = ask(self.out, b"s")
                if got.split()[1] != want:
                    raise CmdError(f"lazily restored memory differs: sum {got.split()[1]}, expected {want}")
                add("lazy_wall", (t_cmd - t0) * 1000)
                add("lazy_answer", (t_ans - t0) * 1000)
                add("lazy_all", (t_all - t0) * 1000)
            except (CmdError, TimeoutError, OSError) as e:
                if record is False and rt.name != "cryo":
                    self.lazy_broken[rt.name] = str(e)
                raise
            stage = "delete"
            self.delete(rt, cid)
            self.wait_criu_gone()
        except (CmdError, TimeoutError, OSError, ValueError, KeyError, IndexError) as e:
            self.fail(rt, mb, rep, stage, e)
            if rt.exists(cid):
                rt.force_delete(cid)
            self.live[rt.name].discard(cid)
            self.wait_criu_gone(timeout=20)
            if record is False and rt.name == "cryo" and stage != "lazy restore":
                raise RuntimeError(f"cryo smoke test failed at {stage}") from e
        finally:
            self.close_pipes()
            for d in imgs:
                shutil.rmtree(d, ignore_errors=True)
            self.rounds.append(raw)

    def lazy_diag(self, mb: int) -> None:
        """Untimed: which CRIU processes `cryo restore -d --lazy` runs, and
        how long each lives (the criu stand-in is only a grandparent of
        the restored task here, which a lazy restore tolerates)."""
        rt = self.rts["cryo"]
        cid = rt.new_id("diag")
        self.set_size(mb)
        (self.out / "ready").unlink(missing_ok=True)
        p = Pipes()
        self.pipes.append(p)
        self.live["cryo"].add(cid)
        img = self.img / f"{cid}-d"
        try:
            rt.cmd("run", "-d", "--bundle", str(self.mem_bundle), cid, pipes=p)
            p.close_child()
            wait_files([self.out / "ready"], timeout=60)
            img.mkdir(mode=0o700)
            rt.cmd("checkpoint", "--image-path", str(img), cid)
            wrap_log = self.workdir / f"{cid}.criu"
            env = dict(ENV, CRIUWRAP_LOG=str(wrap_log), CRIUWRAP_REAL=rt.criu)
            p2 = Pipes()
            self.pipes.append(p2)
            argv = rt.argv("restore", "-d", "--lazy", "--bundle", str(self.mem_bundle), "--image-path", str(img),
                           cid, criu=str(self.criuwrap))
            ms, rc, _ = spawn_wait(argv, p2.child, DEVNULL_FD, env=env)
            p2.close_child()
            if rc == 0:
                ask(self.out, b"s")
            self.delete(rt, cid)
            self.wait_criu_gone()
            runs = [l.split() for l in wrap_log.read_text().splitlines() if l.strip()]
            self.meta["cryo_lazy_criu_runs"] = {
                "restore_ms": round(ms, 1), "rc": rc,
                "runs": [{"criu": r[0], "wall_ms": round(int(r[1]) / 1e6, 1)} for r in runs],
            }
            log(f"cryo restore --lazy ran CRIU as: " + ", ".join(f"{r[0]} {int(r[1]) / 1e6:.0f} ms" for r in runs))
        finally:
            if rt.exists(cid):
                rt.force_delete(cid)
            self.live["cryo"].discard(cid)
            self.close_pipes()
            shutil.rmtree(img, ignore_errors=True)

    # -- quick startup (cryo)

    def qs_prepare(self) -> None:
        """A warm checkpoint of scripts/warmup.c (untimed)."""
        rt = self.rts["cryo"]
        b, tmp = self.qs_copies[0]
        for attempt in range(3):
            self.qs_clear()
            cid = rt.new_id("qs-src")
            p = Pipes()
            self.pipes.append(p)
            self.live["cryo"].add(cid)
            t0 = now()
            rt.cmd("run", "-d", "--bundle", str(b), cid, pipes=p)
            t1 = wait_files([tmp / "ready"], timeout=120)
            self.meta["warmup_cold_ms"] = round((t1 - t0) * 1000, 1)
            wait_files([tmp / "ticks"], timeout=30)
            self.meta["warmup_ready"] = (tmp / "ready").read_text().strip()
            time.sleep(0.35)
            self.qs_img = self.img / "qs-img"
            shutil.rmtree(self.qs_img, ignore_errors=True)
            self.qs_img.mkdir(mode=0o700)
            rt.cmd("checkpoint", "--image-path", str(self.qs_img), "--work-path", str(self.qs_img / "work"),
                   cid, logs=(self.qs_img / "work" / "dump.log",))
            self.live["cryo"].discard(cid)
            self.close_pipes()
            self.qs_tick = int((tmp / "ticks").read_text().split()[0])
            self.meta["warmup_image_mib"] = round(dir_mib(self.qs_img), 1)
            # a checkpoint taken while ticks.tmp was open cannot be
            # restored elsewhere (CRIU wants that file back): check once
            try:
                self.qs_one("lazy", 1, record=False)
                self.qs_one("full", 1, record=False)
                return
            except CmdError as e:
                log(f"warm checkpoint not restorable (attempt {attempt + 1}): {str(e)[:300]}")
        raise RuntimeError("could not make a restorable warm checkpoint of warmup")

    def qs_clear(self) -> None:
        for _, tmp in self.qs_copies:
            for f in tmp.iterdir():
                f.unlink()

    def qs_one(self, kind: str, n: int, record: bool = True) -> None:
        """n copies at once: cold start (run -d) or restore of the warm
        checkpoint (lazy / full); time until every copy answers."""
        rt = self.rts["cryo"]
        self.qs_clear()
        copies = self.qs_copies[:n]
        ids = [rt.new_id(f"qs-{kind}") for _ in copies]
        errors: list[BaseException] = []
        t_cmd: list[float] = []
        barrier = threading.Barrier(n + 1)
        pipes = [Pipes() for _ in copies]
        self.pipes.extend(pipes)
        for cid in ids:
            self.live["cryo"].add(cid)

        def worker(i: int) -> None:
            b, tmp = copies[i]
            try:
                barrier.wait()
                if kind == "cold":
                    rt.cmd("run", "-d", "--bundle", str(b), ids[i], pipes=pipes[i])
                elif kind == "lazy":
                    rt.cmd("restore", "-d", "--lazy", "--bundle", str(b), "--image-path", str(self.qs_img),
                           ids[i], pipes=pipes[i],
                           logs=(rt.root / ids[i] / "lazy" / "restore.log",))
                else:
                    w = self.img / f"{ids[i]}-w"
                    rt.cmd("restore", "-d", "--bundle", str(b), "--image-path", str(self.qs_img),
                           "--work-path", str(w), ids[i], pipes=pipes[i], logs=(w / "restore.log",))
                t_cmd.append(now())
            except BaseException as e:
                errors.append(e)

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        t0 = now()
        barrier.wait()
        try:
            target = "ready" if kind == "cold" else "ticks"
            try:
                t_last = wait_files([tmp / target for _, tmp in copies], timeout=180, interval=0.002)
            except TimeoutError:
                for t in threads:
                    t.join()
                if errors:
                    raise errors[0]
                raise
            for t in threads:
                t.join()
            if errors:
                raise errors[0]
            if kind != "cold":
                for _, tmp in copies:
                    tick, primes = (tmp / "ticks").read_text().split()
                    if int(tick) <= self.qs_tick:
                        raise CmdError(f"restored copy restarted: tick {tick} after {self.qs_tick}")
            if record:
                self.m[f"qs_{kind}"].add(n, "cryo", (t_last - t0) * 1000)
                if kind != "cold":
                    self.m[f"qs_{kind}_cmd"].add(n, "cryo", (max(t_cmd) - t0) * 1000)
        finally:
            for cid in ids:
                if rt.exists(cid):
                    rt.force_delete(cid)
                self.live["cryo"].discard(cid)
            self.close_pipes()
            self.wait_criu_gone()
            for cid in ids:
                shutil.rmtree(self.img / f"{cid}-w", ignore_errors=True)

    # -- the run

    def run(self) -> None:
        a = self.args
        self.meta["started"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")
        self.meta["loadavg_start"] = Path("/proc/loadavg").read_text().strip()
        t_start = now()
        self.preflight()
        log(self.crun_note)
        if self.crun_ok:
            sys.path.insert(0, str(HERE))
            from lifecycle import HugetlbLayout  # crun refuses hugetlb on cgroup2

            self.layout = HugetlbLayout()
            self.layout.setup()
        self.setup()
        log(f"workdir {self.workdir}, images on tmpfs {self.img}")
        # smoke test + warm-up: one untimed round per runtime
        for name in self.order:
            self.mem_round(self.rts[name], a.sizes[0], "smoke", record=False)
            if name in self.lazy_broken:
                log(f"{name}: lazy restore does not work: {self.lazy_broken[name].splitlines()[0][:300]}")
            log(f"{name}: run, checkpoint, restore" + (", rusage pass, lazy restore" if self.rts[name].full else "")
                + " done")
        gc.disable()
        t_meas = now()
        self.meta["loadavg_per_part"] = {}
        for mb in a.sizes:
            self.meta["loadavg_per_part"][f"{mb} MiB"] = Path("/proc/loadavg").read_text().strip()
            log(f"{mb} MiB: {a.reps} repetitions x {len(self.order)} runtimes")
            for k in range(a.reps):
                i = k % len(self.order)
                for name in self.order[i:] + self.order[:i]:
                    t = now()
                    self.mem_round(self.rts[name], mb, k)
                    log(f"  {mb} MiB rep {k + 1} {name}: round {now() - t:.1f} s, checkpoint "
                        f"{self.last('ckpt', mb, name)}, restore {self.last('rst_answer', mb, name)}, "
                        f"lazy {self.last('lazy_answer', mb, name)}")
        self.meta["ckpt_seconds"] = round(now() - t_meas, 1)
        try:
            self.lazy_diag(a.sizes[0])
        except (CmdError, TimeoutError, OSError, ValueError) as e:
            log(f"WARNING: lazy diagnostic failed: {e}")
        if a.qs_reps > 0:
            self.meta["loadavg_per_part"]["quick startup"] = Path("/proc/loadavg").read_text().strip()
            t_qs = now()
            log(f"quick startup: warm checkpoint of warmup {a.warmup_args}")
            self.qs_prepare()
            log(f"quick startup: {a.qs_reps} repetitions of cold / lazy / full for {a.copies} copies")
            for k in range(a.qs_reps):
                kinds = ["cold", "lazy", "full"]
                kinds = kinds[k % 3:] + kinds[:k % 3]
                for n in a.copies:
                    for kind in kinds:
                        try:
                            self.qs_one(kind, n)
                        except (CmdError, TimeoutError, OSError) as e:
                            self.fail(self.rts["cryo"], f"quick x{n}", k, kind, e)
                    log(f"  quick rep {k + 1} x{n}: cold {self.last('qs_cold', n, 'cryo')}, lazy "
                        f"{self.last('qs_lazy', n, 'cryo')}, full {self.last('qs_full', n, 'cryo')}")
            self.meta["quick_seconds"] = round(now() - t_qs, 1)
        gc.enable()
        self.meta["measure_seconds"] = round(now() - t_meas, 1)
        self.meta["total_seconds_before_cleanup"] = round(now() - t_start, 1)
        self.meta["loadavg_end"] = Path("/proc/loadavg").read_text().strip()
        self.meta["finished"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")

    def last(self, key: str, size, rt: str) -> str:
        s = self.m[key].get(size, rt)
        return f"{s[-1]:.0f} ms" if s else "-"

    # -- output

    def collect_meta(self) -> None:
        try:
            criu_v = subprocess.run([self.args.criu, "--version"], capture_output=True, text=True).stdout
        except OSError as e:
            criu_v = str(e)
        self.meta.update(
            kernel=platform.release(),
            cpus=os.cpu_count(),
            versions={n: rt.version() for n, rt in self.rts.items()},
            binaries={n: rt.binary for n, rt in self.rts.items()},
            criu=f"{self.args.criu}: " + " / ".join(l.strip() for l in criu_v.splitlines() if l.strip()),
            crun_version=Runtime("crun", self.args.crun, Path("/"), "").version(),
            reps=self.args.reps,
            qs_reps=self.args.qs_reps,
            sizes_mib=list(self.args.sizes),
            copies=list(self.args.copies),
            warmup_args=self.args.warmup_args,
            tmpfs_size=self.args.tmpfs_size,
            lazy_broken=self.lazy_broken,
        )
        if self.layout is not None:
            self.meta["hugetlb"] = self.layout.note

    @staticmethod
    def fmt(v: float | None, unit: str) -> str:
        if v is None:
            return "-"
        if unit == "MiB":
            return f"{v:.1f} MiB"
        if abs(v) >= 1000:
            return f"{v / 1000:.2f} s"
        return f"{v:.1f} ms" if abs(v) >= 10 else f"{v:.2f} ms"

    def cell(self, key: str, size, rt: str) -> str:
        m = self.m[key]
        v = m.median(size, rt)
        if v is None:
            if not self.rts[rt].full and not key.startswith(("ckpt", "rst", "image")):
                return "-"
            nf = sum(1 for f in self.failures if f["runtime"] == rt and f["size"] == size and f["rep"] != "smoke")
            if rt in self.lazy_broken and key.startswith("lazy"):
                return "failed (see below)"
            return f"failed ({nf}x)" if nf else "-"
        return self.fmt(v, m.unit)

    def spread(self, key: str, size, rt: str) -> str:
        q = self.m[key].quartiles(size, rt)
        if q is None:
            return "-"
        return f"{self.fmt(q[0], self.m[key].unit)} - {self.fmt(q[1], self.m[key].unit)}"

    def ratio(self, key: str, size, a: str = "cryo", b: str = "runc", key_b: str | None = None) -> float | None:
        va = self.m[key].median(size, a)
        vb = self.m[key_b or key].median(size, b)
        if va is None or vb is None or vb == 0:
            return None
        return va / vb

    def targets(self) -> list[str]:
        """The issue's targets, met or not, with what bounds a miss."""
        sizes = self.args.sizes
        out = []

        def r(x: float | None) -> str:
            return "n/a" if x is None else f"{x:.2f}"

        # 1. checkpoint and full restore <= 0.9 x runc at every size
        for key, what, criu_key in (("ckpt", "checkpoint", "ckpt_criu_log"),
                                    ("rst_answer", "full restore until the container answers", "rst_criu_log")):
            rs = {s: self.ratio(key, s) for s in sizes}
            ok = all(x is not None and x <= 0.9 for x in rs.values())
            line = (f"- **{what} <= 0.9 x runc's median at every memory size: "
                    f"{'met' if ok else 'NOT met'}** (cryo/runc: "
                    + ", ".join(f"{s} MiB {r(x)}" for s, x in rs.items()) + ")")
            out.append(line)
            for s, x in rs.items():
                if x is None or x <= 0.9:
                    continue
                c_cr = self.m[criu_key].median(s, "cryo")
                r_w = self.m[key].median(s, "runc")
                c_w = self.m[key].median(s, "cryo")
                if c_cr is None or r_w is None or c_w is None:
                    continue
                floor = c_cr / r_w
                r_cr = self.m[criu_key].median(s, "runc")
                detail = (f"  - {s} MiB: cryo {self.fmt(c_w, 'ms')} vs runc {self.fmt(r_w, 'ms')}; CRIU's own "
                          f"run under cryo ({'dump' if key == 'ckpt' else 'restore'}.log span) is "
                          f"{self.fmt(c_cr, 'ms')} = {floor:.2f} x runc's wall time (under runc: "
                          f"{self.fmt(r_cr, 'ms')}), so")
                if floor > 0.9:
                    detail += (" even with zero runtime overhead cryo could not reach 0.9: bounded by the work "
                               "CRIU does for it")
                else:
                    detail += (f" the bound is cryo's time outside CRIU "
                               f"({self.fmt(c_w - c_cr, 'ms')}; runc's: "
                               f"{self.fmt(r_w - (self.m[criu_key].median(s, 'runc') or 0), 'ms')})")
                xv = self.ratio(key, s, VARIANT, "runc")
                if xv is not None:
                    detail += (f"; with runc's network handling (cryo --empty-ns network) cryo/runc is {xv:.2f}")
                if key == "ckpt":
                    md = self.m["ckpt_memdump"].median(s, "cryo")
                    mw = self.m["ckpt_memwrite"].median(s, "cryo")
                    fz = [self.m["ckpt_freezing"].median(s, n) for n in ("cryo", "runc")]
                    detail += (f"; CRIU memdump {self.fmt(md, 'ms')} + memwrite {self.fmt(mw, 'ms')} "
                               f"(freezing: cryo {self.fmt(fz[0], 'ms')}, runc {self.fmt(fz[1], 'ms')})")
                else:
                    rc = self.m["rst_criu_stats"].median(s, "cryo")
                    detail += f"; CRIU restore_time {self.fmt(rc, 'ms')}"
                out.append(detail)

        # CRIU's v1 freezer loop: FROZEN on the first read, or a 100 ms sleep
        hits: dict = {}
        for rnd in self.rounds:
            if rnd.get("rep") == "smoke" or "dump" not in rnd:
                continue
            h = hits.setdefault(rnd["runtime"], {}).setdefault(rnd["size"], [0, 0])
            h[1] += 1
            h[0] += rnd["dump"].get("freezing_time", 0) >= 50_000
        if hits:
            nf = {s: self.ratio("ckpt_nofreeze", s) for s in sizes}
            out.append(
                "- (checkpoint) CRIU freezes through the v1 freezer cgroup for both runtimes: it writes FROZEN, reads "
                "the state back at once and, if it still says FREEZING, sleeps 100 ms before it looks again "
                "(criu/seize.c, `step_ms`). Checkpoints that paid those 100 ms, per size: " + "; ".join(
                    f"{self.rts[r].label} " + ", ".join(f"{s} MiB {c[0]}/{c[1]}" for s, c in sorted(hs.items()))
                    for r, hs in hits.items())
                + ". So a median at one size can hinge on the draw. With each checkpoint's freezing_time taken "
                "out, cryo/runc is " + ", ".join(f"{s} MiB {r(x)}" for s, x in nf.items()) + ".")
        # 2. cryo's overhead above CRIU's own time < 10 ms
        for key, what in (("ru_outside", "checkpoint, wall - time inside CRIU processes (rusage pass)"),
                          ("rst_over_est", "restore, command - restore.log span - CRIU's unlogged start-up "
                                           "(estimate)"),
                          ("ckpt_over_log", "checkpoint, wall - dump.log span"),
                          ("rst_over_log", "restore, command - restore.log span"),
                          ("ckpt_over_stats", "checkpoint, wall - stats-dump freezing+frozen"),
                          ("rst_over_stats", "restore, command - stats-restore restore_time")):
            vals = {s: self.m[key].median(s, "cryo") for s in sizes}
            runc = {s: self.m[key].median(s, "runc") for s in sizes}
            ok = all(v is not None and v < 10 for v in vals.values())
            primary = key in ("ru_outside", "rst_over_est")
            verdict = f"**{'met' if ok else 'NOT met'}**" if primary else ("under 10 ms" if ok else "not under 10 ms")
            out.append(f"- {'**' if primary else ''}cryo's overhead above CRIU's own time < 10 ms"
                       f"{'**' if primary else ''} ({what}{'' if primary else '; another way to count it'}): "
                       f"{verdict} "
                       "(cryo: " + ", ".join(f"{s} MiB {self.fmt(v, 'ms')}" for s, v in vals.items())
                       + "; runc: " + ", ".join(f"{self.fmt(v, 'ms')}" for v in runc.values()) + ")")
        # 3. lazy restore of 1 GiB <= 0.1 x runc's full restore until answer
        big = max(sizes)
        lz = self.m["lazy_answer"].median(big, "cryo")
        full = self.m["rst_answer"].median(big, "runc")
        if lz is not None and full:
            x = lz / full
            line = (f"- **lazy restore of {big} MiB <= 0.1 x runc's full restore until the container answers: "
                    f"{'met' if x <= 0.1 else 'NOT met'}** (cryo --lazy {self.fmt(lz, 'ms')} / runc full "
                    f"{self.fmt(full, 'ms')} = {x:.3f})")
            out.append(line)
            if x > 0.1:
                small = min(sizes)
                lz_all = [self.m["lazy_answer"].median(s, "cryo") for s in sizes]
                lz_all = [v for v in lz_all if v is not None]
                out.append(
                    f"  - the lazy restore takes about the same at every size ({self.fmt(min(lz_all), 'ms')} - "
                    f"{self.fmt(max(lz_all), 'ms')} from {min(sizes)} to {big} MiB): what is left is CRIU's fixed cost "
                    f"of a restore, not memory. A full restore of {small} MiB already takes "
                    f"{self.fmt(self.m['rst_answer'].median(small, 'cryo'), 'ms')} with cryo and "
                    f"{self.fmt(self.m['rst_answer'].median(small, 'runc'), 'ms')} with runc (CRIU restore_time "
                    f"{self.fmt(self.m['rst_criu_stats'].median(small, 'cryo'), 'ms')} / "
                    f"{self.fmt(self.m['rst_criu_stats'].median(small, 'runc'), 'ms')}), above the "
                    f"{self.fmt(0.1 * full, 'ms')} the target allows; runc's own lazy path (criu lazy-pages + "
                    f"restore --lazy-pages) takes {self.fmt(self.m['lazy_answer'].median(big, 'runc'), 'ms')}")
                diag = self.meta.get("cryo_lazy_criu_runs")
                if diag:
                    out.append("  - `cryo restore -d --lazy` runs CRIU " + str(len(diag["runs"])) + " times (criu "
                               "stand-in, one untimed run at " + f"{min(sizes)} MiB): " + ", ".join(
                                   f"`{r['criu']}` {r['wall_ms']:.0f} ms" for r in diag["runs"])
                               + ("; the first `swrk` is cryo's FEATURE_CHECK (lazy_pages, mem_track, pidfd_store) "
                                  "before the lazy restore, which runc's path does not have"
                                  if sum(r["criu"] == "swrk" for r in diag["runs"]) > 1 else
                                  ": the restore and CRIU's lazy-pages daemon, as on runc's path"))
        else:
            out.append(f"- lazy restore of {big} MiB <= 0.1 x runc's full restore: no data")
        return out

    def write(self, outdir: Path) -> None:
        outdir.mkdir(parents=True, exist_ok=True)
        self.collect_meta()
        rts = self.order
        md = ["# Checkpoint/restore benchmark: cryo vs runc\n"]
        md.append(
            "Generated by `make bench` (`bench/checkpoint.py`); see `bench/README.md` for what is measured "
            "and how. Lower is better; a ratio below 1.00 means cryo is faster / smaller. Images on a tmpfs; "
            f"the container holds N MiB of touched memory. Medians of {self.args.reps} repetitions "
            "(runtimes interleaved).\n")
        md.append(f"**crun**: {self.crun_note}" + ("" if self.crun_ok else " -- so crun is not in these tables.") + "\n")
        md.append("## Targets (issue 6)\n")
        md.extend(self.targets())
        md.append("")
        md.append("## Checkpoint, restore, lazy restore\n")
        others = [r for r in rts if r not in ("cryo", "runc")]
        ratio_cols = [("cryo", "cryo/runc")] + [(r, f"{self.rts[r].label}/runc") for r in others]
        if "crun" in rts:
            ratio_cols.append(("cryo/crun", "cryo/crun"))
        labels = {r: self.rts[r].label for r in rts}
        if VARIANT in rts:
            md.append(f"Column *{labels[VARIANT]}*: cryo again, checkpointing and restoring with "
                      "`--empty-ns network`, which is what runc always does (runc's setEmptyNsMask: \"runc "
                      "doesn't manage network devices\", empty_ns=CLONE_NEWNET), so CRIU skips dumping and "
                      "restoring the network namespace's links, addresses and iptables/nftables rules. "
                      "Checkpoint and full restore only.\n")
        hdr = "| measure | size | " + " | ".join(f"{labels[r]} median" for r in rts)
        hdr += " | " + " | ".join(c for _, c in ratio_cols) + " | "
        hdr += " | ".join(f"{labels[r]} p25-p75" for r in rts) + " | n |"
        md.append(hdr)
        md.append("|---|---:|" + "---:|" * (len(rts) + len(ratio_cols)) + "---:|" * len(rts) + "---:|")
        for key, _, _ in MEASURES:
            m = self.m[key]
            for s in self.args.sizes:
                if not any(m.get(s, r) for r in rts) and not any(f["size"] == s for f in self.failures):
                    continue
                ratios = []
                for a, _ in ratio_cols:
                    x = self.ratio(key, s, "cryo", "crun") if a == "cryo/crun" else self.ratio(key, s, a, "runc")
                    ratios.append("-" if x is None else f"{x:.2f}")
                n = "/".join(str(len(m.get(s, r))) for r in rts)
                md.append(f"| {m.label} | {s} MiB | " + " | ".join(self.cell(key, s, r) for r in rts)
                          + " | " + " | ".join(ratios) + " | "
                          + " | ".join(self.spread(key, s, r) for r in rts) + f" | {n} |")
        md.append("")
        md.append("Lazy restore, cryo vs its own full restore (until the container answers):\n")
        md.append("| size | cryo --lazy | cryo full | lazy/full | runc --lazy-pages | runc full | lazy/full |")
        md.append("|---:|---:|---:|---:|---:|---:|---:|")
        for s in self.args.sizes:
            cells = []
            for r in ("cryo", "runc"):
                lz, fu = self.m["lazy_answer"].median(s, r), self.m["rst_answer"].median(s, r)
                cells += [self.fmt(lz, "ms"), self.fmt(fu, "ms"),
                          "-" if lz is None or not fu else f"{lz / fu:.2f}"]
            md.append(f"| {s} MiB | " + " | ".join(cells) + " |")
        md.append("")
        if self.args.qs_reps > 0:
            md.append("## Quick startup (cryo): cold start of scripts/warmup.c vs restoring its warm checkpoint\n")
            md.append(f"`/warmup {self.args.warmup_args}`: cold, it took {self.meta.get('warmup_cold_ms')} ms "
                      f"from `run -d` to /tmp/ready ({self.meta.get('warmup_ready')}); its checkpoint is "
                      f"{self.meta.get('warmup_image_mib')} MiB. N copies start at once (threads behind a barrier); "
                      "the time is until the last copy answers (cold: wrote /tmp/ready; restored: wrote a new "
                      "/tmp/ticks, which it does every 100 ms; compare with the rows for the commands: the first "
                      "tick follows the restore at once, the restored task does not sleep out its 100 ms). "
                      f"Medians of {self.args.qs_reps} repetitions.\n")
            copies = self.args.copies
            md.append("| measure | " + " | ".join(f"{n} cop{'y' if n == 1 else 'ies'}" for n in copies)
                      + " | " + " | ".join(f"p25-p75 ({n})" for n in copies) + " |")
            md.append("|---|" + "---:|" * (2 * len(copies)))
            for key, _, _ in QUICK_MEASURES:
                m = self.m[key]
                md.append(f"| {m.label} | " + " | ".join(self.cell(key, n, "cryo") for n in copies) + " | "
                          + " | ".join(self.spread(key, n, "cryo") for n in copies) + " |")
            for kind in ("lazy", "full"):
                vals = []
                for n in copies:
                    a, b = self.m[f"qs_{kind}"].median(n, "cryo"), self.m["qs_cold"].median(n, "cryo")
                    vals.append("-" if a is None or not b else f"{a / b:.3f}")
                md.append(f"| ratio {kind} restore / cold start | " + " | ".join(vals) + " |" + " |" * len(copies))
            md.append("")
        if self.failures:
            md.append("## Failures\n")
            for f in self.failures:
                md.append(f"- {f['runtime']}, {f['size']}{' MiB' if isinstance(f['size'], int) else ''}, rep "
                          f"{f['rep']}, {f['stage']}:")
                for line in f["error"].splitlines()[:6]:
                    md.append(f"  - `{line[:600]}`")
            md.append("")
        md.append("## How the overhead is split\n")
        md.append(
            "- *CRIU's timed phases*: stats-dump's `freezing_time` + `frozen_time` (CRIU's seize.c/cr-dump.c: "
            "freezing starts when CRIU begins to freeze the tree, frozen runs until the tasks are killed or "
            "resumed; `memdump_time` and `memwrite_time` lie inside frozen). CRIU's start-up before freezing "
            "(kerndat, parsing the tree's cgroups and mounts) is in no stats field, so *wall - timed phases* "
            "overstates the runtime's share. For restore, stats-restore's `restore_time` runs from the start "
            "of cr_restore_tasks to the switch to the restored credentials; `forking_time` is measured by the "
            "restored root task *inside* that window, so it is not added.\n"
            "- *CRIU's run as logged*: the last timestamp in dump.log / restore.log (CRIU's log clock starts "
            "at its log_init, early in the RPC request). *wall - log span* is the runtime's own time plus "
            "CRIU's exec and swrk set-up.\n"
            "- *rusage pass*: a second checkpoint of the restored container (same memory), run under a small "
            "ptrace shim (the runtime's own VmHWM at exit, and wait4()'s rusage: runtime + every CRIU it "
            "reaped) with `--criu` pointing at a stand-in that runs the real CRIU as its child and records "
            "that child's wall time and rusage. *wall - time inside CRIU processes* is the runtime's "
            "time outside every CRIU it ran (runc runs CRIU twice: a version check and the dump).\n")
        md.append("## Run\n")
        md.append(f"- date: {self.meta.get('started')} to {self.meta.get('finished')}; measurements "
                  f"{self.meta.get('measure_seconds')} s (checkpoint part {self.meta.get('ckpt_seconds')} s, "
                  f"quick startup {self.meta.get('quick_seconds')} s), whole harness "
                  f"{self.meta.get('total_seconds')} s")
        md.append(f"- kernel {self.meta['kernel']}, {self.meta['cpus']} CPUs; loadavg at start "
                  f"`{self.meta.get('loadavg_start')}`, at end `{self.meta.get('loadavg_end')}`"
                  + (f"; {self.meta['load_note']}" if self.meta.get("load_note") else ""))
        if self.meta.get("loadavg_per_part"):
            md.append("- loadavg when each part began: " + "; ".join(
                f"{k} `{' '.join(v.split()[:3])}`" for k, v in self.meta["loadavg_per_part"].items())
                + " (the 10 concurrent cold starts of the quick-startup part raise it themselves)")
        for n in rts:
            md.append(f"- {n}: `{self.meta['binaries'][n]}`: {self.meta['versions'][n]}")
        if not self.crun_ok:
            md.append(f"- crun: `{self.args.crun}`: {self.meta['crun_version']} (no CRIU)")
        md.append(f"- CRIU: {self.meta['criu']}")
        md.append(f"- images on a tmpfs (size={self.args.tmpfs_size}); stdio of every container on pipes "
                  "held by the harness (runc checkpoints only pipe or in-container stdio)")
        if self.lazy_broken:
            for n, e in self.lazy_broken.items():
                md.append(f"- {n} lazy restore did not work in the smoke test: `{e.splitlines()[0][:400]}`")
        if self.meta.get("hugetlb"):
            md.append(f"- cgroups: {self.meta['hugetlb']}")
        md.append("")
        (outdir / "checkpoint.md").write_text("\n".join(md))
        raw = {
            "meta": self.meta,
            "measures": {m.key: {"label": m.label, "unit": m.unit, "group": m.group, "samples": m.samples}
                         for m in self.m.values()},
            "failures": self.failures,
            "rounds": self.rounds,
        }
        (outdir / "checkpoint.json").write_text(json.dumps(raw, indent=1) + "\n")
        self.plot(outdir / "checkpoint.png")
        log(f"wrote {outdir / 'checkpoint.md'}, checkpoint.json, checkpoint.png")

    def plot(self, path: Path) -> None:
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            log("WARNING: matplotlib not importable (apt-get install python3-matplotlib); no PNG")
            return
        sizes = self.args.sizes
        xs = list(range(len(sizes)))
        colors = {"cryo": "#2a7ab9", "runc": "#8c8c8c", "crun": "#d9822b", VARIANT: "#5fb35f"}
        fig, axes = plt.subplots(2, 3, figsize=(17, 9.5))

        def line(ax, key, rt, style="-", label=None, marker="o"):
            med, lo, hi, xx = [], [], [], []
            for x, s in zip(xs, sizes):
                v = self.m[key].median(s, rt)
                if v is None:
                    continue
                q = self.m[key].quartiles(s, rt)
                xx.append(x)
                med.append(v)
                lo.append(v - q[0])
                hi.append(q[1] - v)
            if med:
                ax.errorbar(xx, med, yerr=[lo, hi], fmt=style, marker=marker, color=colors.get(rt, "k"),
                            label=(label or rt).replace(rt, self.rts[rt].label, 1), capsize=3, ms=4)

        def finish(ax, title, ylabel="ms", log_y=True):
            ax.set_xticks(xs)
            ax.set_xticklabels([f"{s} MiB" for s in sizes])
            ax.set_title(title, fontsize=10)
            ax.set_ylabel(ylabel)
            if log_y:
                ax.set_yscale("log")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7)

        ax = axes[0][0]
        for rt in self.order:
            line(ax, "ckpt", rt, label=f"{rt}: checkpoint wall")
            line(ax, "ckpt_criu_log", rt, style="--", marker="x", label=f"{rt}: CRIU (dump.log span)")
        finish(ax, "checkpoint")
        ax = axes[0][1]
        for rt in self.order:
            line(ax, "rst_answer", rt, label=f"{rt}: full restore until answer")
            line(ax, "lazy_answer", rt, style=":", marker="s", label=f"{rt}: lazy restore until answer")
        finish(ax, "restore -d until the container answers")
        ax = axes[0][2]
        for rt in self.order:
            line(ax, "ru_outside", rt, label=f"{rt}: checkpoint, outside CRIU processes")
            line(ax, "rst_over_est", rt, style="--", marker="x", label=f"{rt}: restore, outside CRIU (estimate)")
            line(ax, "ckpt_over_log", rt, style=":", marker="s", label=f"{rt}: checkpoint wall - dump.log span")
        ax.axhline(10, color="red", lw=0.8, ls="--", label="target 10 ms")
        finish(ax, "runtime's time outside CRIU", log_y=False)
        ax = axes[1][0]
        for rt in self.order:
            line(ax, "ru_rt_cpu", rt, label=f"{rt}: runtime CPU")
            line(ax, "ru_criu_cpu", rt, style="--", marker="x", label=f"{rt}: CRIU CPU")
        finish(ax, "checkpoint CPU user+sys (rusage pass)")
        ax = axes[1][1]
        for rt in self.order:
            line(ax, "ru_rt_rss", rt, label=f"{rt}: runtime peak RSS")
            line(ax, "ru_criu_rss", rt, style="--", marker="x", label=f"{rt}: CRIU peak RSS")
        finish(ax, "checkpoint peak RSS (rusage pass)", ylabel="MiB", log_y=False)
        ax = axes[1][2]
        copies = self.args.copies
        w = 0.27
        for j, (kind, col) in enumerate((("cold", "#b94a2a"), ("lazy", "#2a7ab9"), ("full", "#7fb3d5"))):
            vals = [self.m[f"qs_{kind}"].median(n, "cryo") or 0 for n in copies]
            pos = [i + (j - 1) * w for i in range(len(copies))]
            ax.bar(pos, vals, width=w, color=col, label={"cold": "cold start", "lazy": "restore --lazy",
                                                          "full": "full restore"}[kind])
            for p, v in zip(pos, vals):
                ax.annotate(f"{v:.0f}", (p, v), ha="center", va="bottom", fontsize=7)
        ax.set_xticks(range(len(copies)))
        ax.set_xticklabels([f"{n} cop{'y' if n == 1 else 'ies'}" for n in copies])
        ax.set_ylabel("ms until every copy answers")
        ax.set_title("quick startup (cryo): warmup", fontsize=10)
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3, axis="y")
        fig.suptitle("cryo vs runc: checkpoint / restore (median, bars = p25-p75; lower is better)", fontsize=11)
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)


def wait_for_load(limit: float, max_wait: float, poll: float) -> str:
    """Waits until the 1-minute load average is below limit (at most
    max_wait s); returns a note for the results."""
    t0 = time.monotonic()
    while True:
        la = float(Path("/proc/loadavg").read_text().split()[0])
        if la < limit:
            return "" if time.monotonic() - t0 < 1 else f"waited {time.monotonic() - t0:.0f} s for load < {limit}"
        if time.monotonic() - t0 >= max_wait:
            return f"gave up waiting for load < {limit} after {max_wait:.0f} s; 1-min load was {la}"
        log(f"1-minute load {la} >= {limit}; waiting")
        time.sleep(poll)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for n in ("cryo", "runc", "crun"):
        p.add_argument(f"--{n}", default=os.environ.get(n.upper(), DEFAULT_BINS[n]), help=f"{n} binary")
    p.add_argument("--criu", default=os.environ.get("CRIU", DEFAULT_CRIU), help="CRIU 4.x binary")
    p.add_argument("--reps", type=int, default=5, help="repetitions per memory size")
    p.add_argument("--qs-reps", type=int, default=None, help="repetitions of quick startup (default: --reps)")
    p.add_argument("--sizes", default=",".join(map(str, SIZES)), help="MiB of touched memory, comma-separated")
    p.add_argument("--copies", default="1,10", help="quick startup: copies started at once, comma-separated")
    p.add_argument("--warmup-args", default="60000000 32", help="arguments of scripts/warmup.c: N MB")
    p.add_argument("--tmpfs-size", default="6g", help="size of the image tmpfs")
    p.add_argument("--no-variant", dest="variant", action="store_false",
                   help="skip the extra cryo --empty-ns network checkpoint/restore column")
    p.add_argument("--out", type=Path, default=HERE / "results")
    p.add_argument("--wait-load", type=float, default=0.0,
                   help="first wait (up to 10 min) until the 1-minute load is below this")
    p.add_argument("--quick", action="store_true", help="smoke test: 1 repetition, results to /tmp")
    args = p.parse_args()
    args.sizes = [int(x) for x in args.sizes.split(",") if x]
    args.copies = [int(x) for x in args.copies.split(",") if x]
    if args.quick:
        args.reps = 1
        if args.out == HERE / "results":
            args.out = Path("/tmp/cryo-bench-quick")
    if args.qs_reps is None:
        args.qs_reps = args.reps

    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    for s in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, on_signal)

    load_note = wait_for_load(args.wait_load, 600, 20) if args.wait_load > 0 else ""
    t0 = now()
    bench = Bench(args)
    bench.meta["load_note"] = load_note
    ok = False
    try:
        bench.run()
        ok = True
    finally:
        old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM, signal.SIGHUP})
        try:
            bench.cleanup()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)
    bench.meta["total_seconds"] = round(now() - t0, 1)
    if ok:
        bench.write(args.out)
        print()
        print((args.out / "checkpoint.md").read_text())
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
