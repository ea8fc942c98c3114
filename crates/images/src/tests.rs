//! A whole image directory built from byte fixtures, read with
//! [`inspect`]; then the same directory truncated and scrambled, which must
//! give errors naming the file, never a panic.

use std::path::{Path, PathBuf};

use crate::files::tests::{inet, reg};
use crate::image::{Kind, IMG_COMMON_MAGIC, IMG_SERVICE_MAGIC};
use crate::wire::enc::{image, Msg};
use crate::{inspect, ImageDir, InspectOptions};

const STACK: u64 = 0x7ff0_0000_0000;
const PAGE: usize = 4096;

fn common(kind: Kind, entries: &[&Msg]) -> Vec<u8> {
    image(&[IMG_COMMON_MAGIC, kind.magic], entries)
}

fn vma(start: u64, end: u64, prot: u64, flags: u64, status: u64, shmid: u64) -> Msg {
    Msg::new()
        .varint(1, start)
        .varint(2, end)
        .varint(3, 0)
        .varint(4, shmid)
        .varint(5, prot)
        .varint(6, flags)
        .varint(7, status)
        .sint(8, -1)
}

/// A process's images: core, ids, fs, mm, pagemap and pages, with `argv`
/// and `env` on a two-page stack.
fn process(dir: &Path, pid: u32, comm: &str, argv: &[&str], env: &[&str]) {
    let mut strings = Vec::new();
    for a in argv {
        strings.extend_from_slice(a.as_bytes());
        strings.push(0);
    }
    let arg_len = strings.len() as u64;
    for e in env {
        strings.extend_from_slice(e.as_bytes());
        strings.push(0);
    }
    let arg_start = STACK + 0x1f00;
    let env_start = arg_start + arg_len;
    let env_end = arg_start + strings.len() as u64;

    let creds = {
        let mut c = Msg::new();
        for n in 1..=8 {
            c = c.varint(n, 1000);
        }
        c.varint(13, 0)
    };
    let tc = Msg::new()
        .varint(1, 1)
        .varint(2, 0)
        .varint(3, 0)
        .varint(4, 0)
        .varint(5, 0)
        .string(6, comm);
    let th = Msg::new()
        .varint(1, 0)
        .varint(2, 0)
        .msg(10, &creds)
        .string(13, comm);
    let core = Msg::new().varint(1, 1).msg(3, &tc).msg(5, &th);
    let w = |name: String, data: Vec<u8>| std::fs::write(dir.join(name), data).expect("write");
    w(format!("core-{pid}.img"), common(Kind::CORE, &[&core]));
    let ids = Msg::new()
        .varint(1, u64::from(pid))
        .varint(2, u64::from(pid) + 1)
        .varint(3, 1)
        .varint(4, 1)
        .varint(9, 13);
    w(format!("ids-{pid}.img"), common(Kind::IDS, &[&ids]));
    let fs = Msg::new().varint(1, 5).varint(2, 5).varint(3, 0o22);
    w(format!("fs-{pid}.img"), common(Kind::FS, &[&fs]));

    let mut mm = Msg::new();
    for (n, v) in [
        0x40_1000u64,
        0x58_5000,
        0x5d_b000,
        0x5e_4000,
        STACK + 0x1000,
        0x2933_3000,
        0x2935_5000,
        arg_start,
        env_start,
        env_start,
        env_end,
    ]
    .iter()
    .enumerate()
    {
        mm = mm.varint(n as u32 + 1, *v);
    }
    let mm = mm
        .varint(12, 1)
        // The executable's text, a file mapping of file id 1.
        .msg(14, &vma(0x40_1000, 0x58_5000, 5, 2, (1 << 0) | (1 << 6), 1))
        // The heap.
        .msg(
            14,
            &vma(
                0x2933_3000,
                0x2935_5000,
                3,
                0x22,
                1 | (1 << 5) | (1 << 9),
                0,
            ),
        )
        // The stack.
        .msg(14, &vma(STACK, STACK + 0x2000, 3, 0x122, 1 | (1 << 9), 0))
        // The vdso, which is not the process's memory.
        .msg(
            14,
            &vma(
                0x7fff_0000_0000,
                0x7fff_0000_2000,
                5,
                0x22,
                1 | (1 << 3) | (1 << 9),
                0,
            ),
        );
    w(format!("mm-{pid}.img"), common(Kind::MM, &[&mm]));

    let head = Msg::new().varint(1, u64::from(pid));
    let text = Msg::new()
        .varint(1, 0x40_1000)
        .varint(2, 0)
        .varint(4, 4)
        .varint(5, 1);
    let stack = Msg::new()
        .varint(1, STACK)
        .varint(2, 0)
        .varint(4, 4 | 2)
        .varint(5, 2);
    w(
        format!("pagemap-{pid}.img"),
        common(Kind::PAGEMAP, &[&head, &text, &stack]),
    );
    let mut pages = vec![0xccu8; 3 * PAGE];
    let at = PAGE + 0x1f00;
    pages[at..at + strings.len()].copy_from_slice(&strings);
    w(format!("pages-{pid}.img"), pages);
}

