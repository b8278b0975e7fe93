//! `onboard export [--team TEAM] [-o FILE] [--json]`: the proxy's users as a CSV `onboard`
//! reads back (`user_email,user_role,teams,max_budget,budget_duration,models,user_alias`), so
//! a run of the exported file changes nothing; with `--json`, as JSON lines. Memory does not
//! grow with the users' rows: each page is turned into lines as it comes and the lines are
//! sorted in bounded memory ([`sorted`]); only the ids seen (to check the count) are held.

mod rows;
mod sorted;

use std::collections::BTreeSet;
use std::io::Write;

use crate::commands::preflight;
use crate::config::Config;
use crate::config::ExportTask;
use crate::error::{Exit, Fatal};
use crate::known;
use crate::output::{Format, Printer};
use crate::proxy::UsersPage;
use crate::proxy::api::UserRow;
use crate::proxy::listing::{self, Distinct};
use crate::proxy::pacer::RetryPolicy;
use crate::proxy::{ProxyClient, ProxyError};
use crate::shutdown::Shutdown;
use crate::types::{TeamId, no_control};

use rows::Lines;
use sorted::Sorted;

/// The exported columns, in order: the admin UI's template plus `user_alias`.
pub const COLUMNS: [&str; 7] = [
    "user_email",
    "user_role",
    "teams",
    "max_budget",
    "budget_duration",
    "models",
    "user_alias",
];

/// The most pages of 100 users an export reads (ten million users): a `total_pages` above it
/// is not a real proxy's answer.
const MAX_PAGES: u64 = 100_000;

/// `onboard export`.
pub async fn export(config: Config, args: &ExportTask, shutdown: Shutdown) -> Result<Exit, Fatal> {
    let mut printer = Printer::new(config.format, config.quiet);
    let client = preflight::client(&config, &shutdown)?;
    let retry = config.retry_policy();
    let team = preflight::unless_stopped(&shutdown, async {
        preflight::reachable_admin(&client).await?;
        match &args.team {
            Some(team) => {
                no_control(team).map_err(|m| Fatal::new(format!("--team: {m}")))?;
                let wanted = BTreeSet::from([TeamId::new(team.trim())]);
                Ok(
                    preflight::resolve_teams(&client, &wanted, preflight::TEAM_FLAG_HINT)
                        .await?
                        .into_values()
                        .next(),
                )
            }
            None => Ok(None),
        }
    })
    .await?;
    let json = config.format == Format::Json;
    let mut readings = 0;
    let export = loop {
        readings += 1;
        let export = read_users(&client, retry, &shutdown, team.as_ref(), json).await?;
        match export.distinct.check("user/list") {
            Ok(()) => break export,
            Err(e) if readings >= listing::READINGS => return Err(preflight::explain(e, &client)),
            Err(e) => tracing::info!("{e}; reading it again"),
        }
    };
    let Export {
        mut lines, sorted, ..
    } = export;
    let cannot = |e: std::io::Error| Fatal::new(format!("cannot write the export: {e}"));
    let header = lines.header().map_err(cannot)?;
    let write = |out: &mut dyn Write| {
        out.write_all(&header)?;
        sorted.write_to(out)?;
        out.flush()
    };
    match &args.output {
        Some(path) => {
            // Written next to the file and renamed into place: never a partial export.
            let dir = match path.parent().filter(|d| !d.as_os_str().is_empty()) {
                Some(dir) => dir,
                None => std::path::Path::new("."),
            };
            let named = |e: std::io::Error| Fatal::new(format!("{}: {e}", path.display()));
            let temp = tempfile::NamedTempFile::new_in(dir).map_err(named)?;
            let mut out = std::io::BufWriter::new(temp);
            write(&mut out).map_err(cannot)?;
            let temp = out.into_inner().map_err(|e| named(e.into_error()))?;
            temp.persist(path).map_err(|e| named(e.error))?;
        }
        None => {
            printer.flush();
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            write(&mut out).map_err(cannot)?;
        }
    }
    for line in lines.written.left_out() {
        printer.warn(&line);
    }
    Ok(Exit::Success)
}

/// One reading of the users: their lines, sorted by email (so two exports of one proxy diff
/// cleanly; the reading pages by user id), what was left out, and the ids seen.
struct Export {
    lines: Lines,
    sorted: Sorted,
    distinct: Distinct,
}

