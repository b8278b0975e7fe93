//! The `onboard` binary: parse arguments, run, map the outcome to an exit code.

use std::process::ExitCode;

use clap::Parser;
use onboard::cli::Cli;
use onboard::error::Exit;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.global.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("onboard: error: cannot start the async runtime: {e}");
            return ExitCode::from(Exit::CouldNotRun as u8);
        }
    };
    let exit = match runtime.block_on(onboard::run(cli)) {
        Ok(exit) => exit,
        Err(fatal) => {
            eprintln!("onboard: error: {}", fatal.message);
            if let Some(hint) = &fatal.hint {
                eprintln!("  hint: {hint}");
            }
            fatal.exit
        }
    };
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    ExitCode::from(exit as u8)
}

/// Logs on stderr: off by default, `-v` info, `-vv` debug; `RUST_LOG` wins when set.
fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "off",
        1 => "onboard=info",
        _ => "onboard=debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(
            std::io::IsTerminal::is_terminal(&std::io::stderr())
                && std::env::var_os("NO_COLOR").is_none(),
        )
        .with_target(false)
        .init();
}