/// A checkpoint of `sh -c '...'` (pid 1) with a child `sleep 1000` (pid
/// 2): a held file, a listening and an established TCP socket, mounts and
/// stats.
fn fixture() -> tempfile::TempDir {
    let d = tempfile::tempdir().expect("tempdir");
    let dir = d.path();
    let w = |name: &str, data: Vec<u8>| std::fs::write(dir.join(name), data).expect("write");

    let root_ids = Msg::new()
        .varint(1, 1)
        .varint(2, 1)
        .varint(3, 1)
        .varint(4, 1);
    let inv = Msg::new()
        .varint(1, 2)
        .varint(2, 1)
        .msg(3, &root_ids)
        .varint(4, 1)
        .varint(6, 0);
    w("inventory.img", image(&[Kind::INVENTORY.magic], &[&inv]));
    let p1 = Msg::new()
        .varint(1, 1)
        .varint(2, 0)
        .varint(3, 1)
        .varint(4, 1)
        .varint(5, 1);
    let p2 = Msg::new()
        .varint(1, 2)
        .varint(2, 1)
        .varint(3, 1)
        .varint(4, 1)
        .varint(5, 2);
    w("pstree.img", common(Kind::PSTREE, &[&p1, &p2]));
    process(
        dir,
        1,
        "sh",
        &["sh", "-c", "exec 3>/out/held.txt; sleep 1000 & wait"],
        &["PATH=/bin", "SECRET_TOKEN=hunter2"],
    );
    process(dir, 2, "sleep", &["sleep", "1000"], &["PATH=/bin"]);

    // Stdio on a host file, declared external (as cryo and runc do).
    let ext = Msg::new()
        .varint(1, 2)
        .varint(2, 0)
        .varint(3, 0)
        .msg(5, &crate::files::tests::fown())
        .string(6, "file[18:3]")
        .varint(9, 1);
    let files = [
        reg(1, "/bin/busybox", 0),
        Msg::new().varint(1, 1).varint(2, 2).msg(3, &ext),
        reg(4, "/out/held.txt", 0o100001),
        reg(5, "/", 0),
        inet(8, 10, &[0, 0, 0, 0], 8888, &[0, 0, 0, 0], 0),
        inet(17, 1, &[0x0100_007f], 56126, &[0x0100_007f], 7777),
        Msg::new()
            .varint(1, 2)
            .varint(2, 12)
            .msg(18, &Msg::new().varint(1, 12).varint(2, 537077).varint(3, 1)),
    ];
    let refs: Vec<&Msg> = files.iter().collect();
    w("files.img", common(Kind::FILES, &refs));
    let fd = |id: u64, ty: u64, fd: u64| {
        Msg::new()
            .varint(1, id)
            .varint(2, 0)
            .varint(3, ty)
            .varint(4, fd)
    };
    w(
        "fdinfo-2.img",
        common(
            Kind::FDINFO,
            &[
                &fd(2, 1, 0),
                &fd(12, 2, 1),
                &fd(4, 1, 3),
                &fd(8, 4, 4),
                &fd(17, 4, 5),
            ],
        ),
    );
    w("fdinfo-3.img", common(Kind::FDINFO, &[&fd(4, 1, 3)]));
    w(
        "descriptors.json",
        br#"["/dev/null","pipe:[1]","pipe:[2]"]"#.to_vec(),
    );
    let tcp = Msg::new()
        .varint(1, 10)
        .varint(2, 1)
        .varint(3, 20)
        .varint(4, 2)
        .varint(5, 0)
        .varint(6, 7)
        .varint(7, 65495);
    let mut stream = common(Kind::TCP_STREAM, &[&tcp]);
    stream.extend_from_slice(&[b'q'; 30]); // the queued bytes follow the entry
    w(&format!("tcp-stream-{:x}.img", 5017), stream);

    let mnt = |id: u64, parent: u64, fstype: u64, mp: &str, src: &str, ext: Option<&str>| {
        let m = Msg::new()
            .varint(1, fstype)
            .varint(2, id)
            .varint(3, 40)
            .varint(4, parent)
            .varint(5, 0x20_0000)
            .string(6, "/")
            .string(7, mp)
            .string(8, src)
            .string(9, "");
        match ext {
            Some(k) => m.string(18, k),
            None => m,
        }
    };
    w(
        "mountpoints-13.img",
        common(
            Kind::MNTS,
            &[
                &mnt(44, 69, 5, "/proc/acpi", "tmpfs", None),
                &mnt(69, 68, 1, "/proc", "proc", None),
                &mnt(68, 43, 0, "/", "/dev/vda", None),
                &mnt(70, 68, 5, "/dev", "tmpfs", None),
                &mnt(85, 68, 0, "/out", "/dev/vda", Some("/out")),
            ],
        ),
    );
    let dump = Msg::new()
        .varint(1, 1077)
        .varint(2, 169970)
        .varint(3, 3533)
        .varint(4, 658)
        .varint(5, 165)
        .varint(6, 0)
        .varint(7, 116)
        .varint(9, 0);
    w(
        "stats-dump",
        image(
            &[IMG_SERVICE_MAGIC, Kind::STATS.magic],
            &[&Msg::new().msg(1, &dump)],
        ),
    );
    d
}

