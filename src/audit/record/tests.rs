use super::*;
use chrono::TimeZone;

fn at(day: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, day, hour, 0, 0).unwrap()
}

#[test]
fn a_user_made_but_not_invited_is_not_a_failure() {
    let mut record = Record::new(Email::parse("a@b.co").unwrap(), at(1, 0));
    assert_eq!(record.state(at(1, 0)), State::Failed, "nothing made yet");
    record.set_user(UserId::new("u1"), UserOrigin::Created, at(1, 0));
    assert_eq!(record.state(at(1, 0)), State::NotInvited);
    record.set_failed("HTTP 500".into(), at(1, 1));
    assert_eq!(
        record.state(at(1, 1)),
        State::Failed,
        "the invitation failed"
    );
}

#[test]
fn expiry_is_by_utc_date() {
    let expires = at(30, 8);
    assert!(!is_expired(expires, at(30, 23)));
    assert!(is_expired(expires, at(30, 23) + Duration::hours(1)));
}

#[test]
fn reinvite_keeps_history_and_failure_keeps_link() {
    let mut record = Record::new(Email::parse("a@b.co").unwrap(), at(1, 0));
    record.set_invitation(
        InvitationId::new("i1"),
        at(8, 0),
        None,
        "l1".into(),
        at(1, 0),
    );
    record.set_invitation(
        InvitationId::new("i2"),
        at(9, 0),
        None,
        "l2".into(),
        at(2, 0),
    );
    assert_eq!(record.history.len(), 1);
    assert_eq!(record.history[0].invitation_id.as_str(), "i1");
    record.set_failed("boom".into(), at(3, 0));
    assert_eq!(record.status, Status::Success);
    assert_eq!(record.onboarding_link.as_deref(), Some("l2"));
    assert_eq!(record.state(at(5, 0)), State::Pending);
    assert_eq!(record.state(at(10, 0)), State::Expired);
}

#[test]
fn proxy_name_drops_credentials_query_and_slash() {
    let url = url::Url::parse("https://me:pw@proxy.example.com/litellm/?k=v#f").unwrap();
    assert_eq!(proxy_name(&url), "https://proxy.example.com/litellm");
}

#[test]
fn guide_fields_are_always_written() {
    let record = Record::new(Email::parse("a@b.co").unwrap(), at(1, 0));
    let json = serde_json::to_value(&record).unwrap();
    for field in [
        "email",
        "user_id",
        "invitation_id",
        "expires_at",
        "onboarding_link",
        "status",
        "error",
    ] {
        assert!(json.get(field).is_some(), "{field} missing");
    }
    assert_eq!(json["status"], "failed");
}

fn renewed_twice() -> Record {
    let mut record = Record::new(Email::parse("a@b.co").unwrap(), at(1, 0));
    for (id, day) in [("i1", 1), ("i2", 2), ("i3", 8)] {
        let id = InvitationId::new(id);
        record.set_invitation(id, at(day + 7, 0), None, "l".into(), at(day, 0));
    }
    record
}

#[test]
fn a_failed_delete_stays_pending_until_deleted_or_expired() {
    let mut record = renewed_twice();
    assert!(!record.has_pending_deletes());
    let (i1, i2) = (InvitationId::new("i1"), InvitationId::new("i2"));
    record.note_delete(&i1, Err("HTTP 500".into()), at(8, 0));
    record.note_delete(&i2, Err("HTTP 500".into()), at(8, 0));
    assert!(record.has_pending_deletes());
    assert!(!record.history[0].deleted);
    assert_eq!(record.history[0].delete_error.as_deref(), Some("HTTP 500"));
    // i1 (expires on the 8th) still works on the 8th; i2 until the 9th.
    assert_eq!(
        record.take_pending_deletes(at(8, 12)),
        vec![i1.clone(), i2.clone()]
    );
    // On the 9th i1 has expired: no delete needed, marked so.
    assert_eq!(record.take_pending_deletes(at(9, 0)), vec![i2.clone()]);
    assert!(record.history[0].expired_before_delete);
    assert!(!record.history[0].delete_pending && !record.history[0].deleted);
    record.note_delete(&i2, Ok(()), at(9, 1));
    assert!(record.history[1].deleted && record.history[1].delete_error.is_none());
    assert!(!record.has_pending_deletes());
    assert!(record.take_pending_deletes(at(9, 2)).is_empty());
}

#[test]
fn lost_invitations_add_up_and_expire_by_the_latest() {
    let mut record = Record::new(Email::parse("a@b.co").unwrap(), at(1, 0));
    record.note_lost_invitations(0, at(1, 0));
    assert_eq!(record.lost_invitations, 0);
    assert!(record.lost_invitations_expire_by.is_none());
    record.note_lost_invitations(2, at(3, 0));
    record.note_lost_invitations(1, at(2, 0));
    assert_eq!(record.lost_invitations, 3);
    assert_eq!(record.lost_invitations_expire_by, Some(at(10, 0)));
}

#[test]
fn old_files_load_and_new_fields_are_written_only_when_set() {
    let old = r#"{"email":"a@b.co","user_id":null,"invitation_id":null,"expires_at":null,
        "onboarding_link":null,"status":"failed","error":null,"updated_at":"2026-11-01T00:00:00Z",
        "history":[{"invitation_id":"i1","expires_at":null,"replaced_at":"2026-11-01T00:00:00Z","deleted":false}]}"#;
    let record: Record = serde_json::from_str(old).unwrap();
    assert_eq!(record.lost_invitations, 0);
    assert!(!record.history[0].delete_pending);
    let json = serde_json::to_value(&record).unwrap();
    assert!(json.get("lost_invitations").is_none());
    assert!(json["history"][0].get("delete_pending").is_none());
    let mut record = record;
    record.note_delete(&InvitationId::new("i1"), Err("x".into()), at(1, 0));
    record.note_lost_invitations(1, at(1, 0));
    let json = serde_json::to_value(&record).unwrap();
    assert_eq!(json["lost_invitations"], 1);
    assert_eq!(json["history"][0]["delete_pending"], true);
}

#[test]
fn a_person_taken_out_of_every_known_team_is_removed_not_failed_or_sso() {
    let (t1, t2) = (TeamId::new("t1"), TeamId::new("t2"));
    // A member made in the UI, pruned: no error, so not "failed".
    let mut made = Record::new(Email::parse("ui@b.co").unwrap(), at(1, 0));
    made.note_removed_from(&t1, at(1, 1));
    assert_eq!(made.state(at(1, 1)), State::Removed);
    assert_eq!(made.status, Status::Success);
    // A record from before teams were a set: its one team is `team_id`. Removed from
    // another team, it is still in that one.
    let mut old = Record::new(Email::parse("old@b.co").unwrap(), at(1, 0));
    old.set_user(UserId::new("u1"), UserOrigin::Created, at(1, 0));
    old.team_id = Some(t1.clone());
    old.note_removed_from(&t2, at(1, 1));
    assert_ne!(old.state(at(1, 1)), State::Removed);
    assert_eq!(old.known_teams(), ["t1"]);
    old.note_removed_from(&t1, at(1, 2));
    assert_eq!(old.state(at(1, 2)), State::Removed);
    assert_eq!(old.team_id, None);
    // Added back: in a team again, no longer removed from it.
    old.note_added_to(&t1, at(1, 3));
    assert_eq!(old.known_teams(), ["t1"]);
    assert_eq!(old.removed_from_teams, [t2]);
    assert_ne!(old.state(at(1, 3)), State::Removed);
}
