//! An in-memory emulator of the LiteLLM proxy management API (users, invitations, teams,
//! onboarding), reproducing LiteLLM 1.80 or 1.109 behaviour, for testing and rehearsing `onboard`.
//!
//! ```no_run
//! use litellm_emulator::{Emulator, EmulatorConfig};
//! let emu = Emulator::spawn(EmulatorConfig::default());
//! println!("{}", emu.url());
//! ```

// Handlers return `Result<Response, Response>`, the usual axum idiom; boxing every error
// response would only add noise.
#![allow(clippy::result_large_err)]
#![warn(missing_docs)]

mod app;
mod auth;
mod config;
mod control;
mod emulator;
mod errors;
mod faults;
mod gate;
mod routes;
mod server;
mod state;
mod stats;
mod validate;
mod views;

pub use config::{
    ApiKey, ApiVersion, DEFAULT_MASTER_KEY, DEFAULT_USER_ID, DEV_TEST_TEAM_ID, EmulatorConfig,
    RESEARCH_TEAM_ID, SeedTeam, TlsPem,
};
pub use emulator::Emulator;
pub use faults::FaultConfig;
pub use state::{
    InvitationCounts, InvitationRecord, MembershipRecord, TeamLimits, TeamMember, TeamRecord,
    UserRecord,
};
pub use stats::{FaultCounts, Stats};
