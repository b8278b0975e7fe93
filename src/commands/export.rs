//! `onboard export [--team TEAM] [-o FILE] [--json]`: the proxy's users as a CSV `onboard`
//! reads back (`user_email,user_role,teams,max_budget,budget_duration,models,user_alias`), so
//! a run of the exported file changes nothing; with `--json`, as JSON lines.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;

use crate::commands::preflight;
use crate::config::Config;
use crate::config::ExportTask;
use crate::error::{Exit, Fatal};
use crate::input::{self, RowReader};
use crate::known;
use crate::output::{Format, Printer};
use crate::proxy::api::UserRow;
use crate::proxy::listing::{self, Distinct};
use crate::proxy::pacer::RetryPolicy;
use crate::proxy::{ProxyClient, ProxyError};
use crate::shutdown::Shutdown;
use crate::types::{TeamId, no_control};

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
    let mut readings = 0;
    let rows = loop {
        readings += 1;
        let (rows, distinct) = read_users(&client, retry, &shutdown, team.as_ref()).await?;
        match distinct.check("user/list") {
            Ok(()) => break rows,
            Err(e) if readings >= listing::READINGS => return Err(preflight::explain(e, &client)),
            Err(e) => tracing::info!("{e}; reading it again"),
        }
    };
    // Sorted by email: two exports of one proxy diff cleanly (the reading pages by user id).
    let mut rows = rows;
    rows.sort_unstable_by(|a, b| a.user_email.cmp(&b.user_email));
    let rows = rows.into_iter();
    let json = config.format == Format::Json;
    let cannot = |e: std::io::Error| Fatal::new(format!("cannot write the export: {e}"));
    let written = match &args.output {
        Some(path) => {
            // Written next to the file and renamed into place: never a partial export.
            let dir = match path.parent().filter(|d| !d.as_os_str().is_empty()) {
                Some(dir) => dir,
                None => std::path::Path::new("."),
            };
            let named = |e: std::io::Error| Fatal::new(format!("{}: {e}", path.display()));
            let temp = tempfile::NamedTempFile::new_in(dir).map_err(named)?;
            let mut out = std::io::BufWriter::new(temp);
            let written = write_rows(rows, json, &mut out).map_err(cannot)?;
            let temp = out.into_inner().map_err(|e| named(e.into_error()))?;
            temp.persist(path).map_err(|e| named(e.error))?;
            written
        }
        None => {
            printer.flush();
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            let written = write_rows(rows, json, &mut out).map_err(cannot)?;
            out.flush().map_err(cannot)?;
            written
        }
    };
    for line in written.left_out() {
        printer.warn(&line);
    }
    Ok(Exit::Success)
}

/// Every user of `team` (or of the proxy) once, by `user_id`, page by page at the run's
/// concurrency, with what the reading saw to check against the proxy's `total`.
async fn read_users(
    client: &ProxyClient,
    retry: RetryPolicy,
    shutdown: &Shutdown,
    team: Option<&TeamId>,
) -> Result<(Vec<UserRow>, Distinct), Fatal> {
    let first = preflight::unless_stopped(shutdown, async {
        retry
            .run(|| client.users_page_of(team, 1), |_| {})
            .await
            .map_err(|e| preflight::explain(e, client))
    })
    .await?;
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
    let more = known::read_all(client, shutdown, (2..=first.pages).collect(), |page| {
        let client = client.clone();
        let team = team.cloned();
        async move {
            retry
                .run(|| client.users_page_of(team.as_ref(), page), |_| {})
                .await
        }
    })
    .await
    .map_err(stopped)?;
    let mut distinct = Distinct::default();
    let mut rows = Vec::new();
    for page in std::iter::once(first).chain(more) {
        distinct.total(page.total);
        rows.extend(
            page.rows
                .into_iter()
                .filter(|row| distinct.first(row.user_id.as_str())),
        );
    }
    Ok((rows, distinct))
}

/// What an export wrote, and what it left out.
#[derive(Debug, Default)]
struct Written {
    /// Users written.
    rows: usize,
    /// Users in no team (a row needs a team to be read back).
    teamless: usize,
    /// Users whose row `onboard` would refuse, by the column at fault.
    unreadable: BTreeMap<String, usize>,
}

