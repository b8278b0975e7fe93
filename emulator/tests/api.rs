//! Users, duplicates, listing, auth and deletion, per version.

mod common;

use common::start;
use litellm_emulator::{
    ApiKey, DEFAULT_USER_ID, DEV_TEST_TEAM_ID, EmulatorConfig, RESEARCH_TEAM_ID,
};
use serde_json::{Value, json};

fn v80() -> EmulatorConfig {
    EmulatorConfig::v1_80()
}

#[tokio::test]
async fn happy_path_user_invitation_token() {
    let (emu, api) = start(EmulatorConfig::default()).await;
    let (s, user) = api
        .post(
            "/user/new",
            json!({"user_email": "alice@company.com", "user_role": "internal_user",
                   "teams": [DEV_TEST_TEAM_ID]}),
        )
        .await;
    assert_eq!(s, 200, "{user}");
    assert!(user["key"].as_str().unwrap().starts_with("sk-"));
    assert_eq!(user["teams"], json!([DEV_TEST_TEAM_ID]));
    assert_eq!(user["user_role"], "internal_user");
    assert!(user["created_at"].as_str().unwrap().ends_with("000Z"));
    let user_id = user["user_id"].as_str().unwrap();

    let (s, no_key) = api.new_user("bob@company.com").await;
    assert_eq!((s, no_key["key"].clone()), (200, json!("")));
    assert_eq!(emu.stats().keys_created, 1);

    let (s, inv) = api
        .post("/invitation/new", json!({"user_id": user_id}))
        .await;
    assert_eq!(s, 200, "{inv}");
    assert_eq!(inv["is_accepted"], false);
    assert_eq!(inv["created_by"], DEFAULT_USER_ID);
    let id = inv["id"].as_str().unwrap();
    let rec = &emu.invitations()[0];
    assert_eq!(rec.expires_at - rec.created_at, chrono::Duration::days(7));

    let (s, info) = api
        .get(&format!("/invitation/info?invitation_id={id}"))
        .await;
    assert_eq!((s, &info), (200, &inv));
    let (s, tok) = api
        .get(&format!("/onboarding/get_token?invite_link={id}"))
        .await;
    assert_eq!(s, 200, "{tok}");
    assert_eq!(tok["user_email"], "alice@company.com");
    assert!(
        !emu.invitations()[0].is_accepted,
        "1.109 does not accept on open"
    );

    let users = emu.users();
    let alice = users.iter().find(|u| u.user_id == user_id).unwrap();
    assert_eq!(alice.teams, vec![DEV_TEST_TEAM_ID.to_string()]);
    assert_eq!(emu.stats().count("/user/new"), 2);
}

#[tokio::test]
async fn duplicate_email_is_409_new_and_400_old() {
    let (_emu, api) = start(EmulatorConfig::default()).await;
    assert_eq!(api.new_user("alice@company.com").await.0, 200);
    let (s, body) = api.new_user("  Alice@Company.com ").await;
    assert_eq!(s, 409);
    assert_eq!(
        body,
        json!({"error": {"message": "{'error': 'User with email alice@company.com already exists'}",
                         "type": "internal_server_error", "param": null, "code": "409"}})
    );

    let (_emu, api) = start(v80()).await;
    assert_eq!(api.new_user("alice@company.com").await.0, 200);
    let (s, body) = api.new_user("ALICE@company.com").await;
    assert_eq!(s, 400);
    assert_eq!(body["error"]["param"], "None");
    assert_eq!(body["error"]["code"], "400");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("already exists")
    );
}

#[tokio::test]
async fn emails_are_stored_as_given_and_matched_on_that_string() {
    let (emu, api) = start(EmulatorConfig::default()).await;
    assert_eq!(api.new_user("Anna@Bücher.example").await.0, 200);
    let stored: Vec<_> = emu
        .users()
        .into_iter()
        .filter_map(|u| u.user_email)
        .collect();
    assert_eq!(stored, ["Anna@Bücher.example"]);
    // The list matches the stored string, case-insensitively: not its punycode spelling.
    let (_, unicode) = api.get("/user/list?user_email=anna%40b%C3%BCcher").await;
    assert_eq!(unicode["total"], 1);
    let (_, puny) = api
        .get("/user/list?user_email=anna%40xn--bcher-kva.example")
        .await;
    assert_eq!(puny["total"], 0);
    // The duplicate check is an equality of the stored string (case aside): the other
    // spelling of the domain is a new user.
    assert_eq!(api.new_user("anna@bücher.example").await.0, 409);
    assert_eq!(api.new_user("anna@xn--bcher-kva.example").await.0, 200);
}

