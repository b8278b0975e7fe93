//! The one printer: data on stdout, everything else on stderr; quiet, JSON and link-only
//! modes; colour only on a terminal (never with `NO_COLOR`); a progress bar on a terminal.
//!
//! The core is here; what prints plans is in `plan`, what reports finished people and the
//! end of a run in `person`.

mod person;
mod plan;

use std::io::{IsTerminal, Write};

use anstyle::{AnsiColor, Style};
use indicatif::{ProgressBar, ProgressStyle};

pub use crate::types::when;

/// How results are shown.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Lines for people (the default).
    #[default]
    Text,
    /// A JSON array of results on stdout.
    Json,
}

/// Decides what goes where.
#[derive(Debug)]
pub struct Printer {
    format: Format,
    quiet: bool,
    link_only: bool,
    json_started: bool,
    stdout: std::io::BufWriter<std::io::Stdout>,
    color_out: bool,
    color_err: bool,
    bar: Option<ProgressBar>,
    /// Team aliases by id (read in pre-flight), for plan lines.
    team_names: std::collections::HashMap<crate::types::TeamId, String>,
}

const GREEN: Style = AnsiColor::Green.on_default();
const RED: Style = AnsiColor::Red.on_default();
const DIM: Style = Style::new().dimmed();

/// "1 person", "2 people": how every count of people is written.
pub fn people(n: usize) -> String {
    if n == 1 {
        "1 person".into()
    } else {
        format!("{n} people")
    }
}

fn colors(stream: &impl anstream::stream::RawStream) -> bool {
    anstream::AutoStream::choice(stream) != anstream::ColorChoice::Never
}

impl crate::apply::drive::Notes for Printer {
    fn note(&mut self, message: &str) {
        Printer::note(self, message);
    }
}

impl Printer {
    /// A printer for a bulk run.
    pub fn new(format: Format, quiet: bool) -> Self {
        Printer {
            format,
            quiet,
            link_only: false,
            json_started: false,
            stdout: std::io::BufWriter::new(std::io::stdout()),
            color_out: colors(&std::io::stdout()),
            color_err: colors(&std::io::stderr()),
            bar: None,
            team_names: std::collections::HashMap::new(),
        }
    }

    /// Names teams by their aliases in plan lines (read in pre-flight).
    pub fn name_teams<'a>(&mut self, teams: impl IntoIterator<Item = &'a crate::proxy::api::Team>) {
        for team in teams {
            if let Some(alias) = &team.team_alias {
                self.team_names.insert(team.team_id.clone(), alias.clone());
            }
        }
    }

    /// Shows a progress bar for `total` people on stderr, if it is a terminal and the
    /// output is for people (not `-q`, not JSON, not one-off).
    pub fn progress(&mut self, total: u64) {
        if self.quiet
            || self.link_only
            || self.format != Format::Text
            || !std::io::stderr().is_terminal()
        {
            return;
        }
        let style = ProgressStyle::with_template("{bar:30} {pos}/{len} people, eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
        self.bar = Some(ProgressBar::new(total).with_style(style));
    }

    fn paint(color: bool, style: Style, text: &str) -> String {
        if color {
            format!("{style}{text}{style:#}")
        } else {
            text.to_string()
        }
    }

    /// A line on stdout, drawn around the progress bar.
    fn out(&mut self, line: &str) {
        match self.bar.clone() {
            Some(bar) => bar.suspend(|| {
                writeln!(self.stdout, "{line}").ok();
                self.stdout.flush().ok();
            }),
            None => {
                writeln!(self.stdout, "{line}").ok();
            }
        }
    }

    /// A line on stderr, after whatever stdout holds, drawn around the progress bar.
    fn err(&mut self, line: &str) {
        self.flush();
        match &self.bar {
            Some(bar) => bar.suspend(|| eprintln!("{line}")),
            None => eprintln!("{line}"),
        }
    }

    /// A printer for `onboard invite`: only the link on stdout (in text format).
    pub fn link_only(format: Format, quiet: bool) -> Self {
        Printer {
            link_only: true,
            ..Printer::new(format, quiet)
        }
    }

    /// True with `-q`: say only what needs the reader — new links (stdout), warnings and
    /// failures (stderr), the summary only when [`Printer::summary`] is told it is notable.
    /// Read-only output (status, export, a dry run's plan) is data and printed in full.
    pub fn is_quiet(&self) -> bool {
        self.quiet
    }

    /// A line of data on stdout, whatever the mode (the caller decides what `-q` hides).
    pub fn data(&mut self, line: &str) {
        self.out(line);
    }

    /// A line for the person reading stderr (suppressed by `-q`).
    pub fn note(&mut self, message: &str) {
        if !self.quiet {
            self.err(&format!("onboard: {message}"));
        }
    }

    /// A warning: shown even with `-q`.
    pub fn warn(&mut self, message: &str) {
        let label = Self::paint(self.color_err, AnsiColor::Yellow.on_default(), "warning:");
        self.err(&format!("onboard: {label} {message}"));
    }

    /// Lines that always show on stderr (failures), after whatever stdout holds.
    pub fn failures(&mut self, lines: &[String]) {
        for line in lines {
            self.err(line);
        }
    }

    /// The end-of-run summary on stderr: `-q` hides it unless it is `notable` (a failure,
    /// an interruption). The one place that decides what `-q` keeps.
    pub fn summary(&mut self, lines: &[String], notable: bool) {
        if self.quiet && !notable {
            return;
        }
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        for line in lines {
            self.err(line);
        }
    }

    /// Asks the person at the terminal a question on stderr (the caller reads the answer).
    pub fn prompt(&mut self, question: &str) -> std::io::Result<()> {
        self.flush();
        if let Some(bar) = &self.bar {
            bar.suspend(|| eprint!("{question} "));
        } else {
            eprint!("{question} ");
        }
        std::io::stderr().flush()
    }

    /// Flushes stdout.
    pub fn flush(&mut self) {
        self.stdout.flush().ok();
    }
}

/// Rows of cells as aligned lines: each column as wide as its widest cell, two spaces
/// between, the last column unpadded.
pub fn table(cells: &[Vec<String>]) -> Vec<String> {
    let columns = cells.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            cells
                .iter()
                .filter_map(|row| row.get(c))
                .map(|cell| cell.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    cells
        .iter()
        .map(|row| {
            let mut line = String::new();
            for (c, cell) in row.iter().enumerate() {
                if c + 1 == row.len() {
                    line.push_str(cell);
                } else {
                    line.push_str(&format!("{cell:<width$}  ", width = widths[c]));
                }
            }
            line
        })
        .collect()
}
