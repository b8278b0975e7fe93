//! A thin async client for the LiteLLM management endpoints `onboard` uses.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::json;
use url::Url;

use crate::apply::pacer::Pacer;
use crate::proxy::api::{
    CreatedUser, Invitation, NewUser, Team, TeamList, TeamMember, UiConfig, UserList, UserRow,
};
use crate::proxy::error::{ProxyError, shorten};
use crate::types::{Email, InvitationId, MasterKey, TeamId, UserId};

/// The largest answer read from the proxy. Every answer `onboard` needs is a few KiB (a page of
/// 100 users is about 100 KiB); past this the request fails instead of buffering the body.
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// How much of an unreadable answer is quoted in the error (after the key is scrubbed).
const QUOTED_BODY_CHARS: usize = 200;

/// Connection settings for [`ProxyClient`].
#[derive(Clone, Debug)]
pub struct ClientOptions {
    /// Timeout for one whole request.
    pub timeout: Duration,
    /// Extra CA certificates (PEM) to trust.
    pub ca_cert_pem: Option<Vec<u8>>,
    /// Sent as `litellm-changed-by` with every write (the proxy's audit log records it).
    pub changed_by: String,
}

/// The `litellm-changed-by` header every write request carries.
pub const CHANGED_BY_HEADER: &str = "litellm-changed-by";

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            timeout: Duration::from_secs(30),
            ca_cert_pem: None,
            changed_by: "onboard".into(),
        }
    }
}

/// The client. Cheap to clone; every clone shares the connection pool and the pacer.
#[derive(Clone)]
pub struct ProxyClient {
    http: reqwest::Client,
    base: Url,
    key: MasterKey,
    pacer: Arc<Pacer>,
    changed_by: reqwest::header::HeaderValue,
}

impl ProxyClient {
    /// Builds a client for `base` (a trailing slash or a path prefix is fine).
    pub fn new(
        base: &Url,
        key: MasterKey,
        options: &ClientOptions,
        pacer: Arc<Pacer>,
    ) -> anyhow::Result<Self> {
        let mut builder = reqwest::Client::builder()
            .timeout(options.timeout)
            .connect_timeout(Duration::from_secs(10))
            .pool_max_idle_per_host(256)
            .user_agent(concat!("onboard/", env!("CARGO_PKG_VERSION")));
        if let Some(pem) = &options.ca_cert_pem {
            for cert in reqwest::Certificate::from_pem_bundle(pem)? {
                builder = builder.add_root_certificate(cert);
            }
        }
        let mut base = base.clone();
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        let changed_by = reqwest::header::HeaderValue::from_str(&options.changed_by)
            .map_err(|_| anyhow::anyhow!("--changed-by must be printable ASCII text"))?;
        Ok(ProxyClient {
            http: builder.build()?,
            base,
            key,
            pacer,
            changed_by,
        })
    }

    /// The proxy's base URL, always ending in `/`.
    pub fn base(&self) -> &Url {
        &self.base
    }

    /// The pacer shared by every request of this client.
    pub fn pacer(&self) -> &Arc<Pacer> {
        &self.pacer
    }

    /// `POST /user/new`.
    pub async fn new_user(&self, user: &NewUser<'_>) -> Result<CreatedUser, ProxyError> {
        self.send(
            Method::POST,
            "user/new",
            &[],
            Some(serde_json::to_value(user).expect("serialisable")),
        )
        .await
    }

    /// `POST /invitation/new` for an existing user.
    pub async fn new_invitation(&self, user_id: &UserId) -> Result<Invitation, ProxyError> {
        self.send(
            Method::POST,
            "invitation/new",
            &[],
            Some(json!({ "user_id": user_id })),
        )
        .await
    }

    /// `GET /invitation/info`.
    pub async fn invitation_info(&self, id: &InvitationId) -> Result<Invitation, ProxyError> {
        self.send(
            Method::GET,
            "invitation/info",
            &[("invitation_id", id.as_str())],
            None,
        )
        .await
    }

