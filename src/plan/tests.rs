//! The rules, as a table: what is planned for each kind of person.

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::*;
use crate::audit::record::Record;
use crate::types::{InvitationId, Role};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap()
}

fn person(team: &str) -> Person {
    Person {
        line: 2,
        email: Email::parse("a@company.com").unwrap(),
        team: TeamId::new(team),
        role: Role::InternalUser,
        alias: None,
        more_teams: Vec::new(),
        settings: Default::default(),
    }
}

/// A record invited `days_ago` into team T (its invitation lives 7 days).
fn invited(days_ago: i64) -> Record {
    let at = now() - Duration::days(days_ago);
    let mut record = Record::new(Email::parse("a@company.com").unwrap(), at);
    record.user_id = Some(UserId::new("u1"));
    record.team_id = Some(TeamId::new("T"));
    record.set_invitation(
        InvitationId::new("i1"),
        at + Duration::days(7),
        Some(at),
        "link".into(),
        at,
    );
    record
}

fn row(teams: &[&str]) -> UserRow {
    serde_json::from_value(serde_json::json!({
        "user_id": "u9", "user_email": "a@company.com", "teams": teams
    }))
    .unwrap()
}

/// What a plan does: its action names and its skip.
type Names = (Vec<&'static str>, Option<&'static str>);

/// One row of the onboarding table: what, the person, their record, the look-up, the options.
type OnboardCase = (
    &'static str,
    Person,
    Option<Record>,
    Lookup,
    OnboardOptions,
    Names,
);

fn names(plan: &PersonPlan) -> (Vec<&'static str>, Option<&'static str>) {
    (
        plan.actions.iter().map(Action::name).collect(),
        plan.skip.as_ref().map(Skip::name),
    )
}

#[test]
fn onboarding_rules() {
    let accepted = {
        let mut r = invited(1);
        r.accepted_at = Some(now());
        r
    };
    let deleted_user = {
        let mut r = invited(10);
        r.user_deleted_at = Some(now());
        r
    };
    let no = OnboardOptions::default();
    let reinvite = OnboardOptions {
        reinvite: true,
        ..no
    };
    let mail = OnboardOptions {
        send_email: true,
        ..no
    };
    let cases: Vec<OnboardCase> = vec![
        (
            "new",
            person("T"),
            None,
            Lookup::Absent,
            no,
            (vec!["create_user", "invite"], None),
        ),
        (
            "on the proxy, in the team",
            person("T"),
            None,
            Lookup::Found(Box::new(row(&["T"]))),
            no,
            (vec!["adopt_user", "invite"], None),
        ),
        (
            "on the proxy, not in the team",
            person("T"),
            None,
            Lookup::Found(Box::new(row(&[]))),
            no,
            (vec!["adopt_user", "add_to_team", "invite"], None),
        ),
        (
            "several on the proxy",
            person("T"),
            None,
            Lookup::Several(vec![UserId::new("x"), UserId::new("y")]),
            no,
            (vec![], Some("several_users")),
        ),
        (
            "lookup failed",
            person("T"),
            None,
            Lookup::Failed("HTTP 500".into()),
            no,
            (vec![], Some("lookup_failed")),
        ),
        (
            "live invitation",
            person("T"),
            Some(invited(1)),
            Lookup::NotAsked,
            no,
            (vec![], Some("already_invited")),
        ),
        (
            "live, team changed",
            person("R"),
            Some(invited(1)),
            Lookup::NotAsked,
            no,
            (vec!["add_to_team"], Some("already_invited")),
        ),
        (
            "live, --reinvite",
            person("T"),
            Some(invited(1)),
            Lookup::NotAsked,
            reinvite,
            (vec!["invite", "delete_invitation"], None),
        ),
        (
            "expired",
            person("T"),
            Some(invited(9)),
            Lookup::NotAsked,
            no,
            (vec!["invite"], None),
        ),
        (
            "expired, team changed",
            person("R"),
            Some(invited(9)),
            Lookup::NotAsked,
            no,
            (vec!["add_to_team", "invite"], None),
        ),
        (
            "accepted",
            person("T"),
            Some(accepted.clone()),
            Lookup::NotAsked,
            no,
            (vec![], Some("already_accepted")),
        ),
        (
            "accepted, team changed",
            person("R"),
            Some(accepted),
            Lookup::NotAsked,
            no,
            (vec!["add_to_team"], Some("already_accepted")),
        ),
        (
            "user deleted, gone from the proxy",
            person("T"),
            Some(deleted_user.clone()),
            Lookup::Absent,
            no,
            (vec!["create_user", "invite"], None),
        ),
        (
            "live, not emailed, --send-email",
            person("T"),
            Some(invited(1)),
            Lookup::NotAsked,
            mail,
            (vec!["email_link"], Some("already_invited")),
        ),
        (
            "new, --send-email",
            person("T"),
            None,
            Lookup::Absent,
            mail,
            (vec!["create_user", "invite", "email_link"], None),
        ),
    ];
    for (what, person, record, lookup, options, expected) in cases {
        let plan = onboard(
            person,
            record.as_ref(),
            &lookup,
            &Rosters::default(),
            options,
            now(),
        );
        assert_eq!(names(&plan), expected, "{what}");
    }
}

