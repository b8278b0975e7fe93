//! The bodies of the proxy's management API that `onboard` sends and reads. Answers are read
//! leniently: unknown fields are ignored (the proxy echoes many).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::types::{InvitationId, Role, TeamId, UserId};

/// The body of `POST /user/new`, and one row of `POST /management/v1/users/bulk`: only fields
/// that endpoint accepts (an unknown one is a 422 for the whole request, file 39); never
/// `send_invite_email` (refused, file 40); teams as plain ids (a team object can make a team
/// admin there, file 42).
#[derive(Debug, Serialize)]
pub struct NewUser<'a> {
    /// The person's email as the CSV spells it (the proxy stores it as sent).
    pub user_email: &'a str,
    /// Always sent: without it the role is stored as NULL.
    pub user_role: Role,
    /// Team ids (never aliases).
    pub teams: Vec<&'a str>,
    /// Always false: people create their own keys after onboarding.
    pub auto_create_key: bool,
    /// Display name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_alias: Option<&'a str>,
    /// The row's metadata, with `created_by_tool` marking users created by this tool.
    pub metadata: serde_json::Value,
    /// Budget in dollars.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_budget: Option<f64>,
    /// When the budget resets (`30d`, `1mo`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budget_duration: Option<&'a str>,
    /// Models the user may use (`["no-default-models"]`: the teams' only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub models: Option<&'a [String]>,
}

/// The fields of the `/user/new` answer we rely on.
#[derive(Debug, Deserialize)]
pub struct CreatedUser {
    /// The new user's id.
    pub user_id: UserId,
    /// Teams actually joined (1.109); null on 1.80.
    #[serde(default)]
    pub teams: Option<Vec<String>>,
}

/// An invitation row (`InvitationModel`).
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Invitation {
    /// The invitation id: the secret in the link.
    pub id: InvitationId,
    /// Whom it is for.
    pub user_id: UserId,
    /// Opened (1.80) or password set (1.109).
    #[serde(default)]
    pub is_accepted: bool,
    /// When it was accepted.
    #[serde(default)]
    pub accepted_at: Option<DateTime<Utc>>,
    /// Creation + 7 days; valid until the end of that UTC day.
    pub expires_at: DateTime<Utc>,
    /// When it was created.
    #[serde(default)]
    pub created_at: Option<DateTime<Utc>>,
}

