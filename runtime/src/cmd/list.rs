use cryo_cli::cli::list::Args;
use cryo_container::Store;

use super::{err, Outcome};

pub fn run(store: &Store, args: &Args) -> Outcome {
    let states = cryo_container::list(store).map_err(err)?;
    if args.quiet {
        for s in &states {
            println!("{}", s.id);
        }
        return Ok(0);
    }
    match args.format.as_str() {
        "table" => {
            let mut rows = vec![["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]
                .map(String::from)
                .to_vec()];
            for s in &states {
                rows.push(vec![
                    s.id.clone(),
                    s.pid.to_string(),
                    s.status.to_string(),
                    s.bundle.display().to_string(),
                    s.created.clone(),
                    s.owner.clone(),
                ]);
            }
            print!("{}", table(&rows));
        }
        // runc prints Go's nil slice: `null` when there are no containers.
        "json" if states.is_empty() => println!("null"),
        "json" => println!("{}", serde_json::to_string(&states).map_err(err)?),
        other => return Err(format!("invalid format option: {other:?}")),
    }
    Ok(0)
}

/// Columns aligned like Go's tabwriter with minwidth 12, padding 3 (runc's
/// settings); the last column is not padded.
pub fn table(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(|r| r.len()).max().unwrap_or(0);
    let mut widths = vec![0usize; cols];
    for r in rows {
        for (i, c) in r.iter().enumerate().take(cols.saturating_sub(1)) {
            widths[i] = widths[i].max((c.chars().count() + 3).max(12));
        }
    }
    let mut out = String::new();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if i + 1 < r.len() {
                out.push_str(&format!("{c:<w$}", w = widths[i]));
            } else {
                out.push_str(c);
            }
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn table_matches_tabwriter() {
        let rows = vec![
            vec!["ID".to_string(), "PID".to_string(), "OWNER".to_string()],
            vec![
                "a-rather-long-id".to_string(),
                "42".to_string(),
                "root".to_string(),
            ],
        ];
        assert_eq!(
            super::table(&rows),
            "ID                 PID         OWNER\na-rather-long-id   42          root\n"
        );
    }
}
