#!/usr/bin/env python3
"""Migration benchmark: `cryo migrate` (post-copy and stop-and-copy) against
what a runc user does by hand (checkpoint, copy the images, restore).

Run as root with Debian's python3:   make bench   or
/usr/bin/python3 bench/migrate.py [--cryo BIN] [--sizes 16,64,256,1024] [--reps 3]

Two "hosts" on this machine: two network namespaces joined by a veth pair
(169.254.79.1 and 169.254.79.2, addresses that exist only inside them),
each with its own runtime --root. Each side's runtime runs in its
namespace (nsenter --net). The container holds N MiB of touched memory
(the FIFO-answering program of bench/checkpoint.py) and has a network
namespace of its own; images and work dirs are on a tmpfs the harness
mounts, on both sides.

Per memory size and repetition, interleaved (the first mode alternates):

  * cryo post-copy: `cryo migrate --to B` with `migrate-receive --once` on
    B. cryo reports frozen_ms (from its freeze to the destination's copy
    running), dump_ms, restore_ms, post_copy_ms and total_ms.
  * cryo stop-and-copy: the same with `--mode stop-and-copy`.
  * runc by hand: the bundle copied to B over TCP first (the container
    still runs), then `runc checkpoint` on A, the images sent over TCP (a
    tar stream from A's namespace to B's), `runc restore -d` on B. Its
    frozen time is from the start of `runc checkpoint` to the end of
    `runc restore -d` (the container running on B): the same span as
    cryo's frozen_ms.

Every migrated container is then asked to sum all of its memory on B, and
the sum must equal the one from before: a wrong copy fails the run.
Results: bench/results/migrate.{md,json,png}. Everything created
(namespaces, veth, tmpfs, roots, cgroups, containers) is removed at the
end, also on error or SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import checkpoint as ck  # noqa: E402  (the workload and the runtime helpers)

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
TAG = f"mgb{os.getpid()}"
NS_A, NS_B = f"{TAG}a", f"{TAG}b"
ADDR_A, ADDR_B = "169.254.79.1", "169.254.79.2"
PORT = 7749
MODES = ("cryo post-copy", "cryo stop-and-copy", "runc by hand")

# Touches 4 GiB of fresh anonymous memory, 1 GiB at a time and page by
# page, frees it all, then touches 4 GiB again (mostly the pages just
# freed), printing the time of each GiB: "first: a b c d" and "again: ...".
# In a VM whose host backs guest memory lazily and takes freed pages back
# (free page reporting), touching a page the host does not back costs a
# host fault, many times the cost of touching a page freed just before.
TOUCH_C = r"""
#include <stdio.h>
#include <sys/mman.h>
#include <time.h>
#define GIB (1UL << 30)
#define N 4
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }
static int pass(const char *name) {
    char *p[N];
    printf("%s:", name);
    for (int g = 0; g < N; g++) {
        p[g] = mmap(0, GIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p[g] == MAP_FAILED) return 1;
        double t = now();
        for (size_t i = 0; i < GIB; i += 4096) p[g][i] = 1;
        printf(" %.3f", now() - t);
    }
    printf("\n");
    for (int g = 0; g < N; g++) munmap(p[g], GIB);
    return 0;
}
int main(void) { return pass("first") || pass("again"); }
"""
SIZES = (16, 64, 256, 1024)

# Receives one tar stream on ADDR:PORT and unpacks it into DIR (run in B's
# namespace); the sender connects from A's and streams `tar -c`.
RECV_PY = r"""
import socket, subprocess, sys
addr, port, d = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((addr, port)); s.listen(1)
print("ready", flush=True)
c, _ = s.accept()
tar = subprocess.Popen(["tar", "-C", d, "-xf", "-"], stdin=subprocess.PIPE)
while True:
    b = c.recv(1 << 20)
    if not b: break
    tar.stdin.write(b)
tar.stdin.close()
sys.exit(tar.wait())
"""
SEND_PY = r"""
import socket, subprocess, sys
addr, port, d = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s = socket.create_connection((addr, port))
tar = subprocess.Popen(["tar", "-C", d, "-cf", "-", "."], stdout=subprocess.PIPE)
while True:
    b = tar.stdout.read(1 << 20)
    if not b: break
    s.sendall(b)
