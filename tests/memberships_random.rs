//! Random sequences of what happens to memberships between runs — the CSV's teams edited,
//! `offboard --team`, another admin adding or removing a member (the admin UI's endpoints),
//! `--prune` — each followed by `onboard CSV`: afterwards every CSV person is in at least their
//! row's teams; after `--prune`, in exactly their row's teams among the CSV's; no team admin
//! and no `default_user_id` is ever removed; and a second run plans nothing.

mod common;

use std::collections::BTreeSet;

use common::{DEV_TEST, Env, KEY, RESEARCH};
use serde_json::{Value, json};

const PEOPLE: [&str; 4] = [
    "ann@company.com",
    "ben@company.com",
    "cai@company.com",
    "dee@company.com",
];
const OPS: &str = "team-ops-7f3a";
/// A team admin no row names (another admin made them one).
const LEAD: &str = "lead@company.com";

/// (id, alias) of the teams the CSV may name.
fn teams() -> [(&'static str, &'static str); 3] {
    [(DEV_TEST, "Dev-Test"), (RESEARCH, "Research"), (OPS, "Ops")]
}

struct World {
    env: Env,
    rng: fastrand::Rng,
    /// Each person's row: the team ids it names.
    rows: Vec<BTreeSet<&'static str>>,
    seed: u64,
    log: Vec<String>,
}

impl World {
    fn new(seed: u64) -> World {
        let env = Env::ready_proxy();
        env.emulator.add_team(OPS, "Ops");
        env.emulator
            .set_team_permissions(OPS, &["/key/generate", "/key/info", "/key/list"]);
        // The bulk endpoint makes team admins without a licence (recording 42).
        let admin_of = |team: &str| json!({"team_id": team, "user_role": "admin"});
        let teams_as_admin: Vec<Value> = teams().iter().map(|(id, _)| admin_of(id)).collect();
        let lead = json!({"users": [{"user_email": LEAD, "user_role": "internal_user", "teams": teams_as_admin}]});
        let (status, answer) = env.post(KEY, "/management/v1/users/bulk", lead);
        assert_eq!(status, 200, "{answer}");
        let lead = env.emulator.users_with_email(LEAD)[0].user_id.clone();
        for (team, _) in teams() {
            assert_eq!(
                env.emulator.team_role(team, &lead).as_deref(),
                Some("admin")
            );
        }
        let mut world = World {
            env,
            rng: fastrand::Rng::with_seed(seed),
            rows: Vec::new(),
            seed,
            log: Vec::new(),
        };
        world.rows = PEOPLE.iter().map(|_| world.random_teams()).collect();
        world
    }

