//! Re-runs reconcile: a person who already exists gets only what differs from the CSV row —
//! one `/user/update` with the differing fields, `add_to_team` for a team the proxy does not
//! have them in, `/team/member_update` for a changed team role. Never a new invitation.
//!
//! Everything here is decided from what this run just read on the proxy (the user's row, the
//! teams' rosters), so the executors act only on a `user_id` and memberships seen now: by
//! email, or for an unknown id, `/user/update` would create a user; `/team/member_update` for
//! a non-member leaves a stray membership row. A cell left empty is "not managed here".

use std::collections::BTreeSet;
use std::fmt;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::input::Person;
use crate::plan::Action;
pub use crate::plan::teams::Rosters;
use crate::plan::teams::is_protected;
use crate::proxy::api::UserRow;
use crate::settings::TeamRole;
use crate::types::{TeamId, UserId};

/// One field of a user that differs from the CSV row: what the proxy has, what is sent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FieldChange {
    /// The `/user/update` field (`max_budget`, `budget_duration`, `models`, `user_role`,
    /// `user_alias`, `metadata`).
    pub field: &'static str,
    /// The proxy's value (null when unset).
    pub from: Value,
    /// The value sent (for `metadata`: the proxy's object with the row's keys set).
    pub to: Value,
}

impl fmt::Display for FieldChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} → {}",
            self.field,
            shown(&self.from),
            shown(&self.to)
        )
    }
}

/// A value as the dry run shows it: `10`, `30d`, `gpt-4o,gpt-4o-mini`, `(none)`, JSON.
fn shown(value: &Value) -> String {
    let text = match value {
        Value::Null => "(none)".to_string(),
        Value::Number(n) => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", f as i64),
            _ => n.to_string(),
        },
        Value::String(s) => s.clone(),
        Value::Array(items) if items.iter().all(Value::is_string) => {
            let names: Vec<&str> = items.iter().filter_map(Value::as_str).collect();
            if names.is_empty() {
                "(none)".to_string()
            } else {
                names.join(",")
            }
        }
        other => other.to_string(),
    };
    crate::types::escape(&text)
}

/// The `/user/update` fields where `row` (the proxy's user) differs from what `person` manages.
pub fn user_changes(person: &Person, row: &UserRow) -> Vec<FieldChange> {
    let settings = &person.settings;
    let mut changes = Vec::new();
    let mut change = |field: &'static str, from: Value, to: Value| {
        changes.push(FieldChange { field, from, to });
    };
    if let Some(role) = settings.role
        && row.user_role.as_deref() != Some(role.as_str())
    {
        change(
            "user_role",
            Value::from(row.user_role.clone()),
            Value::from(role.as_str()),
        );
    }
    if let Some(budget) = settings.max_budget
        && !budget.same_as(row.max_budget)
    {
        change(
            "max_budget",
            Value::from(row.max_budget),
            Value::from(budget.value()),
        );
    }
    if let Some(duration) = &settings.budget_duration
        && row.budget_duration.as_deref() != Some(duration.as_str())
    {
        change(
            "budget_duration",
            Value::from(row.budget_duration.clone()),
            Value::from(duration.as_str()),
        );
    }
    if let Some(models) = &settings.models {
        let mut wanted = models.clone();
        let mut stored = row.models.clone().unwrap_or_default();
        wanted.sort();
        stored.sort();
        if wanted != stored {
            change(
                "models",
                Value::from(row.models.clone().unwrap_or_default()),
                Value::from(models.clone()),
            );
        }
    }
    if let Some(alias) = &person.alias
        && row.user_alias.as_deref() != Some(alias.as_str())
    {
        change(
            "user_alias",
            Value::from(row.user_alias.clone()),
            Value::from(alias.as_str()),
        );
    }
    if let Some(metadata) = &settings.metadata {
        let stored: Map<String, Value> = row.metadata.clone().unwrap_or_default();
        if metadata.iter().any(|(k, v)| stored.get(k) != Some(v)) {
            // `/user/update` replaces the whole object: keep the proxy's other keys.
            let mut merged = stored.clone();
            merged.extend(metadata.clone());
            change("metadata", Value::Object(stored), Value::Object(merged));
        }
    }
    changes
}

