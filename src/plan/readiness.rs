//! Whether people will be able to work once onboarded: what pre-flight warns of and
//! `onboard doctor` reports, decided here and nowhere else. Pure: the reads are the caller's.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::audit::record::{Record, State};
use crate::input::Person;
use crate::proxy::api::{Team, TeamState};
use crate::types::{Email, TeamId};

/// What `--grant-key-permissions` adds to a team's `team_member_permissions`: members can then
/// make, see, change and delete their own keys for the team.
pub const KEY_PERMISSIONS: [&str; 5] = [
    "/key/generate",
    "/key/update",
    "/key/delete",
    "/key/info",
    "/key/list",
];

/// The permission without which members cannot create keys for a team (1.106.2 answers
/// their `/key/generate` with 401).
const KEY_GENERATE: &str = "/key/generate";

/// What to say when SSO is configured on the proxy.
pub const SSO_WARNING: &str = "SSO is configured on this proxy: people will sign in with SSO, so password links may not be what they need: pass --no-invite to create users and memberships only (their link is then <proxy>/ui, as the admin UI hands SSO users)";

/// How soon an invitation must expire for `doctor` to point at it.
pub const EXPIRING_WITHIN: Duration = Duration::days(1);

/// One thing that stops people from working (or that they should know).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "check", rename_all = "snake_case")]
pub enum Problem {
    /// `/key/generate` is not in the team's `team_member_permissions`.
    NoKeyPermission,
    /// The team is blocked.
    Blocked,
    /// The team has spent its budget.
    BudgetSpent {
        /// Spend so far.
        spend: f64,
        /// The budget.
        max_budget: f64,
    },
    /// Rows ask for more than the team's member budget.
    OverMemberBudget {
        /// The member budget.
        member_budget: f64,
    },
    /// The team names no model: members may use every model of the proxy (a note).
    AllProxyModels,
    /// The team's models are only `no-default-models`: members have no model.
    NoModel,
    /// The admin UI is not served where the links point.
    UiUnreachable {
        /// The page asked for.
        url: String,
        /// What it answered (or why it did not).
        answer: String,
    },
    /// The proxy reports SSO.
    Sso,
    /// The person's invitation expires within a day.
    ExpiresSoon {
        /// When.
        expires_at: DateTime<Utc>,
    },
    /// The person accepted days ago and has no key yet.
    NoKey {
        /// When they accepted.
        accepted_at: DateTime<Utc>,
    },
    /// The person is no longer on their team's roster.
    RemovedFromTeam {
        /// The team.
        team: TeamId,
    },
    /// A team the audit file names no longer exists on the proxy.
    TeamMissing,
}

impl Problem {
    /// The check's name, as `--json` shows it.
    pub fn name(&self) -> &'static str {
        match self {
            Problem::NoKeyPermission => "no_key_permission",
            Problem::Blocked => "blocked",
            Problem::BudgetSpent { .. } => "budget_spent",
            Problem::OverMemberBudget { .. } => "over_member_budget",
            Problem::AllProxyModels => "all_proxy_models",
            Problem::NoModel => "no_model",
            Problem::UiUnreachable { .. } => "ui_unreachable",
            Problem::Sso => "sso",
            Problem::ExpiresSoon { .. } => "expires_soon",
            Problem::NoKey { .. } => "no_key",
            Problem::RemovedFromTeam { .. } => "removed_from_team",
            Problem::TeamMissing => "team_missing",
        }
    }
}

/// A problem, and whom it touches.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Finding {
    /// What is wrong.
    #[serde(flatten)]
    pub problem: Problem,
    /// The team it is about (its id).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub team: Option<TeamId>,
    /// The team's alias, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub team_alias: Option<String>,
    /// The person it is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<Email>,
    /// How many people it touches (team findings).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub people: Option<usize>,
    /// True when an admin must act; false for a note.
    pub needs_admin: bool,
    /// Whom it is about: a team (by alias), a person, or the proxy.
    pub subject: String,
    /// What is wrong, without the subject.
    #[serde(skip)]
    pub detail: String,
    /// What to tell the admin: the subject and the detail.
    pub message: String,
}

impl Finding {
    fn of_team(team: &Team, people: usize, problem: Problem) -> Finding {
        let detail = describe(&problem);
        Finding {
            needs_admin: problem != Problem::AllProxyModels,
            team: Some(team.team_id.clone()),
            team_alias: team.team_alias.clone(),
            email: None,
            people: Some(people),
            message: format!("team {} ({}): {detail}", team.name(), plural(people)),
            subject: format!("team {}", team.name()),
            detail,
            problem,
        }
    }

    fn of_proxy(problem: Problem) -> Finding {
        let detail = describe(&problem);
        Finding {
            problem,
            team: None,
            team_alias: None,
            email: None,
            people: None,
            needs_admin: true,
            message: detail.clone(),
            subject: "proxy".into(),
            detail,
        }
    }

    fn of_person(email: &Email, team: Option<&TeamId>, problem: Problem) -> Finding {
        let detail = describe(&problem);
        Finding {
            message: format!("{email}: {detail}"),
            subject: email.to_string(),
            detail,
            team: team.cloned(),
            team_alias: None,
            email: Some(email.clone()),
            people: None,
            needs_admin: true,
            problem,
        }
    }
}

fn plural(people: usize) -> String {
    match people {
        1 => "1 person".into(),
        n => format!("{n} people"),
    }
}

