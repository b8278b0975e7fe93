#![warn(missing_docs)]
//! `onboard`: onboard people into a LiteLLM proxy — users, invitations and onboarding links —
//! safe to re-run, fast, and with an audit file that never loses a record.

pub mod apply;
pub mod audit;
pub mod cli;
pub mod commands;
pub mod config;
pub mod error;
pub mod input;
pub mod known;
pub mod mail;
pub mod output;
pub mod plan;
pub mod proxy;
pub mod settings;
pub mod shutdown;
pub mod types;

use clap::CommandFactory;

use crate::cli::Cli;
use crate::config::{Config, Task};
use crate::error::{Exit, Fatal};
use crate::shutdown::Shutdown;

/// Runs the parsed command line to an exit code; a fatal error carries its message.
pub async fn run(cli: Cli) -> Result<Exit, Fatal> {
    let task = Task::of(&cli);
    task.check_flags(&cli)?;
    let config = match &task {
        Task::Completions(shell) => {
            clap_complete::generate(
                *shell,
                &mut Cli::command(),
                "onboard",
                &mut std::io::stdout(),
            );
            return Ok(Exit::Success);
        }
        // Status reads the audit file only: no proxy URL or key unless --check.
        Task::Status(status) if !status.check => None,
        _ => Some(Config::resolve(&cli.global)?),
    };
    let Some(config) = config else {
        let Task::Status(status) = &task else {
            unreachable!("only status runs without a config")
        };
        let format = cli.global.output_format();
        let results = &cli.global.results;
        return commands::status::status(
            status,
            results,
            format,
            cli.global.quiet,
            None,
            Shutdown::never(),
        )
        .await;
    };
    let shutdown = Shutdown::install();
    match &task {
        Task::Bulk(bulk) => commands::onboard::bulk(config, bulk, shutdown).await,
        Task::Invite(invite) => commands::onboard::invite(config, invite, shutdown).await,
        Task::Offboard(offboard) => commands::offboard::offboard(config, offboard, shutdown).await,
        Task::Export(export) => commands::export::export(config, export, shutdown).await,
        Task::Doctor(doctor) => commands::doctor::doctor(config, doctor, shutdown).await,
        Task::Refresh(refresh) => commands::refresh::refresh(config, refresh, shutdown).await,
        Task::Status(status) => {
            let results = config.results.clone();
            let (format, quiet) = (config.format, config.quiet);
            commands::status::status(status, &results, format, quiet, Some(config), shutdown).await
        }
        Task::Completions(_) => unreachable!("handled above"),
    }
}