    fn random_teams(&mut self) -> BTreeSet<&'static str> {
        loop {
            let picked: BTreeSet<&str> = teams()
                .into_iter()
                .filter(|_| self.rng.bool())
                .map(|(id, _)| id)
                .collect();
            if !picked.is_empty() {
                return picked;
            }
        }
    }

    fn csv(&self) -> std::path::PathBuf {
        let mut text = String::from("user_email,teams\n");
        for (email, row) in PEOPLE.iter().zip(&self.rows) {
            let names: Vec<&str> = teams()
                .into_iter()
                .filter(|(id, _)| row.contains(id))
                .map(|(_, alias)| alias)
                .collect();
            text.push_str(&format!("{email},\"{}\"\n", names.join(",")));
        }
        self.env.write("users.csv", &text)
    }

    fn context(&self) -> String {
        format!("seed {}: {}", self.seed, self.log.join(" → "))
    }

    fn onboard(&mut self, extra: &[&str]) -> String {
        let csv = self.csv();
        let out = self.env.onboard().arg(&csv).args(extra).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}: onboard {extra:?}: {stderr}",
            self.context()
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The teams of the CSV's teams the person's one user is in.
    fn teams_of(&self, email: &str) -> BTreeSet<String> {
        let users = self.env.emulator.users_with_email(email);
        assert!(users.len() <= 1, "{}: {email} twice", self.context());
        users
            .first()
            .map(|u| u.teams.iter().cloned().collect())
            .unwrap_or_default()
    }

    fn step(&mut self) {
        let who = self.rng.usize(..PEOPLE.len());
        let email = PEOPLE[who];
        let (team, alias) = teams()[self.rng.usize(..3)];
        match self.rng.u8(..4) {
            0 => {
                self.rows[who] = self.random_teams();
                self.log.push(format!("edit {email}"));
            }
            1 => {
                self.log.push(format!("offboard {email} --team {alias}"));
                let out = self
                    .env
                    .onboard()
                    .args(["offboard", email, "--team", alias, "--yes"])
                    .output()
                    .unwrap();
                let stderr = String::from_utf8_lossy(&out.stderr);
                assert_eq!(out.status.code(), Some(0), "{}: {stderr}", self.context());
            }
            2 => {
                let Some(user) = self.env.emulator.users_with_email(email).pop() else {
                    return;
                };
                let add = self.rng.bool();
                self.log.push(format!(
                    "ui {} {email} {alias}",
                    if add { "add" } else { "remove" }
                ));
                let (path, body) = if add {
                    let member = json!({"role": "user", "user_id": user.user_id});
                    (
                        "/team/member_add",
                        json!({"team_id": team, "member": member}),
                    )
                } else {
                    (
                        "/team/member_delete",
                        json!({"team_id": team, "user_id": user.user_id}),
                    )
                };
                // A member already in (or not in) the team is refused: nothing changes.
                self.env.post(KEY, path, body);
            }
            _ => {
                self.log.push("--prune".into());
                self.onboard(&["--prune", "--yes"]);
                let csv_teams: BTreeSet<&str> = self.rows.iter().flatten().copied().collect();
                for (email, row) in PEOPLE.iter().zip(&self.rows) {
                    let within: BTreeSet<String> = self
                        .teams_of(email)
                        .into_iter()
                        .filter(|t| csv_teams.contains(t.as_str()))
                        .collect();
                    let wanted: BTreeSet<String> = row.iter().map(|t| t.to_string()).collect();
                    assert_eq!(within, wanted, "{}: {email} after --prune", self.context());
                }
            }
        }
        self.log.push("onboard".into());
        self.onboard(&[]);
        for (email, row) in PEOPLE.iter().zip(&self.rows) {
            let have = self.teams_of(email);
            for team in row {
                assert!(
                    have.contains(*team),
                    "{}: {email} not in {team}: {have:?}",
                    self.context()
                );
            }
        }
        self.check_protected();
    }

    fn check_protected(&self) {
        for (team, _) in teams() {
            let members = self.env.emulator.team_members(team);
            let has = |id: &str| members.iter().any(|m| m.user_id.as_deref() == Some(id));
            let lead = &self.env.emulator.users_with_email(LEAD)[0].user_id;
            assert!(has(lead), "{}: the team admin left {team}", self.context());
            if team != OPS {
                assert!(
                    has("default_user_id"),
                    "{}: default_user_id left {team}",
                    self.context()
                );
            }
        }
    }

    fn assert_settled(&mut self) {
        let out = self.onboard(&["--dry-run", "--json"]);
        let plans: Vec<Value> = serde_json::from_str(&out).unwrap();
        for plan in &plans {
            assert_eq!(
                plan["actions"],
                json!([]),
                "{}: a second run plans {plan}",
                self.context()
            );
        }
    }
}

#[test]
fn memberships_converge_whatever_happens_between_runs() {
    let seeds: Vec<u64> = match std::env::var("MEMBERSHIP_SEED") {
        Ok(seed) => vec![seed.parse().expect("MEMBERSHIP_SEED is a number")],
        Err(_) => (1..=4).collect(),
    };
    for seed in seeds {
        let mut world = World::new(seed);
        world.log.push("onboard".into());
        world.onboard(&[]);
        for _ in 0..8 {
            world.step();
        }
        world.assert_settled();
    }
}
