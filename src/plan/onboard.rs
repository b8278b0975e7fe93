//! The plan of an onboarding run (`onboard <CSV>`, `onboard invite`): create or adopt the
//! user, see to their teams and settings, invite — or say why not.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};

use super::reconcile::{self, Rosters};
use super::refresh::pending_deletes;
use super::{Action, ActionKind, Lookup, Pending, PersonPlan, Skip};
use crate::audit::record::Record;
use crate::input::Person;
use crate::types::{Email, TeamId, UserId};

/// Options of an onboarding run that change its plans.
#[derive(Clone, Copy, Debug, Default)]
pub struct OnboardOptions {
    /// `--reinvite`: a fresh invitation even when a live one exists.
    pub reinvite: bool,
    /// `--send-email`.
    pub send_email: bool,
    /// `--no-invite` (SSO proxies): users and memberships only; the link is `<proxy>/ui`.
    pub no_invite: bool,
    /// `--prune`: the CSV is the whole membership of each team it names.
    pub prune: bool,
}

/// The user id an onboarding run can rely on without asking the proxy: the audit file's,
/// unless `refresh` found that user deleted.
pub fn known_user(record: Option<&Record>) -> Option<&UserId> {
    record
        .filter(|r| r.user_deleted_at.is_none())
        .and_then(|r| r.user_id.as_ref())
}

/// True when the proxy must be asked about this email before it can be planned.
pub fn needs_lookup(record: Option<&Record>, options: OnboardOptions, now: DateTime<Utc>) -> bool {
    known_user(record).is_none() && onboard_skip(record, options, now).is_none()
}

/// True when an onboarding run asks the proxy about this email before it starts. A user the
/// audit file knows is read only for a row with settings to compare. Someone it does not know
/// is read for a dry run (which must show `adopt_user` or `create_user`) and for a row with
/// settings (an adopted user's fields are compared); a run otherwise lets `create_user` find
/// out: the proxy answers "already exists" (per row in bulk), and that user is adopted. So a
/// run's reads grow with the people it must read, never with the users on the proxy. An
/// internationalised domain (`idn`) is read first too: the proxy's duplicate check misses a
/// user stored in the domain's other spelling.
pub fn read_first(
    record: Option<&Record>,
    has_settings: bool,
    idn: bool,
    options: OnboardOptions,
    now: DateTime<Utc>,
    dry_run: bool,
) -> bool {
    if known_user(record).is_some() {
        return has_settings;
    }
    needs_lookup(record, options, now) && (dry_run || has_settings || idn)
}

/// Why an onboarding run would make no invitation for someone the audit file knows.
fn onboard_skip(
    record: Option<&Record>,
    options: OnboardOptions,
    now: DateTime<Utc>,
) -> Option<Skip> {
    let record = record?;
    if record.offboarded_at.is_some() {
        // Offboarded: onboarding them again starts afresh.
        return None;
    }
    if record.accepted_at.is_some() {
        return Some(Skip::AlreadyAccepted);
    }
    (record.has_live_invitation(now) && !options.reinvite).then_some(Skip::AlreadyInvited)
}

/// What an onboarding run plans its people from, besides their audit records: each person
/// is planned when the driver takes them, with the record as it is then (a run changes a
/// person's record only by carrying out their own plan).
#[derive(Debug)]
pub struct Onboarding {
    /// What the proxy said of the emails asked about.
    pub lookups: HashMap<Email, Lookup>,
    /// The rosters of the run's teams (read in pre-flight): the teams people are in.
    pub rosters: Rosters,
    /// The run's options.
    pub options: OnboardOptions,
    /// The run's clock.
    pub now: DateTime<Utc>,
    /// `--grant-key-permissions`: each team whose members cannot create keys → what it
    /// lacks. A team leaves the map with the first plan that takes it on.
    pub grants: BTreeMap<TeamId, Vec<String>>,
}

impl Onboarding {
    /// The plan of someone the driver takes (their look-up is used up: each is planned once).
    pub fn plan(&mut self, pending: Pending, record: Option<&Record>) -> PersonPlan {
        match pending {
            Pending::Planned(plan) => *plan,
            Pending::Person(person) => {
                let lookup = self.lookups.remove(&person.email).unwrap_or_default();
                let mut plan = onboard(
                    person,
                    record,
                    &lookup,
                    &self.rosters,
                    self.options,
                    self.now,
                );
                self.take_grants(&mut plan);
                plan
            }
        }
    }

    /// Puts the grants of the person's teams not yet planned into their plan, after the
    /// user's own changes and before the invitation. A plan that fails takes none.
    fn take_grants(&mut self, plan: &mut PersonPlan) {
        if self.grants.is_empty() || plan.skip.as_ref().is_some_and(Skip::is_failure) {
            return;
        }
        let Some(person) = &plan.person else { return };
        let grants: Vec<Action> = person
            .teams()
            .filter_map(|team| {
                let permissions = self.grants.remove(team)?;
                Some(Action::GrantTeamPermissions {
                    team: team.clone(),
                    permissions,
                })
            })
            .collect();
        let at = plan
            .actions
            .iter()
            .position(|a| {
                matches!(
                    a,
                    Action::Invite
                        | Action::RecordSsoLink
                        | Action::DeleteInvitation { .. }
                        | Action::EmailLink
                )
            })
            .unwrap_or(plan.actions.len());
        plan.actions.splice(at..at, grants);
    }

    /// True when their plan starts with `create_user`, found without planning them for good.
    pub fn creates_user(&self, pending: &Pending, record: Option<&Record>) -> bool {
        match pending {
            Pending::Planned(plan) => plan.creates_user(),
            // A plan being decided has no person yet: its first action says it.
            Pending::Person(person) => self.peek(person, record, |plan| {
                plan.actions.first() == Some(&Action::CreateUser)
            }),
        }
    }