fn describe(problem: &Problem) -> String {
    match problem {
        Problem::NoKeyPermission => "members cannot create keys: /key/generate is not in its team_member_permissions (pass --grant-key-permissions)".into(),
        Problem::Blocked => "the team is blocked: its members' requests are refused".into(),
        Problem::BudgetSpent { spend, max_budget } => {
            format!("the team's budget is spent ({spend:.2} of {max_budget:.2})")
        }
        Problem::OverMemberBudget { member_budget } => {
            format!("rows ask for a max_budget above the team's member budget of {member_budget:.2}")
        }
        Problem::AllProxyModels => "the team names no models: members may use every model of the proxy".into(),
        Problem::NoModel => "the team's models are only no-default-models: members will have no model".into(),
        Problem::UiUnreachable { url, answer } => {
            format!("the admin UI is not served where the links point ({url}: {answer})")
        }
        Problem::Sso => SSO_WARNING.into(),
        Problem::ExpiresSoon { expires_at } => format!(
            "the invitation expires within a day ({}) and was not accepted: `onboard refresh --within 1d` renews it",
            expires_at.format("%Y-%m-%d")
        ),
        Problem::NoKey { accepted_at } => format!(
            "accepted on {} and has no key yet",
            accepted_at.format("%Y-%m-%d")
        ),
        Problem::RemovedFromTeam { team } => {
            format!("no longer a member of team {team} on the proxy")
        }
        Problem::TeamMissing => "the team does not exist on the proxy any more".into(),
    }
}

/// The team's permissions that `--grant-key-permissions` would add: empty when members can
/// already create keys, or when the proxy does not tell (an older proxy).
pub fn missing_key_permissions(state: &TeamState) -> Vec<String> {
    let Some(have) = &state.team_member_permissions else {
        return Vec::new();
    };
    if have.iter().any(|p| p == KEY_GENERATE) {
        return Vec::new();
    }
    KEY_PERMISSIONS
        .iter()
        .filter(|p| !have.iter().any(|h| h == *p))
        .map(|p| p.to_string())
        .collect()
}

/// What stops the members of `team` from working. `people`: how many the run (or the team)
/// concerns; `rows`: the rows going into it, whose budgets are compared.
pub fn team_findings(team: &Team, people: usize, rows: &[&Person]) -> Vec<Finding> {
    let state = &team.state;
    let mut found = Vec::new();
    let mut add = |problem, people| found.push(Finding::of_team(team, people, problem));
    if !missing_key_permissions(state).is_empty() {
        add(Problem::NoKeyPermission, people);
    }
    if state.blocked == Some(true) {
        add(Problem::Blocked, people);
    }
    if let (Some(spend), Some(max_budget)) = (state.spend, state.max_budget)
        && spend >= max_budget
    {
        add(Problem::BudgetSpent { spend, max_budget }, people);
    }
    let member_budget = state
        .team_member_budget_table
        .as_ref()
        .and_then(|b| b.max_budget);
    if let Some(member_budget) = member_budget {
        let over = rows
            .iter()
            .filter(|p| {
                p.settings
                    .max_budget
                    .is_some_and(|b| b.value() > member_budget)
            })
            .count();
        if over > 0 {
            add(Problem::OverMemberBudget { member_budget }, over);
        }
    }
    match state.models.as_deref() {
        Some([]) => add(Problem::AllProxyModels, people),
        Some(models) if models.iter().all(|m| m == "no-default-models") => {
            add(Problem::NoModel, people)
        }
        _ => {}
    }
    found
}

/// The admin UI answered `status` (or failed, `Err`) at `url`: a finding unless it is 200.
pub fn ui_finding(url: &url::Url, answer: Result<u16, String>) -> Option<Finding> {
    let answer = match answer {
        Ok(200) => return None,
        Ok(status) => format!("HTTP {status}"),
        Err(reason) => reason,
    };
    let problem = Problem::UiUnreachable {
        url: url.to_string(),
        answer,
    };
    Some(Finding::of_proxy(problem))
}

/// The proxy reports SSO: people will not use password links.
pub fn sso_finding() -> Finding {
    Finding::of_proxy(Problem::Sso)
}

/// A team the audit file names that the proxy no longer has.
pub fn missing_team(team: &TeamId, people: usize) -> Finding {
    let team = Team {
        team_id: team.clone(),
        team_alias: None,
        state: TeamState::default(),
        members: Vec::new(),
    };
    Finding::of_team(&team, people, Problem::TeamMissing)
}

/// Whether a person of the audit file is stuck: an invitation that expires within a day, a
/// key still missing `no_key_after` after accepting (`key_count` from the proxy, `None` when
/// not asked), a membership gone from the team's roster (`on_roster`, `None` when not read).
pub fn person_findings(
    record: &Record,
    now: DateTime<Utc>,
    key_count: Option<u64>,
    no_key_after: Duration,
    on_roster: Option<bool>,
) -> Vec<Finding> {
    let mut found = Vec::new();
    let team = record.team_id.as_ref();
    let mut add = |problem| found.push(Finding::of_person(&record.email, team, problem));
    match record.state(now) {
        State::Pending if record.expires_within(now, EXPIRING_WITHIN) => {
            if let Some(expires_at) = record.expires_at {
                add(Problem::ExpiresSoon { expires_at });
            }
        }
        State::Accepted => {
            if let Some(accepted_at) = record.accepted_at
                && key_count == Some(0)
                && now - accepted_at >= no_key_after
            {
                add(Problem::NoKey { accepted_at });
            }
        }
        _ => {}
    }
    let gone = record.offboarded_at.is_some() || record.user_deleted_at.is_some();
    if let (Some(team), Some(false), false) = (team, on_roster, gone)
        && !record.removed_from_teams.contains(team)
    {
        add(Problem::RemovedFromTeam { team: team.clone() });
    }
    found
}

#[cfg(test)]
mod tests;