/// The team actions for `user`, a user the proxy has: `add_to_team` for each of the person's
/// teams whose roster (read now) does not list them, `update_team_role` for each team whose
/// roster has them with another role, and with `prune` the [`removals`] of every one of `ids`
/// (`user` and every member with the person's email). A team whose roster was not read falls
/// back to `member_of` (the user's row, else the audit file).
pub fn team_actions(
    person: &Person,
    user: &UserId,
    ids: &[UserId],
    member_of: &[String],
    rosters: &Rosters,
    prune: bool,
) -> Vec<Action> {
    let mut actions = Vec::new();
    let mut seen = BTreeSet::new();
    for team in person.teams().filter(|t| seen.insert(*t)) {
        // `Some(role)`: a member (`None` role: known only from `member_of`).
        let member = if rosters.is_read(team) {
            // Another user with their email being a member does not put `user` there.
            rosters.role(team, user).map(Some)
        } else {
            member_of.iter().any(|t| t == team.as_str()).then_some(None)
        };
        match (member, person.settings.team_role) {
            (None, _) => actions.push(Action::AddToTeam { team: team.clone() }),
            // Only a member seen on the team's roster in this run is updated.
            (Some(Some(role)), Some(wanted)) if role != wanted.as_str() => {
                actions.push(Action::UpdateTeamRole {
                    team: team.clone(),
                    role: wanted,
                });
            }
            _ => {}
        }
    }
    if prune {
        actions.extend(removals(person, ids, rosters));
    }
    actions
}

/// `--prune`: `remove_from_team` for each team of the run (a roster read) that lists the
/// person under any of `ids` and that their row does not name. A team admin's membership
/// and `default_user_id`'s are never removed.
pub fn removals(person: &Person, ids: &[UserId], rosters: &Rosters) -> Vec<Action> {
    let wanted: BTreeSet<&TeamId> = person.teams().collect();
    ids.iter()
        .flat_map(|id| rosters.memberships(id).iter().map(move |m| (id, m)))
        .filter(|(id, m)| !wanted.contains(&m.team) && !is_protected(id, m))
        .map(|(id, m)| Action::RemoveFromTeam {
            team: m.team.clone(),
            user_id: id.clone(),
        })
        .collect()
}

/// Everything that differs for a user this run just read (`row`): the user's update (if any
/// field differs), then the team actions.
pub fn existing(
    person: &Person,
    row: &UserRow,
    ids: &[UserId],
    rosters: &Rosters,
    prune: bool,
) -> Vec<Action> {
    let mut actions = Vec::new();
    let changes = user_changes(person, row);
    if !changes.is_empty() {
        actions.push(Action::UpdateUser {
            user_id: row.user_id.clone(),
            changes,
        });
    }
    let member_of = row.teams.clone().unwrap_or_default();
    actions.extend(team_actions(
        person,
        &row.user_id,
        ids,
        &member_of,
        rosters,
        prune,
    ));
    actions
}