/// Where a user's line goes: by email, then by user id (pages may come in any order, and
/// several users can share an email: two exports of one proxy are the same file).
fn order(email: String, row: &UserRow) -> String {
    format!("{email}\0{}", row.user_id)
}

impl Export {
    /// Takes a page: each user not seen before in this reading becomes a line.
    fn take(&mut self, page: UsersPage) -> std::io::Result<()> {
        self.distinct.total(page.total);
        for row in page.rows {
            if !self.distinct.first(row.user_id.as_str()) {
                continue;
            }
            if let Some((email, line)) = self.lines.line(&row)? {
                self.sorted.push(order(email, &row), line)?;
            }
        }
        Ok(())
    }
}

/// Every user of `team` (or of the proxy) once, by `user_id`, page by page at the run's
/// concurrency, each page turned into lines as it comes, with what the reading saw to check
/// against the proxy's `total`.
async fn read_users(
    client: &ProxyClient,
    retry: RetryPolicy,
    shutdown: &Shutdown,
    team: Option<&TeamId>,
    json: bool,
) -> Result<Export, Fatal> {
    let first = preflight::unless_stopped(shutdown, async {
        client
            .retried(&retry, || client.users_page_of(team, 1), |_| {})
            .await
            .map_err(|e| preflight::explain(e, client))
    })
    .await?;
    if first.pages == 0 {
        return Err(Fatal::new(
            "the proxy's user list gives neither total_pages nor total: cannot tell the export is whole; nothing was written",
        ));
    }
    if first.pages > MAX_PAGES {
        return Err(Fatal::new(format!(
            "the proxy says its user list has {} pages of 100; more than {MAX_PAGES} is not believed",
            first.pages
        )));
    }
    let stopped = |stopped| match stopped {
        known::Stopped::Interrupted
        | known::Stopped::Fatal(ProxyError::Interrupted | ProxyError::CutShort) => {
            Fatal::stopped("interrupted while reading the proxy's users: nothing was written")
        }
        other => preflight::reads_stopped(other, client),
    };
    let cannot = |e: std::io::Error| Fatal::new(format!("cannot sort the export: {e}"));
    let mut export = Export {
        lines: Lines::new(json),
        sorted: Sorted::new(sorted::HELD_BYTES),
        distinct: Distinct::default(),
    };
    let pages = first.pages;
    export.take(first).map_err(cannot)?;
    known::read_each(
        client,
        shutdown,
        2..=pages,
        |page| {
            let client = client.clone();
            let team = team.cloned();
            async move {
                client
                    .retried(&retry, || client.users_page_of(team.as_ref(), page), |_| {})
                    .await
            }
        },
        |page| export.take(page),
    )
    .await
    .map_err(cannot)?
    .map_err(stopped)?;
    Ok(export)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rows::Written;
    use std::collections::BTreeMap;

    /// The header and the lines of `rows`, sorted, as the command writes them.
    fn write_rows(
        rows: impl Iterator<Item = UserRow>,
        json: bool,
        out: &mut Vec<u8>,
    ) -> std::io::Result<Written> {
        let mut lines = Lines::new(json);
        let mut sorted = Sorted::new(sorted::HELD_BYTES);
        for row in rows {
            if let Some((email, line)) = lines.line(&row)? {
                sorted.push(order(email, &row), line)?;
            }
        }
        out.extend(lines.header()?);
        sorted.write_to(out)?;
        Ok(lines.written)
    }

    #[test]
    fn rows_become_the_ui_template_plus_alias() {
        let rows: Vec<UserRow> = serde_json::from_value(serde_json::json!([
            {"user_id": "default_user_id", "user_email": null},
            {"user_id": "u1", "user_email": "a@b.co", "user_role": "internal_user",
             "teams": ["t1", "t2"], "max_budget": 25.0, "budget_duration": "30d",
             "models": ["gpt-4o", "gpt-4o-mini"], "user_alias": "A, B"},
            {"user_id": "u2", "user_email": "c@d.co", "user_role": "internal_user_viewer",
             "teams": ["t1"], "models": [], "max_budget": 0.0},
            {"user_id": "u3", "user_email": "e@f.co", "teams": []}
        ]))
        .unwrap();
        let mut bytes = Vec::new();
        let written = write_rows(rows.into_iter(), false, &mut bytes).unwrap();
        assert_eq!(written.teamless, 1);
        let text = String::from_utf8(bytes).unwrap();
        assert_eq!(
            text,
            "user_email,user_role,teams,max_budget,budget_duration,models,user_alias\n\
             a@b.co,internal_user,\"t1,t2\",25,30d,\"gpt-4o,gpt-4o-mini\",\"A, B\"\n\
             c@d.co,internal_user_viewer,t1,,,,\n"
        );
    }

    #[test]
    fn only_rows_that_read_back_are_written_and_formulas_are_neutralised() {
        let rows: Vec<UserRow> = serde_json::from_value(serde_json::json!([
            {"user_id": "u1", "user_email": "not an email", "teams": ["t1"]},
            {"user_id": "u2", "user_email": "\"a,\\\"b\"@x.co", "teams": ["t1"]},
            {"user_id": "u3", "user_email": "=cmd|calc@x.co", "teams": ["t1"],
             "user_alias": "=HYPERLINK(\"http://evil\")", "user_role": "internal_user"},
            {"user_id": "u4", "user_email": "ok@x.co", "teams": ["t1"], "user_role": "wizard"}
        ]))
        .unwrap();
        let mut bytes = Vec::new();
        let written = write_rows(rows.into_iter(), false, &mut bytes).unwrap();
        let text = String::from_utf8(bytes).unwrap();
        // The quoted email with a comma and a quote is one `onboard` reads: it is written.
        assert_eq!(written.rows, 2, "{text}");
        assert_eq!(
            written.unreadable,
            BTreeMap::from([("user_email".into(), 1), ("user_role".into(), 1)])
        );
        assert_eq!(
            written.left_out(),
            ["2 users left out: onboard would refuse their row (user_email: 1, user_role: 1)"]
        );
        let line = text.lines().nth(2).unwrap();
        assert!(
            line.starts_with("'=cmd|calc@x.co,internal_user,t1,,,,"),
            "{line}"
        );
        let roster = crate::input::parse_csv(
            std::path::Path::new("x"),
            text.as_bytes(),
            &Default::default(),
        )
        .unwrap();
        assert!(roster.problems.is_empty(), "{:?}", roster.problems);
        assert_eq!(roster.people[0].email.as_str(), "\"a,\\\"b\"@x.co");
        assert_eq!(roster.people[1].email.as_str(), "=cmd|calc@x.co");
        assert_eq!(
            roster.people[1].alias.as_deref(),
            Some("=HYPERLINK(\"http://evil\")")
        );
    }

    #[test]
    fn users_sharing_an_email_come_out_by_user_id_whatever_order_they_came_in() {
        let rows: Vec<UserRow> = serde_json::from_value(serde_json::json!([
            {"user_id": "u9", "user_email": "twin@b.co", "teams": ["t9"]},
            {"user_id": "u1", "user_email": "twin@b.co", "teams": ["t1"]}
        ]))
        .unwrap();
        let mut bytes = Vec::new();
        write_rows(rows.into_iter(), true, &mut bytes).unwrap();
        let text = String::from_utf8(bytes).unwrap();
        let (t1, t9) = (text.find("t1").unwrap(), text.find("t9").unwrap());
        assert!(t1 < t9, "{text}");
    }

    #[test]
    fn json_is_one_object_a_user() {
        let rows: Vec<UserRow> = serde_json::from_value(serde_json::json!([
            {"user_id": "u1", "user_email": "a@b.co", "teams": ["t1", "t2"], "max_budget": 5.0},
            {"user_id": "u2", "user_email": "=c@d.co", "teams": ["t1"], "models": ["m"]}
        ]))
        .unwrap();
        let mut bytes = Vec::new();
        write_rows(rows.into_iter(), true, &mut bytes).unwrap();
        let lines: Vec<serde_json::Value> = String::from_utf8(bytes)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        // Sorted by email: `=` before `a`.
        assert_eq!(lines[1]["teams"], serde_json::json!(["t1", "t2"]));
        assert_eq!(lines[1]["max_budget"], 5.0);
        assert_eq!(lines[0]["user_email"], "=c@d.co", "JSON is not neutralised");
        assert_eq!(lines[0]["models"], serde_json::json!(["m"]));
    }
}
