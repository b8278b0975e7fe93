//! The proxy: a thin client for the management endpoints, the bodies it sends and reads,
//! its errors, and the links it serves.

pub mod api;
pub mod bulk;
pub mod bulk_delete;
pub mod client;
pub mod error;
mod health;
mod invitations;
pub mod links;
pub mod listing;
pub mod pacer;
mod teams;
mod users;

pub use client::ProxyClient;
pub use error::ProxyError;
pub use users::UsersPage;
