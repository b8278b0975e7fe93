//! `onboard export [--team TEAM] [-o FILE]`: the proxy's users as a CSV `onboard` reads back
//! (`user_email,user_role,teams,max_budget,budget_duration,models,user_alias`), so a run of
//! the exported file changes nothing.

use std::collections::BTreeSet;

use crate::apply::pacer::RetryPolicy;
use crate::commands::preflight;
use crate::config::Config;
use crate::config::ExportTask;
use crate::error::{Exit, Fatal};
use crate::known;
use crate::output::Printer;
use crate::proxy::ProxyClient;
use crate::proxy::api::UserRow;
use crate::proxy::listing::{self, Distinct};
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
                Ok(preflight::resolve_teams(&client, &wanted)
                    .await?
                    .into_values()
                    .next())
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
    let rows = rows.into_iter();
    let (csv, teamless) =
        to_csv(rows).map_err(|e| Fatal::new(format!("cannot write the CSV: {e}")))?;
    if teamless > 0 {
        printer.warn(&format!(
            "{teamless} user(s) in no team left out (a row needs a team to be read back)"
        ));
    }
    match &args.output {
        Some(path) => std::fs::write(path, &csv)
            .map_err(|e| Fatal::new(format!("{}: {e}", path.display())))?,
        None => {
            let text = String::from_utf8_lossy(&csv);
            printer.data(text.trim_end_matches('\n'));
            printer.flush();
        }
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
    let stopped = |stopped| preflight::reads_stopped(stopped, client);
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

/// The rows as CSV, and how many users were left out for having no team (a row without a
/// team cannot be read back). Users without an email (`default_user_id`) are left out too;
/// lists are comma-separated in one cell; an unset value is an empty cell ("not managed").
fn to_csv(rows: impl Iterator<Item = UserRow>) -> Result<(Vec<u8>, usize), csv::Error> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(COLUMNS)?;
    let mut teamless = 0;
    for row in rows {
        let Some(email) = row.user_email.as_deref().filter(|e| !e.trim().is_empty()) else {
            continue;
        };
        let teams = row.teams.clone().unwrap_or_default().join(",");
        if teams.is_empty() {
            teamless += 1;
            continue;
        }
        // A budget of 0 (a blocked user) is not one a CSV row can hold: left unmanaged.
        let budget = row
            .max_budget
            .filter(|b| b.is_finite() && *b > 0.0)
            .map(|b| b.to_string())
            .unwrap_or_default();
        let models = row.models.clone().unwrap_or_default().join(",");
        writer.write_record([
            email,
            row.user_role.as_deref().unwrap_or_default(),
            &teams,
            &budget,
            row.budget_duration.as_deref().unwrap_or_default(),
            &models,
            row.user_alias.as_deref().unwrap_or_default(),
        ])?;
    }
    let bytes = writer.into_inner().map_err(|e| e.into_error())?;
    Ok((bytes, teamless))
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
        let (bytes, teamless) = to_csv(rows.into_iter()).unwrap();
        assert_eq!(teamless, 1);
        let text = String::from_utf8(bytes).unwrap();
        assert_eq!(
            text,
            "user_email,user_role,teams,max_budget,budget_duration,models,user_alias\n\
             a@b.co,internal_user,\"t1,t2\",25,30d,\"gpt-4o,gpt-4o-mini\",\"A, B\"\n\
             c@d.co,internal_user_viewer,t1,,,,\n"
        );
    }
}