/// The team actions after creating a user: a team admin is created without the team (the
/// proxy silently drops a team object with `user_role: admin`) and added with
/// `/team/member_add` role admin instead.
pub fn after_create(person: &Person) -> Vec<Action> {
    if person.settings.team_role != Some(TeamRole::Admin) {
        return Vec::new();
    }
    person
        .teams()
        .map(|team| Action::AddToTeam { team: team.clone() })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::{Budget, Settings};
    use crate::types::{Email, Role};

    fn person(settings: Settings) -> Person {
        Person {
            line: 2,
            email: Email::parse("alice@company.com").unwrap(),
            team: TeamId::new("t1"),
            role: Role::InternalUser,
            alias: None,
            more_teams: vec![TeamId::new("t2")],
            settings: settings.into(),
        }
    }

    fn row(json: Value) -> UserRow {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn only_managed_fields_that_differ_are_changed() {
        let p = person(Settings {
            max_budget: Some(Budget::parse("25").unwrap()),
            budget_duration: Some("30d".into()),
            models: Some(vec!["b".into(), "a".into()]),
            metadata: Some(serde_json::from_str("{\"k\":\"v2\"}").unwrap()),
            ..Settings::default()
        });
        let r = row(serde_json::json!({
            "user_id": "u1", "max_budget": 10.0, "budget_duration": "30d",
            "models": ["a", "b"], "metadata": {"k": "v", "created_by_tool": "onboard"},
            "user_role": "internal_user_viewer", "teams": ["t1"]
        }));
        let changes = user_changes(&p, &r);
        let fields: Vec<&str> = changes.iter().map(|c| c.field).collect();
        assert_eq!(fields, ["max_budget", "metadata"]);
        assert_eq!(changes[0].to_string(), "max_budget 10 → 25");
        assert_eq!(
            changes[1].to,
            serde_json::json!({"k": "v2", "created_by_tool": "onboard"})
        );
        let actions = existing(
            &p,
            &r,
            std::slice::from_ref(&r.user_id),
            &Rosters::default(),
            false,
        );
        assert_eq!(actions.len(), 2);
        assert_eq!(
            actions[1],
            Action::AddToTeam {
                team: TeamId::new("t2")
            }
        );
    }

    #[test]
    fn team_roles_change_only_for_members_seen_on_the_roster() {
        let p = person(Settings {
            team_role: Some(TeamRole::Admin),
            ..Settings::default()
        });
        let id = UserId::new("u1");
        let member = |role: &str| crate::proxy::api::TeamMember {
            user_id: Some(id.clone()),
            user_email: None,
            role: Some(role.into()),
        };
        // The user's row says t2, but t2's roster read now does not have them.
        let member_of = vec!["t1".to_string(), "t2".to_string()];
        let mut rosters = Rosters::default();
        rosters.insert(&TeamId::new("t1"), &[member("user")]);
        rosters.insert(&TeamId::new("t2"), &[]);
        assert_eq!(
            team_actions(
                &p,
                &id,
                std::slice::from_ref(&id),
                &member_of,
                &rosters,
                false
            ),
            [
                Action::UpdateTeamRole {
                    team: TeamId::new("t1"),
                    role: TeamRole::Admin
                },
                Action::AddToTeam {
                    team: TeamId::new("t2")
                }
            ]
        );
        let mut rosters = Rosters::default();
        rosters.insert(&TeamId::new("t1"), &[member("admin")]);
        rosters.insert(&TeamId::new("t2"), &[member("admin")]);
        assert!(
            team_actions(
                &p,
                &id,
                std::slice::from_ref(&id),
                &member_of,
                &rosters,
                false
            )
            .is_empty()
        );
    }

    #[test]
    fn prune_removes_only_teams_of_the_run_the_row_does_not_name_and_never_an_admin() {
        let p = person(Settings::default());
        let id = UserId::new("u1");
        let member = |role: &str| crate::proxy::api::TeamMember {
            user_id: Some(id.clone()),
            user_email: Some("alice@company.com".into()),
            role: Some(role.into()),
        };
        let mut rosters = Rosters::default();
        for team in ["t1", "t2", "t3"] {
            rosters.insert(&TeamId::new(team), &[member("user")]);
        }
        rosters.insert(&TeamId::new("t4"), &[member("admin")]);
        // Found by email: the roster's id is the one removed.
        let ids = rosters.users_with(&p.email).to_vec();
        assert_eq!(
            team_actions(&p, &id, &ids, &[], &rosters, true),
            [Action::RemoveFromTeam {
                team: TeamId::new("t3"),
                user_id: id.clone()
            }]
        );
        assert!(team_actions(&p, &id, &ids, &[], &rosters, false).is_empty());
        // A legacy duplicate with the person's email in t1 does not make `u2` a member.
        let u2 = UserId::new("u2");
        assert_eq!(
            team_actions(&p, &u2, &[u2.clone(), id.clone()], &[], &rosters, false),
            [
                Action::AddToTeam {
                    team: TeamId::new("t1")
                },
                Action::AddToTeam {
                    team: TeamId::new("t2")
                }
            ]
        );
    }
}
