#!/usr/bin/env python3
"""Writes the seed corpus of the `archive` fuzz target (fuzz/corpus/archive/).

    fuzz/make_archive_seeds.py REAL_ARCHIVE.tar.zst

REAL_ARCHIVE is an archive written by `cryo checkpoint --export` (the
checked-in seeds come from a busybox `sleep` container; that archive is
`corpus/archive/real-export.tar.zst` without its first byte:
`tail -c +2 fuzz/corpus/archive/real-export.tar.zst > /tmp/real.tar.zst`). Every seed starts
with the target's form byte: 0x01 = the rest is a .tar.zst file as is,
0x00 = the rest is a tar stream (the target compresses it).

Seeds: the real archive (both forms), a small archive of a few of its real
images with a manifest that matches, and one hostile variant of that small
archive per check of archive::extract: links, devices, directories, `..`
and absolute names, PAX and GNU long names, duplicate, missing, oversized
and tampered files, misplaced or bad metadata, truncation.
"""

import copy
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "archive")
KEEP = ["images/inventory.img", "images/pstree.img", "images/core-1.img",
        "images/descriptors.json", "images/cryo-stdio.json", "images/stats-dump"]
MTIME = 1153704088  # tar-rs HeaderMode::Deterministic
# End the stream after its two zero blocks, as tar-rs does (no 10 KiB records).
tarfile.RECORDSIZE = 512


def zstd(data):
    return subprocess.run(["zstd", "-q", "-c", "-3"], input=data,
                          stdout=subprocess.PIPE, check=True).stdout


def unzstd(data):
    return subprocess.run(["zstd", "-q", "-d", "-c"], input=data,
                          stdout=subprocess.PIPE, check=True).stdout


def entry(name, data=b"", kind=tarfile.REGTYPE, mode=0o644, **kw):
    ti = tarfile.TarInfo(name)
    ti.type = kind
    ti.size = len(data) if kind == tarfile.REGTYPE else 0
    ti.mode = mode
    ti.mtime = MTIME
    for k, v in kw.items():
        setattr(ti, k, v)
    return ti, (data if kind == tarfile.REGTYPE else None)