    /// `POST /invitation/delete`.
    pub async fn delete_invitation(&self, id: &InvitationId) -> Result<(), ProxyError> {
        self.send::<serde_json::Value>(
            Method::POST,
            "invitation/delete",
            &[],
            Some(json!({ "invitation_id": id })),
        )
        .await
        .map(drop)
    }

    /// Users whose stored email equals `email` (trimmed, case-insensitive).
    ///
    /// `/user/list?user_email=` is a substring match, so the rows are filtered here.
    pub async fn find_users_by_email(&self, email: &Email) -> Result<Vec<UserRow>, ProxyError> {
        let mut found = Vec::new();
        for page in 1u64.. {
            let page_text = page.to_string();
            let list: UserList = self
                .send(
                    Method::GET,
                    "user/list",
                    &[
                        ("user_email", email.as_str()),
                        ("page", &page_text),
                        ("page_size", "100"),
                    ],
                    None,
                )
                .await?;
            let done = list.users.len() < 100 || list.total_pages.is_none_or(|pages| page >= pages);
            found.extend(list.users.into_iter().filter(|row| {
                row.user_email
                    .as_deref()
                    .is_some_and(|stored| stored.trim().eq_ignore_ascii_case(email.as_str()))
            }));
            if done {
                break;
            }
        }
        Ok(found)
    }

    /// One page of every user (`GET /user/list`, 100 a page): the rows and the page count.
    pub async fn users_page(&self, page: u64) -> Result<(Vec<UserRow>, u64), ProxyError> {
        let page_text = page.to_string();
        let list: UserList = self
            .send(
                Method::GET,
                "user/list",
                &[("page", &page_text), ("page_size", "100")],
                None,
            )
            .await?;
        let pages = list.total_pages.unwrap_or(1).max(1);
        Ok((list.users, pages))
    }

    /// `GET /user/list?page_size=1`: proves the key is valid and has admin rights.
    pub async fn check_admin(&self) -> Result<(), ProxyError> {
        self.send::<serde_json::Value>(
            Method::GET,
            "user/list",
            &[("page", "1"), ("page_size", "1")],
            None,
        )
        .await
        .map(drop)
    }

    /// One page of the users of `team` (or of every user), 100 a page: rows and page count.
    pub async fn users_page_of(
        &self,
        team: Option<&TeamId>,
        page: u64,
    ) -> Result<(Vec<UserRow>, u64), ProxyError> {
        let page_text = page.to_string();
        let mut query = vec![("page", page_text.as_str()), ("page_size", "100")];
        if let Some(team) = team {
            query.push(("team", team.as_str()));
        }
        let list: UserList = self.send(Method::GET, "user/list", &query, None).await?;
        let pages = list.total_pages.unwrap_or(1).max(1);
        Ok((list.users, pages))
    }

