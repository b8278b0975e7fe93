//! Checks before the first write: the proxy answers, the key is an admin key, every team
//! exists, invitations can be made, where links must point, and whether the UI is served there.

use std::collections::{BTreeMap, BTreeSet};

use crate::audit::Audit;
use crate::audit::record::proxy_name;
use crate::config::Config;
use crate::error::Fatal;
use crate::output::Printer;
use crate::plan::readiness::{self, Finding};
use crate::proxy::ProxyError;
use crate::proxy::api::Team;
use crate::proxy::client::ProxyClient;
use crate::proxy::links::Links;
use crate::shutdown::Shutdown;
use crate::types::{TeamId, UserId, escape};

/// What pre-flight learned.
#[derive(Debug)]
pub struct Checked {
    /// How to build links on this proxy.
    pub links: Links,
    /// Each team as written in the input → its team id.
    pub teams: BTreeMap<TeamId, TeamId>,
    /// Each team by its id, as read (state and roster).
    pub found: BTreeMap<TeamId, Team>,
    /// `--fix-default-user` on a proxy without the `default_user_id` row: the run makes it
    /// after the go-ahead ([`create_default_user`]), never before a confirmation.
    pub create_default_user: bool,
}

/// Turns a failed pre-flight request into a message for the admin.
pub fn explain(error: ProxyError, client: &ProxyClient) -> Fatal {
    let url = client.base().as_str().trim_end_matches('/').to_string();
    match error {
        ProxyError::Connect { reason, .. } => Fatal::new(format!("cannot reach the proxy at {url}: {reason}"))
            .hint(format!("connection refused or unreachable — is the proxy running at {url}? (--proxy-url / LITELLM_PROXY_URL)")),
        ProxyError::Certificate { reason, .. } => Fatal::new(format!("cannot reach the proxy at {url}: its TLS certificate is not trusted: {reason}"))
            .hint("if the proxy's certificate comes from a private CA, pass --ca-cert ca.pem (the certificate is always verified); also check that the URL's host name is one the certificate names"),
        ProxyError::Unauthorized(message) => Fatal::new(format!("the master key was rejected (HTTP 401): {message}"))
            .hint("check LITELLM_MASTER_KEY / LITELLM_PROXY_API_KEY: it must be the proxy's master key"),
        ProxyError::Forbidden(message) => Fatal::new(format!("this key is not a proxy admin key (HTTP 403): {message}"))
            .hint("use the proxy's master key or a proxy_admin key"),
        ProxyError::Interrupted | ProxyError::CutShort => Fatal::interrupted(),
        other => Fatal::new(format!("the proxy at {url} failed a pre-flight check: {other}")),
    }
}

/// Runs the checks in order; each failure is its own message. `invites`: the run makes
/// invitations (not `--no-invite`), so an SSO proxy is worth a warning.
pub async fn check(
    client: &ProxyClient,
    teams: &BTreeSet<TeamId>,
    fix_default_user: bool,
    dry_run: bool,
    invites: bool,
    printer: &mut Printer,
) -> Result<Checked, Fatal> {
    reachable_admin(client).await?;
    // The remaining reads are independent: ask them at once, report them in order.
    let default_user = UserId::master_key_user();
    let (resolved, has_default_user, (links, sso)) = tokio::join!(
        read_teams(client, teams, ONBOARD_TEAMS_HINT),
        client.user_exists(&default_user),
        links(client)
    );
    let read = resolved?;
    let has_default_user = has_default_user.map_err(|e| explain(e, client))?;
    let create_default_user =
        default_user_missing(has_default_user, fix_default_user, dry_run, printer)?;
    for finding in proxy_findings(client, &links, sso && invites).await {
        printer.warn(&finding.message);
    }
    let teams = read
        .iter()
        .map(|(written, team)| (written.clone(), team.team_id.clone()))
        .collect();
    let found = read
        .into_values()
        .map(|team| (team.team_id.clone(), team))
        .collect();
    Ok(Checked {
        links,
        teams,
        found,
        create_default_user,
    })
}

/// What stops everyone on this proxy: the admin UI not served where the links point
/// (`GET <link base>/ui/`, redirects followed, must answer 200), and SSO.
pub async fn proxy_findings(client: &ProxyClient, links: &Links, sso: bool) -> Vec<Finding> {
    let ui = links.ui();
    let answer = client.page_status(&ui).await.map_err(|e| e.to_string());
    let mut found: Vec<Finding> = readiness::ui_finding(&ui, answer).into_iter().collect();
    if sso {
        found.push(readiness::sso_finding());
    }
    found
}

