//! The user lifecycle as recorded from LiteLLM 1.106.2 (shared/litellm-observed, files 28–86):
//! /openapi.json, the bulk endpoint, /user/update, /team/member_update|member_delete,
//! /user/delete cascades, team admins and the inspection API.

mod common;

use std::time::{Duration, Instant};

use common::{Api, start};
use litellm_emulator::{DEFAULT_USER_ID, DEV_TEST_TEAM_ID, EmulatorConfig, FaultConfig};
use serde_json::{Value, json};

const BULK: &str = "/management/v1/users/bulk";

fn row(email: &str) -> Value {
    json!({"user_email": email, "user_role": "internal_user", "teams": [DEV_TEST_TEAM_ID],
           "max_budget": 25.0, "budget_duration": "30d", "models": ["gpt-4o"],
           "metadata": {"k": "v"}, "user_alias": "Bulk"})
}

async fn raw_post(api: &Api, path: &str, body: Value) -> (u16, String, Value) {
    let resp = api
        .http
        .post(format!("{}{path}", api.base))
        .bearer_auth(&api.key)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let ct = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, ct, resp.json().await.unwrap())
}

#[tokio::test]
async fn openapi_names_the_version() {
    let (_emu, api) = start(EmulatorConfig::default()).await;
    let (s, body) = api.with_key("").get("/openapi.json").await;
    assert_eq!(s, 200);
    assert_eq!(body["openapi"], "3.1.0");
    assert_eq!(body["info"]["title"], "LiteLLM API");
    assert_eq!(body["info"]["version"], "1.109.1");
    assert!(body["paths"].get(BULK).is_some());

    let (_emu, api) = start(EmulatorConfig::v1_80()).await;
    let (s, body) = api.get("/openapi.json").await;
    assert_eq!((s, body["info"]["version"].clone()), (200, json!("1.80.0")));
    assert!(body["paths"].get(BULK).is_none());
}

#[tokio::test]
async fn bulk_creates_without_keys_and_stores_the_fields() {
    let (emu, api) = start(EmulatorConfig::default()).await;
    let (s, body) = api
        .post(BULK, json!({"users": [row("b1@x.io"), row("b2@x.io")]}))
        .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(
        body["meta"],
        json!({"total_requested": 2, "created": 2, "failed": 0})
    );
    let r = &body["data"][0];
    assert_eq!(r["success"], true);
    assert_eq!(r["teams"], json!([DEV_TEST_TEAM_ID]));
    assert_eq!(
        (r["key"].clone(), r["error"].clone()),
        (Value::Null, Value::Null)
    );
    let id = r["user_id"].as_str().unwrap();

    let (s, info) = api.get(&format!("/user/info?user_id={id}")).await;
    assert_eq!(s, 200);
    let ui = &info["user_info"];
    assert_eq!(ui["max_budget"], 25.0);
    assert_eq!(ui["budget_duration"], "30d");
    assert!(
        ui["budget_reset_at"]
            .as_str()
            .unwrap()
            .ends_with("-01T00:00:00Z")
    );
    assert_eq!(ui["models"], json!(["gpt-4o"]));
    assert_eq!(ui["metadata"], json!({"k": "v"}));
    assert_eq!(ui["user_alias"], "Bulk");
    assert_eq!(info["keys"], json!([]));
    let (_, list) = api.get("/user/list?user_email=b1%40x.io").await;
    assert_eq!(list["users"][0]["key_count"], 0);

    let (_, team) = api
        .get(&format!("/team/info?team_id={DEV_TEST_TEAM_ID}"))
        .await;
    let members = team["team_info"]["members_with_roles"].as_array().unwrap();
    let m = members.iter().find(|m| m["user_id"] == id).unwrap();
    assert_eq!(
        (m["role"].clone(), m["user_alias"].clone()),
        (json!("user"), json!("Bulk"))
    );
    assert_eq!(emu.team_role(DEV_TEST_TEAM_ID, id).as_deref(), Some("user"));
    let u = emu.user(id).unwrap();
    assert_eq!(
        (u.max_budget, u.models.clone()),
        (Some(25.0), vec!["gpt-4o".to_string()])
    );
    let stats = emu.stats();
    assert_eq!((stats.bulk_rows_requested, stats.bulk_rows_created), (2, 2));
    assert_eq!(stats.count(BULK), 1);
}

