//! One exported line a user: CSV that `onboard` reads back, or a JSON line; and what was left
//! out.

use std::collections::BTreeMap;
use std::io;

use super::COLUMNS;
use crate::input::{self, RowReader};
use crate::proxy::api::UserRow;

/// What an export wrote, and what it left out.
#[derive(Debug, Default)]
pub struct Written {
    /// Users written.
    pub rows: usize,
    /// Users in no team (a row needs a team to be read back).
    pub teamless: usize,
    /// Users whose row `onboard` would refuse, by the column at fault.
    pub unreadable: BTreeMap<String, usize>,
}

impl Written {
    /// The warnings for what was left out.
    pub fn left_out(&self) -> Vec<String> {
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

/// Turns users into lines, one at a time: CSV that `onboard` reads back (or, with `json`,
/// JSON lines: one object a user, with the same columns). Users without an email
/// (`default_user_id`) are left out, and so is a user in no team, or whose row `onboard`
/// would refuse (counted). In the CSV, lists are comma-separated in one cell, an unset value
/// is an empty cell ("not managed"), and a cell a spreadsheet would take for a formula is
/// neutralised ([`input::neutralise`]; `onboard` reads it back as it was).
pub struct Lines {
    reader: RowReader,
    json: bool,
    /// What was written and left out so far.
    pub written: Written,
}

impl Lines {
    /// CSV lines, or JSON lines with `json`.
    pub fn new(json: bool) -> Lines {
        Lines {
            reader: RowReader::new(&COLUMNS).expect("the exported header reads"),
            json,
            written: Written::default(),
        }
    }

    /// The CSV header line (JSON lines have none).
    pub fn header(&mut self) -> io::Result<Vec<u8>> {
        match self.json {
            false => record(COLUMNS),
            true => Ok(Vec::new()),
        }
    }

    /// The user's email and line, or `None` when the user is left out.
    pub fn line(&mut self, row: &UserRow) -> io::Result<Option<(String, Vec<u8>)>> {
        let Some(email) = row.user_email.as_deref().filter(|e| !e.trim().is_empty()) else {
            return Ok(None);
        };
        let teams = row.teams.as_deref().unwrap_or_default();
        if teams.is_empty() {
            self.written.teamless += 1;
            return Ok(None);
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
        if let Err(problem) = self.reader.read(&cells.each_ref().map(|c| c.as_ref())) {
            let field = problem.fields.first().map_or("row", |f| f.field.as_str());
            *self
                .written
                .unreadable
                .entry(field.to_string())
                .or_default() += 1;
            return Ok(None);
        }
        self.written.rows += 1;
        let line = match self.json {
            false => record(cells.iter().map(|c| c.as_ref()))?,
            true => {
                let object = serde_json::json!({
                    "user_email": email,
                    "user_role": row.user_role,
                    "teams": teams,
                    "max_budget": budget,
                    "budget_duration": row.budget_duration,
                    "models": row.models,
                    "user_alias": row.user_alias,
                });
                let mut line = serde_json::to_vec(&object)?;
                line.push(b'\n');
                line
            }
        };
        Ok(Some((email.to_string(), line)))
    }
}

/// One CSV record, its line ending included.
fn record<I: IntoIterator<Item = T>, T: AsRef<[u8]>>(cells: I) -> io::Result<Vec<u8>> {
    let mut csv = csv::WriterBuilder::new()
        .buffer_capacity(256)
        .from_writer(Vec::new());
    csv.write_record(cells)?;
    csv.into_inner().map_err(|e| e.into_error())
}
