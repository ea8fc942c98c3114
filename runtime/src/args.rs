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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn norm(args: &[&str]) -> Vec<String> {
        let argv = args.iter().map(OsString::from).collect();
        normalize(argv, &crate::Cli::command())
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
    fn short_flags_and_values_are_left_alone() {
        assert_eq!(norm(&["cryo", "list", "-q"]), ["cryo", "list", "-q"]);
        assert_eq!(
            norm(&["cryo", "kill", "x", "-9"]),
            ["cryo", "kill", "x", "-9"]
        );
    }
}
