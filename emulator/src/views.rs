//! JSON shapes of rows, as LiteLLM serialises them.

use serde_json::{Map, Value, json};

use crate::app::ts;
use crate::state::{InvitationRecord, Key, Membership, Team, User};

/// A `LiteLLM_UserTable` row as `/user/list` returns it (`key_count` when `with_key_count`).
pub(crate) fn user_row(u: &User, with_key_count: bool) -> Value {
    let mut v = json!({
        "user_id": u.user_id,
        "user_alias": u.user_alias,
        "team_id": u.team_id,
        "sso_user_id": u.sso_user_id,
        "organization_id": null,
        "object_permission_id": null,
        "password_reset_required": null,
        "last_breach_check_at": null,
        "teams": u.teams,
        "user_role": u.user_role,
        "max_budget": u.max_budget,
        "spend": 0.0,
        "user_email": u.user_email,
        "models": u.models,
        "metadata": u.metadata,
        "max_parallel_requests": null,
        "tpm_limit": null,
        "rpm_limit": null,
        "budget_duration": u.budget_duration,
        "budget_reset_at": u.budget_reset_at.map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string()),
        "allowed_cache_controls": [],
        "policies": [],
        "model_spend": {},
        "model_max_budget": {},
        "created_at": ts(u.created_at),
        "updated_at": ts(u.updated_at),
        "organization_memberships": null,
        "object_permission": null,
    });
    if with_key_count {
        v["key_count"] = json!(u.keys.len());
    }
    v
}

/// The `user_info` object of `/user/info`.
pub(crate) fn user_info_row(u: &User) -> Value {
    let mut v = user_row(u, false);
    v["verified_subjects"] = Value::Null;
    v["litellm_organization_table"] = Value::Null;
    v["organization_memberships"] = json!([]);
    v["invitations_created"] = Value::Null;
    v["invitations_updated"] = Value::Null;
    v["invitations_user"] = Value::Null;
    v["model_max_budget_usage"] = json!({});
    v
}

/// A team row (`/team/new`, `/team/member_add` base).
pub(crate) fn team_base(t: &Team) -> Value {
    json!({
        "team_alias": t.team_alias,
        "team_id": t.team_id,
        "organization_id": null,
        "admins": [],
        "members": [],
        "members_with_roles": t.members,
        "team_member_permissions": t.permissions,
        "metadata": t.metadata,
        "tpm_limit": null,
        "rpm_limit": null,
        "tpd_limit": null,
        "max_budget": t.max_budget,
        "soft_budget": null,
        "budget_duration": null,
        "budget_limits": null,
        "models": t.models,
        "blocked": t.blocked,
        "router_settings": {},
        "access_group_ids": [],
        "default_team_member_models": [],
        "spend": t.spend,
        "max_parallel_requests": null,
        "budget_reset_at": null,
        "model_id": null,
        "model_spend": {},
        "model_max_budget": {},
        "policies": [],
        "allow_team_guardrail_config": false,
        "litellm_model_table": null,
        "object_permission": null,
        "object_permission_id": null,
        "updated_at": ts(t.updated_at),
        "created_at": ts(t.created_at),
    })
}

/// A `LiteLLM_TeamMembership` row without a custom budget.
pub(crate) fn membership(user_id: &str, team_id: &str) -> Value {
    membership_row(
        &Membership {
            user_id: user_id.to_string(),
            budget: None,
        },
        team_id,
        false,
    )
}

/// A `LiteLLM_TeamMembership` row with its budget; `/team/info` adds `budget_source`
/// (`custom` or `none`).
pub(crate) fn membership_row(m: &Membership, team_id: &str, with_source: bool) -> Value {
    let (budget_id, table) = match &m.budget {
        None => (Value::Null, Value::Null),
        Some(b) => (
            json!(b.budget_id),
            json!({
                "budget_id": b.budget_id,
                "soft_budget": null,
                "max_budget": b.max_budget,
                "max_parallel_requests": null,
                "tpm_limit": null,
                "rpm_limit": null,
                "tpd_limit": null,
                "model_max_budget": null,
                "budget_duration": null,
                "allowed_models": [],
                "temp_budget_increase": null,
                "temp_budget_expiry": null,
                "budget_reset_at": null,
                "created_at": ts(b.created_at),
            }),
        ),
    };
    let mut v = json!({
        "user_id": m.user_id,
        "team_id": team_id,
        "budget_id": budget_id,
        "spend": 0.0,
        "total_spend": 0.0,
        "litellm_budget_table": table,
    });
    if with_source {
        v["budget_source"] = json!(if m.budget.is_some() { "custom" } else { "none" });
    }
    v
}

