//! One data row: its cells checked and turned into a [`Person`], or a [`RowProblem`] naming
//! every field at fault; and [`RowReader`], a row checked the way the reader reads it, so
//! what `onboard export` writes is what `onboard <CSV>` reads back.

use std::path::Path;

use super::cell::restore;
use super::columns::{Columns, header};
use super::{Defaults, FieldProblem, InputError, Person, RowProblem};
use crate::settings::{self, Budget, Settings, TeamRole};
use crate::types::{Email, Role, TeamId, no_control};

/// Reads rows under one header exactly as `onboard <CSV>` does (no `--team`, no `--role`).
pub struct RowReader {
    cols: Columns,
}

impl RowReader {
    /// The reader for `names`, a header row.
    pub fn new(names: &[&str]) -> Result<Self, InputError> {
        let record = csv::StringRecord::from(names.to_vec());
        let (cols, _) = header(Path::new("header"), &record, &mut Vec::new())?;
        Ok(RowReader { cols })
    }

    /// The person a row of these cells (as written in the file) reads as, or why it is refused.
    pub fn read(&self, cells: &[&str]) -> Result<Person, RowProblem> {
        let mut record = csv::StringRecord::from(cells.to_vec());
        // The reader trims every cell.
        record.trim();
        row(0, &record, &self.cols, &Defaults::default())
    }
}

/// Checks the row at `line` of the file and reads it as a person, with `defaults` for
/// empty cells.
pub(super) fn row(
    line: u64,
    record: &csv::StringRecord,
    cols: &Columns,
    defaults: &Defaults,
) -> Result<Person, RowProblem> {
    let raw_email = cols
        .email
        .and_then(|i| record.get(i))
        .map(restore)
        .filter(|v| !v.is_empty());
    let named = [
        (cols.email, "user_email"),
        (cols.team, cols.team_field()),
        (cols.role, "user_role"),
        (cols.alias, "user_alias"),
        (cols.max_budget, "max_budget"),
        (cols.budget_duration, "budget_duration"),
        (cols.models, "models"),
        (cols.metadata, "metadata"),
        (cols.team_role, "team_role"),
    ];
    let mut fields = Vec::new();
    // A cell with a control character is reported for that alone, and not read further.
    let mut tainted = Vec::new();
    for (index, value) in record.iter().enumerate() {
        if let Err(message) = no_control(value) {
            let field = match named.iter().find(|(i, _)| *i == Some(index)) {
                Some((_, name)) => name.to_string(),
                None => format!("column {}", index + 1),
            };
            fields.push(FieldProblem { field, message });
            tainted.push(index);
        }
    }
    let cell = |index: Option<usize>| {
        index
            .filter(|i| !tainted.contains(i))
            .and_then(|i| record.get(i))
            .map(restore)
            .filter(|v| !v.is_empty())
    };
    let mut check = |index: Option<usize>, field: &str, result: Result<(), String>| {
        if let Err(message) = result
            && !index.is_some_and(|i| tainted.contains(&i))
        {
            fields.push(FieldProblem {
                field: field.to_string(),
                message,
            });
        }
    };
    let email = Email::parse(raw_email.unwrap_or_default());
    check(
        cols.email,
        "user_email",
        email.as_ref().map(drop).map_err(Clone::clone),
    );
    let mut teams: Vec<TeamId> = match (cell(cols.team), &defaults.team) {
        (Some(cell), _) if cols.teams_cell => cell
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(TeamId::new)
            .collect(),
        (Some(team), _) => vec![TeamId::new(team)],
        (None, Some(default)) => vec![default.clone()],
        (None, None) => Vec::new(),
    };
    if teams.is_empty() {
        check(
            cols.team,
            cols.team_field(),
            Err("is empty and no --team was given".into()),
        );
    }
    let explicit_role = cell(cols.role).map(str::parse::<Role>);
    if let Some(Err(message)) = &explicit_role {
        check(cols.role, "user_role", Err(message.clone()));
    }
    let settings = Settings {
        role: explicit_role.and_then(Result::ok),
        max_budget: parsed(cell(cols.max_budget), Budget::parse, |m| {
            check(cols.max_budget, "max_budget", Err(m))
        }),
        budget_duration: parsed(
            cell(cols.budget_duration),
            settings::parse_budget_duration,
            |m| check(cols.budget_duration, "budget_duration", Err(m)),
        ),
        models: parsed(cell(cols.models), settings::parse_models, |m| {
            check(cols.models, "models", Err(m))
        }),
        metadata: parsed(cell(cols.metadata), settings::parse_metadata, |m| {
            check(cols.metadata, "metadata", Err(m))
        }),
        team_role: parsed(cell(cols.team_role), TeamRole::parse, |m| {
            check(cols.team_role, "team_role", Err(m))
        }),
    };
    let (Ok(email), true) = (email, fields.is_empty()) else {
        return Err(RowProblem {
            line,
            fields,
            raw_email: raw_email.map(str::to_string),
        });
    };
    let mut seen_teams = std::collections::HashSet::new();
    teams.retain(|t| seen_teams.insert(t.clone()));
    let team = teams.remove(0);
    let role = settings.role.unwrap_or(defaults.role.unwrap_or_default());
    Ok(Person {
        line,
        email,
        team,
        role,
        alias: cell(cols.alias).map(str::to_string),
        more_teams: teams,
        settings: settings.into(),
    })
}

/// A cell's value parsed, or `None` (empty, or wrong: `wrong` is told why).
fn parsed<T>(
    text: Option<&str>,
    parse: impl Fn(&str) -> Result<T, String>,
    mut wrong: impl FnMut(String),
) -> Option<T> {
    match parse(text?) {
        Ok(value) => Some(value),
        Err(message) => {
            wrong(message);
            None
        }
    }
}

/// The email of a row read for its email only (`offboard`): no other cell is looked at.
pub(super) fn email_row(
    line: u64,
    record: &csv::StringRecord,
    cols: &Columns,
) -> Result<Email, RowProblem> {
    let raw_email = cols
        .email
        .and_then(|i| record.get(i))
        .map(super::cell::restore)
        .filter(|v| !v.is_empty());
    let cell = raw_email.unwrap_or_default();
    no_control(cell)
        .and_then(|()| Email::parse(cell))
        .map_err(|message| RowProblem {
            line,
            fields: vec![FieldProblem {
                field: "user_email".into(),
                message,
            }],
            raw_email: raw_email.map(str::to_string),
        })
}
