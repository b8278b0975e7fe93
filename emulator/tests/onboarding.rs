//! Invitations, onboarding, teams, discovery and the HTTP control API.

mod common;

use common::{Api, start};
use litellm_emulator::{
    ApiVersion, DEFAULT_USER_ID, DEV_TEST_TEAM_ID, EmulatorConfig, RESEARCH_TEAM_ID,
};
use serde_json::json;

fn v80() -> EmulatorConfig {
    EmulatorConfig::v1_80()
}

#[tokio::test]
async fn get_token_expiry_follows_the_emulator_clock() {
    let (emu, api) = start(EmulatorConfig::default()).await;
    let uid = emu.add_user("carol@company.com", &[]);
    let (_, inv) = api.post("/invitation/new", json!({"user_id": uid})).await;
    let link = format!(
        "/onboarding/get_token?invite_link={}",
        inv["id"].as_str().unwrap()
    );
    emu.set_clock_offset(chrono::Duration::days(9));
    let (s, body) = api.get(&link).await;
    assert_eq!(s, 401);
    assert_eq!(
        body,
        json!({"detail": {"error": "Invitation link has expired."}})
    );
    emu.set_clock_offset(chrono::Duration::zero());
    assert_eq!(api.get(&link).await.0, 200);

    let old = emu
        .add_invitation(&uid, emu.now() - chrono::Duration::days(8))
        .unwrap();
    let (s, _) = api
        .get(&format!("/onboarding/get_token?invite_link={}", old.id))
        .await;
    assert_eq!(s, 401);
    let (s, body) = api.get("/onboarding/get_token?invite_link=nope").await;
    assert_eq!(
        (s, body["detail"]["error"].clone()),
        (401, json!("Invitation link does not exist in db."))
    );
}

async fn invite(api: &Api, emu: &litellm_emulator::Emulator) -> (String, String) {
    let uid = emu.add_user("dora@company.com", &[]);
    let (_, inv) = api.post("/invitation/new", json!({"user_id": uid})).await;
    (uid, inv["id"].as_str().unwrap().to_string())
}

#[tokio::test]
async fn old_version_accepts_on_open_and_allows_reuse() {
    let (emu, api) = start(v80()).await;
    let (uid, id) = invite(&api, &emu).await;
    let link = format!("/onboarding/get_token?invite_link={id}");
    let claim = json!({"invitation_link": id, "user_id": uid, "password": "hunter22"});
    assert_eq!(
        api.post("/onboarding/claim_token", claim.clone()).await.0,
        401
    );
    assert_eq!(api.get(&link).await.0, 200);
    assert!(emu.invitations()[0].is_accepted);
    assert!(emu.invitations()[0].accepted_at.is_some());
    assert_eq!(api.get(&link).await.0, 200, "reuse allowed");
    let (s, row) = api.post("/onboarding/claim_token", claim).await;
    assert_eq!((s, row["user_id"].clone()), (200, json!(uid)));
}

#[tokio::test]
async fn new_version_accepts_on_claim() {
    let (emu, api) = start(EmulatorConfig::default()).await;
    let (uid, id) = invite(&api, &emu).await;
    let link = format!("/onboarding/get_token?invite_link={id}");
    let (_, tok) = api.get(&link).await;
    assert!(!emu.invitations()[0].is_accepted);
    let claim = json!({"invitation_link": id, "user_id": uid, "password": "hunter22"});
    let anon = Api::new(&emu).with_key("not-the-token");
    assert_eq!(
        anon.post("/onboarding/claim_token", claim.clone()).await.0,
        401
    );
    let holder = Api::new(&emu).with_key(tok["token"].as_str().unwrap());
    let (s, body) = holder.post("/onboarding/claim_token", claim.clone()).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["user"]["user_id"], json!(uid));
    let inv = &emu.invitations()[0];
    assert!(inv.is_accepted && inv.accepted_at.is_some());
    assert!(emu.users_with_email("dora@company.com")[0].has_password);
    let (s, body) = api.get(&link).await;
    assert_eq!(s, 401);
    assert_eq!(
        body["detail"]["error"],
        "Invitation link has already been used."
    );

    let (_, id2) = invite(&api, &emu).await;
    assert!(emu.accept_invitation(&id2));
    assert_eq!(
        api.get(&format!("/onboarding/get_token?invite_link={id2}"))
            .await
            .0,
        401
    );
}