impl Written {
    /// The warnings for what was left out.
    fn left_out(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if self.teamless > 0 {
            lines.push(format!(
                "{} left out: in no team (a row needs a team to be read back)",
                users(self.teamless)
            ));
        }
        let refused: usize = self.unreadable.values().sum();
        if refused > 0 {
            let fields: Vec<String> = self
                .unreadable
                .iter()
                .map(|(field, n)| format!("{field}: {n}"))
                .collect();
            lines.push(format!(
                "{} left out: onboard would refuse their row ({})",
                users(refused),
                fields.join(", ")
            ));
        }
        lines
    }
}

/// "1 user", "2 users".
fn users(n: usize) -> String {
    if n == 1 {
        "1 user".into()
    } else {
        format!("{n} users")
    }
}

/// Writes the rows as CSV that `onboard` reads back (or, with `json`, as JSON lines: one
/// object a user, with the same columns), one at a time. Users without an email
/// (`default_user_id`) are left out, and so is a user in no team, or whose row `onboard`
/// would refuse (counted). In the CSV, lists are comma-separated in one cell, an unset value
/// is an empty cell ("not managed"), and a cell a spreadsheet would take for a formula is
/// neutralised ([`input::neutralise`]; `onboard` reads it back as it was).
fn write_rows(
    rows: impl Iterator<Item = UserRow>,
    json: bool,
    out: &mut impl Write,
) -> std::io::Result<Written> {
    let reader = RowReader::new(&COLUMNS).expect("the exported header reads");
    let mut sink = if json {
        Sink::Json(out)
    } else {
        let mut csv = csv::Writer::from_writer(out);
        csv.write_record(COLUMNS)?;
        Sink::Csv(Box::new(csv))
    };
    let mut written = Written::default();
    for row in rows {
        let Some(email) = row.user_email.as_deref().filter(|e| !e.trim().is_empty()) else {
            continue;
        };
        let teams = row.teams.clone().unwrap_or_default();
        if teams.is_empty() {
            written.teamless += 1;
            continue;
        }
        // A budget of 0 (a blocked user) is not one a CSV row can hold: left unmanaged.
        let budget = row.max_budget.filter(|b| b.is_finite() && *b > 0.0);
        let values = [
            email.to_string(),
            row.user_role.clone().unwrap_or_default(),
            teams.join(","),
            budget.map(|b| b.to_string()).unwrap_or_default(),
            row.budget_duration.clone().unwrap_or_default(),
            row.models.clone().unwrap_or_default().join(","),
            row.user_alias.clone().unwrap_or_default(),
        ];
        let cells = values.each_ref().map(|v| input::neutralise(v));
        if let Err(problem) = reader.read(&cells.each_ref().map(|c| c.as_ref())) {
            let field = problem.fields.first().map_or("row", |f| f.field.as_str());
            *written.unreadable.entry(field.to_string()).or_default() += 1;
            continue;
        }
        written.rows += 1;
        match &mut sink {
            Sink::Csv(csv) => csv.write_record(cells.iter().map(|c| c.as_ref()))?,
            Sink::Json(out) => {
                let object = serde_json::json!({
                    "user_email": email,
                    "user_role": row.user_role,
                    "teams": teams,
                    "max_budget": budget,
                    "budget_duration": row.budget_duration,
                    "models": row.models,
                    "user_alias": row.user_alias,
                });
                serde_json::to_writer(&mut **out, &object)?;
                out.write_all(b"\n")?;
            }
        }
    }
    if let Sink::Csv(csv) = sink {
        csv.into_inner().map_err(|e| e.into_error())?;
    }
    Ok(written)
}

/// Where the rows go: a CSV writer, or JSON lines.
enum Sink<'a, W: Write> {
    Csv(Box<csv::Writer<&'a mut W>>),
    Json(&'a mut W),
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(lines[0]["teams"], serde_json::json!(["t1", "t2"]));
        assert_eq!(lines[0]["max_budget"], 5.0);
        assert_eq!(lines[1]["user_email"], "=c@d.co", "JSON is not neutralised");
        assert_eq!(lines[1]["models"], serde_json::json!(["m"]));
    }
}
