use super::*;
use crate::proxy::api::UserRow;
use crate::types::{InvitationId, Role};
use chrono::TimeZone;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 10, 12, 0, 0).unwrap()
}

fn email(text: &str) -> Email {
    Email::parse(text).unwrap()
}

fn row(id: &str, role: &str, teams: &[&str]) -> Lookup {
    let row: UserRow = serde_json::from_value(serde_json::json!({
        "user_id": id, "teams": teams, "user_role": role
    }))
    .expect("a user row");
    Lookup::Found(Box::new(row))
}

fn invited(address: &str) -> Record {
    let mut record = Record::new(email(address), now());
    record.user_id = Some(UserId::new("stale-id"));
    record.set_invitation(
        InvitationId::new("old"),
        now() + chrono::Duration::days(1),
        None,
        "l".into(),
        now(),
    );
    record.set_invitation(
        InvitationId::new("new"),
        now() + chrono::Duration::days(7),
        None,
        "l".into(),
        now(),
    );
    record
}

fn member(id: &str, address: Option<&str>, role: &str) -> TeamMember {
    TeamMember {
        user_id: Some(UserId::new(id)),
        user_email: address.map(str::to_string),
        role: Some(role.into()),
    }
}

fn names(plan: &PersonPlan) -> Vec<&'static str> {
    plan.actions.iter().map(Action::name).collect()
}

#[test]
fn offboarding_deletes_the_user_the_proxy_named_and_its_live_invitations_go_with_it() {
    let record = invited("a@b.co");
    let plan = offboard(
        &email("a@b.co"),
        Some(&record),
        &row("u1", "internal_user", &[]),
        None,
        &OffboardOptions::default(),
        now(),
    );
    assert_eq!(names(&plan), ["delete_user"]);
    // The id read now, never the audit file's; both live invitations noted, none sent.
    assert_eq!(
        plan.actions[0],
        Action::DeleteUser {
            user_id: UserId::new("u1"),
            invitations: vec![InvitationId::new("old"), InvitationId::new("new")],
        }
    );
    assert_eq!(plan.actions[0].invitations_deleted(), 2);
    assert_eq!(
        plan.actions[0].label(),
        "delete_user (with 2 live invitations)"
    );
}

#[test]
fn admins_unknown_and_done_people_are_skipped() {
    let options = OffboardOptions::default();
    let plan = offboard(
        &email("a@b.co"),
        None,
        &row("u1", "proxy_admin", &[]),
        None,
        &options,
        now(),
    );
    assert_eq!(plan.skip, Some(Skip::ProxyAdmin));
    assert!(plan.actions.is_empty());
    let admins = OffboardOptions {
        include_admins: true,
        ..options.clone()
    };
    let plan = offboard(
        &email("a@b.co"),
        None,
        &row("u1", "proxy_admin", &[]),
        None,
        &admins,
        now(),
    );
    assert_eq!(names(&plan), ["delete_user"]);
    let plan = offboard(
        &email("a@b.co"),
        None,
        &Lookup::Absent,
        None,
        &options,
        now(),
    );
    assert_eq!(plan.skip, Some(Skip::NotOnProxy));
    let mut record = invited("a@b.co");
    record.note_offboarded(now());
    assert!(record.live_invitations(now()).is_empty());
    let plan = offboard(
        &email("a@b.co"),
        Some(&record),
        &Lookup::Absent,
        None,
        &options,
        now(),
    );
    assert_eq!(plan.skip, Some(Skip::AlreadyOffboarded));
    assert!(plan.is_noop());
}

#[test]
fn team_removal_only_for_members() {
    let options = OffboardOptions {
        team: Some(TeamId::new("t1")),
        include_admins: false,
    };
    let roster = [member("u1", Some("a@b.co"), "user")];
    let plan = offboard(
        &email("a@b.co"),
        Some(&invited("a@b.co")),
        &row("u1", "internal_user", &["t1"]),
        Some(&roster),
        &options,
        now(),
    );
    assert_eq!(names(&plan), ["remove_from_team"]);
    let plan = offboard(
        &email("c@b.co"),
        None,
        &row("u3", "internal_user", &[]),
        Some(&roster),
        &options,
        now(),
    );
    assert_eq!(plan.skip, Some(Skip::NotInTeam));
    assert!(plan.actions.is_empty());
}

