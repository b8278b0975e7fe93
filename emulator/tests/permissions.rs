//! Team member permissions, replaying `scale/team_member_permissions.json` (1.106.2): a new
//! team lists none, a member's own key request for it is refused with 401, and after
//! `/team/permissions_update` the same request succeeds.

mod common;

use common::start;
use litellm_emulator::EmulatorConfig;
use serde_json::{Value, json};

/// The recorded refusal, with the team id of this run.
fn recorded_refusal(team: &str) -> Value {
    json!({"error": {
        "message": format!("Team member does not have permissions for endpoint: KeyManagementRoutes.KEY_GENERATE. You only have access to the following endpoints: ['/key/info', '/key/health'] for team {team}. To create keys for this team, please ask your proxy admin to check the team member permission settings and update the settings to allow team member users to create keys."),
        "type": "team_member_permission_error",
        "param": "/key/generate",
        "code": "401"
    }})
}

#[tokio::test]
async fn a_member_creates_keys_for_a_team_only_once_permitted() {
    let (emu, api) = start(EmulatorConfig::default()).await;
    let (s, team) = api
        .post("/team/new", json!({"team_alias": "perm-test"}))
        .await;
    assert_eq!(s, 200);
    assert_eq!(team["team_member_permissions"], json!([]));
    let team_id = team["team_id"].as_str().unwrap().to_string();
    let (s, user) = api
        .post(
            "/user/new",
            json!({"user_email": "perm@example.com", "user_role": "internal_user",
                   "teams": [team_id], "auto_create_key": false}),
        )
        .await;
    assert_eq!(s, 200, "{user}");
    let user_id = user["user_id"].as_str().unwrap();
    let (s, key) = api.post("/key/generate", json!({"user_id": user_id})).await;
    assert_eq!(s, 200, "{key}");
    assert_eq!(key["user_id"], user_id);
    assert_eq!(key["team_id"], Value::Null);
    let member = api.clone().with_key(key["key"].as_str().unwrap());

    let for_team = json!({"team_id": team_id});
    let (s, refused) = member.post("/key/generate", for_team.clone()).await;
    assert_eq!((s, refused), (401, recorded_refusal(&team_id)));

    let (s, listed) = api
        .get(&format!("/team/permissions_list?team_id={team_id}"))
        .await;
    assert_eq!(s, 200);
    assert_eq!(listed["team_member_permissions"], json!([]));
    assert_eq!(listed["all_available_permissions"][0], "/key/generate");
    assert_eq!(
        listed["all_available_permissions"]
            .as_array()
            .unwrap()
            .len(),
        24
    );

    let wanted = json!([
        "/key/generate",
        "/key/update",
        "/key/delete",
        "/key/info",
        "/key/list"
    ]);
    let (s, updated) = api
        .post(
            "/team/permissions_update",
            json!({"team_id": team_id, "team_member_permissions": wanted}),
        )
        .await;
    assert_eq!(s, 200, "{updated}");
    assert_eq!(updated["team_member_permissions"], wanted);
    let (_, info) = api.get(&format!("/team/info?team_id={team_id}")).await;
    assert_eq!(info["team_info"]["team_member_permissions"], wanted);
    assert_eq!(info["team_info"]["team_member_budget_table"], Value::Null);

    let (s, made) = member.post("/key/generate", for_team).await;
    assert_eq!(s, 200, "{made}");
    assert_eq!(
        (&made["team_id"], &made["user_id"]),
        (&json!(team_id), &json!(user_id))
    );
    assert_eq!(emu.user(user_id).unwrap().key_count, 2);
    assert_eq!(
        emu.team(&team_id).unwrap().team_member_permissions,
        wanted
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn permissions_need_the_admin_and_a_known_team() {
    let (_emu, api) = start(EmulatorConfig::default()).await;
    let (s, _) = api.get("/team/permissions_list?team_id=nope").await;
    assert_eq!(s, 404);
    let (s, _) = api
        .post(
            "/team/permissions_update",
            json!({"team_id": "nope", "team_member_permissions": []}),
        )
        .await;
    assert_eq!(s, 404);
    let (s, _) = api
        .clone()
        .with_key("sk-wrong")
        .get("/team/permissions_list?team_id=nope")
        .await;
    assert_eq!(s, 401);
}

#[tokio::test]
async fn the_ui_is_served_unless_disabled() {
    let (emu, _api) = start(EmulatorConfig::default()).await;
    let status = reqwest::get(format!("{}/ui/", emu.url()))
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);
    let cfg = EmulatorConfig {
        admin_ui_disabled: true,
        ..EmulatorConfig::default()
    };
    let (emu, _api) = start(cfg).await;
    let status = reqwest::get(format!("{}/ui/", emu.url()))
        .await
        .unwrap()
        .status();
    assert_eq!(status, 404);
}
