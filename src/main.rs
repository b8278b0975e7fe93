//! The `onboard` binary: parse arguments, run, map the outcome to an exit code.

use std::process::ExitCode;

use clap::Parser;
use onboard::cli::Cli;
use onboard::error::Exit;

fn main() -> ExitCode {
    let cli = Cli::parse();
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
            Exit::CouldNotRun
        }
    };
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    ExitCode::from(exit as u8)
}
