//! runc's command line accepts long flags with one dash (`-no-subreaper`,
//! `-bundle=B`), as Go's flag package does. clap does not, so such tokens are
//! rewritten to two dashes when they name a known long flag of the verb.

use std::ffi::OsString;

/// Rewrites single-dash long flags. Stops at `--` and, for verbs whose
/// trailing arguments are a command line (exec), at the first positional
/// after the container id.
pub fn normalize(argv: Vec<OsString>, cmd: &clap::Command) -> Vec<OsString> {
    let mut out = Vec::with_capacity(argv.len());
    let mut current = cmd.clone();
    let mut in_sub = false;
    let mut positionals = 0usize;
    let mut iter = argv.into_iter();
    if let Some(first) = iter.next() {
        out.push(first);
    }
    let mut passthrough = false;
    for arg in iter {
        if passthrough {
            out.push(arg);
            continue;
        }
        let Some(s) = arg.to_str() else {
            out.push(arg);
            continue;
        };
        if s == "--" {
            passthrough = true;
            out.push(arg);
            continue;
        }
        if let Some(rest) = s
            .strip_prefix('-')
            .filter(|r| !r.starts_with('-') && r.len() > 1)
        {
            let name = rest.split('=').next().unwrap_or(rest);
            if current.get_arguments().any(|a| a.get_long() == Some(name)) {
                out.push(OsString::from(format!("-{s}")));
                continue;
            }
        }
        if !s.starts_with('-') {
            if !in_sub {
                if let Some(sub) = current.find_subcommand(s) {
                    current = sub.clone();
                    in_sub = true;
                    out.push(arg);
                    continue;
                }
            } else {
                positionals += 1;
                if current.get_name() == "exec" && positionals > 1 {
                    passthrough = true;
                }
                // `ps ID [ps options]`: everything after the id is for the
                // host ps, even `-f`/`--format` (runc's SkipArgReorder).
                if current.get_name() == "ps" {
                    out.push(arg);
                    out.push(OsString::from("--"));
                    passthrough = true;
                    continue;
                }
            }
        }
        out.push(arg);
    }
    out
}

/// The long name of a flag given without its value (clap's "a value is
/// required" error), for runc's "flag needs an argument" wording.
pub fn missing_value_flag(e: &clap::Error) -> Option<String> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if e.kind() != ErrorKind::InvalidValue {
        return None;
    }
    match e.get(ContextKind::InvalidValue) {
        Some(ContextValue::String(v)) if v.is_empty() => {}
        _ => return None,
    }
    match e.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(a)) => {
            let name = a.split_whitespace().next().unwrap_or(a);
            Some(name.trim_start_matches('-').to_string())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(args: &[&str]) -> Vec<String> {
        let argv = args.iter().map(OsString::from).collect();
        normalize(argv, &crate::command())
            .into_iter()
            .map(|s| s.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn single_dash_long_flags_become_double() {
        assert_eq!(
            norm(&[
                "cryo",
                "-root",
                "/r",
                "create",
                "-bundle=/b",
                "-pid-file",
                "p",
                "x"
            ]),
            [
                "cryo",
                "--root",
                "/r",
                "create",
                "--bundle=/b",
                "--pid-file",
                "p",
                "x"
            ]
        );
    }

    #[test]
    fn ps_options_after_the_id_go_to_ps() {
        assert_eq!(
            norm(&["cryo", "ps", "-f", "json", "x", "-f"]),
            ["cryo", "ps", "-f", "json", "--", "x", "-f"]
        );
        assert_eq!(
            norm(&["cryo", "ps", "x", "-o", "pid"]),
            ["cryo", "ps", "x", "--", "-o", "pid"]
        );
    }

    #[test]
    fn missing_flag_value_is_named() {
        use clap::Parser;
        let e = crate::Cli::try_parse_from(["cryo", "restore", "--lsm-mount-context"]);
        let flag = e.err().and_then(|e| missing_value_flag(&e));
        assert_eq!(flag.as_deref(), Some("lsm-mount-context"));
        let e = crate::Cli::try_parse_from(["cryo", "restore", "--bogus", "x"]);
        assert_eq!(e.err().and_then(|e| missing_value_flag(&e)), None);
    }

    #[test]
    fn short_flags_and_values_are_left_alone() {
        assert_eq!(norm(&["cryo", "list", "-q"]), ["cryo", "list", "-q"]);
        assert_eq!(
            norm(&["cryo", "kill", "x", "-9"]),
            ["cryo", "kill", "x", "-9"]
        );
    }
}