#[test]
fn inspect_reads_the_whole_checkpoint() {
    let d = fixture();
    let r = inspect(d.path(), &InspectOptions::all()).expect("inspect");
    assert_eq!(
        (r.image_version, r.root_pid, r.arch),
        (2, Some(1), Some("x86_64"))
    );
    assert_eq!(r.page_size, 4096, "from the pages files");
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);

    let [sh, sleep] = &r.processes[..] else {
        panic!("two processes: {:?}", r.processes)
    };
    assert_eq!(
        (sh.pid, sh.ppid, sh.depth, sh.comm.as_str()),
        (1, 0, 0, "sh")
    );
    assert_eq!((sleep.pid, sleep.ppid, sleep.depth), (2, 1, 1));
    assert_eq!(
        sh.cmdline.as_deref(),
        Some(&["sh", "-c", "exec 3>/out/held.txt; sleep 1000 & wait"].map(String::from)[..])
    );
    assert_eq!(sleep.command(), "sleep 1000");
    assert_eq!(
        (sh.uid, sh.gid, sh.state),
        (Some(1000), Some(1000), "alive")
    );
    assert_eq!(sh.exe.as_deref(), Some("/bin/busybox"));
    assert_eq!(sh.cwd.as_deref(), Some("/"));
    assert_eq!(
        sh.env.as_deref(),
        Some(&["PATH=/bin", "SECRET_TOKEN=hunter2"].map(String::from)[..])
    );

    let m = sh.memory.as_ref().expect("memory");
    assert_eq!(m.vmas, 4);
    assert_eq!(m.mapped, 0x18_4000 + 0x2_2000 + 0x2000, "the vdso left out");
    assert_eq!(m.anonymous, 0x2_2000 + 0x2000);
    assert_eq!(m.file_backed, 0x18_4000);
    assert_eq!(
        (m.pages_dumped, m.bytes_dumped, m.pages_lazy),
        (3, 3 * 4096, 0)
    );
    let vmas = sh.vmas.as_ref().expect("vmas");
    assert_eq!(vmas[0].path.as_deref(), Some("/bin/busybox"));
    assert_eq!(
        (vmas[1].kind, vmas[2].kind, vmas[3].kind),
        ("heap", "stack", "vdso")
    );
    assert_eq!(vmas[2].perms, "rw-p");

    let files = sh.files.as_ref().expect("files");
    let held = files.iter().find(|f| f.fd == 3).expect("fd 3");
    assert_eq!(
        (held.path.as_deref(), held.access.as_deref()),
        (Some("/out/held.txt"), Some("w"))
    );
    assert_eq!(files[0].host_path.as_deref(), Some("/dev/null"));
    assert_eq!(files[0].name, "/dev/null (host file, external file[18:3])");
    assert_eq!(files[1].name, "pipe:[537077]");
    assert_eq!(files[3].name, "tcp6 *:8888 (LISTEN)");
    assert_eq!(
        files[4].name,
        "tcp 127.0.0.1:56126->127.0.0.1:7777 (ESTABLISHED)"
    );
    assert_eq!(sleep.files.as_ref().map(Vec::len), Some(1));

    let sockets = r.sockets.as_ref().expect("sockets");
    assert_eq!(sockets.len(), 2);
    let l = &sockets[0];
    assert_eq!(
        (l.state, l.local().as_str(), l.proto),
        ("LISTEN", "*:8888", Some("tcp"))
    );
    assert_eq!(l.remote(), "*:*");
    assert_eq!(l.owners, [crate::FdOwner { pid: 1, fd: 4 }]);
    let e = &sockets[1];
    assert_eq!(
        (e.local().as_str(), e.remote().as_str()),
        ("127.0.0.1:56126", "127.0.0.1:7777")
    );
    assert_eq!((e.recv_queue, e.send_queue), (Some(10), Some(20)));

    let mounts = r.mounts.as_ref().expect("mounts");
    let mps: Vec<&str> = mounts.iter().map(|m| m.mountpoint.as_str()).collect();
    assert_eq!(
        mps,
        ["/", "/proc", "/proc/acpi", "/dev", "/out"],
        "as a tree"
    );
    assert_eq!(
        (mounts[0].fstype.as_str(), mounts[1].fstype.as_str()),
        ("other", "proc")
    );
    assert_eq!(mounts[4].external.as_deref(), Some("/out"));
    assert_eq!(mounts[0].flags, "rw,relatime");

    let st = r.stats.as_ref().expect("stats");
    assert_eq!((st.frozen_time, st.pages_written), (169970, 116));

    // Without the options nothing of that is read, the environment least.
    let r = inspect(d.path(), &InspectOptions::default()).expect("inspect");
    assert!(r.sockets.is_none() && r.mounts.is_none());
    assert!(r
        .processes
        .iter()
        .all(|p| p.env.is_none() && p.files.is_none()));
    let json = format!("{r:?}");
    assert!(
        !json.contains("hunter2"),
        "the environment was read: {json}"
    );
}

