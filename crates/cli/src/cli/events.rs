//! `cryo events` flags, and the Go duration syntax of `--interval`.

#[derive(clap::Args, Debug)]
#[command(args_override_self = true)]
pub struct Args {
    /// Set the stats collection interval (Go duration: 5s, 500ms, 1m30s)
    #[arg(long, default_value = "5s", value_parser = parse_go_duration, allow_hyphen_values = true)]
    pub interval: i128,
    /// Display the container's stats then exit
    #[arg(long)]
    pub stats: bool,
    /// Container id
    pub id: String,
}

/// Parses a Go `time.Duration` string (`5s`, `1.5h`, `1m30s`, `-2ms`,
/// `0`) into nanoseconds.
pub fn parse_go_duration(s: &str) -> Result<i128, String> {
    let invalid = || format!("time: invalid duration {s:?}");
    let (neg, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let num = &rest[..num_len];
        if num.is_empty() || num == "." {
            return Err(invalid());
        }
        let value: f64 = num.parse().map_err(|_| invalid())?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale: f64 = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "" => return Err(format!("time: missing unit in duration {s:?}")),
            u => return Err(format!("time: unknown unit {u:?} in duration {s:?}")),
        };
        rest = &rest[unit_len..];
        total += value * scale;
    }
    if total > i64::MAX as f64 {
        return Err(invalid());
    }
    let n = total as i128;
    Ok(if neg { -n } else { n })
}

#[cfg(test)]
mod tests {
    use super::parse_go_duration as p;

    #[test]
    fn go_durations() {
        assert_eq!(p("5s"), Ok(5_000_000_000));
        assert_eq!(p("500ms"), Ok(500_000_000));
        assert_eq!(p("1m30s"), Ok(90_000_000_000));
        assert_eq!(p("1.5h"), Ok(5_400_000_000_000));
        assert_eq!(p("0"), Ok(0));
        assert_eq!(p("0s"), Ok(0));
        assert_eq!(p("-1s"), Ok(-1_000_000_000));
        assert_eq!(p("10us"), Ok(10_000));
        assert!(p("abc").is_err());
        assert!(p("5").is_err());
        assert!(p("").is_err());
        assert!(p("5x").is_err());
    }
}