s.shutdown(socket.SHUT_WR); s.recv(1)
sys.exit(tar.wait())
"""


def log(msg: str) -> None:
    print(f"[migrate-bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def sh(*argv: str, check: bool = True) -> subprocess.CompletedProcess:
    r = subprocess.run(argv, capture_output=True, text=True, env=ck.ENV)
    if check and r.returncode != 0:
        raise ck.CmdError(f"`{' '.join(argv)}` exited {r.returncode}: {r.stderr.strip()[-1500:]}")
    return r


def in_ns(ns: str) -> list[str]:
    return ["nsenter", f"--net=/run/netns/{ns}"]


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.sizes = [int(s) for s in args.sizes.split(",")]
        self.work = Path(tempfile.mkdtemp(prefix=f"{TAG}-"))
        self.tmpfs = self.work / "tmpfs"
        self.tmpfs_mounted = False
        self.ns_made: list[str] = []
        self.roots = {k: Path(f"/run/{TAG}-{k}") for k in ("cryo-a", "cryo-b", "runc-a", "runc-b")}
        self.cg_prefix = f"/{TAG}-b"
        self.live: list[tuple[str, Path, str]] = []  # (binary, root, id)
        self.pipes: list[ck.Pipes] = []
        self.procs: list[subprocess.Popen] = []
        self.res: dict[tuple[int, str], list[dict]] = {}
        self.failures: list[str] = []
        self.seq = 0
        self.touch_s: dict[str, list[float]] = {}  # s per GiB: "first" and "again"

    # ---------------------------------------------------------------- setup --

    def setup(self) -> None:
        for b in (self.args.cryo, self.args.runc, self.args.criu):
            if not os.access(b, os.X_OK):
                raise SystemExit(f"migrate bench: {b} is not an executable")
        self.tmpfs.mkdir()
        sh("mount", "-t", "tmpfs", "-o", f"size={self.args.tmpfs_size},mode=0700", f"{TAG}-img", str(self.tmpfs))
        self.tmpfs_mounted = True
        memfifo = self.work / "memfifo"
        (self.work / "memfifo.c").write_text(ck.MEMFIFO_C)
        sh("gcc", "-O2", "-static", "-Wall", "-o", str(memfifo), str(self.work / "memfifo.c"))
        self.touch = self.work / "touch"
        (self.work / "touch.c").write_text(TOUCH_C)
        sh("gcc", "-O2", "-Wall", "-o", str(self.touch), str(self.work / "touch.c"))
        self.bundle = self.work / "mem"
        env = dict(ck.ENV, BUNDLE_TERMINAL="false")
        subprocess.run(["bash", str(REPO / "scripts" / "make-bundle.sh"), str(self.bundle), "/memfifo", "16"],
                       env=env, check=True, stdout=subprocess.DEVNULL)
        shutil.copy(memfifo, self.bundle / "rootfs" / "memfifo")
        (self.bundle / "rootfs" / "out").mkdir()
        self.out = self.work / "out"
        self.out.mkdir()
        os.mkfifo(self.out / "req", 0o600)
        os.mkfifo(self.out / "resp", 0o600)
        self.cfg = json.loads((self.bundle / "config.json").read_text())
        self.cfg["mounts"].append(
            {"destination": "/out", "type": "bind", "source": str(self.out), "options": ["rbind", "rw"]})
        # the hosts
        va, vb = f"{TAG}va", f"{TAG}vb"
        for ns in (NS_A, NS_B):
            sh("ip", "netns", "add", ns)
            self.ns_made.append(ns)
        sh("ip", "link", "add", va, "type", "veth", "peer", "name", vb)
        sh("ip", "link", "set", va, "netns", NS_A)
        sh("ip", "link", "set", vb, "netns", NS_B)
        for ns, dev, addr in ((NS_A, va, ADDR_A), (NS_B, vb, ADDR_B)):
            sh("ip", "-n", ns, "addr", "add", f"{addr}/30", "dev", dev)
            sh("ip", "-n", ns, "link", "set", dev, "up")
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        for r in self.roots.values():
            r.mkdir(mode=0o700, exist_ok=True)

    def set_size(self, mb: int) -> None:
        cfg = json.loads(json.dumps(self.cfg))
        cfg["process"]["args"] = ["/memfifo", str(mb)]
        (self.bundle / "config.json").write_text(json.dumps(cfg, indent=1))

    def rt(self, binary: str, root: Path, *args: str, ns: str | None = None, pipes: ck.Pipes | None = None,
           check: bool = True) -> tuple[float, str]:
        argv = (in_ns(ns) if ns else []) + [binary, "--root", str(root)]
        if binary == self.args.runc:
            argv += ["--criu", self.args.criu]
        argv += list(args)
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            stdio = pipes.child if pipes else [ck.DEVNULL_FD, out.fileno()]
            if ns:  # nsenter is the child: resolve it on PATH
                argv[0] = shutil.which(argv[0], path=ck.ENV["PATH"]) or argv[0]
            ms, rc, _ = ck.spawn_wait(argv, stdio, err.fileno())
            out.seek(0)
            err.seek(0)
            o, e = out.read().decode(errors="replace"), err.read().decode(errors="replace")
        if rc != 0 and check:
            raise ck.CmdError(f"`{' '.join(argv)}` exited {rc}: {(e + (pipes.drain() if pipes else '')).strip()[-1500:]}")
        return ms, o

    def start_container(self, binary: str, root: Path, mb: int) -> tuple[str, str]:
        self.seq += 1
        cid = f"{TAG}-{self.seq}"
        self.set_size(mb)
        (self.out / "ready").unlink(missing_ok=True)
        p = ck.Pipes()
        self.pipes.append(p)
        self.live.append((binary, root, cid))
        self.rt(binary, root, "run", "-d", "--bundle", str(self.bundle), cid, pipes=p)
        p.close_child()
        ck.wait_files([self.out / "ready"], timeout=120, interval=0.005)
        _, line = ck.ask(self.out, b"s")
        return cid, line.split()[1]

    def check_sum(self, want: str) -> None:
        _, line = ck.ask(self.out, b"s", timeout=120)
        if line.split()[1] != want:
            raise ck.CmdError(f"migrated memory differs: sum {line.split()[1]}, expected {want}")

    def delete(self, binary: str, root: Path, cid: str) -> None:
        self.rt(binary, root, "delete", "--force", cid, check=False)
        self.live = [x for x in self.live if x != (binary, root, cid)]

    # ------------------------------------------------------------- one round --

    def cryo_round(self, mb: int, mode: str) -> dict:
        cryo, ra, rb = self.args.cryo, self.roots["cryo-a"], self.roots["cryo-b"]
        cid, want = self.start_container(cryo, ra, mb)
        wa, wb = self.tmpfs / f"{cid}-a", self.tmpfs / f"{cid}-b"
        wa.mkdir(mode=0o700)
        wb.mkdir(mode=0o700)
        recv = subprocess.Popen(
            in_ns(NS_B) + [cryo, "--root", str(rb), "migrate-receive", "--listen", f"{ADDR_B}:{PORT}", "--once",
                           "--format", "json", "--cgroup-prefix", self.cg_prefix, "--dir", str(wb)],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ck.ENV)
        self.procs.append(recv)
        try:
            line = recv.stderr.readline() if recv.stderr else ""
            if "listening" not in line:
                raise ck.CmdError(f"migrate-receive did not start: {line.strip()}")
            extra = ["--mode", "stop-and-copy"] if mode == "cryo stop-and-copy" else ["--mode", "post-copy"]
            _, out = self.rt(cryo, ra, "migrate", "--to", f"{ADDR_B}:{PORT}", "--format", "json",
                             "--work-dir", str(wa), *extra, cid, ns=NS_A)
            self.live = [x for x in self.live if x != (cryo, ra, cid)]
            self.live.append((cryo, rb, cid))
            rep = json.loads(out)
            ro, re_ = recv.communicate(timeout=120)
            if recv.returncode != 0:
                raise ck.CmdError(f"migrate-receive exited {recv.returncode}: {re_.strip()[-1500:]}")
            self.check_sum(want)
        finally:
            if recv.poll() is None:
                recv.kill()
                recv.wait()
            self.procs.remove(recv)
        self.delete(cryo, rb, cid)
        shutil.rmtree(wa, ignore_errors=True)
        shutil.rmtree(wb, ignore_errors=True)
        return {
            "frozen_ms": rep["frozen_ms"], "total_ms": rep["total_ms"], "dump_ms": rep["dump_ms"],
            "restore_ms": rep["restore_ms"], "post_copy_ms": rep["post_copy_ms"],
            "moved_mib": rep["bytes"] / 2**20,
        }

    def send_dir(self, src: Path, dst: Path) -> float:
        """tar stream src (in A's namespace) -> dst (in B's); wall ms."""
        t0 = ck.now()
        recv = subprocess.Popen(in_ns(NS_B) + [sys.executable, "-c", RECV_PY, ADDR_B, str(PORT + 1), str(dst)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ck.ENV)
        self.procs.append(recv)
        try:
            if recv.stdout is None or recv.stdout.readline().strip() != "ready":
                raise ck.CmdError(f"image receiver did not start: {recv.stderr.read() if recv.stderr else ''}")
            sh(*in_ns(NS_A), sys.executable, "-c", SEND_PY, ADDR_B, str(PORT + 1), str(src))
            if recv.wait(timeout=300) != 0:
                raise ck.CmdError(f"image receiver exited {recv.returncode}: {recv.stderr.read() if recv.stderr else ''}")
        finally:
            if recv.poll() is None:
                recv.kill()
                recv.wait()
            self.procs.remove(recv)
        return (ck.now() - t0) * 1000

    def runc_round(self, mb: int) -> dict:
        runc, ra, rb = self.args.runc, self.roots["runc-a"], self.roots["runc-b"]
        cid, want = self.start_container(runc, ra, mb)
        ia, ib = self.tmpfs / f"{cid}-a", self.tmpfs / f"{cid}-b"
        bb = self.tmpfs / f"{cid}-bundle"
        for d in (ia, ib, bb):
            d.mkdir(mode=0o700)
        t_start = ck.now()
        # the bundle goes first, while the container still runs (as cryo's rootfs does)
        self.send_dir(self.bundle, bb)
        t_freeze = ck.now()
        dump_ms, _ = self.rt(runc, ra, "checkpoint", "--image-path", str(ia), "--work-path", str(ia), cid, ns=NS_A)
        self.live = [x for x in self.live if x != (runc, ra, cid)]
        copy_ms = self.send_dir(ia, ib)
        p = ck.Pipes()
        self.pipes.append(p)
        self.live.append((runc, rb, cid))
        restore_ms, _ = self.rt(runc, rb, "restore", "-d", "--bundle", str(bb), "--image-path", str(ib),
                                "--work-path", str(ib), cid, ns=NS_B, pipes=p)
        t_running = ck.now()
        p.close_child()
        self.check_sum(want)
        self.delete(runc, rb, cid)
        moved = ck.dir_mib(ib) + ck.dir_mib(bb)
        for d in (ia, ib, bb):
            shutil.rmtree(d, ignore_errors=True)
        return {
            "frozen_ms": (t_running - t_freeze) * 1000, "total_ms": (t_running - t_start) * 1000,
            "dump_ms": dump_ms, "copy_ms": copy_ms, "restore_ms": restore_ms, "post_copy_ms": 0.0,
            "moved_mib": moved,
        }

    def probe_memory(self) -> None:
        """What touching free memory costs here, per GiB (see TOUCH_C)."""
        for line in sh(str(self.touch)).stdout.splitlines():
            name, _, times = line.partition(":")
            self.touch_s[name] = [float(t) for t in times.split()]
        log(f"memory: touching 4 GiB, s per GiB: first {self.touch_s.get('first')}, "
            f"again right after freeing it {self.touch_s.get('again')}")

    def run(self) -> None:
        order = list(MODES)
        self.probe_memory()
        for mb in self.sizes:
            for rep in range(self.args.reps):
                # the first mode alternates
                rot = order[rep % len(order):] + order[:rep % len(order)]
                for mode in rot:
                    try:
                        r = self.runc_round(mb) if mode == "runc by hand" else self.cryo_round(mb, mode)
                    except (ck.CmdError, OSError, TimeoutError, subprocess.SubprocessError, ValueError) as e:
                        msg = f"{mode} {mb} MiB rep {rep}: {e}"
                        log(f"FAILED {msg}")
                        self.failures.append(msg)
                        self.kill_live()
                        continue
                    self.res.setdefault((mb, mode), []).append(r)
                    log(f"{mb:5d} MiB rep {rep} {mode:20s} frozen {r['frozen_ms']:8.1f} ms  "
                        f"total {r['total_ms']:8.1f} ms")

    # --------------------------------------------------------------- cleanup --

    def kill_live(self) -> None:
        for binary, root, cid in list(self.live):
            self.delete(binary, root, cid)
        for p in self.pipes:
            p.close()
        self.pipes = []

    def cleanup(self) -> None:
        for p in list(self.procs):
            if p.poll() is None:
                p.kill()
                p.wait()
        self.kill_live()
        for r in self.roots.values():
            shutil.rmtree(r, ignore_errors=True)
        for ns in self.ns_made:
            sh("ip", "netns", "del", ns, check=False)
        for h in ck.CGROUP_ROOT.iterdir() if ck.CGROUP_ROOT.is_dir() else []:
            d = h / self.cg_prefix.lstrip("/")
            if d.is_dir():
                for sub in sorted(d.rglob("*"), key=lambda p: -len(p.parts)):
                    if sub.is_dir():
                        try:
                            sub.rmdir()
                        except OSError:
                            pass
                try:
                    d.rmdir()
                except OSError:
                    pass
        if self.tmpfs_mounted:
            sh("umount", str(self.tmpfs), check=False)
        shutil.rmtree(self.work, ignore_errors=True)

    # ---------------------------------------------------------------- report --

    def med(self, mb: int, mode: str, key: str) -> float | None:
        v = [r[key] for r in self.res.get((mb, mode), [])]
        return statistics.median(v) if v else None

    def write(self, outdir: Path) -> None:
        outdir.mkdir(parents=True, exist_ok=True)
        f = lambda v, u="ms": "-" if v is None else (f"{v:.1f} {u}" if v < 1000 or u != "ms" else f"{v/1000:.2f} s")
        ratio = lambda a, b: "-" if a is None or not b else f"{a / b:.2f}"
        md = ["# Migration benchmark: cryo migrate vs runc by hand", "",
              "Generated by `make bench` (`bench/migrate.py`). Two hosts on one machine (network namespaces "
              "joined by a veth pair); images on a tmpfs on both sides; the container holds N MiB of touched "
              f"memory and has its own network namespace. Medians of {self.args.reps} repetitions, modes "
              "interleaved. *frozen*: from the freeze on the source to the copy running on the destination "
              "(the time the container runs nowhere); *total*: the whole migration, the rootfs/bundle copy "
              "included. runc has no migration verb: its column is `runc checkpoint`, a tar stream of the "
              "images over TCP, `runc restore -d`, with the bundle sent before the freeze. Every migrated "
              "copy summed all of its memory on the destination and matched the source.", "",
              f"Machine: {platform.node()}, kernel {platform.release()}, {os.cpu_count()} CPUs; "
              f"cryo: {sh(self.args.cryo, '--version', check=False).stdout.splitlines()[0]}; "
              f"runc: {sh(self.args.runc, '--version', check=False).stdout.splitlines()[0]}; "
              f"CRIU: {sh(self.args.criu, '--version', check=False).stdout.splitlines()[0]}.", ""]
        big = max(self.sizes)
        pc = self.med(big, "cryo post-copy", "frozen_ms")
        md += ["## Target (issue 6)", "",
               f"- **post-copy migration of {big} MiB: frozen time under 200 ms: "
               f"{'met' if pc is not None and pc < 200 else 'NOT met'}** (median {f(pc)}: CRIU's dump of "
               f"everything but memory {f(self.med(big, 'cryo post-copy', 'dump_ms'))}, the destination's "
               f"restore {f(self.med(big, 'cryo post-copy', 'restore_ms'))})", ""]
        md += ["| size | measure | cryo post-copy | cryo stop-and-copy | runc by hand | post-copy/runc | "
               "stop-and-copy/runc |", "|---:|---|---:|---:|---:|---:|---:|"]
        for mb in self.sizes:
            for key, label in (("frozen_ms", "frozen"), ("total_ms", "total"), ("dump_ms", "dump (CRIU on A)"),
                               ("restore_ms", "restore (on B)"), ("post_copy_ms", "post-copy after start"),
                               ("moved_mib", "moved")):
                unit = "MiB" if key == "moved_mib" else "ms"
                a, b, c = (self.med(mb, m, key) for m in MODES)
                md.append(f"| {mb} MiB | {label} | {f(a, unit)} | {f(b, unit)} | {f(c, unit)} | "
                          f"{ratio(a, c)} | {ratio(b, c)} |")
        md += ["", "runc's *dump* is `runc checkpoint` (memory written to the tmpfs), its *restore* `runc "
               "restore -d`; between them the image copy. cryo post-copy's dump stops when CRIU's page server "
               "is ready (no memory written), its memory then goes over while the container runs on B "
               "(*post-copy after start*).", ""]
        if self.touch_s:
            fmt = lambda k: ", ".join(f"{t:.2f}" for t in self.touch_s.get(k, []))
            md += ["## Memory on this machine", "",
                   f"Touching 4 GiB of fresh anonymous memory, 1 GiB at a time, took {fmt('first')} s per GiB "
                   f"at the start of this run, and {fmt('again')} s right after it was freed. This VM's host "
                   "backs guest memory lazily and takes freed pages back (free page reporting), so touching a "
                   "page nobody freed just before can cost a host fault, several times the cost of reusing a "
                   "freed one. In stop-and-copy, cryo keeps the source frozen until the destination runs its "
                   "copy (so that a failed restore leaves the source as it was), and the destination's restore "
                   "needs memory beyond what was just freed; `runc checkpoint` kills the source before the "
                   "restore, which then reuses the pages just freed. On two real hosts neither restore can reuse "
                   "the source's memory.", ""]
        if self.failures:
            md += ["## Failures", ""] + [f"- {x}" for x in self.failures] + [""]
        (outdir / "migrate.md").write_text("\n".join(md))
        (outdir / "migrate.json").write_text(json.dumps(
            {"sizes": self.sizes, "reps": self.args.reps, "failures": self.failures,
             "runs": {f"{mb}/{mode}": v for (mb, mode), v in self.res.items()}}, indent=1))
        self.plot(outdir / "migrate.png")
        log(f"wrote {outdir / 'migrate.md'}")

    def plot(self, path: Path) -> None:
        try:
            import matplotlib
            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            log("matplotlib missing: no plot")
            return
        fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
        for ax, key, title in ((axes[0], "frozen_ms", "frozen time"), (axes[1], "total_ms", "total time")):
            for mode, color in zip(MODES, ("#2a7ab9", "#5fb35f", "#8c8c8c")):
                xs = [mb for mb in self.sizes if self.med(mb, mode, key) is not None]
                ax.plot(xs, [self.med(mb, mode, key) for mb in xs], marker="o", label=mode, color=color)
            ax.set_xscale("log", base=2)
            ax.set_xticks(self.sizes, [f"{s} MiB" for s in self.sizes])
            ax.set_ylabel("ms (median)")
            ax.set_title(f"migration: {title}")
            ax.grid(alpha=0.3)
        axes[0].axhline(200, color="#c33", ls=":", label="target (post-copy, 1 GiB)")
        axes[0].legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(path, dpi=110)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cryo", default=ck.DEFAULT_BINS["cryo"])
    p.add_argument("--runc", default=ck.DEFAULT_BINS["runc"])
    p.add_argument("--criu", default=ck.DEFAULT_CRIU)
    p.add_argument("--sizes", default=",".join(map(str, SIZES)))
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--tmpfs-size", default="3G", help="size of the images tmpfs (both sides)")
    p.add_argument("--out", default=str(HERE / "results"))
    args = p.parse_args()
    if os.geteuid() != 0:
        print("migrate bench: must run as root", file=sys.stderr)
        return 2
    b = Bench(args)

    def stop(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, stop)
    try:
        b.setup()
        b.run()
        b.write(Path(args.out))
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    finally:
        b.cleanup()
    return 1 if b.failures else 0


if __name__ == "__main__":
    sys.exit(main())
