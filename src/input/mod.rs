//! The CSV input: read, checked row by row, deduplicated into the people to onboard.

mod cell;
mod columns;
mod read;
mod row;
#[cfg(test)]
mod tests;

use std::fmt;
use std::path::{Path, PathBuf};

use crate::settings::CompactSettings;
use crate::types::{Email, Role, TeamId};
use columns::{Columns, cell_names, header};
use row::{email_row, row};

/// The largest CSV read (a file or stdin); a bigger input is refused, not read.
pub const MAX_CSV_BYTES: u64 = 64 * 1024 * 1024;

/// One person to onboard, as the CSV (and the defaults) describe them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Person {
    /// The line of the CSV this person comes from (1-based; 0 for the command line).
    pub line: u64,
    /// The normalised email.
    pub email: Email,
    /// The team (an id, or an alias until resolved).
    pub team: TeamId,
    /// The role to create the user with.
    pub role: Role,
    /// An optional display name.
    pub alias: Option<String>,
    /// The teams after the first (a `teams` cell may name several), in order.
    pub more_teams: Vec<TeamId>,
    /// What else the row manages (empty cells: not managed).
    pub settings: CompactSettings,
}

impl Person {
    /// Every team of the row, the first (the record's `team_id`) first.
    pub fn teams(&self) -> impl Iterator<Item = &TeamId> {
        std::iter::once(&self.team).chain(&self.more_teams)
    }

    /// True when a re-run must read the user's row on the proxy to compare: the row has a
    /// settings cell, an alias, or more than one team.
    pub fn needs_user_row(&self) -> bool {
        self.settings.manages_user()
            || self.settings.team_role.is_some()
            || self.alias.is_some()
            || !self.more_teams.is_empty()
    }
}

/// A row that could not be used: every field at fault in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowProblem {
    /// The CSV line.
    pub line: u64,
    /// The fields at fault, in column order of the checks (never empty).
    pub fields: Vec<FieldProblem>,
    /// The email cell as written, when there is one.
    pub raw_email: Option<String>,
}

/// One field of a row that is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldProblem {
    /// The column at fault.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl RowProblem {
    /// The fields at fault, as `field: message; field: message`.
    pub fn detail(&self) -> String {
        let parts: Vec<String> = self
            .fields
            .iter()
            .map(|f| format!("{}: {}", f.field, f.message))
            .collect();
        parts.join("; ")
    }
}

/// An email that appears more than once: onboarded once, from its first line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Duplicate {
    /// The email.
    pub email: Email,
    /// Every line it is on, the first being the one used.
    pub lines: Vec<u64>,
}

/// What reading a CSV gives: the people, and what was noticed on the way.
#[derive(Debug, Default)]
pub struct Roster {
    /// The people, in CSV order, each email once.
    pub people: Vec<Person>,
    /// Rows that failed validation.
    pub problems: Vec<RowProblem>,
    /// Emails seen more than once.
    pub duplicates: Vec<Duplicate>,
    /// Things worth saying that do not stop the run.
    pub warnings: Vec<String>,
}

/// Defaults from the command line for columns a row leaves empty.
#[derive(Clone, Debug, Default)]
pub struct Defaults {
    /// `--team`.
    pub team: Option<TeamId>,
    /// `--role`.
    pub role: Option<Role>,
}

/// The file as a whole could not be read.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// The file could not be opened or read.
    #[error("{path}: cannot read: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A line is not UTF-8.
    #[error("{path}:{line}: not UTF-8 text (save the file as UTF-8 CSV)")]
    NotUtf8 {
        /// The file.
        path: PathBuf,
        /// The line.
        line: u64,
    },
    /// The CSV syntax is broken.
    #[error("{path}:{line}: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// The line.
        line: u64,
        /// What the parser said.
        message: String,
    },
    /// Not a regular file (a FIFO, a device, a directory): it could block or never end.
    #[error("{0}: not a regular file (give a CSV file, or - to read stdin)")]
    NotRegular(PathBuf),
    /// Bigger than [`MAX_CSV_BYTES`].
    #[error("{0}: larger than {MAX_CSV_BYTES} bytes (64 MiB): not read; split the file")]
    TooLarge(PathBuf),
    /// A header and no row.
    #[error("{0}: no rows (only a header)")]
    NoRows(PathBuf),
    /// Nothing in the file.
    #[error("{0}: the file is empty (expected a header row with user_email,team_id)")]
    Empty(PathBuf),
    /// A header without `user_email`.
    #[error("{path}:1: no user_email column in the header (found: {found})")]
    NoEmailColumn {
        /// The file.
        path: PathBuf,
        /// The header cells.
        found: String,
    },
}

pub use cell::neutralise;
pub use read::{read_csv, read_emails};
pub use row::RowReader;

/// Parses CSV bytes (see [`read_csv`]); `path` is only used in messages.
pub fn parse_csv(path: &Path, bytes: &[u8], defaults: &Defaults) -> Result<Roster, InputError> {
    // No room reserved up front: a file of blank lines would reserve a person for each. The
    // people grow as rows are read, and spare room is given back at the end.
    let mut roster = Roster::default();
    let Roster {
        people,
        problems,
        warnings,
        ..
    } = &mut roster;
    each_row(path, bytes, true, warnings, |line, record, cols| match row(
        line, record, cols, defaults,
    ) {
        Ok(person) => people.push(person),
        Err(problem) => problems.push(problem),
    })?;
    roster.duplicates = dedupe(&mut roster.people);
    // A large roster is held for the whole run: no spare room.
    roster.people.shrink_to_fit();
    Ok(roster)
}

