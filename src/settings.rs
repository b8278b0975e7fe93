//! A person's settings beyond the team: the admin UI's "Bulk Invite Users" columns
//! (`max_budget`, `budget_duration`, `models`) plus `metadata` and `team_role`. Each is
//! `None` when its cell is empty: "not managed here", never "clear it".

use std::fmt;

use serde::Serialize;
use serde_json::{Map, Value};

/// The key `onboard` puts in every created user's metadata.
pub const CREATED_BY_KEY: &str = "created_by_tool";

/// The person's role in their teams (`/team/member_add` `member.role`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TeamRole {
    /// An ordinary member.
    User,
    /// A team admin (a premium feature: needs a LiteLLM Enterprise licence).
    Admin,
}

impl TeamRole {
    /// The name the proxy uses.
    pub fn as_str(self) -> &'static str {
        match self {
            TeamRole::User => "user",
            TeamRole::Admin => "admin",
        }
    }

    /// Reads `user` or `admin` (any case).
    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "user" => Ok(TeamRole::User),
            "admin" => Ok(TeamRole::Admin),
            _ => Err(format!("{raw:?} is not a team role (use user or admin)")),
        }
    }
}

impl fmt::Display for TeamRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A budget in dollars: a finite number above zero.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(transparent)]
pub struct Budget(f64);

impl Eq for Budget {}

impl Budget {
    /// Reads a number above zero (`25`, `12.5`).
    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw.trim().parse::<f64>() {
            Ok(v) if v.is_finite() && v > 0.0 => Ok(Budget(v)),
            _ => Err(format!(
                "{raw:?} is not a budget (a number above 0, e.g. 25)"
            )),
        }
    }

    /// The amount.
    pub fn value(self) -> f64 {
        self.0
    }

    /// True when the proxy's stored amount is this one.
    pub fn same_as(self, stored: Option<f64>) -> bool {
        stored.is_some_and(|s| (s - self.0).abs() <= 1e-9 * self.0.max(1.0))
    }
}

/// Checks a `budget_duration` as the proxy accepts it: a number and one of `s`, `m`, `h`, `d`,
/// `w`, `mo` (`30s`, `30m`, `24h`, `30d`, `2w`, `1mo`).
pub fn parse_budget_duration(raw: &str) -> Result<String, String> {
    let text = raw.trim();
    let digits = text.chars().take_while(char::is_ascii_digit).count();
    let unit = &text[digits..];
    if digits > 0 && matches!(unit, "s" | "m" | "h" | "d" | "w" | "mo") {
        Ok(text.to_string())
    } else {
        Err(format!(
            "{raw:?} is not a budget duration (a number and s, m, h, d, w or mo, e.g. 30d, 24h, 1mo)"
        ))
    }
}

/// Reads a comma-separated list of model names (`gpt-4o, gpt-4o-mini`, or
/// `no-default-models`: the user may use their teams' models only).
pub fn parse_models(raw: &str) -> Result<Vec<String>, String> {
    let models: Vec<String> = raw
        .split(',')
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .map(str::to_string)
        .collect();
    if models.is_empty() {
        return Err(format!("{raw:?} names no model"));
    }
    Ok(models)
}

/// Reads a JSON object (`{"department": "R&D"}`).
pub fn parse_metadata(raw: &str) -> Result<Map<String, Value>, String> {
    match serde_json::from_str::<Value>(raw.trim()) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err("must be a JSON object, e.g. {\"department\": \"R&D\"}".into()),
        Err(e) => Err(format!(
            "is not JSON ({e}); write a JSON object, e.g. {{\"department\": \"R&D\"}}"
        )),
    }
}

