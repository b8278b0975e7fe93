//! The exit codes, and the error that stops a run.

/// The process exit codes, documented in the README.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Everything asked for was done.
    Success = 0,
    /// The run finished, but some people failed.
    Failures = 1,
    /// The run could not start or stopped: usage, config, input, auth, proxy unreachable.
    CouldNotRun = 2,
    /// Interrupted by Ctrl-C or SIGTERM.
    Interrupted = 130,
}

impl Exit {
    /// The exit code of a command that ran to its end: the one rule for every command.
    pub fn of(failures: usize, interrupted: bool) -> Exit {
        if interrupted {
            Exit::Interrupted
        } else if failures > 0 {
            Exit::Failures
        } else {
            Exit::Success
        }
    }
}

/// An error that stops the run, with the exit code it maps to.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Fatal {
    /// What to tell the user (already free of secrets).
    pub message: String,
    /// A hint on what to do, printed after the message.
    pub hint: Option<String>,
    /// The exit code: 2 (could not run), or 130 when a stop signal ended the run early.
    pub exit: Exit,
    /// The error behind the message, when there is one (the audit file's, the CSV's, …).
    #[source]
    pub cause: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl Fatal {
    /// A fatal error with a message.
    pub fn new(message: impl Into<String>) -> Self {
        Fatal {
            message: message.into(),
            hint: None,
            exit: Exit::CouldNotRun,
            cause: None,
        }
    }

    /// A fatal error that keeps its cause; the message is the cause's.
    pub fn caused(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        let message = error.to_string();
        Fatal {
            cause: Some(Box::new(error)),
            ..Fatal::new(message)
        }
    }

    /// The run was stopped by a signal before it started any write.
    pub fn interrupted() -> Self {
        Fatal::stopped("interrupted during pre-flight: nothing was sent or written")
    }

    /// A stop signal ended the command before it changed anything (exit 130).
    pub fn stopped(message: impl Into<String>) -> Self {
        Fatal {
            exit: Exit::Interrupted,
            ..Fatal::new(message)
        }
    }

    /// Adds a hint.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}
