//! The command line of `cryo`, as a library: the clap definition of every
//! verb ([`cli`]) and cryo's pre-processing of argv ([`args`]: runc's
//! single-dash long flags, `ps` options, Go's "flag needs an argument"
//! wording). [`parse`] is exactly what the `cryo` binary (runtime/) runs on
//! its arguments; the `cli` fuzz target calls it to exercise the real
//! parser. Nothing here touches the system, and clap is the only
//! dependency.

pub mod args;
pub mod cli;

use std::ffi::OsString;

pub use cli::{Cli, Command, LogFormat};

/// Why a command line did not give a [`Cli`].
#[derive(Debug)]
pub enum ParseError {
    /// A flag that takes a value was given without one (`restore
    /// --lsm-mount-context`): runc answers in the wording of Go's flag
    /// package, which Podman probes for.
    MissingValue(String),
    /// Anything else clap refused, and `--help` (clap reports it as an
    /// error carrying the help text).
    Clap(clap::Error),
}

impl ParseError {
    /// The text printed for it (to stderr, or to stdout for `--help`).
    pub fn message(&self) -> String {
        match self {
            ParseError::MissingValue(flag) => format!("flag needs an argument: -{flag}\n"),
            ParseError::Clap(e) => e.render().to_string(),
        }
    }

    /// Prints the message where runc prints it.
    pub fn print(&self) {
        match self {
            ParseError::MissingValue(_) => eprint!("{}", self.message()),
            ParseError::Clap(e) => {
                let _ = e.print();
            }
        }
    }

    /// The exit status: 0 for `--help`, 1 for a usage error.
    pub fn exit_code(&self) -> u8 {
        use clap::error::ErrorKind;
        match self {
            ParseError::Clap(e)
                if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) =>
            {
                0
            }
            _ => 1,
        }
    }
}

/// The clap definition of the whole command line.
pub fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
}

/// Parses `argv` (program name first) the way `cryo` does: single-dash long
/// flags are rewritten by [`args::normalize`], then clap parses.
pub fn parse(argv: Vec<OsString>) -> Result<Cli, ParseError> {
    use clap::Parser;
    let argv = args::normalize(argv, &command());
    Cli::try_parse_from(argv).map_err(|e| match args::missing_value_flag(&e) {
        Some(flag) => ParseError::MissingValue(flag),
        None => ParseError::Clap(e),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_definition_is_consistent() {
        command().debug_assert();
    }

    fn argv(a: &[&str]) -> Vec<OsString> {
        a.iter().map(OsString::from).collect()
    }

    #[test]
    fn parse_applies_the_single_dash_rewrite() {
        let cli = parse(argv(&["cryo", "-root", "/r", "delete", "-force", "x"]));
        match cli.map(|c| (c.root, c.command)) {
            Ok((root, Some(Command::Delete(d)))) => {
                assert_eq!(root, std::path::Path::new("/r"));
                assert!(d.force);
                assert_eq!(d.id, "x");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn parse_errors_and_their_exit_codes() {
        let e = parse(argv(&["cryo", "restore", "--lsm-mount-context"]))
            .expect_err("a missing value is an error");
        assert_eq!(e.message(), "flag needs an argument: -lsm-mount-context\n");
        assert_eq!(e.exit_code(), 1);
        let e = parse(argv(&["cryo", "--help"])).expect_err("help");
        assert_eq!(e.exit_code(), 0);
        assert!(e.message().contains("Usage"), "{}", e.message());
        let e = parse(argv(&["cryo", "kill"])).expect_err("no id");
        assert_eq!(e.exit_code(), 1);
    }
}