/// What reading a CSV for its emails only gives (`offboard`): the other columns are not
/// looked at, so a cell an onboarding run would refuse does not matter.
#[derive(Debug, Default)]
pub struct EmailList {
    /// Every row's email, in CSV order (repeats kept).
    pub emails: Vec<Email>,
    /// Rows whose email is wrong.
    pub problems: Vec<RowProblem>,
    /// Things worth saying that do not stop the run.
    pub warnings: Vec<String>,
}

/// Parses CSV bytes for their emails (see [`read_emails`]); `path` is only used in messages.
pub fn parse_emails(path: &Path, bytes: &[u8]) -> Result<EmailList, InputError> {
    let mut list = EmailList::default();
    let EmailList {
        emails,
        problems,
        warnings,
    } = &mut list;
    // Columns other than the email are not used, whatever they are: no warning of them.
    each_row(
        path,
        bytes,
        false,
        warnings,
        |line, record, cols| match email_row(line, record, cols) {
            Ok(email) => emails.push(email),
            Err(problem) => problems.push(problem),
        },
    )?;
    Ok(list)
}

/// Hands `each` every data row with its line and the header's columns: the checks of the file
/// as a whole (UTF-8, not empty, a header with an email column, some row) are made here, and a
/// repeated header row is skipped (a warning says so). `unknown_columns`: warn of header
/// cells that name no column `onboard` reads.
fn each_row(
    path: &Path,
    bytes: &[u8],
    unknown_columns: bool,
    warnings: &mut Vec<String>,
    mut each: impl FnMut(u64, &csv::StringRecord, &Columns),
) -> Result<(), InputError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if let Err(e) = std::str::from_utf8(bytes) {
        let line = 1 + bytes[..e.valid_up_to()]
            .iter()
            .filter(|b| **b == b'\n')
            .count() as u64;
        return Err(InputError::NotUtf8 {
            path: path.to_path_buf(),
            line,
        });
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(InputError::Empty(path.to_path_buf()));
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let mut columns: Option<Columns> = None;
    let mut record = csv::StringRecord::new();
    let mut lines = LineCounter::default();
    let mut header_names: Option<Vec<String>> = None;
    let mut repeated_headers: Vec<u64> = Vec::new();
    let mut rows = 0usize;
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                return Err(InputError::Syntax {
                    path: path.to_path_buf(),
                    line,
                    message: e.to_string(),
                });
            }
        }
        let line = lines.line_at(bytes, record.position().map_or(0, |p| p.byte() as usize));
        if record.iter().all(str::is_empty) {
            continue;
        }
        let cols = match &columns {
            Some(cols) => cols,
            None => {
                let mut unused = Vec::new();
                let told = if unknown_columns {
                    &mut *warnings
                } else {
                    &mut unused
                };
                let (cols, is_data) = header(path, &record, told)?;
                columns = Some(cols);
                if !is_data {
                    header_names = Some(cell_names(&record));
                    continue;
                }
                columns.as_ref().expect("set above")
            }
        };
        if header_names.as_ref() == Some(&cell_names(&record)) {
            repeated_headers.push(line);
            continue;
        }
        rows += 1;
        each(line, &record, cols);
    }
    if columns.is_none() {
        return Err(InputError::Empty(path.to_path_buf()));
    }
    if rows == 0 {
        return Err(InputError::NoRows(path.to_path_buf()));
    }
    if !repeated_headers.is_empty() {
        let lines: Vec<String> = repeated_headers.iter().map(u64::to_string).collect();
        warnings.push(format!(
            "{}: the header row is repeated on line(s) {}: skipped",
            path.display(),
            lines.join(", ")
        ));
    }
    Ok(())
}

/// Keeps the first row of each email and says which were repeated (in the order their first
/// repeat comes). Found by sorting, so a large file needs no table of its emails.
fn dedupe(people: &mut Vec<Person>) -> Vec<Duplicate> {
    let mut order: Vec<usize> = (0..people.len()).collect();
    order.sort_unstable_by(|&a, &b| people[a].email.cmp(&people[b].email).then(a.cmp(&b)));
    let mut dropped = vec![false; people.len()];
    let mut duplicates = Vec::new();
    for group in order.chunk_by(|&a, &b| people[a].email == people[b].email) {
        if let [first, repeats @ ..] = group
            && !repeats.is_empty()
        {
            repeats.iter().for_each(|&i| dropped[i] = true);
            let lines = group.iter().map(|&i| people[i].line).collect();
            let email = people[*first].email.clone();
            duplicates.push((repeats[0], Duplicate { email, lines }));
        }
    }
    duplicates.sort_unstable_by_key(|(repeat, _)| *repeat);
    let mut index = 0;
    people.retain(|_| {
        index += 1;
        !dropped[index - 1]
    });
    duplicates.into_iter().map(|(_, d)| d).collect()
}

/// Turns byte offsets into 1-based line numbers (the csv crate's own count lags on CRLF).
#[derive(Default)]
struct LineCounter {
    byte: usize,
    line: u64,
}

impl LineCounter {
    /// The line a record starting at `start` is on, skipping blank lines before it.
    /// Offsets must not decrease between calls.
    fn line_at(&mut self, bytes: &[u8], mut start: usize) -> u64 {
        while start < bytes.len() && matches!(bytes[start], b'\r' | b'\n') {
            start += 1;
        }
        let start = start.max(self.byte);
        self.line += bytes[self.byte..start]
            .iter()
            .filter(|b| **b == b'\n')
            .count() as u64;
        self.byte = start;
        self.line + 1
    }
}

impl fmt::Display for RowProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.detail())
    }
}