def pack(entries, fmt=tarfile.GNU_FORMAT):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as t:
        for ti, data in entries:
            t.addfile(ti, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def manifest(meta, files):
    m = copy.deepcopy(meta)
    m["files"] = {n: {"size": len(d), "sha256": hashlib.sha256(d).hexdigest()}
                  for n, d in files.items()}
    return m


def meta_entry(m):
    return entry("cryo-archive.json", json.dumps(m, indent=2).encode(), mode=0o600)


def small(meta, files, extra_manifest=None, before=(), after=(), meta_override=None):
    """The small archive: metadata, config.json, the KEEP images."""
    m = manifest(meta, files)
    if extra_manifest:
        m["files"].update(extra_manifest)
    if meta_override:
        m.update(meta_override)
    ents = list(before) + [meta_entry(m)]
    ents += [entry(n, d) for n, d in files.items()]
    return ents + list(after)


def write(name, form, body):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(bytes([form]) + body)


def main():
    real_zst = open(sys.argv[1], "rb").read()
    real_tar = unzstd(real_zst)
    with tarfile.open(fileobj=io.BytesIO(real_tar)) as t:
        members = {m.name: t.extractfile(m).read() for m in t.getmembers()}
    meta = json.loads(members.pop("cryo-archive.json"))
    files = {"config.json": members["config.json"]}
    files.update({n: members[n] for n in KEEP})

    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        os.remove(os.path.join(OUT, f))
    write("real-export.tar.zst", 1, real_zst)
    ok = pack(small(meta, files))
    write("small-valid.tar", 0, ok)
    write("small-valid.tar.zst", 1, zstd(ok))
    write("small-valid-pax.tar", 0, pack(small(meta, files), tarfile.PAX_FORMAT))

    # The hostile variants start from an even smaller valid archive.
    files = {n: files[n] for n in ["config.json", "images/inventory.img", "images/pstree.img"]}

    one = {"images/x.img": {"size": 0, "sha256": hashlib.sha256(b"").hexdigest()}}
    seeds = {
        "symlink-image": small(meta, files, one, after=[
            entry("images/x.img", kind=tarfile.SYMTYPE, linkname="/etc/shadow")]),
        "symlink-config": [meta_entry(manifest(meta, {"config.json": b""})),
                           entry("config.json", kind=tarfile.SYMTYPE, linkname="../../etc/passwd")],
        "hardlink-image": small(meta, files, one, after=[
            entry("images/x.img", kind=tarfile.LNKTYPE, linkname="images/inventory.img")]),
        "hardlink-outside": small(meta, files, one, after=[
            entry("images/x.img", kind=tarfile.LNKTYPE, linkname="/etc/passwd")]),
        "chardev": small(meta, files, one, after=[
            entry("images/x.img", kind=tarfile.CHRTYPE, devmajor=1, devminor=3)]),
        "fifo": small(meta, files, one, after=[entry("images/x.img", kind=tarfile.FIFOTYPE)]),
        "directory": small(meta, files, one, after=[entry("images/sub/", kind=tarfile.DIRTYPE)]),
        "dotdot-name": small(meta, files, {"images/../../evil": one["images/x.img"]},
                             after=[entry("images/../../evil")]),
        "dotdot-top": small(meta, files, {"../evil": one["images/x.img"]},
                            after=[entry("../evil")]),
        "absolute-name": small(meta, files, {"/tmp/cryo-fuzz-evil": one["images/x.img"]},
                               after=[entry("/tmp/cryo-fuzz-evil")]),
        "nested-image": small(meta, files, {"images/a/b.img": one["images/x.img"]},
                              after=[entry("images/a/b.img")]),
        "newline-name": small(meta, files, {"images/a\nb": one["images/x.img"]},
                              after=[entry("images/a\nb")]),
        "long-name-ok": small(meta, files, {"images/" + "l" * 250: one["images/x.img"]},
                              after=[entry("images/" + "l" * 250)]),
        "long-name-too-long": small(meta, files, {"images/" + "l" * 300: one["images/x.img"]},
                                    after=[entry("images/" + "l" * 300)]),
        "duplicate-image": small(meta, files, after=[
            entry("images/pstree.img", files["images/pstree.img"])]),
        "metadata-twice": small(meta, files, after=[meta_entry(manifest(meta, files))]),
        "metadata-not-first": small(meta, files, before=[
            entry("config.json", files["config.json"])]),
        "not-in-manifest": small(meta, files, after=[entry("images/extra.img", b"x")]),
        "bad-format": small(meta, files, meta_override={"format": 2}),
        "bad-id": small(meta, files, meta_override={"container_id": "../x"}),
        "oversized-manifest": small(meta, files, {
            "images/big.img": {"size": 1 << 62, "sha256": "00"}}),
    }
    for name, ents in seeds.items():
        write(name + ".tar", 0, pack(ents))

    # PAX header renaming a listed file to a path outside the layout.
    pax = pack(small(meta, files, {"../pax-evil": one["images/x.img"]}, after=[
        entry("images/y.img", pax_headers={"path": "../pax-evil"})]), tarfile.PAX_FORMAT)
    write("pax-path-dotdot.tar", 0, pax)

    # Content or size that does not match the manifest.
    tampered = dict(files)
    tampered["images/pstree.img"] = b"X" * len(files["images/pstree.img"])
    m = manifest(meta, files)
    write("tampered.tar", 0, pack([meta_entry(m)] + [entry(n, d) for n, d in tampered.items()]))
    shorter = dict(files)
    shorter["images/inventory.img"] = files["images/inventory.img"][:-1]
    write("size-mismatch.tar", 0, pack([meta_entry(m)] + [entry(n, d) for n, d in shorter.items()]))
    missing = {n: d for n, d in files.items() if n != "images/pstree.img"}
    write("missing-file.tar", 0, pack([meta_entry(m)] + [entry(n, d) for n, d in missing.items()]))

    # Truncated and degenerate streams.
    write("truncated.tar", 0, ok[: len(ok) // 2])
    write("truncated-header.tar", 0, ok[:700])
    write("empty.tar", 0, b"\0" * 1024)
    write("empty-input", 0, b"")
    write("metadata-not-json.tar", 0, pack([entry("cryo-archive.json", b"{\"format\":1,", mode=0o600)]))
    write("truncated.tar.zst", 1, real_zst[: len(real_zst) // 3])
    write("not-zstd", 1, ok[:512])
    write("two-frames.tar.zst", 1, zstd(ok[:4096]) + zstd(ok[4096:]))


if __name__ == "__main__":
    main()
