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

use crate::cli::{Cli, Command};
use crate::config::Config;
use crate::error::{Exit, Fatal};
use crate::shutdown::Shutdown;

/// Runs the parsed command line to an exit code; a fatal error carries its message.
pub async fn run(cli: Cli) -> Result<Exit, Fatal> {
    if let Some(Command::Completions { shell }) = &cli.command {
        clap_complete::generate(
            *shell,
            &mut Cli::command(),
            "onboard",
            &mut std::io::stdout(),
        );
        return Ok(Exit::Success);
    }
    if let Some(Command::Status(args)) = &cli.command {
        // Status reads the audit file only: no proxy URL or key unless --check.
        let config = if args.check {
            Some(Config::resolve(&cli.global)?)
        } else {
            None
        };
        let format = cli.global.output_format();
        let results = &cli.global.results;
        return commands::status::status(args, results, format, cli.global.quiet, config).await;
    }
    let config = Config::resolve(&cli.global)?;
    let shutdown = Shutdown::install();
    match &cli.command {
        Some(Command::Invite(args)) => commands::onboard::invite(config, args, shutdown).await,
        Some(Command::Refresh(args)) => commands::refresh::refresh(config, args, shutdown).await,
        Some(Command::Export(args)) => commands::export::export(config, args, shutdown).await,
        Some(Command::Status(_)) | Some(Command::Completions { .. }) => {
            unreachable!("handled above")
        }
        None => {
            let csv = cli
                .csv
                .as_deref()
                .expect("clap requires CSV without a subcommand");
            commands::onboard::bulk(config, csv, &cli.bulk, shutdown).await
        }
    }
}