#[tokio::test]
async fn duplicate_user_id_conflicts_new_and_upserts_old() {
    let body = json!({"user_id": "u-1", "user_email": "a@x.io", "user_role": "internal_user"});
    let again = json!({"user_id": "u-1", "user_email": "b@x.io", "user_role": "internal_user"});

    let (_emu, api) = start(EmulatorConfig::default()).await;
    assert_eq!(api.post("/user/new", body.clone()).await.0, 200);
    let (s, err) = api.post("/user/new", again.clone()).await;
    assert_eq!(s, 409);
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("User with id u-1 already exists")
    );

    let (emu, api) = start(v80()).await;
    assert_eq!(api.post("/user/new", body).await.0, 200);
    let (s, resp) = api.post("/user/new", again).await;
    assert_eq!(s, 200, "{resp}");
    assert!(resp["key"].as_str().unwrap().starts_with("sk-"));
    let row = emu
        .users()
        .into_iter()
        .find(|u| u.user_id == "u-1")
        .unwrap();
    assert_eq!(row.user_email.as_deref(), Some("a@x.io"), "row unchanged");
    assert_eq!(row.key_count, 2);
    assert_eq!(emu.stats().keys_created, 2);
}

#[tokio::test]
async fn unknown_team_is_dropped() {
    let req = json!({"user_email": "bob@company.com", "user_role": "internal_user",
                     "teams": ["team-does-not-exist", RESEARCH_TEAM_ID]});
    let (emu, api) = start(EmulatorConfig::default()).await;
    let (s, body) = api.post("/user/new", req.clone()).await;
    assert_eq!(s, 200);
    assert_eq!(body["teams"], json!([RESEARCH_TEAM_ID]));
    let (_, only_bad) = api
        .post(
            "/user/new",
            json!({"user_email": "c@x.io", "teams": ["nope"]}),
        )
        .await;
    assert_eq!(only_bad["teams"], json!([]));
    let (_, no_teams) = api.new_user("d@x.io").await;
    assert_eq!(no_teams["teams"], Value::Null);
    assert_eq!(emu.users().len(), 4);

    let (emu, api) = start(v80()).await;
    let (s, body) = api.post("/user/new", req).await;
    assert_eq!((s, body["teams"].clone()), (200, Value::Null));
    let bob = emu.users_with_email("bob@company.com").remove(0);
    assert_eq!(bob.teams, vec![RESEARCH_TEAM_ID.to_string()]);
}

#[tokio::test]
async fn user_list_is_a_substring_match() {
    let (_emu, api) = start(EmulatorConfig::default()).await;
    for e in ["alice@company.com", "alicia@company.com", "bob@company.com"] {
        assert_eq!(api.new_user(e).await.0, 200);
    }
    let (s, body) = api.get("/user/list?user_email=ALI").await;
    assert_eq!(s, 200);
    assert_eq!(body["total"], 2);
    assert_eq!(
        body["users"][0]["user_email"], "alicia@company.com",
        "newest first"
    );
    let (_, exact) = api.get("/user/list?user_email=alice%40company.com").await;
    assert_eq!(exact["total"], 1);
    let (_, none) = api.get("/user/list?user_email=nobody%40x.io").await;
    assert_eq!(
        none,
        json!({"users": [], "total": 0, "page": 1, "page_size": 25, "total_pages": 0})
    );
    let (_, all) = api.get("/user/list?page=1&page_size=2").await;
    assert_eq!(
        (all["total"].clone(), all["total_pages"].clone()),
        (json!(4), json!(2))
    );
    let (_, last) = api.get("/user/list?page=2&page_size=2").await;
    assert_eq!(last["users"][1]["user_id"], DEFAULT_USER_ID);
    assert_eq!(last["users"][1]["user_email"], Value::Null);
    let (s, err) = api.get("/user/list?page_size=101").await;
    assert_eq!(s, 422);
    assert_eq!(err["detail"][0]["loc"], json!(["query", "page_size"]));
    let (_, by_team) = api
        .get(&format!("/user/list?team={DEV_TEST_TEAM_ID}"))
        .await;
    assert_eq!(by_team["total"], 1, "only default_user_id is in Dev-Test");
}

