use chrono::{Duration, Utc};

use super::*;
use crate::proxy::api::MemberBudget;

fn team(state: TeamState) -> Team {
    Team {
        team_id: TeamId::new("t-1"),
        team_alias: Some("Dev".into()),
        state,
        members: Vec::new(),
    }
}

fn fresh() -> TeamState {
    // What /team/new answers on 1.106.2.
    TeamState {
        team_member_permissions: Some(Vec::new()),
        blocked: Some(false),
        spend: Some(0.0),
        max_budget: None,
        models: Some(Vec::new()),
        team_member_budget_table: None,
    }
}

fn checks(found: &[Finding]) -> Vec<(&Problem, Option<usize>)> {
    found.iter().map(|f| (&f.problem, f.people)).collect()
}

#[test]
fn a_fresh_team_lets_nobody_create_keys_and_names_no_model() {
    let found = team_findings(&team(fresh()), 3, &[]);
    assert_eq!(
        checks(&found),
        [
            (&Problem::NoKeyPermission, Some(3)),
            (&Problem::AllProxyModels, Some(3))
        ]
    );
    assert!(found[0].needs_admin && !found[1].needs_admin);
    assert!(
        found[0]
            .message
            .starts_with("team Dev (3 people): members cannot create keys"),
        "{}",
        found[0].message
    );
    assert_eq!(
        missing_key_permissions(&fresh()),
        KEY_PERMISSIONS.map(String::from)
    );
}

#[test]
fn what_a_team_has_is_not_asked_again_and_an_old_proxy_is_not_judged() {
    let mut some = fresh();
    some.team_member_permissions = Some(vec!["/key/info".into(), "/spend/logs".into()]);
    assert_eq!(
        missing_key_permissions(&some),
        ["/key/generate", "/key/update", "/key/delete", "/key/list"]
    );
    some.team_member_permissions = Some(vec!["/key/generate".into()]);
    assert!(missing_key_permissions(&some).is_empty());
    assert!(missing_key_permissions(&TeamState::default()).is_empty());
    assert!(team_findings(&team(TeamState::default()), 1, &[]).is_empty());
}

#[test]
fn blocked_spent_and_member_budgets_are_told() {
    let mut state = fresh();
    state.team_member_permissions = Some(vec!["/key/generate".into()]);
    state.models = Some(vec!["gpt-4o".into()]);
    state.blocked = Some(true);
    state.spend = Some(10.0);
    state.max_budget = Some(10.0);
    state.team_member_budget_table = Some(MemberBudget {
        max_budget: Some(5.0),
    });
    let rows: Vec<Person> = [
        "a@x.co,t-1,internal_user,,50",
        "b@x.co,t-1,internal_user,,5",
    ]
    .iter()
    .map(|line| row(line))
    .collect();
    let rows: Vec<&Person> = rows.iter().collect();
    let found = team_findings(&team(state), 2, &rows);
    assert_eq!(
        checks(&found),
        [
            (&Problem::Blocked, Some(2)),
            (
                &Problem::BudgetSpent {
                    spend: 10.0,
                    max_budget: 10.0
                },
                Some(2)
            ),
            (&Problem::OverMemberBudget { member_budget: 5.0 }, Some(1)),
        ]
    );
}

fn row(line: &str) -> Person {
    let csv = format!("user_email,team_id,user_role,user_alias,max_budget\n{line}\n");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.csv");
    std::fs::write(&path, csv).unwrap();
    let roster = crate::input::read_csv(&path, &Default::default()).unwrap();
    assert!(roster.problems.is_empty(), "{:?}", roster.problems);
    roster.people.into_iter().next().unwrap()
}

#[test]
fn the_ui_must_answer_200() {
    let url = url::Url::parse("https://p.example.com/ui/").unwrap();
    assert!(ui_finding(&url, Ok(200)).is_none());
    let found = ui_finding(&url, Ok(404)).unwrap();
    assert_eq!(
        found.message,
        "the admin UI is not served where the links point (https://p.example.com/ui/: HTTP 404)"
    );
    assert!(ui_finding(&url, Err("connection refused".into())).is_some());
}

#[test]
fn people_who_are_stuck() {
    let now = Utc::now();
    let email = Email::parse("a@x.co").unwrap();
    let mut record = Record::new(email, now);
    record.user_id = Some(crate::types::UserId::new("u-1"));
    record.team_id = Some(TeamId::new("t-1"));
    record.set_invitation(
        crate::types::InvitationId::new("i-1"),
        now + Duration::hours(20),
        Some(now - Duration::days(6)),
        "link".into(),
        now,
    );
    let week = Duration::days(3);
    let found = person_findings(&record, now, None, week, Some(true));
    assert!(
        matches!(
            found[..],
            [Finding {
                problem: Problem::ExpiresSoon { .. },
                ..
            }]
        ),
        "{found:?}"
    );
    record.accepted_at = Some(now - Duration::days(4));
    assert!(person_findings(&record, now, Some(1), week, Some(true)).is_empty());
    let found = person_findings(&record, now, Some(0), week, Some(false));
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(matches!(found[0].problem, Problem::NoKey { .. }));
    assert_eq!(
        found[1].problem,
        Problem::RemovedFromTeam {
            team: TeamId::new("t-1")
        }
    );
    record.accepted_at = Some(now - Duration::days(1));
    assert!(person_findings(&record, now, Some(0), week, None).is_empty());
    // Removed by `offboard --team`: not news.
    record.removed_from_teams.push(TeamId::new("t-1"));
    assert!(person_findings(&record, now, Some(0), week, Some(false)).is_empty());
}

#[test]
fn each_check_is_named_as_its_json_says() {
    let now = Utc::now();
    for problem in [
        Problem::NoKeyPermission,
        Problem::Blocked,
        Problem::BudgetSpent {
            spend: 1.0,
            max_budget: 1.0,
        },
        Problem::OverMemberBudget { member_budget: 1.0 },
        Problem::AllProxyModels,
        Problem::NoModel,
        Problem::UiUnreachable {
            url: "u".into(),
            answer: "a".into(),
        },
        Problem::Sso,
        Problem::ExpiresSoon { expires_at: now },
        Problem::NoKey { accepted_at: now },
        Problem::RemovedFromTeam {
            team: TeamId::new("t"),
        },
        Problem::TeamMissing,
    ] {
        let json = serde_json::to_value(&problem).unwrap();
        assert_eq!(json["check"], problem.name(), "{problem:?}");
    }
}
