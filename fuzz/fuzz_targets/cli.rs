//! The command line: bytes split on NUL into argv (an argv element cannot
//! hold a NUL; other bytes, invalid UTF-8 included, reach the parser as they
//! are) → `cryo_cli::parse`, the exact function `main` runs: cryo's
//! pre-processing (`cryo_cli::args::normalize`: runc's single-dash long flags,
//! `ps` options after the id) and then clap, and the "flag needs an
//! argument" mapping (`cryo_cli::args::missing_value_flag`). Built with
//! debug assertions, clap also checks its own definition on every run.
#![no_main]

use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut argv = vec![OsString::from("cryo")];
    if !data.is_empty() {
        argv.extend(
            data.split(|&b| b == 0)
                .map(|a| OsString::from_vec(a.to_vec())),
        );
    }

    // normalize only ever adds a dash to a single-dash long flag, or one
    // `--` after `ps`'s container id; it never drops, reorders or rewrites
    // anything else.
    let norm = cryo_cli::args::normalize(argv.clone(), &cryo_cli::command());
    let is_ps = argv.iter().any(|x| x == "ps");
    let (mut i, mut inserted) = (0, false);
    for out in &norm {
        match argv.get(i) {
            Some(a) if a == out => i += 1,
            _ if out == "--" && is_ps && !inserted => inserted = true,
            Some(a) => {
                let b = a.as_bytes();
                assert!(
                    b.len() > 2 && b[0] == b'-' && b[1] != b'-',
                    "normalize rewrote {a:?} to {out:?}"
                );
                assert_eq!(&out.as_bytes()[1..], b, "{a:?} became {out:?}");
                i += 1;
            }
            None => panic!("normalize appended {out:?}: {argv:?} became {norm:?}"),
        }
    }
    assert_eq!(i, argv.len(), "{argv:?} became {norm:?}");

    match cryo_cli::parse(argv) {
        Ok(cli) => {
            let _ = format!("{cli:?}");
        }
        Err(e) => {
            // What the user is shown: it must be buildable, and only help
            // (or version) exits 0.
            let msg = e.message();
            assert!(!msg.is_empty());
            if e.exit_code() == 0 {
                match &e {
                    cryo_cli::ParseError::Clap(c) => assert!(
                        matches!(
                            c.kind(),
                            clap::error::ErrorKind::DisplayHelp
                                | clap::error::ErrorKind::DisplayVersion
                        ),
                        "{msg}"
                    ),
                    cryo_cli::ParseError::MissingValue(f) => {
                        panic!("exit 0 for missing value of {f}")
                    }
                }
            }
        }
    }
});