    /// True when their plan adopts a user the audit file does not know (one made in the admin
    /// UI, or by another tool) and invites them: a new password link for someone who may
    /// already use the proxy. Found without planning them for good.
    pub fn invites_existing_user(&self, person: &Person, record: Option<&Record>) -> bool {
        self.peek(person, record, |plan| {
            matches!(plan.actions.first(), Some(Action::AdoptUser { .. }))
                && plan.has(ActionKind::Invite)
        })
    }

    /// What `test` says of someone's plan, decided without using up their look-up.
    fn peek(
        &self,
        person: &Person,
        record: Option<&Record>,
        test: impl FnOnce(&PersonPlan) -> bool,
    ) -> bool {
        let lookup = self.lookups.get(&person.email);
        let lookup = lookup.unwrap_or(&Lookup::NotAsked);
        test(&decide(
            person,
            record,
            lookup,
            &self.rosters,
            self.options,
            self.now,
        ))
    }
}

/// The plan for one person of an onboarding run (`onboard <CSV>`, `onboard invite`).
/// `lookup` is what the proxy said of the email (asked for people the audit file does not
/// know, and for rows with settings to compare); `rosters` the teams' members read now.
pub fn onboard(
    person: Person,
    record: Option<&Record>,
    lookup: &Lookup,
    rosters: &Rosters,
    options: OnboardOptions,
    now: DateTime<Utc>,
) -> PersonPlan {
    let mut plan = decide(&person, record, lookup, rosters, options, now);
    plan.person = Some(person);
    // A run holds every plan at once: no spare room in each.
    plan.actions.shrink_to_fit();
    plan
}

fn decide(
    person: &Person,
    record: Option<&Record>,
    lookup: &Lookup,
    rosters: &Rosters,
    options: OnboardOptions,
    now: DateTime<Utc>,
) -> PersonPlan {
    let mut plan = PersonPlan::new(person.email.clone(), person.line);
    // The user's row as just read, when it is the user the audit file knows.
    let seen = match (known_user(record), lookup) {
        (Some(id), Lookup::Found(row)) if &row.user_id == id => Some(row),
        _ => None,
    };
    // Whose memberships are theirs: the user acted on, and any member with their email.
    let ids = |user: Option<&UserId>| -> Vec<UserId> {
        let mut ids: Vec<UserId> = user.into_iter().cloned().collect();
        for id in rosters.users_with(&person.email) {
            if !ids.contains(id) {
                ids.push(id.clone());
            }
        }
        ids
    };
    let existing_actions = |plan: &mut PersonPlan, user: &UserId| {
        let ids = ids(Some(user));
        plan.actions.extend(match seen {
            Some(row) => reconcile::existing(person, row, &ids, rosters, options.prune),
            None => {
                let recorded = record.map(Record::known_teams).unwrap_or_default();
                reconcile::team_actions(person, user, &ids, &recorded, rosters, options.prune)
            }
        });
    };
    if let Some(skip) = onboard_skip(record, options, now) {
        let record = record.expect("a skip needs a record");
        plan.expires_at = record.expires_at;
        if let Some(user) = known_user(Some(record)) {
            existing_actions(&mut plan, user);
        }
        if skip == Skip::AlreadyInvited && options.send_email && record.needs_email(now) {
            plan.actions.push(Action::EmailLink);
        }
        plan.skip = Some(skip);
        return plan;
    }
    match known_user(record) {
        Some(user) => existing_actions(&mut plan, user),
        None => match lookup {
            Lookup::Found(row) => {
                plan.actions.push(Action::AdoptUser {
                    user_id: row.user_id.clone(),
                });
                let ids = ids(Some(&row.user_id));
                plan.actions.extend(reconcile::existing(
                    person,
                    row,
                    &ids,
                    rosters,
                    options.prune,
                ));
            }
            Lookup::Several(ids) => {
                plan.skip = Some(Skip::SeveralUsers);
                plan.detail = Some(super::several_users(person.email.clone(), ids));
                return plan;
            }
            Lookup::Failed(reason) => {
                plan.skip = Some(Skip::LookupFailed);
                plan.detail = Some(reason.clone());
                return plan;
            }
            Lookup::Absent | Lookup::NotAsked => {
                plan.actions.push(Action::CreateUser);
                plan.actions.extend(reconcile::after_create(person));
                if options.prune {
                    // A user made elsewhere that the proxy will say exists: the rosters know it.
                    let ids = ids(None);
                    plan.actions
                        .extend(reconcile::removals(person, &ids, rosters));
                }
            }
        },
    }
    if options.no_invite {
        // SSO: people sign in at the UI; no invitation is made (nor deleted).
        if record.is_none_or(|r| r.onboarding_link.is_none()) {
            plan.actions.push(Action::RecordSsoLink);
        }
        return plan;
    }
    plan.actions.push(Action::Invite);
    if let Some(record) = record {
        plan.actions.extend(pending_deletes(record, now));
    }
    // A superseded invitation that still opens is deleted, so one live link remains.
    if let Some(old) = record
        .filter(|r| r.has_live_invitation(now))
        .and_then(|r| r.invitation_id.clone())
    {
        plan.actions
            .push(Action::DeleteInvitation { invitation_id: old });
    }
    if options.send_email {
        plan.actions.push(Action::EmailLink);
    }
    plan
}

/// A row that failed validation (`--skip-invalid`): recorded as failed, nothing sent.
pub fn invalid(email: Email, line: u64, reason: String) -> PersonPlan {
    let mut plan = PersonPlan::new(email, line);
    plan.skip = Some(Skip::Invalid);
    plan.detail = Some(reason);
    plan
}