#[test]
fn missing_pages_and_stats_are_warnings() {
    let d = fixture();
    std::fs::remove_file(d.path().join("stats-dump")).expect("rm");
    // The stack of pid 2 left on a page server: lazy, not present.
    let head = Msg::new().varint(1, 2);
    let stack = Msg::new()
        .varint(1, STACK)
        .varint(2, 0)
        .varint(4, 2)
        .varint(5, 2);
    std::fs::write(
        d.path().join("pagemap-2.img"),
        common(Kind::PAGEMAP, &[&head, &stack]),
    )
    .expect("write");
    let r = inspect(d.path(), &InspectOptions::default()).expect("inspect");
    assert!(r.stats.is_none());
    assert_eq!(r.processes[1].cmdline, None);
    assert_eq!(r.processes[1].command(), "[sleep]");
    let m = r.processes[1].memory.as_ref().expect("memory");
    assert_eq!((m.pages_dumped, m.pages_lazy), (0, 2));
    assert_eq!(r.warnings.len(), 2, "{:?}", r.warnings);
    assert!(r.warnings[0].contains("pid 2: argv"), "{:?}", r.warnings);
    assert!(r.warnings[1].contains("no stats-dump"), "{:?}", r.warnings);
}

#[test]
fn not_an_image_dir() {
    let d = tempfile::tempdir().expect("tempdir");
    let err = inspect(d.path(), &InspectOptions::default()).expect_err("empty dir");
    assert!(
        err.to_string().contains("not a CRIU image directory"),
        "{err}"
    );
    let err = ImageDir::open(d.path().join("nope")).expect_err("no dir");
    assert!(
        err.to_string().contains("no such file or directory"),
        "{err}"
    );
}

