//! What the user asked for, in the program's own types: the subcommands' clap arguments
//! stop here.

use std::path::PathBuf;
use std::time::Duration;

use crate::audit::record::State;
use crate::cli::{Cli, Command};
use crate::types::Role;

impl Task {
    /// Refuses flags this command does not use (exit 2), rather than ignoring them: the
    /// email flags outside the bulk run, `invite` and `refresh`.
    pub fn check_flags(&self, cli: &Cli) -> Result<(), crate::error::Fatal> {
        let name = match self {
            Task::Bulk(_) | Task::Invite(_) | Task::Refresh(_) | Task::Completions(_) => {
                return Ok(());
            }
            Task::Offboard(_) => "offboard",
            Task::Export(_) => "export",
            Task::Status(_) => "status",
            Task::Doctor(_) => "doctor",
        };
        let given = super::mail::given(&cli.global.mail);
        if given.is_empty() {
            return Ok(());
        }
        Err(crate::error::Fatal::new(format!(
            "`onboard {name}` sends no email: {} not used",
            given.join(", ")
        ))
        .hint("leave the email flags out (they are for the onboarding run, invite and refresh)"))
    }
}

/// What the user asked for, in the program's own types: clap's stop in this module.
#[derive(Debug)]
pub enum Task {
    /// `onboard completions SHELL`.
    Completions(clap_complete::Shell),
    /// `onboard <CSV>`.
    Bulk(BulkTask),
    /// `onboard invite`.
    Invite(InviteTask),
    /// `onboard offboard`.
    Offboard(OffboardTask),
    /// `onboard export`.
    Export(ExportTask),
    /// `onboard refresh`.
    Refresh(RefreshTask),
    /// `onboard status`.
    Status(StatusTask),
    /// `onboard doctor`.
    Doctor(DoctorTask),
}

/// `onboard doctor`.
#[derive(Debug, Default)]
pub struct DoctorTask {
    /// A CSV of people whose teams and selves to check.
    pub csv: Option<PathBuf>,
    /// Teams (ids or aliases) to check.
    pub teams: Vec<String>,
    /// Days after accepting without a key before someone is reported.
    pub no_key_days: u32,
}

/// `onboard <CSV>`.
#[derive(Debug, Default)]
pub struct BulkTask {
    /// The CSV (`-` for stdin).
    pub csv: PathBuf,
    /// Team id or alias for rows without one.
    pub team: Option<String>,
    /// Role for rows without one.
    pub role: Option<Role>,
    /// A fresh invitation even when a live one exists.
    pub reinvite: bool,
    /// Onboard the valid rows and record the invalid ones as failed.
    pub skip_invalid: bool,
    /// Show the plan; write nothing.
    pub dry_run: bool,
    /// The CSV is the whole membership of the teams it names.
    pub prune: bool,
    /// Do not ask before removing anyone.
    pub yes: bool,
    /// SSO proxies: users and memberships only, no invitation.
    pub no_invite: bool,
    /// Create users in bulk where the proxy can.
    pub bulk: crate::types::BulkMode,
    /// Let each team's members create their own keys.
    pub grant_key_permissions: bool,
}

/// `onboard export`.
#[derive(Debug, Default)]
pub struct ExportTask {
    /// Only the users of this team (id or alias).
    pub team: Option<String>,
    /// Write the CSV here instead of stdout.
    pub output: Option<PathBuf>,
}

/// `onboard offboard`.
#[derive(Debug, Default)]
pub struct OffboardTask {
    /// Emails, or CSV files of them.
    pub targets: Vec<String>,
    /// Only remove the people from this team (id or alias).
    pub team: Option<String>,
    /// Offboard proxy admins too.
    pub include_admins: bool,
    /// Do not ask before removing anyone.
    pub yes: bool,
    /// Show the plan; write nothing.
    pub dry_run: bool,
    /// Delete users in bulk where the proxy can.
    pub bulk: crate::types::BulkMode,
}

/// `onboard invite`.
#[derive(Debug, Default)]
pub struct InviteTask {
    /// The person's email, as typed.
    pub email: String,
    /// Team id or alias.
    pub team: String,
    /// The user's role.
    pub role: Option<Role>,
    /// A display name.
    pub alias: Option<String>,
    /// A fresh invitation even when a live one exists.
    pub reinvite: bool,
    /// Show the plan; write nothing.
    pub dry_run: bool,
    /// Let the team's members create their own keys.
    pub grant_key_permissions: bool,
}

/// `onboard refresh`.
#[derive(Debug, Default)]
pub struct RefreshTask {
    /// Also renew invitations expiring within this long.
    pub within: Duration,
    /// Show the plan; write nothing.
    pub dry_run: bool,
}

/// `onboard status`.
#[derive(Debug, Default)]
pub struct StatusTask {
    /// Only people in this state.
    pub only: Option<State>,
    /// Ask the proxy first.
    pub check: bool,
    /// Show the links.
    pub show_links: bool,
}

impl Task {
    /// The task the command line asks for.
    pub fn of(cli: &Cli) -> Task {
        match &cli.command {
            Some(Command::Completions { shell }) => Task::Completions(*shell),
            Some(Command::Invite(a)) => Task::Invite(InviteTask {
                email: a.email.clone(),
                team: a.team.clone(),
                role: a.role,
                alias: a.alias.clone(),
                reinvite: a.reinvite,
                dry_run: a.dry_run,
                grant_key_permissions: a.grant_key_permissions,
            }),
            Some(Command::Offboard(a)) => Task::Offboard(OffboardTask {
                targets: a.targets.clone(),
                team: a.team.clone(),
                include_admins: a.include_admins,
                yes: a.yes,
                dry_run: a.dry_run,
                bulk: a.bulk,
            }),
            Some(Command::Export(a)) => Task::Export(ExportTask {
                team: a.team.clone(),
                output: a.output.clone(),
            }),
            Some(Command::Doctor(a)) => Task::Doctor(DoctorTask {
                csv: a.csv.clone(),
                teams: a.team.clone(),
                no_key_days: a.no_key_days,
            }),
            Some(Command::Refresh(a)) => Task::Refresh(RefreshTask {
                within: a.within,
                dry_run: a.dry_run,
            }),
            Some(Command::Status(a)) => Task::Status(StatusTask {
                only: [
                    (a.pending, State::Pending),
                    (a.expired, State::Expired),
                    (a.accepted, State::Accepted),
                    (a.failed, State::Failed),
                    (a.offboarded, State::Offboarded),
                ]
                .into_iter()
                .find_map(|(on, state)| on.then_some(state)),
                check: a.check,
                show_links: a.show_links,
            }),
            None => Task::Bulk(BulkTask {
                csv: cli.csv.clone().unwrap_or_default(),
                team: cli.bulk.team.clone(),
                role: cli.bulk.role,
                reinvite: cli.bulk.reinvite,
                skip_invalid: cli.bulk.skip_invalid,
                dry_run: cli.bulk.dry_run,
                prune: cli.bulk.prune,
                yes: cli.bulk.yes,
                no_invite: cli.bulk.no_invite,
                bulk: cli.bulk.bulk,
                grant_key_permissions: cli.bulk.grant_key_permissions,
            }),
        }
    }
}