/// A user row as `/user/list` returns it.
#[derive(Clone, Debug, Deserialize)]
pub struct UserRow {
    /// The user's id.
    pub user_id: UserId,
    /// The stored email (may differ in case or spaces, or be null).
    #[serde(default)]
    pub user_email: Option<String>,
    /// Team ids the user belongs to.
    #[serde(default)]
    pub teams: Option<Vec<String>>,
    /// The user's role.
    #[serde(default)]
    pub user_role: Option<String>,
    /// Display name.
    #[serde(default)]
    pub user_alias: Option<String>,
    /// Budget in dollars.
    #[serde(default)]
    pub max_budget: Option<f64>,
    /// When the budget resets.
    #[serde(default)]
    pub budget_duration: Option<String>,
    /// Models the user may use.
    #[serde(default)]
    pub models: Option<Vec<String>>,
    /// Free-form metadata.
    #[serde(default)]
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
    /// How many virtual keys the user has (`/user/list` counts them).
    #[serde(default)]
    pub key_count: Option<u64>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct UserList {
    #[serde(default)]
    pub(crate) users: Vec<UserRow>,
    #[serde(default)]
    pub(crate) total_pages: Option<u64>,
    #[serde(default)]
    pub(crate) total: Option<u64>,
}

/// A team as `/v2/team/list` or `/team/info` describes it.
#[derive(Clone, Debug, Deserialize)]
pub struct Team {
    /// The team id.
    pub team_id: TeamId,
    /// Its display name (not unique).
    #[serde(default)]
    pub team_alias: Option<String>,
    /// What decides whether its members can work.
    #[serde(flatten)]
    pub state: TeamState,
    /// Its members and their team roles, as read with the team (`members_with_roles`).
    #[serde(default, rename = "members_with_roles")]
    pub members: Vec<TeamMember>,
}

impl Team {
    /// The alias if it has one, else the id: how messages name the team.
    pub fn name(&self) -> &str {
        self.team_alias.as_deref().unwrap_or(self.team_id.as_str())
    }
}

/// What decides whether a team's members can work, as the team's row tells it. A field an
/// older proxy does not send is `None` (nothing is concluded from it). The roster is
/// [`Team::members`].
#[derive(Clone, Debug, Default, Deserialize)]
pub struct TeamState {
    /// The management routes non-admin members may call (`[]` on a team from `/team/new`).
    #[serde(default)]
    pub team_member_permissions: Option<Vec<String>>,
    /// The team is blocked: its keys are refused.
    #[serde(default)]
    pub blocked: Option<bool>,
    /// Spend so far, in dollars.
    #[serde(default)]
    pub spend: Option<f64>,
    /// The team's budget, in dollars.
    #[serde(default)]
    pub max_budget: Option<f64>,
    /// The models members may use (empty: every model of the proxy).
    #[serde(default)]
    pub models: Option<Vec<String>>,
    /// The budget each member gets in the team, when one is set.
    #[serde(default)]
    pub team_member_budget_table: Option<MemberBudget>,
}

/// `team_member_budget_table`: the budget each member gets in a team.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct MemberBudget {
    /// Dollars per member.
    #[serde(default)]
    pub max_budget: Option<f64>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct TeamList {
    #[serde(default)]
    pub(crate) teams: Vec<Team>,
    #[serde(default)]
    pub(crate) total_pages: Option<u64>,
    #[serde(default)]
    pub(crate) total: Option<u64>,
}

/// A page of a paginated list (`/user/list`, `/v2/team/list`: 100 rows a page).
pub(crate) trait Page: serde::de::DeserializeOwned {
    /// What a row is.
    type Row;
    /// The query that pages by a unique key (empty where none is known to be taken).
    const SORT: &'static [(&'static str, &'static str)];
    /// A row's unique id.
    fn id(row: &Self::Row) -> &str;
    /// The rows, the page count and the total the proxy reports.
    fn into_rows(self) -> (Vec<Self::Row>, Option<u64>, Option<u64>);
}

/// `/user/list` paged by `user_id`, the order in which every user shows exactly once.
pub(crate) const USERS_BY_ID: &[(&str, &str)] = &[("sort_by", "user_id"), ("sort_order", "asc")];

impl Page for UserList {
    type Row = UserRow;
    const SORT: &'static [(&'static str, &'static str)] = USERS_BY_ID;
    fn id(row: &UserRow) -> &str {
        row.user_id.as_str()
    }
    fn into_rows(self) -> (Vec<UserRow>, Option<u64>, Option<u64>) {
        (self.users, self.total_pages, self.total)
    }
}

impl Page for TeamList {
    type Row = Team;
    // Which sort keys `/v2/team/list` takes is not recorded: its own order, checked.
    const SORT: &'static [(&'static str, &'static str)] = &[];
    fn id(row: &Team) -> &str {
        row.team_id.as_str()
    }
    fn into_rows(self) -> (Vec<Team>, Option<u64>, Option<u64>) {
        (self.teams, self.total_pages, self.total)
    }
}

/// What `/.well-known/litellm-ui-config` tells about links.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct UiConfig {
    /// A path prefix the proxy (and its UI) runs under.
    #[serde(default)]
    pub server_root_path: Option<String>,
    /// The base URL the proxy believes it has.
    #[serde(default)]
    pub proxy_base_url: Option<String>,
    /// SSO is configured: password links make little sense.
    #[serde(default)]
    pub sso_configured: Option<bool>,
}

/// A member of a team, from `/team/info` `members_with_roles`.
#[derive(Clone, Debug, Deserialize)]
pub struct TeamMember {
    /// The member's user id (may be null in odd rows).
    #[serde(default)]
    pub user_id: Option<UserId>,
    /// The member's email, if the proxy has one.
    #[serde(default)]
    pub user_email: Option<String>,
    /// `user` or `admin` (a team admin; the team's creator is one).
    #[serde(default)]
    pub role: Option<String>,
}

/// The team role of a team admin.
pub const TEAM_ADMIN: &str = "admin";

/// True for a membership `onboard` never removes: a team admin's (`role`), and
/// `default_user_id`'s (the master key's identity, the creator of teams made with it).
pub fn is_protected_member(user_id: &UserId, role: &str) -> bool {
    role == TEAM_ADMIN || user_id.is_master_key_user()
}

impl TeamMember {
    /// True for a member `onboard` never removes ([`is_protected_member`]).
    pub fn is_admin(&self) -> bool {
        match &self.user_id {
            Some(id) => is_protected_member(id, self.role.as_deref().unwrap_or_default()),
            None => self.is_team_admin(),
        }
    }

    /// True for a member whose team role is `admin`.
    pub fn is_team_admin(&self) -> bool {
        self.role.as_deref() == Some(TEAM_ADMIN)
    }
}