/// xorshift64*: deterministic pseudo-random bytes without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn image_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("readdir")
        .map(|e| e.expect("entry").path())
        .collect();
    v.sort();
    v
}

/// Every prefix of every file: inspect returns a report or an error naming
/// that very file; it never panics.
#[test]
fn truncated_files_give_errors_naming_the_file() {
    let d = fixture();
    let mut errors = 0;
    for target in image_files(d.path()) {
        let name = target.file_name().expect("name").to_owned();
        let full = std::fs::read(&target).expect("read");
        // Raw pages: every page boundary and some lengths in between.
        let lens: Vec<usize> = if name.to_string_lossy().starts_with("pages-") {
            (0..full.len())
                .filter(|l| l % 509 == 0 || l % PAGE < 2)
                .collect()
        } else {
            (0..full.len()).collect()
        };
        for len in lens {
            std::fs::write(&target, &full[..len]).expect("truncate");
            let got = inspect(d.path(), &InspectOptions::all());
            std::fs::write(&target, &full).expect("restore");
            match got {
                Ok(_) => {}
                Err(e) => {
                    errors += 1;
                    assert_eq!(e.path(), target, "{len} bytes of {name:?}: {e}");
                    let text = e.to_string();
                    assert!(text.contains(&*name.to_string_lossy()), "{text}");
                }
            }
        }
    }
    assert!(errors > 100, "truncations were noticed ({errors})");
}

/// Random bytes after a valid head, and random corruption of the fixture.
#[test]
fn random_bytes_never_panic() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let kinds = [
        Kind::INVENTORY,
        Kind::PSTREE,
        Kind::CORE,
        Kind::IDS,
        Kind::MM,
        Kind::PAGEMAP,
        Kind::FDINFO,
        Kind::FILES,
        Kind::FS,
        Kind::MNTS,
        Kind::TCP_STREAM,
        Kind::STATS,
    ];
    let p = Path::new("fuzz.img");
    for round in 0..4000 {
        let kind = kinds[round % kinds.len()];
        let mut data = match kind.head {
            crate::image::Head::None => kind.magic.to_le_bytes().to_vec(),
            crate::image::Head::Common => common(kind, &[]),
            crate::image::Head::Service => image(&[IMG_SERVICE_MAGIC, kind.magic], &[]),
        };
        // Mostly plausible entries: a small size, then random bytes.
        for _ in 0..rng.below(4) {
            let n = rng.below(40);
            data.extend_from_slice(&(n as u32 + rng.below(3) as u32).to_le_bytes());
            data.extend((0..n).map(|_| rng.next() as u8));
        }
        let Ok(img) = crate::image::ImageFile::from_bytes(p, data, kind) else {
            continue;
        };
        let _ = img.decode_all(crate::task::Inventory::decode);
        let _ = img.decode_all(crate::task::PstreeEntry::decode);
        let _ = img.decode_all(crate::task::CoreEntry::decode);
        let _ = img.decode_all(crate::mm::MmEntry::decode);
        let _ = img.decode_all(crate::files::FileEntry::decode);
        let _ = img.decode_all(crate::files::FdInfo::decode);
        let _ = img.decode_all(crate::mnt::MntEntry::decode);
        let _ = img.decode_all(crate::stats::StatsEntry::decode);
        let _ = crate::pagemap::Pagemap::from_image(&img);
    }

    let d = fixture();
    let files: Vec<PathBuf> = image_files(d.path())
        .into_iter()
        .filter(|f| !f.to_string_lossy().contains("pages-"))
        .collect();
    for _ in 0..2000 {
        let target = &files[rng.below(files.len())];
        let full = std::fs::read(target).expect("read");
        let mut data = full.clone();
        for _ in 0..1 + rng.below(4) {
            let i = rng.below(data.len());
            data[i] = rng.next() as u8;
        }
        std::fs::write(target, &data).expect("write");
        let got = inspect(d.path(), &InspectOptions::all());
        std::fs::write(target, &full).expect("restore");
        if let Err(e) = got {
            assert!(!e.to_string().is_empty());
        }
    }
}