#[test]
fn team_admins_need_include_admins_and_default_user_id_is_never_touched() {
    let team = OffboardOptions {
        team: Some(TeamId::new("t1")),
        include_admins: false,
    };
    let admins = OffboardOptions {
        include_admins: true,
        ..team.clone()
    };
    let roster = [
        member("u-lead", Some("lead@b.co"), "admin"),
        member("default_user_id", Some("root@b.co"), "admin"),
    ];
    let lead = row("u-lead", "internal_user", &["t1"]);
    let plan = offboard(
        &email("lead@b.co"),
        None,
        &lead,
        Some(&roster),
        &team,
        now(),
    );
    assert_eq!(plan.skip, Some(Skip::TeamAdmin));
    assert!(plan.actions.is_empty());
    assert!(plan.detail.unwrap().contains("--include-admins"));
    let plan = offboard(
        &email("lead@b.co"),
        None,
        &lead,
        Some(&roster),
        &admins,
        now(),
    );
    assert_eq!(names(&plan), ["remove_from_team"]);
    let root = row("default_user_id", "proxy_admin", &["t1"]);
    for options in [
        &admins,
        &OffboardOptions {
            team: None,
            ..admins.clone()
        },
    ] {
        let plan = offboard(
            &email("root@b.co"),
            None,
            &root,
            Some(&roster),
            options,
            now(),
        );
        assert_eq!(plan.skip, Some(Skip::DefaultUser));
        assert!(plan.actions.is_empty());
        assert!(plan.skip.as_ref().is_some_and(Skip::is_refusal));
    }
}

#[test]
fn prune_removes_members_the_csv_names_nowhere_and_never_admins() {
    let t1 = TeamId::new("t1");
    let t2 = TeamId::new("t2");
    let mut rosters = Rosters::default();
    rosters.insert(
        &t1,
        &[
            member("default_user_id", None, "admin"),
            member("u-admin", Some("boss@b.co"), "admin"),
            member("u-keep", Some("Keep@B.co"), "user"),
            member("u-moved", Some("moved@b.co"), "user"),
            member("u-gone", Some("gone@b.co"), "user"),
            member("u-renamed", Some("old-name@b.co"), "user"),
            member("u-noemail", None, "user"),
        ],
    );
    rosters.insert(&t2, &[member("u-moved", Some("moved@b.co"), "user")]);
    let person = |address: &str, team: &TeamId| Person {
        line: 2,
        email: email(address),
        team: team.clone(),
        role: Role::InternalUser,
        alias: None,
        more_teams: Vec::new(),
        settings: Default::default(),
    };
    let people = [
        person("keep@b.co", &t1),
        person("moved@b.co", &t2),
        person("new-name@b.co", &t1),
        // An admin of t1 whose row names t2 only: left in t1, with a warning.
        person("boss@b.co", &t2),
    ];
    let people: Vec<&Person> = people.iter().collect();
    let removals = prune_removals(&rosters, &people, |e| {
        (e.as_str() == "new-name@b.co").then(|| UserId::new("u-renamed"))
    });
    // moved@b.co is a CSV person: their own plan removes them from t1.
    let emails: Vec<&str> = removals.by_email.keys().map(Email::as_str).collect();
    assert_eq!(emails, ["gone@b.co"]);
    assert_eq!(
        removals.by_email[&email("gone@b.co")],
        vec![(t1.clone(), UserId::new("u-gone"))]
    );
    assert_eq!(removals.warnings.len(), 2, "{:?}", removals.warnings);
    assert!(
        removals.warnings[0].contains("boss@b.co is an admin of team t1"),
        "{:?}",
        removals.warnings
    );
}

#[test]
fn prune_deletes_invitations_only_of_people_left_in_no_team() {
    let record = invited("gone@b.co");
    let memberships = vec![(TeamId::new("t1"), UserId::new("u1"))];
    let alone = row("u1", "internal_user", &["t1"]);
    let plan = prune(
        &email("gone@b.co"),
        &memberships,
        Some(&record),
        &alone,
        now(),
    );
    assert_eq!(
        names(&plan),
        ["remove_from_team", "delete_invitation", "delete_invitation"]
    );
    let elsewhere = row("u1", "internal_user", &["t1", "t9"]);
    let plan = prune(
        &email("gone@b.co"),
        &memberships,
        Some(&record),
        &elsewhere,
        now(),
    );
    assert_eq!(names(&plan), ["remove_from_team"]);
    let failed = Lookup::Failed("x".into());
    let plan = prune(
        &email("gone@b.co"),
        &memberships,
        Some(&record),
        &failed,
        now(),
    );
    assert_eq!(names(&plan), ["remove_from_team"]);
}