/// What a row manages beyond email, team and alias. `None`: the cell was empty.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Settings {
    /// The role from the `user_role` cell (not from `--role`, which only fills in).
    pub role: Option<crate::types::Role>,
    /// `max_budget`.
    pub max_budget: Option<Budget>,
    /// `budget_duration`.
    pub budget_duration: Option<String>,
    /// `models`.
    pub models: Option<Vec<String>>,
    /// `metadata` (merged with [`CREATED_BY_KEY`] on creation).
    pub metadata: Option<Map<String, Value>>,
    /// `team_role`: the person's role in every team of the row.
    pub team_role: Option<TeamRole>,
}

impl Settings {
    /// True when a cell of the user's own row is managed (so re-runs compare it).
    pub fn manages_user(&self) -> bool {
        self.role.is_some()
            || self.max_budget.is_some()
            || self.budget_duration.is_some()
            || self.models.is_some()
            || self.metadata.is_some()
    }

    /// The metadata to create a user with: the row's, plus `created_by_tool`.
    pub fn new_user_metadata(&self) -> Value {
        let mut map = self.metadata.clone().unwrap_or_default();
        map.insert(CREATED_BY_KEY.into(), Value::from("onboard"));
        Value::Object(map)
    }
}

/// A row's [`Settings`] as a person holds them: nothing for a row without any (most rows),
/// so a run of 100,000 people does not carry 100,000 empty sets of cells.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CompactSettings(Option<Box<Settings>>);

/// The settings of a row that has none.
static NO_SETTINGS: Settings = Settings {
    role: None,
    max_budget: None,
    budget_duration: None,
    models: None,
    metadata: None,
    team_role: None,
};

impl From<Settings> for CompactSettings {
    fn from(settings: Settings) -> Self {
        CompactSettings((settings != NO_SETTINGS).then(|| Box::new(settings)))
    }
}

impl std::ops::Deref for CompactSettings {
    type Target = Settings;

    fn deref(&self) -> &Settings {
        self.0.as_deref().unwrap_or(&NO_SETTINGS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_row_with_settings_holds_them() {
        let none = CompactSettings::from(Settings::default());
        assert_eq!(none, CompactSettings::default());
        assert!(none.team_role.is_none() && !none.manages_user());
        let some = CompactSettings::from(Settings {
            team_role: Some(TeamRole::Admin),
            ..Settings::default()
        });
        assert_eq!(some.team_role, Some(TeamRole::Admin));
        assert_ne!(some, CompactSettings::default());
    }

    #[test]
    fn cells_are_checked_as_the_proxy_checks_them() {
        for ok in ["30d", "1mo", "24h", "30s", "10m", "2w"] {
            assert_eq!(parse_budget_duration(ok).unwrap(), ok);
        }
        for bad in ["30", "d", "30x", "1 mo", "-1d", "1.5d", "30D"] {
            assert!(parse_budget_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(Budget::parse("25").unwrap().value(), 25.0);
        for bad in ["0", "-1", "abc", "inf", "NaN", ""] {
            assert!(Budget::parse(bad).is_err(), "{bad}");
        }
        assert!(Budget::parse("10").unwrap().same_as(Some(10.0)));
        assert!(!Budget::parse("10").unwrap().same_as(Some(25.0)));
        assert!(!Budget::parse("10").unwrap().same_as(None));
        assert_eq!(parse_models(" a , b,").unwrap(), ["a", "b"]);
        assert!(parse_models(" , ").is_err());
        assert!(parse_metadata("{\"k\": 1}").is_ok());
        assert!(parse_metadata("[1]").is_err());
        assert!(parse_metadata("{k}").is_err());
        assert_eq!(TeamRole::parse("Admin").unwrap(), TeamRole::Admin);
        assert!(TeamRole::parse("owner").is_err());
    }

    #[test]
    fn created_by_is_merged_into_the_rows_metadata() {
        let settings = Settings {
            metadata: Some(parse_metadata("{\"k\": \"v\"}").unwrap()),
            ..Settings::default()
        };
        assert_eq!(
            settings.new_user_metadata(),
            serde_json::json!({"k": "v", "created_by_tool": "onboard"})
        );
    }
}
