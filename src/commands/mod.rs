//! The commands: each turns what the user asked for into plans, has them applied, and
//! reports. Pre-flight checks are shared.

pub mod confirm;
pub mod doctor;
pub mod export;
pub mod offboard;
pub mod onboard;
pub mod preflight;
pub mod refresh;
pub mod status;
