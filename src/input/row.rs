//! One data row: its cells checked and turned into a [`Person`], or a [`RowProblem`].

use super::columns::Columns;
use super::{Defaults, Person, RowProblem};
use crate::settings::{self, Budget, Settings, TeamRole};
use crate::types::{Email, Role, TeamId, no_control};

pub(super) fn row(
    line: u64,
    record: &csv::StringRecord,
    cols: &Columns,
    defaults: &Defaults,
) -> Result<Person, RowProblem> {
    let cell = |index: Option<usize>| {
        index
            .and_then(|i| record.get(i))
            .map(super::cell::restore)
            .filter(|v| !v.is_empty())
    };
    let raw_email = cell(cols.email);
    let problem = |field: &str, message: String| RowProblem {
        line,
        field: field.to_string(),
        message,
        raw_email: raw_email.map(str::to_string),
    };
    for (index, value) in record.iter().enumerate() {
        if let Err(message) = no_control(value) {
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
            let field = match named.iter().find(|(i, _)| *i == Some(index)) {
                Some((_, name)) => name.to_string(),
                None => format!("column {}", index + 1),
            };
            return Err(problem(&field, message));
        }
    }
    let email =
        Email::parse(raw_email.unwrap_or_default()).map_err(|m| problem("user_email", m))?;
    let team_field = cols.team_field();
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
        return Err(problem(
            team_field,
            "is empty and no --team was given".into(),
        ));
    }
    let mut seen_teams = std::collections::HashSet::new();
    teams.retain(|t| seen_teams.insert(t.clone()));
    let team = teams.remove(0);
    let explicit_role = match cell(cols.role) {
        Some(role) => Some(role.parse::<Role>().map_err(|m| problem("user_role", m))?),
        None => None,
    };
    let role = explicit_role.unwrap_or(defaults.role.unwrap_or_default());
    let parsed =
        |index: Option<usize>, field: &str, parse: &dyn Fn(&str) -> Result<(), String>| match cell(
            index,
        ) {
            Some(text) => parse(text).map_err(|m| problem(field, m)),
            None => Ok(()),
        };
    parsed(cols.max_budget, "max_budget", &|t| {
        Budget::parse(t).map(drop)
    })?;
    parsed(cols.budget_duration, "budget_duration", &|t| {
        settings::parse_budget_duration(t).map(drop)
    })?;
    parsed(cols.models, "models", &|t| {
        settings::parse_models(t).map(drop)
    })?;
    parsed(cols.metadata, "metadata", &|t| {
        settings::parse_metadata(t).map(drop)
    })?;
    parsed(cols.team_role, "team_role", &|t| {
        TeamRole::parse(t).map(drop)
    })?;
    // Checked above: these parse.
    let settings = Settings {
        role: explicit_role,
        max_budget: cell(cols.max_budget).and_then(|t| Budget::parse(t).ok()),
        budget_duration: cell(cols.budget_duration)
            .and_then(|t| settings::parse_budget_duration(t).ok()),
        models: cell(cols.models).and_then(|t| settings::parse_models(t).ok()),
        metadata: cell(cols.metadata).and_then(|t| settings::parse_metadata(t).ok()),
        team_role: cell(cols.team_role).and_then(|t| TeamRole::parse(t).ok()),
    };
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