#[tokio::test]
async fn bulk_rows_fail_independently() {
    let (emu, api) = start(EmulatorConfig::default()).await;
    api.post(BULK, json!({"users": [row("b1@x.io")]})).await;
    let before = emu.user_count();
    let mut bad_team = row("b5@x.io");
    bad_team["teams"] = json!([DEV_TEST_TEAM_ID, "team-nope"]);
    let (s, body) = api
        .post(
            BULK,
            json!({"users": [row("b4@x.io"), row("B1@X.IO"), bad_team, row("B4@X.IO")]}),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    let d = &body["data"];
    assert_eq!(d[0]["success"], true);
    assert_eq!(d[1]["error"], "User email=B1@X.IO already exists");
    assert_eq!(d[1]["teams"], Value::Null);
    assert_eq!(d[2]["error"], "Team id=team-nope does not exist");
    assert_eq!(d[3]["error"], "Duplicate user_email in request: B4@X.IO");
    assert_eq!(
        body["meta"],
        json!({"total_requested": 4, "created": 1, "failed": 3})
    );
    // Failed rows carry made-up ids that exist nowhere.
    for i in 1..4 {
        let id = d[i]["user_id"].as_str().unwrap();
        assert!(!id.is_empty());
        assert!(emu.user(id).is_none());
    }
    assert_eq!(emu.user_count(), before + 1);
    assert!(
        emu.users_with_email("b5@x.io").is_empty(),
        "not even in the valid team"
    );
    assert_eq!(emu.users_with_email("b4@x.io").len(), 1);
    assert_eq!(emu.stats().bulk_rows_failed, 3);
}

#[tokio::test]
async fn bulk_validation_is_problem_json() {
    let (emu, api) = start(EmulatorConfig::default()).await;
    let mut extra = row("b6@x.io");
    extra["nickname"] = json!("Sixy");
    let (s, ct, body) = raw_post(&api, BULK, json!({"users": [extra]})).await;
    assert_eq!((s, ct.as_str()), (422, "application/problem+json"));
    assert_eq!(
        body,
        json!({"type": "urn:litellm:error:invalid-request-body", "title": "Invalid request body",
               "status": 422, "detail": "users.0.nickname: Extra inputs are not permitted"})
    );
    let mut invite = row("b7@x.io");
    invite["send_invite_email"] = json!(true);
    let (s, _, body) = raw_post(&api, BULK, json!({"users": [invite]})).await;
    assert_eq!(s, 422);
    assert_eq!(
        body["detail"],
        "users.0.send_invite_email: Value error, send_invite_email is not supported on /management/v1/users/bulk; invite users separately"
    );
    let (s, _, body) = raw_post(&api, BULK, json!({"users": []})).await;
    assert_eq!(s, 422);
    assert_eq!(
        body["detail"],
        "users: Value should have at least 1 item after validation, not 0"
    );
    assert!(emu.users_with_email("b6@x.io").is_empty());
    assert!(emu.users_with_email("b7@x.io").is_empty());

    let (s, ct, body) = raw_post(
        &api.clone().with_key("sk-wrong-key"),
        BULK,
        json!({"users": [row("b1@x.io")]}),
    )
    .await;
    assert_eq!((s, ct.as_str()), (401, "application/json"));
    assert_eq!(body["error"]["type"], "token_not_found_in_db");
    assert!(body["error"]["message"].as_str().unwrap().contains(
        "Key Hash (Token) =fa15715de513b67c4e7f1d37f1ee57fa9aa172a4f3218804114b34df5044a3be"
    ));
}

#[tokio::test]
async fn bulk_keys_and_team_admins() {
    let (emu, api) = start(EmulatorConfig::default()).await;
    let mut keyed = row("b8@x.io");
    keyed["auto_create_key"] = json!(true);
    let mut admin = row("b9@x.io");
    admin["teams"] = json!([{"team_id": DEV_TEST_TEAM_ID, "user_role": "admin"}]);
    let (s, body) = api.post(BULK, json!({"users": [keyed, admin]})).await;
    assert_eq!(s, 200, "{body}");
    assert!(body["data"][0]["key"].as_str().unwrap().starts_with("sk-"));
    assert_eq!(body["data"][1]["teams"], json!([DEV_TEST_TEAM_ID]));
    let admin_id = body["data"][1]["user_id"].as_str().unwrap();
    assert_eq!(
        emu.team_role(DEV_TEST_TEAM_ID, admin_id).as_deref(),
        Some("admin")
    );
    assert_eq!(emu.users_with_email("b8@x.io")[0].key_count, 1);
}

#[tokio::test]
async fn bulk_is_absent_in_1_80() {
    let (emu, api) = start(EmulatorConfig::v1_80()).await;
    let (s, body) = api.post(BULK, json!({"users": [row("b1@x.io")]})).await;
    assert_eq!((s, body), (404, json!({"detail": "Not Found"})));
    assert!(emu.users_with_email("b1@x.io").is_empty());
}

#[tokio::test]
async fn user_new_drops_admin_team_objects_and_keeps_team_budgets() {
    let (emu, api) = start(EmulatorConfig::default()).await;
    let (s, body) = api
        .post(
            "/user/new",
            json!({"user_email": "obj1@x.io", "user_role": "internal_user", "max_budget": 50.0,
                   "teams": [{"team_id": DEV_TEST_TEAM_ID, "user_role": "admin"}],
                   "auto_create_key": false}),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["teams"], json!([]));
    assert_eq!(
        (body["key"].clone(), body["created_at"].clone()),
        (json!(""), Value::Null)
    );
    let id = body["user_id"].as_str().unwrap();
    assert_eq!(emu.team_role(DEV_TEST_TEAM_ID, id), None);

    let (s, body) = api
        .post(
            "/user/new",
            json!({"user_email": "obj2@x.io", "auto_create_key": false,
                   "teams": [{"team_id": DEV_TEST_TEAM_ID, "user_role": "user", "max_budget_in_team": 5.0}]}),
        )
        .await;
    assert_eq!((s, body["teams"].clone()), (200, json!([DEV_TEST_TEAM_ID])));
    let id = body["user_id"].as_str().unwrap();
    let (_, team) = api
        .get(&format!("/team/info?team_id={DEV_TEST_TEAM_ID}"))
        .await;
    let row = team["team_memberships"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["user_id"] == id)
        .unwrap();
    assert_eq!(row["budget_source"], "custom");
    assert_eq!(row["litellm_budget_table"]["max_budget"], 5.0);
    let (_, plain) = api.new_user("plain@x.io").await;
    assert_eq!(
        plain["teams"],
        Value::Null,
        "no teams requested: null (file 58)"
    );
}

#[tokio::test]
async fn user_update_by_id_email_and_the_traps() {
    let (emu, api) = start(EmulatorConfig::default()).await;
    let (_, u) = api.new_user("obj2@x.io").await;
    let id = u["user_id"].as_str().unwrap();
    let (s, body) = api
        .post(
            "/user/update",
            json!({"user_id": id, "max_budget": 75.0, "budget_duration": "7d",
                   "models": ["gpt-4o-mini"], "user_role": "internal_user_viewer",
                   "metadata": {"k": "v2"}, "user_alias": "Updated Two"}),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["user_id"], id);
    assert_eq!(body["data"]["user_role"], "internal_user_viewer");
    assert_eq!(body["data"]["max_budget"], 75.0);
    let (_, info) = api.get(&format!("/user/info?user_id={id}")).await;
    assert_eq!(info["user_info"]["user_alias"], "Updated Two");
    assert_eq!(info["user_info"]["models"], json!(["gpt-4o-mini"]));
    assert_eq!(info["user_info"]["user_email"], "obj2@x.io", "untouched");

    let (s, body) = api
        .post(
            "/user/update",
            json!({"user_email": "obj2@x.io", "user_alias": "By Email"}),
        )
        .await;
    assert_eq!(
        (s, body["data"]["user_alias"].clone()),
        (200, json!("By Email"))
    );
    assert_eq!(body["data"]["max_budget"], 75.0, "other fields kept");

    // Other case: a second user is created, yet the answer is a bogus 400.
    let (s, body) = api
        .post(
            "/user/update",
            json!({"user_email": "OBJ2@X.IO", "user_alias": "Upper"}),
        )
        .await;
    assert_eq!(s, 400);
    assert_eq!(
        body,
        json!({"error": {"message": "Authentication Error, 'LiteLLM_UserTable' object has no attribute 'get'",
                         "type": "auth_error", "param": "None", "code": "400"}})
    );
    let twins = emu.users_with_email("obj2@x.io");
    assert_eq!(twins.len(), 2);
    assert_eq!(twins[1].user_email.as_deref(), Some("OBJ2@X.IO"));
    assert_eq!(twins[1].user_role, None);
    assert_eq!(
        emu.user(id).unwrap().user_alias.as_deref(),
        Some("By Email")
    );

    let (s, _) = api
        .post(
            "/user/update",
            json!({"user_email": "ghost@x.io", "user_alias": "Ghost"}),
        )
        .await;
    assert_eq!(s, 400);
    assert_eq!(emu.users_with_email("ghost@x.io").len(), 1);

    let (s, body) = api
        .post(
            "/user/update",
            json!({"user_id": "no-such-user", "user_alias": "X"}),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(body["data"]["user_email"], Value::Null);
    assert_eq!(
        emu.user("no-such-user").unwrap().user_alias.as_deref(),
        Some("X")
    );

    let (s, body) = api
        .post("/user/update", json!({"user_alias": "Nobody"}))
        .await;
    assert_eq!(s, 422);
    assert_eq!(
        body,
        json!({"detail": [{"type": "value_error", "loc": ["body"],
                           "msg": "Value error, Either user id or user email must be provided"}]})
    );
}

#[tokio::test]
async fn member_update_admin_budget_and_non_members() {
    let (emu, api) = start(EmulatorConfig::default()).await;
    let member = emu.add_user("m@x.io", &[DEV_TEST_TEAM_ID]);
    let loner = emu.add_user("loner@x.io", &[]);
    let t = DEV_TEST_TEAM_ID;

    let (s, body) = api
        .post(
            "/team/member_update",
            json!({"team_id": t, "user_id": member, "role": "admin"}),
        )
        .await;
    assert_eq!(s, 400);
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .starts_with("Assigning team admins is a premium feature.")
    );
    assert_eq!(emu.team_role(t, &member).as_deref(), Some("user"));

    let (s, body) = api
        .post(
            "/team/member_add",
            json!({"team_id": t, "member": {"role": "admin", "user_id": loner}}),
        )
        .await;
    assert_eq!(s, 400);
    assert!(
        body["detail"]["error"]
            .as_str()
            .unwrap()
            .contains("premium feature")
    );
    assert_eq!(emu.team_role(t, &loner), None);

    let (s, body) = api
        .post(
            "/team/member_update",
            json!({"team_id": t, "user_id": member, "max_budget_in_team": 10.0}),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(
        body,
        json!({"user_id": member, "user_email": null, "team_id": t, "max_budget_in_team": 10.0,
               "tpm_limit": null, "rpm_limit": null, "budget_duration": null, "allowed_models": null,
               "temp_budget_increase": null, "temp_budget_expiry": null})
    );

    let (s, body) = api
        .post(
            "/team/member_update",
            json!({"team_id": "team-nope", "user_id": member, "max_budget_in_team": 10.0}),
        )
        .await;
    assert_eq!(s, 400);
    assert_eq!(
        body,
        json!({"detail": {"error": "Team id=team-nope does not exist in db"}})
    );

    // A budget for a non-member: 200 and a stray membership row, not a roster entry.
    let (s, _) = api
        .post(
            "/team/member_update",
            json!({"team_id": t, "user_id": loner, "max_budget_in_team": 10.0}),
        )
        .await;
    assert_eq!(s, 200);
    let team = emu.team(t).unwrap();
    let stray = team
        .memberships
        .iter()
        .find(|m| m.user_id == loner)
        .unwrap();
    assert_eq!(stray.max_budget_in_team, Some(10.0));
    assert_eq!(emu.team_role(t, &loner), None);

    let (s, body) = api
        .post(
            "/team/member_update",
            json!({"team_id": t, "user_id": loner, "role": "user"}),
        )
        .await;
    assert_eq!(s, 404);
    assert_eq!(
        body["detail"]["error"],
        format!("User {loner} is not a member of team {t}")
    );
}

#[tokio::test]
async fn member_delete_by_id_and_email() {
    let (emu, api) = start(EmulatorConfig::default()).await;
    let t = DEV_TEST_TEAM_ID;
    let a = emu.add_user("a@x.io", &[t]);
    let b = emu.add_user("b@x.io", &[t]);
    let (s, body) = api
        .post("/team/member_delete", json!({"team_id": t, "user_id": a}))
        .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["team_id"], t);
    assert!(
        body["members_with_roles"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["user_id"] != a)
    );
    let (s, _) = api
        .post(
            "/team/member_delete",
            json!({"team_id": t, "user_email": "b@x.io"}),
        )
        .await;
    assert_eq!(s, 200);
    for id in [&a, &b] {
        assert_eq!(emu.team_role(t, id), None);
        assert!(emu.user(id).unwrap().teams.is_empty());
        assert!(
            emu.team(t)
                .unwrap()
                .memberships
                .iter()
                .all(|m| &m.user_id != id)
        );
    }
    let (s, body) = api
        .post("/team/member_delete", json!({"team_id": t, "user_id": a}))
        .await;
    assert_eq!(
        (s, body),
        (400, json!({"detail": {"error": "User not found in team"}}))
    );
    let (s, body) = api
        .post(
            "/team/member_delete",
            json!({"team_id": "team-nope", "user_id": a}),
        )
        .await;
    assert_eq!(
        (s, body),
        (
            400,
            json!({"detail": {"error": "Team id=team-nope does not exist in db"}})
        )
    );
    let (s, body) = api.post("/team/member_delete", json!({"team_id": t})).await;
    assert_eq!(s, 422);
    assert_eq!(body["detail"][0]["loc"], json!(["body"]));
    assert!(body["detail"][0].get("input").is_none());
}

#[tokio::test]
async fn user_delete_cascade_and_partial_failure() {
    let (emu, api) = start(EmulatorConfig::default()).await;
    let t = DEV_TEST_TEAM_ID;
    let gone = emu.add_user("gone@x.io", &[t]);
    let (_, inv) = api.post("/invitation/new", json!({"user_id": gone})).await;
    assert_eq!(emu.invitation_counts(&gone).stored, 1);
    let (s, body) = api.post("/user/delete", json!({"user_ids": [gone]})).await;
    assert_eq!((s, body), (200, json!(1)));
    let (s, body) = api
        .get(&format!(
            "/invitation/info?invitation_id={}",
            inv["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(
        (s, body),
        (
            400,
            json!({"detail": {"error": "Invitation id does not exist in the database."}})
        )
    );
    let counts = emu.invitation_counts(&gone);
    assert_eq!((counts.stored, counts.live, counts.total), (0, 0, 1));
    assert!(
        emu.team(t)
            .unwrap()
            .memberships
            .iter()
            .all(|m| m.user_id != gone)
    );
    let (s, body) = api.post("/user/delete", json!({"user_ids": [gone]})).await;
    assert_eq!(s, 404);
    assert_eq!(
        body["detail"]["error"],
        format!("User not found, passed user_id={gone}")
    );

    // Known + unknown: 404, but the known user is already off the roster; the rest remains.
    let kept = emu.add_user("kept@x.io", &[t]);
    let (s, body) = api
        .post("/user/delete", json!({"user_ids": [kept, "never-existed"]}))
        .await;
    assert_eq!(s, 404);
    assert_eq!(
        body["detail"]["error"],
        "User not found, passed user_id=never-existed"
    );
    assert_eq!(emu.team_role(t, &kept), None);
    let row = emu.user(&kept).expect("row remains");
    assert_eq!(row.teams, vec![t.to_string()]);
    assert!(
        emu.team(t)
            .unwrap()
            .memberships
            .iter()
            .any(|m| m.user_id == kept)
    );
}

#[tokio::test]
async fn invitation_delete_and_counts() {
    let (emu, api) = start(EmulatorConfig::default()).await;
    let id = emu.add_user("i@x.io", &[]);
    let (_, a) = api.post("/invitation/new", json!({"user_id": id})).await;
    let (_, _b) = api.post("/invitation/new", json!({"user_id": id})).await;
    let a_id = a["id"].as_str().unwrap().to_string();
    let (s, body) = api
        .post("/invitation/delete", json!({"invitation_id": a_id}))
        .await;
    assert_eq!((s, &body), (200, &a));
    let (s, body) = api
        .post("/invitation/delete", json!({"invitation_id": a_id}))
        .await;
    assert_eq!(
        (s, body),
        (
            400,
            json!({"detail": {"error": "Invitation id does not exist in the database."}})
        )
    );
    let c = emu.invitation_counts(&id);
    assert_eq!((c.stored, c.live, c.total), (1, 1, 2));
    emu.set_clock_offset(chrono::Duration::days(9));
    assert_eq!(emu.invitation_counts(&id).live, 0, "expired");

    let http = reqwest::Client::new();
    let counts: Value = http
        .get(format!(
            "{}/_emulator/invitation_counts?user_id={id}",
            emu.url()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(counts, json!({"stored": 1, "live": 0, "total": 2}));
    let all: Value = http
        .get(format!("{}/_emulator/counts", emu.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(all["users"], emu.user_count());
    assert_eq!(all["invitations"], 1);
    let team: Value = http
        .get(format!(
            "{}/_emulator/team?team_id={DEV_TEST_TEAM_ID}",
            emu.url()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(team["members"][0]["user_id"], DEFAULT_USER_ID);
    assert_eq!(team["members"][0]["role"], "admin");
}

#[tokio::test]
async fn bulk_faults_like_other_writes() {
    let faults = |f: FaultConfig| EmulatorConfig {
        faults: f,
        ..EmulatorConfig::default()
    };
    let (emu, api) = start(faults(FaultConfig {
        fail_before_commit: 1.0,
        ..FaultConfig::default()
    }))
    .await;
    let (s, _) = api.post(BULK, json!({"users": [row("f1@x.io")]})).await;
    assert_eq!(s, 500);
    assert!(emu.users_with_email("f1@x.io").is_empty());

    let (emu, api) = start(faults(FaultConfig {
        fail_after_commit: 1.0,
        ..FaultConfig::default()
    }))
    .await;
    let (s, _) = api.post(BULK, json!({"users": [row("f2@x.io")]})).await;
    assert_eq!(s, 500);
    assert_eq!(
        emu.users_with_email("f2@x.io").len(),
        1,
        "answer lost, rows stored"
    );

    let (emu, api) = start(faults(FaultConfig {
        overload: 1.0,
        retry_after_secs: 3,
        ..FaultConfig::default()
    }))
    .await;
    let resp = api
        .http
        .post(format!("{}{BULK}", api.base))
        .bearer_auth(&api.key)
        .json(&json!({"users": [row("f3@x.io")]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 503);
    assert_eq!(resp.headers()["retry-after"], "3");
    assert!(emu.users_with_email("f3@x.io").is_empty());

    let (emu, api) = start(faults(FaultConfig {
        drop_after_commit: 1.0,
        ..FaultConfig::default()
    }))
    .await;
    let err = api
        .http
        .post(format!("{}{BULK}", api.base))
        .bearer_auth(&api.key)
        .json(&json!({"users": [row("f4@x.io")]}))
        .send()
        .await;
    assert!(err.is_err(), "connection dropped");
    assert_eq!(emu.users_with_email("f4@x.io").len(), 1);
    assert_eq!(emu.stats().faults.drop_after_commit, 1);
}

#[tokio::test]
async fn bulk_costs_a_few_single_writes_in_capacity_mode() {
    let cfg = EmulatorConfig {
        capacity: Some(4),
        ..EmulatorConfig::default()
    };
    let (emu, api) = start(cfg).await;
    let users: Vec<Value> = (0..200).map(|i| row(&format!("cap{i}@x.io"))).collect();
    let started = Instant::now();
    let (s, body) = api.post(BULK, json!({"users": users})).await;
    let elapsed = started.elapsed();
    assert_eq!(s, 200);
    assert_eq!(body["meta"]["created"], 200);
    // 25 ms + 200 × 0.5 ms = 125 ms (recorded: 0.13 s), far from 200 × 25 ms.
    assert!(elapsed >= Duration::from_millis(120), "{elapsed:?}");
    assert!(elapsed < Duration::from_millis(1500), "{elapsed:?}");
    assert_eq!(emu.user_count(), 201);
}
