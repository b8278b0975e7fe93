//! The team endpoints: `/team/info`, `/v2/team/list`, `/team/member_add`,
//! `/team/member_update`, `/team/member_delete`, and the members' permissions
//! (`/team/permissions_list`, `/team/permissions_update`).

use reqwest::Method;
use serde::Deserialize;
use serde_json::json;

use crate::proxy::api::{Team, TeamList, TeamMember, TeamState};
use crate::proxy::client::ProxyClient;
use crate::proxy::error::ProxyError;
use crate::types::{TeamId, UserId};

impl ProxyClient {
    /// `POST /team/member_update` setting a member's role. Only for a member just seen on the
    /// team's roster.
    pub async fn update_team_role(
        &self,
        team: &TeamId,
        user_id: &UserId,
        role: &str,
    ) -> Result<(), ProxyError> {
        let body = json!({ "team_id": team, "user_id": user_id, "role": role });
        self.send::<serde_json::Value>(Method::POST, "team/member_update", &[], Some(body))
            .await
            .map(drop)
    }

    /// `POST /team/member_add` by `user_id` (never by email: that would create a user), with a
    /// team role (`user` or `admin`). Returns false when the user was already in the team.
    pub async fn add_team_member_as(
        &self,
        team: &TeamId,
        user_id: &UserId,
        role: &str,
    ) -> Result<bool, ProxyError> {
        let body = json!({ "team_id": team, "member": { "role": role, "user_id": user_id } });
        match self
            .send::<serde_json::Value>(Method::POST, "team/member_add", &[], Some(body))
            .await
        {
            Ok(_) => Ok(true),
            Err(ProxyError::AlreadyMember(_)) => Ok(false),
            Err(e) => Err(e.of_team(team)),
        }
    }

    /// `GET /team/info`: the team, its state and its roster; `None` when it does not exist.
    pub async fn team(&self, team: &TeamId) -> Result<Option<Team>, ProxyError> {
        #[derive(Deserialize)]
        struct Info {
            team_id: TeamId,
            #[serde(default)]
            team_info: Option<Described>,
        }
        #[derive(Deserialize)]
        struct Described {
            #[serde(default)]
            team_alias: Option<String>,
            #[serde(flatten)]
            state: TeamState,
            #[serde(default)]
            members_with_roles: Vec<TeamMember>,
        }
        match self
            .send::<Info>(
                Method::GET,
                "team/info",
                &[("team_id", team.as_str())],
                None,
            )
            .await
        {
            Ok(info) => {
                let (team_alias, state, members) = info
                    .team_info
                    .map(|t| (t.team_alias, t.state, t.members_with_roles))
                    .unwrap_or_default();
                Ok(Some(Team {
                    team_alias,
                    team_id: info.team_id,
                    state,
                    members,
                }))
            }
            Err(ProxyError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `GET /team/permissions_list`: what the team's non-admin members may call.
    pub async fn team_permissions(&self, team: &TeamId) -> Result<Vec<String>, ProxyError> {
        #[derive(Deserialize)]
        struct Listed {
            #[serde(default)]
            team_member_permissions: Vec<String>,
        }
        let listed: Listed = self
            .send(
                Method::GET,
                "team/permissions_list",
                &[("team_id", team.as_str())],
                None,
            )
            .await
            .map_err(|e| e.of_team(team))?;
        Ok(listed.team_member_permissions)
    }

    /// `POST /team/permissions_update`: sets the whole list (the caller keeps what was there).
    pub async fn set_team_permissions(
        &self,
        team: &TeamId,
        permissions: &[String],
    ) -> Result<(), ProxyError> {
        let body = json!({ "team_id": team, "team_member_permissions": permissions });
        self.send::<serde_json::Value>(Method::POST, "team/permissions_update", &[], Some(body))
            .await
            .map(drop)
            .map_err(|e| e.of_team(team))
    }

    /// `GET /team/info` `members_with_roles`: `None` when the team does not exist.
    pub async fn team_members(&self, team: &TeamId) -> Result<Option<Vec<TeamMember>>, ProxyError> {
        #[derive(Deserialize)]
        struct Info {
            #[serde(default)]
            team_info: Option<TeamInfo>,
        }
        #[derive(Deserialize)]
        struct TeamInfo {
            #[serde(default)]
            members_with_roles: Vec<TeamMember>,
        }
        match self
            .send::<Info>(
                Method::GET,
                "team/info",
                &[("team_id", team.as_str())],
                None,
            )
            .await
        {
            Ok(info) => Ok(Some(
                info.team_info
                    .map(|t| t.members_with_roles)
                    .unwrap_or_default(),
            )),
            Err(ProxyError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `POST /team/member_delete` by `user_id`. A non-member is a 400 "User not found in
    /// team" (recorded on 1.106.2): callers read the roster first and remove only members.
    pub async fn remove_team_member(
        &self,
        team: &TeamId,
        user_id: &UserId,
    ) -> Result<(), ProxyError> {
        let body = json!({ "team_id": team, "user_id": user_id });
        self.send::<serde_json::Value>(Method::POST, "team/member_delete", &[], Some(body))
            .await
            .map(drop)
            .map_err(|e| e.of_team(team))
    }

    /// Teams whose alias is exactly `alias` (`/v2/team/list?team_alias=` is a partial match).
    pub async fn teams_by_alias(&self, alias: &str) -> Result<Vec<Team>, ProxyError> {
        self.all_pages::<TeamList>("v2/team/list", ("team_alias", alias), |t| {
            t.team_alias.as_deref() == Some(alias)
        })
        .await
    }
}
