//! The header row: which column is which, unknown columns, a repeated header.

use std::path::Path;

use super::InputError;
use crate::types::{Email, escape};

/// The most unknown column names a warning lists before "and N more".
const UNKNOWN_COLUMNS_LISTED: usize = 10;

#[derive(Default)]
pub(super) struct Columns {
    pub(super) email: Option<usize>,
    pub(super) team: Option<usize>,
    /// The team column is `teams`: a cell may name several, comma-separated.
    pub(super) teams_cell: bool,
    pub(super) role: Option<usize>,
    pub(super) alias: Option<usize>,
    pub(super) max_budget: Option<usize>,
    pub(super) budget_duration: Option<usize>,
    pub(super) models: Option<usize>,
    pub(super) metadata: Option<usize>,
    pub(super) team_role: Option<usize>,
}

/// The columns `onboard` reads, as the messages name them.
const KNOWN_COLUMNS: &str = "user_email, team_id or teams, user_role, user_alias, max_budget, budget_duration, models, metadata, team_role";

/// A header name as it is compared: trimmed, lower case, and each run of spaces, hyphens
/// or underscores one `_` (`User Email`, ` USER_EMAIL `, `user-email` are `user_email`).
fn column_name(cell: &str) -> String {
    let words: Vec<&str> = cell
        .split(|c: char| c.is_whitespace() || c == '-' || c == '_')
        .filter(|w| !w.is_empty())
        .collect();
    words.join("_").to_lowercase()
}

/// A row's cells as header names are compared, without trailing empties.
pub(super) fn cell_names(record: &csv::StringRecord) -> Vec<String> {
    let mut names: Vec<String> = record.iter().map(column_name).collect();
    while names.last().is_some_and(String::is_empty) {
        names.pop();
    }
    names
}

/// Reads the header row. A first row whose first cell is an email starts a plain list of
/// emails (one per line, optionally a team id in the second column): it is data, not a header.
pub(super) fn header(
    path: &Path,
    record: &csv::StringRecord,
    warnings: &mut Vec<String>,
) -> Result<(Columns, bool), InputError> {
    let first = record.get(0).unwrap_or_default();
    let names: Vec<String> = record.iter().map(column_name).collect();
    if !names.iter().any(|n| n == "user_email" || n == "email") && Email::parse(first).is_ok() {
        return Ok((
            Columns {
                email: Some(0),
                team: (record.len() > 1).then_some(1),
                ..Columns::default()
            },
            true,
        ));
    }
    let mut cols = Columns::default();
    let mut unknown = Vec::new();
    for (index, name) in names.iter().enumerate() {
        let slot = match name.as_str() {
            "user_email" | "email" => &mut cols.email,
            "team_id" | "team" => &mut cols.team,
            "teams" => {
                if cols.team.is_none() {
                    cols.teams_cell = true;
                }
                &mut cols.team
            }
            "user_role" | "role" => &mut cols.role,
            "user_alias" | "alias" => &mut cols.alias,
            "max_budget" => &mut cols.max_budget,
            "budget_duration" => &mut cols.budget_duration,
            "models" => &mut cols.models,
            "metadata" => &mut cols.metadata,
            "team_role" => &mut cols.team_role,
            "" => continue,
            other => {
                unknown.push(other);
                continue;
            }
        };
        slot.get_or_insert(index);
    }
    if !unknown.is_empty() {
        let mut listed: Vec<String> = unknown
            .iter()
            .take(UNKNOWN_COLUMNS_LISTED)
            .map(|name| format!("\"{}\"", escape(name)))
            .collect();
        if unknown.len() > UNKNOWN_COLUMNS_LISTED {
            listed.push(format!(
                "and {} more",
                unknown.len() - UNKNOWN_COLUMNS_LISTED
            ));
        }
        warnings.push(format!(
            "{}:1: {} column(s) not used: {} (known: {KNOWN_COLUMNS})",
            path.display(),
            unknown.len(),
            listed.join(", ")
        ));
    }
    if cols.email.is_none() {
        return Err(InputError::NoEmailColumn {
            path: path.to_path_buf(),
            found: escape(&record.iter().collect::<Vec<_>>().join(",")),
        });
    }
    Ok((cols, false))
}

impl Columns {
    /// The team column's name, for messages.
    pub(super) fn team_field(&self) -> &'static str {
        if self.teams_cell { "teams" } else { "team_id" }
    }
}