#[test]
fn only_people_the_audit_file_cannot_plan_are_looked_up() {
    let no = OnboardOptions::default();
    assert!(needs_lookup(None, no, now()));
    assert!(!needs_lookup(Some(&invited(1)), no, now()));
    assert!(
        !needs_lookup(Some(&invited(9)), no, now()),
        "the user is known"
    );
    let mut deleted = invited(9);
    deleted.user_deleted_at = Some(now());
    assert!(needs_lookup(Some(&deleted), no, now()));
}

#[test]
fn refresh_rules() {
    let options = RefreshOptions {
        within: Duration::zero(),
        send_email: false,
    };
    let within_2d = RefreshOptions {
        within: Duration::days(2),
        ..options
    };
    let open = |days: i64| InvitationCheck::Open {
        expires_at: now() + Duration::days(days),
    };
    let cases: Vec<(&str, InvitationCheck, Option<bool>, RefreshOptions, Names)> = vec![
        (
            "accepted",
            InvitationCheck::Accepted { at: now() },
            None,
            options,
            (vec!["record_accepted"], None),
        ),
        (
            "valid",
            open(3),
            None,
            options,
            (vec![], Some("still_valid")),
        ),
        (
            "valid but within --within",
            open(1),
            Some(true),
            within_2d,
            (vec!["invite", "delete_invitation"], None),
        ),
        (
            "expired",
            open(-2),
            Some(true),
            options,
            (vec!["invite", "delete_invitation"], None),
        ),
        (
            "gone from the proxy",
            InvitationCheck::Gone,
            Some(true),
            options,
            (vec!["invite"], None),
        ),
        (
            "user deleted",
            InvitationCheck::Gone,
            Some(false),
            options,
            (vec!["record_user_deleted"], None),
        ),
        (
            "check failed",
            InvitationCheck::Failed("HTTP 500".into()),
            None,
            options,
            (vec![], Some("lookup_failed")),
        ),
    ];
    for (what, check, exists, options, expected) in cases {
        let plan = refresh(&invited(6), &check, exists, options, now());
        assert_eq!(names(&plan), expected, "{what}");
        assert_eq!(
            refresh_due(&check, options.within, now()),
            expected.0.contains(&"invite") || expected.0.contains(&"record_user_deleted"),
            "{what}: due"
        );
    }
}

#[test]
fn a_pending_delete_is_planned_until_it_expires() {
    let mut record = invited(6);
    record.set_invitation(
        InvitationId::new("i2"),
        now() + Duration::days(7),
        None,
        "l2".into(),
        now(),
    );
    record.note_delete(&InvitationId::new("i1"), Err("HTTP 500".into()), now());
    assert_eq!(
        pending_deletes(&record, now()),
        vec![Action::DeleteInvitation {
            invitation_id: InvitationId::new("i1")
        }]
    );
    assert!(pending_deletes(&record, now() + Duration::days(2)).is_empty());
}