pub use crate::plan::readiness::SSO_WARNING;

/// The proxy answers (`/health/liveliness`) and the key is an admin key.
pub async fn reachable_admin(client: &ProxyClient) -> Result<(), Fatal> {
    match client.liveliness().await {
        Ok(()) => {}
        Err(
            e @ (ProxyError::Connect { .. }
            | ProxyError::Certificate { .. }
            | ProxyError::Ambiguous(_)),
        ) => {
            return Err(explain(e, client));
        }
        Err(ProxyError::NotFound(_)) => {}
        Err(e) => return Err(explain(e, client)),
    }
    client.check_admin().await.map_err(|e| explain(e, client))
}

/// Makes sure the `default_user_id` row that `/invitation/new` needs exists (creating it
/// with `--fix-default-user`), or explains why invitations would fail.
pub async fn ensure_default_user(
    client: &ProxyClient,
    fix_default_user: bool,
    dry_run: bool,
    printer: &mut Printer,
) -> Result<(), Fatal> {
    let exists = client
        .user_exists(&UserId::master_key_user())
        .await
        .map_err(|e| explain(e, client))?;
    if default_user_missing(exists, fix_default_user, dry_run, printer)? {
        create_default_user(client, printer).await?;
    }
    Ok(())
}

/// Creates the missing `default_user_id` row (`--fix-default-user`, after the go-ahead).
pub async fn create_default_user(client: &ProxyClient, printer: &mut Printer) -> Result<(), Fatal> {
    client
        .create_default_user()
        .await
        .map_err(|e| explain(e, client))?;
    printer.note("created the missing default_user_id row (--fix-default-user)");
    Ok(())
}

/// True when the `default_user_id` row is missing and `--fix-default-user` asks for it (a
/// dry run only says it would create it); without the flag, why invitations would fail.
fn default_user_missing(
    exists: bool,
    fix_default_user: bool,
    dry_run: bool,
    printer: &mut Printer,
) -> Result<bool, Fatal> {
    if !exists {
        if fix_default_user && !dry_run {
            return Ok(true);
        } else if fix_default_user {
            printer.note("would create the missing default_user_id row (--fix-default-user)");
        } else {
            return Err(Fatal::new(
                "this proxy has no `default_user_id` user row, so /invitation/new would fail with a misleading \"User id does not exist\" (LiteLLM issue #41176: nobody has logged into the Admin UI yet)",
            )
            .hint("pass --fix-default-user to create that row (role proxy_admin, no key), or log into the Admin UI once"));
        }
    }
    Ok(false)
}

/// How links are built on this proxy (its `server_root_path` from the UI config), and
/// whether SSO is configured there.
pub async fn links(client: &ProxyClient) -> (Links, bool) {
    let ui = client.ui_config().await.unwrap_or_default();
    let links = Links::new(client.base(), ui.server_root_path.as_deref());
    (links, ui.sso_configured == Some(true))
}

/// The hint for a team an onboarding run cannot resolve.
const ONBOARD_TEAMS_HINT: &str =
    "the proxy would silently create these users without the team; fix the team column or --team";

/// The hint for a `--team` of `export` or `offboard` that cannot be resolved.
pub const TEAM_FLAG_HINT: &str =
    "--team takes a team id or an alias that exactly one team on this proxy has";

/// Resolves every distinct team (one request per team): an id that exists, or an alias that
/// exactly one team has. All problems are reported together, with `hint`.
pub async fn resolve_teams(
    client: &ProxyClient,
    teams: &BTreeSet<TeamId>,
    hint: &str,
) -> Result<BTreeMap<TeamId, TeamId>, Fatal> {
    let read = read_teams(client, teams, hint).await?;
    Ok(read
        .into_iter()
        .map(|(written, team)| (written, team.team_id))
        .collect())
}