#[tokio::test]
async fn user_info_missing_user_differs_by_version() {
    let (_emu, api) = start(EmulatorConfig::default()).await;
    let (s, body) = api.get("/user/info?user_id=ghost").await;
    assert_eq!(s, 404);
    assert_eq!(body["error"]["message"], "User ghost not found");
    let (s, v2) = api.get("/v2/user/info?user_id=ghost").await;
    assert_eq!(
        (s, v2["error"]["message"].clone()),
        (404, json!("User not found: ghost"))
    );
    let (_, me) = api
        .get(&format!("/v2/user/info?user_id={DEFAULT_USER_ID}"))
        .await;
    assert_eq!(me["user_role"], "proxy_admin");

    let (_emu, api) = start(v80()).await;
    let (s, body) = api.get("/user/info?user_id=ghost").await;
    assert_eq!((s, body["user_info"].clone()), (200, Value::Null));
    assert_eq!(api.get("/v2/user/info?user_id=ghost").await.0, 404);
    let (s, found) = api
        .get(&format!("/user/info?user_id={DEFAULT_USER_ID}"))
        .await;
    assert_eq!(s, 200);
    assert_eq!(found["user_info"]["user_id"], DEFAULT_USER_ID);
    assert_eq!(found["teams"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn auth_and_roles() {
    let mut cfg = EmulatorConfig::default();
    cfg.extra_keys
        .push(ApiKey::internal_user("sk-internal", "intern-1"));
    let (emu, api) = start(cfg).await;
    let (s, body) = api.clone().with_key("sk-wrong-key").get("/user/list").await;
    assert_eq!(
        (s, body["error"]["type"].clone()),
        (401, json!("token_not_found_in_db"))
    );
    assert!(
        !body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("sk-wrong-key")
    );
    let resp = reqwest::Client::new()
        .get(format!("{}/user/list", emu.url()))
        .header("x-litellm-api-key", "sk-1234")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        reqwest::get(format!("{}/user/list", emu.url()))
            .await
            .unwrap()
            .status(),
        401
    );

    let intern = api.clone().with_key("sk-internal");
    let (s, body) = intern.get("/user/list").await;
    assert_eq!(s, 403);
    assert!(body["detail"]["error"].is_string());
    let (s, body) = intern
        .post(
            "/user/new",
            json!({"user_email": "boss@x.io", "user_role": "proxy_admin"}),
        )
        .await;
    assert_eq!(s, 403);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Only proxy admins")
    );
    let (s, _) = api
        .post(
            "/user/new",
            json!({"user_email": "x@x.io", "password": "secret"}),
        )
        .await;
    assert_eq!(s, 422);
}

#[tokio::test]
async fn missing_default_user_breaks_invitations() {
    let cfg = EmulatorConfig {
        default_user: false,
        ..EmulatorConfig::default()
    };
    let (emu, api) = start(cfg).await;
    let uid = emu.add_user("erin@company.com", &[]);
    let (s, body) = api.post("/invitation/new", json!({"user_id": uid})).await;
    assert_eq!(s, 400);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("User id does not exist")
    );
    assert_eq!(
        api.get(&format!("/user/info?user_id={DEFAULT_USER_ID}"))
            .await
            .0,
        404
    );
    let fix =
        json!({"user_id": DEFAULT_USER_ID, "user_role": "proxy_admin", "auto_create_key": false});
    assert_eq!(api.post("/user/new", fix).await.0, 200);
    assert_eq!(
        api.post("/invitation/new", json!({"user_id": uid})).await.0,
        200
    );
}

#[tokio::test]
async fn user_delete_cascades_to_invitations() {
    let (emu, api) = start(EmulatorConfig::default()).await;
    let uid = emu.add_user("fay@company.com", &[DEV_TEST_TEAM_ID]);
    assert_eq!(
        api.post("/invitation/new", json!({"user_id": uid})).await.0,
        200
    );
    let (s, body) = api
        .post("/user/delete", json!({"user_ids": ["ghost"]}))
        .await;
    assert_eq!((s, body["detail"]["error"].is_string()), (404, true));
    assert_eq!(
        api.post("/user/delete", json!({"user_ids": [uid]})).await.0,
        200
    );
    assert!(emu.invitations().is_empty());
    assert!(
        emu.teams()
            .iter()
            .all(|t| t.members.iter().all(|m| m.user_id.as_deref() != Some(&uid)))
    );
}

#[tokio::test]
async fn leaky_proxy_echoes_the_key() {
    let cfg = EmulatorConfig {
        echo_key_in_errors: true,
        ..EmulatorConfig::default()
    };
    let (_emu, api) = start(cfg).await;
    let (s, body) = api
        .clone()
        .with_key("sk-wrong-key-42")
        .get("/user/list")
        .await;
    assert_eq!(s, 401);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("sk-wrong-key-42")
    );
    assert_eq!(api.new_user("a@x.io").await.0, 200);
    let (s, body) = api.new_user("a@x.io").await;
    assert_eq!(s, 409);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .ends_with("Received API Key = sk-1234")
    );
    let (_, body) = api.get("/invitation/info?invitation_id=nope").await;
    assert!(
        body["detail"]["error"]
            .as_str()
            .unwrap()
            .contains("sk-1234")
    );
}