/// A team as `/team/list` returns it: the row plus `team_memberships` (optionally only
/// `only_user`'s) and `keys`.
pub(crate) fn team_listed(t: &Team, only_user: Option<&str>) -> Value {
    let mut v = team_base(t);
    let memberships: Vec<Value> = t
        .memberships
        .iter()
        .filter(|m| only_user.is_none_or(|u| u == m.user_id))
        .map(|m| membership_row(m, &t.team_id, false))
        .collect();
    v["team_memberships"] = json!(memberships);
    v["keys"] = json!([]);
    v
}

/// An `InvitationModel`.
pub(crate) fn invitation(i: &InvitationRecord) -> Value {
    json!({
        "id": i.id,
        "user_id": i.user_id,
        "is_accepted": i.is_accepted,
        "accepted_at": i.accepted_at.map(ts),
        "expires_at": ts(i.expires_at),
        "created_at": ts(i.created_at),
        "created_by": i.created_by,
        "updated_at": ts(i.updated_at),
        "updated_by": i.updated_by,
    })
}

/// A key as `/user/info` lists it.
pub(crate) fn key_info(k: &Key, team_alias: Option<&str>) -> Value {
    let alias = match (&k.team_id, team_alias) {
        (None, _) => json!("None"),
        (Some(_), a) => json!(a),
    };
    json!({
        "token": k.token,
        "key_name": k.key_name,
        "key_alias": null,
        "spend": 0.0,
        "expires": null,
        "models": [],
        "aliases": {},
        "config": {},
        "user_id": k.user_id,
        "team_id": k.team_id,
        "permissions": {},
        "metadata": {},
        "blocked": null,
        "max_budget": null,
        "budget_duration": null,
        "allowed_routes": [],
        "created_at": ts(k.created_at),
        "created_by": null,
        "updated_at": ts(k.created_at),
        "updated_by": null,
        "team_alias": alias,
    })
}

const NEW_USER_DEFAULTS: &str = r#"{
        "key_alias": null, "duration": null, "models": [], "spend": 0.0, "max_budget": null,
        "user_id": null, "team_id": null, "agent_id": null, "max_parallel_requests": null,
        "metadata": {}, "tpm_limit": null, "rpm_limit": null, "budget_duration": null,
        "budget_limits": null, "allowed_cache_controls": [], "config": {}, "permissions": {},
        "model_max_budget": {}, "budget_fallbacks": {}, "model_rpm_limit": null,
        "model_tpm_limit": null, "mcp_rpm_limit": null, "tag_rpm_limit": null,
        "guardrails": null, "policies": null, "prompts": null, "blocked": null, "aliases": {},
        "object_permission": null, "key": "", "tpd_limit": null,
        "default_estimated_output_tokens": null,
        "default_estimated_output_tokens_per_model": null, "budget_id": null,
        "end_user_budget_id": null, "tags": null, "disable_global_guardrails": null,
        "enable_prompt_caching": null, "throttle_on_budget_exceeded": null,
        "enforced_params": null, "allowed_routes": [], "allowed_passthrough_routes": null,
        "denied_passthrough_routes": null, "allowed_vector_store_indexes": null,
        "rpm_limit_type": null, "tpm_limit_type": null,
        "router_settings": {
            "routing_strategy_args": null, "routing_strategy": null, "routing_groups": null,
            "retry_policy": null, "model_group_retry_policy": null,
            "model_group_affinity_config": null, "allowed_fails": null, "cooldown_time": null,
            "num_retries": null, "timeout": null, "max_retries": null, "retry_after": null,
            "fallbacks": null, "context_window_fallbacks": null, "model_group_alias": {},
            "enable_tag_filtering": null, "weights": null, "tag_routing_prefix": null,
            "optional_pre_call_checks": null
        },
        "access_group_ids": [], "key_name": null, "key_type": null, "expires": null,
        "token_id": null, "organization_id": null, "project_id": null,
        "litellm_budget_table": null, "token": null, "created_by": null, "updated_by": null,
        "created_at": null, "updated_at": null, "user_email": null, "user_role": null,
        "teams": null, "user_alias": null
    }"#;

/// The defaults of a `NewUserResponse`: key and budget fields LiteLLM echoes.
pub(crate) fn new_user_template() -> Map<String, Value> {
    let v: Value = serde_json::from_str(NEW_USER_DEFAULTS).unwrap_or_default();
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// Request fields of `/user/new` that are echoed verbatim when present.
pub(crate) const ECHOED_FIELDS: &[&str] = &[
    "key_alias",
    "duration",
    "models",
    "max_budget",
    "team_id",
    "agent_id",
    "max_parallel_requests",
    "metadata",
    "tpm_limit",
    "rpm_limit",
    "budget_duration",
    "budget_limits",
    "allowed_cache_controls",
    "config",
    "permissions",
    "model_max_budget",
    "budget_fallbacks",
    "model_rpm_limit",
    "model_tpm_limit",
    "guardrails",
    "policies",
    "prompts",
    "blocked",
    "aliases",
    "object_permission",
    "tags",
    "user_email",
    "user_role",
    "user_alias",
];