    /// `POST /user/update` by `user_id` with `fields`. Only for a user just read on the
    /// proxy: an unknown id (or an email) would create a user.
    pub async fn update_user(
        &self,
        user_id: &UserId,
        fields: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<(), ProxyError> {
        let mut body = fields.clone();
        body.insert("user_id".into(), json!(user_id));
        self.send::<serde_json::Value>(
            Method::POST,
            "user/update",
            &[],
            Some(serde_json::Value::Object(body)),
        )
        .await
        .map(drop)
    }

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

    /// `GET /team/info`: the team's members and their roles (`members_with_roles`).
    pub async fn team_roster(&self, team: &TeamId) -> Result<Vec<(UserId, String)>, ProxyError> {
        let info: serde_json::Value = self
            .send(
                Method::GET,
                "team/info",
                &[("team_id", team.as_str())],
                None,
            )
            .await?;
        let members = info
            .pointer("/team_info/members_with_roles")
            .and_then(serde_json::Value::as_array)
            .cloned()
            .unwrap_or_default();
        Ok(members
            .iter()
            .filter_map(|m| {
                let id = m.get("user_id")?.as_str()?;
                let role = m.get("role").and_then(|r| r.as_str()).unwrap_or("user");
                Some((UserId::new(id), role.to_string()))
            })
            .collect())
    }

    /// `POST /team/member_add` by `user_id` (never by email: that would create a user).
    /// Returns false when the user was already in the team.
    pub async fn add_team_member(
        &self,
        team: &TeamId,
        user_id: &UserId,
    ) -> Result<bool, ProxyError> {
        self.add_team_member_as(team, user_id, "user").await
    }

    /// [`Self::add_team_member`] with a team role (`user` or `admin`).
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
            Err(e) => Err(e),
        }
    }

    /// `GET /team/info`: `None` when the team does not exist.
    pub async fn team(&self, team: &TeamId) -> Result<Option<Team>, ProxyError> {
        #[derive(Deserialize)]
        struct Info {
            team_id: TeamId,
            #[serde(default)]
            team_info: Option<serde_json::Value>,
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
            Ok(info) => Ok(Some(Team {
                team_alias: info
                    .team_info
                    .as_ref()
                    .and_then(|t| t.get("team_alias"))
                    .and_then(|a| a.as_str())
                    .map(str::to_string),
                team_id: info.team_id,
            })),
            Err(ProxyError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
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
    }

    /// `POST /user/delete` of one user (its keys, invitations and memberships go with it).
    /// One id a request: a list holding an unknown id fails with 404 after partly acting.
    pub async fn delete_user(&self, user_id: &UserId) -> Result<(), ProxyError> {
        let body = json!({ "user_ids": [user_id] });
        self.send::<serde_json::Value>(Method::POST, "user/delete", &[], Some(body))
            .await
            .map(drop)
    }

    /// Teams whose alias is exactly `alias` (`/v2/team/list?team_alias=` is a partial match).
    pub async fn teams_by_alias(&self, alias: &str) -> Result<Vec<Team>, ProxyError> {
        let mut found = Vec::new();
        for page in 1u64.. {
            let page_text = page.to_string();
            let list: TeamList = self
                .send(
                    Method::GET,
                    "v2/team/list",
                    &[
                        ("team_alias", alias),
                        ("page", &page_text),
                        ("page_size", "100"),
                    ],
                    None,
                )
                .await?;
            let done = list.teams.len() < 100 || list.total_pages.is_none_or(|pages| page >= pages);
            found.extend(
                list.teams
                    .into_iter()
                    .filter(|t| t.team_alias.as_deref() == Some(alias)),
            );
            if done {
                break;
            }
        }
        Ok(found)
    }

    /// `GET /user/info`: `false` when the user is missing (404 on 1.109, null `user_info` on 1.80).
    pub async fn user_exists(&self, user_id: &UserId) -> Result<bool, ProxyError> {
        match self
            .send::<serde_json::Value>(
                Method::GET,
                "user/info",
                &[("user_id", user_id.as_str())],
                None,
            )
            .await
        {
            Ok(body) => Ok(!body.get("user_info").is_none_or(serde_json::Value::is_null)),
            Err(ProxyError::NotFound(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Creates the `default_user_id` row the master key acts as (litellm-api.md §2.1).
    pub async fn create_default_user(&self) -> Result<(), ProxyError> {
        let body = json!({ "user_id": "default_user_id", "user_role": "proxy_admin", "auto_create_key": false });
        self.send::<serde_json::Value>(Method::POST, "user/new", &[], Some(body))
            .await
            .map(drop)
    }

    /// `GET /health/liveliness` (no auth).
    pub async fn liveliness(&self) -> Result<(), ProxyError> {
        self.send::<serde_json::Value>(Method::GET, "health/liveliness", &[], None)
            .await
            .map(drop)
    }

    /// `GET /.well-known/litellm-ui-config` (no auth); an old proxy without it gives the default.
    pub async fn ui_config(&self) -> Result<UiConfig, ProxyError> {
        match self
            .send(Method::GET, ".well-known/litellm-ui-config", &[], None)
            .await
        {
            Err(ProxyError::NotFound(_)) => Ok(UiConfig::default()),
            other => other,
        }
    }

    pub(super) async fn send<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<serde_json::Value>,
    ) -> Result<T, ProxyError> {
        self.pacer.ready().await?;
        let mut url = self.base.join(path).expect("static paths join");
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        let mut request = self
            .http
            .request(method.clone(), url)
            .bearer_auth(self.key.expose());
        if method != Method::GET {
            request = request.header(CHANGED_BY_HEADER, self.changed_by.clone());
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let started = Instant::now();
        let result = self.exchange(path, request).await;
        let elapsed = started.elapsed();
        self.pacer.observe(elapsed, result.as_ref().err());
        // The path only: query strings carry emails and invitation ids (credentials).
        match &result {
            Ok((status, _)) => tracing::debug!("{method} /{path} → {status} in {elapsed:.1?}"),
            Err(e) => tracing::info!("{method} /{path} failed in {elapsed:.1?}: {}", e.reason()),
        }
        result.and_then(|(status, text)| {
            serde_json::from_str(&text).map_err(|e| {
                // Scrub, then cut: a cut would leave a piece of the key the scrub cannot find.
                // serde's own message may quote a value from the body: scrub it too.
                let quoted = shorten(&self.key.scrub(&text), QUOTED_BODY_CHARS);
                ProxyError::Decode(
                    self.key
                        .scrub(&format!("{path}: HTTP {status}: {e}: {quoted}")),
                )
            })
        })
    }

    async fn exchange(
        &self,
        path: &str,
        request: reqwest::RequestBuilder,
    ) -> Result<(StatusCode, String), ProxyError> {
        let mut response = request.send().await.map_err(|e| self.transport_error(e))?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|secs| secs.is_finite() && *secs >= 0.0)
            .map(|secs| Duration::from_secs_f64(secs.min(300.0)));
        let too_large = || {
            ProxyError::Decode(format!(
                "{path}: HTTP {status}: the answer is larger than {} MiB; not reading it",
                MAX_BODY_BYTES / (1024 * 1024)
            ))
        };
        if response
            .content_length()
            .is_some_and(|len| len > MAX_BODY_BYTES as u64)
        {
            return Err(too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| self.transport_error(e))?
        {
            if body.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        let text = String::from_utf8_lossy(&body);
        if status.is_success() {
            Ok((status, text.into_owned()))
        } else {
            Err(ProxyError::from_response(
                status.as_u16(),
                &text,
                retry_after,
                &self.key,
            ))
        }
    }

    fn transport_error(&self, error: reqwest::Error) -> ProxyError {
        let reason = self.key.scrub(&error_chain(&error));
        let url = || {
            let mut url = self.base.clone();
            url.set_query(None);
            url.to_string().trim_end_matches('/').to_string()
        };
        if is_certificate_error(&reason) {
            ProxyError::Certificate { url: url(), reason }
        } else if error.is_connect() {
            ProxyError::Connect { url: url(), reason }
        } else if error.is_timeout() {
            ProxyError::Ambiguous(format!("timed out: {reason}"))
        } else {
            ProxyError::Ambiguous(reason)
        }
    }
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// True when a transport error's text (the whole chain) says the TLS certificate was refused:
/// rustls says "invalid peer certificate: UnknownIssuer", "… NotValidForName", "… Expired".
fn is_certificate_error(chain: &str) -> bool {
    let lower = chain.to_lowercase();
    lower.contains("certificate") || lower.contains("unknownissuer")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_errors_are_told_apart() {
        assert!(is_certificate_error(
            "error sending request: client error (Connect): invalid peer certificate: UnknownIssuer"
        ));
        assert!(!is_certificate_error(
            "error sending request: client error (Connect): tcp connect error: Connection refused (os error 111)"
        ));
    }
}
