//! `onboard`: onboard people into a LiteLLM proxy — users, invitations and onboarding links —
//! safe to re-run, fast, and with an audit file that never loses a record.

pub mod app;
pub mod audit;
pub mod cli;
pub mod client;
pub mod config;
pub mod error;
pub mod flow;
pub mod input;
pub mod links;
pub mod output;
pub mod pacer;
pub mod plan;
pub mod preflight;
pub mod record;
pub mod run;
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
    let config = Config::resolve(&cli.global)?;
    let shutdown = Shutdown::install();
    match &cli.command {
        Some(Command::Invite(args)) => app::invite(config, args, shutdown).await,
        Some(Command::Refresh(_)) | Some(Command::Status(_)) => {
            Err(Fatal::new("refresh and status are not built yet"))
        }
        Some(Command::Completions { .. }) => unreachable!("handled above"),
        None => {
            let csv = cli
                .csv
                .as_deref()
                .expect("clap requires CSV without a subcommand");
            app::bulk(config, csv, &cli.bulk, shutdown).await
        }
    }
}