#[tokio::test]
async fn team_member_add_cases() {
    let (emu, api) = start(EmulatorConfig::default()).await;
    let uid = emu.add_user("carol@company.com", &[]);
    let add = json!({"team_id": DEV_TEST_TEAM_ID, "member": {"role": "user", "user_id": uid}});
    let (s, body) = api.post("/team/member_add", add.clone()).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["updated_users"][0]["teams"], json!([DEV_TEST_TEAM_ID]));
    let (s, body) = api.post("/team/member_add", add).await;
    assert_eq!(s, 400);
    assert_eq!(body["error"]["type"], "team_member_already_in_team");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("User already in team.")
    );

    let by_email = json!({"team_id": RESEARCH_TEAM_ID,
                          "member": [{"role": "user", "user_email": "dave@company.com"}]});
    let (s, body) = api.post("/team/member_add", by_email).await;
    assert_eq!(s, 200, "{body}");
    let dave = emu.users_with_email("dave@company.com");
    assert_eq!(dave.len(), 1, "unknown email creates a user");
    assert_eq!(dave[0].teams, vec![RESEARCH_TEAM_ID.to_string()]);

    let unknown = json!({"team_id": "t-404", "member": {"role": "user", "user_id": uid}});
    let (s, body) = api.post("/team/member_add", unknown).await;
    assert_eq!(s, 404);
    assert_eq!(
        body,
        json!({"detail": {"error": "Team doesn't exist in db. Team=t-404. Create team via `/team/new` call."}})
    );
    let (s, _) = api
        .post("/team/member_add", json!({"team_id": DEV_TEST_TEAM_ID}))
        .await;
    assert_eq!(s, 422);
}

#[tokio::test]
async fn teams_health_and_discovery() {
    let cfg = EmulatorConfig {
        server_root_path: "/litellm".into(),
        sso_configured: true,
        ..EmulatorConfig::default()
    };
    let (_emu, api) = start(cfg).await;
    let (_, list) = api.get("/team/list").await;
    let aliases: Vec<_> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["team_alias"].clone())
        .collect();
    assert_eq!(aliases, vec![json!("Dev-Test"), json!("Research")]);
    let (s, body) = api.get("/team/info?team_id=nope").await;
    assert_eq!(s, 404);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Team not found, passed team id: nope")
    );
    let (_, v2) = api.get("/v2/team/list?team_alias=dev").await;
    assert_eq!(v2["total"], 1);
    let (_, created) = api.post("/team/new", json!({"team_alias": "Ops"})).await;
    assert_eq!(created["members_with_roles"][0]["user_id"], DEFAULT_USER_ID);

    assert_eq!(api.get("/health/liveliness").await.1, json!("I'm alive!"));
    assert_eq!(
        api.get("/litellm/health/liveliness").await.1,
        json!("I'm alive!")
    );
    assert_eq!(
        api.get("/health/readiness").await.1,
        json!({"status": "healthy", "db": "connected"})
    );
    let (_, ui) = api.get("/.well-known/litellm-ui-config").await;
    assert_eq!(
        (ui["server_root_path"].clone(), ui["sso_configured"].clone()),
        (json!("/litellm"), json!(true))
    );

    let (_emu, api) = start(v80()).await;
    assert_eq!(
        api.get("/health/readiness").await.1["litellm_version"],
        "1.80.0"
    );
    let (_, ui) = api.get("/.well-known/litellm-ui-config").await;
    assert!(ui.get("sso_configured").is_none());
}

#[tokio::test]
async fn http_control_api() {
    let (emu, api) = start(EmulatorConfig::new(ApiVersion::V1_109)).await;
    let (s, made) = api
        .post(
            "/_emulator/users",
            json!({"user_email": "gus@x.io", "teams": [DEV_TEST_TEAM_ID]}),
        )
        .await;
    assert_eq!(s, 200);
    let uid = made["user_id"].as_str().unwrap();
    let (_, users) = api.get("/_emulator/users").await;
    assert!(
        users
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["user_id"] == uid)
    );
    let (_, inv) = api.post("/invitation/new", json!({"user_id": uid})).await;
    let (s, acc) = api
        .post("/_emulator/accept", json!({"invitation_id": inv["id"]}))
        .await;
    assert_eq!((s, acc["is_accepted"].clone()), (200, json!(true)));
    let (_, invs) = api.get("/_emulator/invitations").await;
    assert_eq!(invs[0]["is_accepted"], true);
    let (_, clock) = api
        .post("/_emulator/clock", json!({"offset_seconds": 3600}))
        .await;
    assert_eq!(clock["offset_seconds"], 3600);
    assert_eq!(emu.clock_offset(), chrono::Duration::hours(1));
    let (s, _) = api
        .post("/_emulator/faults", json!({"seed": 1, "overload": 1.0}))
        .await;
    assert_eq!(s, 200);
    assert_eq!(api.new_user("h@x.io").await.0, 503);
    let (_, stats) = api.get("/_emulator/stats").await;
    assert_eq!(stats["faults"]["overload"], 1);
    assert_eq!(stats["per_route"]["/user/new"], 1);
    api.post("/_emulator/reset_stats", json!({})).await;
    assert_eq!(emu.stats().total_requests, 0);
}