/// Reads every distinct team once (`/team/info` by id, else `/v2/team/list` by exact alias):
/// each team as written → the team. All problems are reported together, with `hint`.
pub async fn read_teams(
    client: &ProxyClient,
    teams: &BTreeSet<TeamId>,
    hint: &str,
) -> Result<BTreeMap<TeamId, Team>, Fatal> {
    let mut resolved = BTreeMap::new();
    let mut problems = Vec::new();
    for team in teams {
        if let Some(found) = client.team(team).await.map_err(|e| explain(e, client))? {
            resolved.insert(team.clone(), found);
            continue;
        }
        let mut matches = client
            .teams_by_alias(team.as_str())
            .await
            .map_err(|e| explain(e, client))?;
        match team_problem(team, &matches) {
            None => {
                resolved.insert(team.clone(), matches.remove(0));
            }
            Some(problem) => problems.push(problem),
        }
    }
    if problems.is_empty() {
        Ok(resolved)
    } else {
        Err(Fatal::new(problems.join("\n  ")).hint(hint))
    }
}

/// What is wrong with a team the proxy matched by alias `matches` times (`None`: exactly
/// once). The team as written and the proxy's ids are escaped: a cell may hold anything.
fn team_problem(team: &TeamId, matches: &[Team]) -> Option<String> {
    match matches {
        [_] => None,
        [] => Some(format!(
            "team \"{}\" not found (neither a team id nor a team alias on this proxy)",
            escape(team.as_str())
        )),
        many => Some(format!(
            "team alias \"{}\" is ambiguous: {} teams have it ({}); use the team id",
            escape(team.as_str()),
            many.len(),
            many.iter()
                .map(|t| escape(t.team_id.as_str()))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// The client for a command that talks to the proxy: its waits end on a stop signal, and the
/// audit file is bound to this proxy (a file of another proxy's records is refused).
pub fn connect(
    config: &Config,
    shutdown: &Shutdown,
    audit: &mut Audit,
) -> Result<ProxyClient, Fatal> {
    let client = client(config, shutdown)?;
    audit
        .bind_proxy(&proxy_name(client.base()))
        .map_err(Fatal::caused)?;
    Ok(client)
}

/// Opens the audit file for a run, telling the person what opening it did.
pub fn open_audit(path: &std::path::Path, printer: &mut Printer) -> Result<Audit, Fatal> {
    let mut audit = Audit::open(path).map_err(Fatal::caused)?;
    // Shown even with -q: a recovered journal or a file others could read is worth knowing.
    for note in audit.take_notes() {
        printer.warn(&note);
    }
    Ok(audit)
}

/// The client for a command that keeps no audit file (export): its waits end on a stop signal.
pub fn client(config: &Config, shutdown: &Shutdown) -> Result<ProxyClient, Fatal> {
    let client = config
        .client()
        .map_err(|e| Fatal::new(format!("cannot set up the HTTP client: {e:#}")))?;
    client.pacer().stop_on(shutdown.clone());
    Ok(client)
}

/// What to say when the reads a plan is decided on stopped: a signal (exit 130) or a failure
/// that would hit every read.
pub fn reads_stopped(stopped: crate::known::Stopped, client: &ProxyClient) -> Fatal {
    match stopped {
        crate::known::Stopped::Interrupted => Fatal::interrupted(),
        crate::known::Stopped::Fatal(e) => explain(e, client),
    }
}

/// Runs a pre-flight step unless a stop signal comes first: then nothing was sent, exit 130.
pub async fn unless_stopped<T>(
    shutdown: &Shutdown,
    step: impl std::future::Future<Output = Result<T, Fatal>>,
) -> Result<T, Fatal> {
    shutdown
        .unless_requested(step)
        .await
        .unwrap_or_else(|| Err(Fatal::interrupted()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn team_messages_escape_what_they_echo() {
        let evil = TeamId::new("x\u{1b}]0;pwned\u{7}");
        let missing = team_problem(&evil, &[]).unwrap();
        assert!(
            missing.contains("team \"x\\u{1b}]0;pwned\\u{7}\" not found"),
            "{missing}"
        );
        let twins = [TeamId::new("a\u{1b}[2J"), TeamId::new("b")].map(|team_id| Team {
            team_id,
            team_alias: None,
            state: Default::default(),
            members: Vec::new(),
        });
        let ambiguous = team_problem(&evil, &twins).unwrap();
        assert!(ambiguous.contains("(a\\u{1b}[2J, b)"), "{ambiguous}");
        for message in [missing, ambiguous] {
            assert!(!message.chars().any(char::is_control), "{message:?}");
        }
        assert!(team_problem(&evil, &twins[..1]).is_none());
    }
}
