//! The CSV input: read, checked row by row, deduplicated into the people to onboard.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::types::{Email, Role, TeamId};

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
}

/// A row that could not be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowProblem {
    /// The CSV line.
    pub line: u64,
    /// The column at fault.
    pub field: &'static str,
    /// What is wrong.
    pub message: String,
    /// The email cell as written, when there is one.
    pub raw_email: Option<String>,
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

#[derive(Default)]
struct Columns {
    email: Option<usize>,
    team: Option<usize>,
    role: Option<usize>,
    alias: Option<usize>,
}

/// Reads and checks a whole CSV file. Row problems are collected, not returned as errors,
/// so the caller can list them all (or skip them with `--skip-invalid`).
pub fn read_csv(path: &Path, defaults: &Defaults) -> Result<Roster, InputError> {
    let bytes = std::fs::read(path).map_err(|source| InputError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_csv(path, &bytes, defaults)
}

/// Parses CSV bytes (see [`read_csv`]); `path` is only used in messages.
pub fn parse_csv(path: &Path, bytes: &[u8], defaults: &Defaults) -> Result<Roster, InputError> {
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
    let mut roster = Roster::default();
    let mut columns: Option<Columns> = None;
    let mut seen: HashMap<Email, usize> = HashMap::new();
    let mut duplicate_index: HashMap<Email, usize> = HashMap::new();
    let mut record = csv::StringRecord::new();
    let mut lines = LineCounter::default();
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
                let (cols, is_data) = header(path, &record, &mut roster.warnings)?;
                columns = Some(cols);
                if !is_data {
                    continue;
                }
                columns.as_ref().expect("set above")
            }
        };
        let person = match row(line, &record, cols, defaults) {
            Ok(person) => person,
            Err(problem) => {
                roster.problems.push(problem);
                continue;
            }
        };
        if let Some(&first) = seen.get(&person.email) {
            let first_line = roster.people[first].line;
            let index = *duplicate_index
                .entry(person.email.clone())
                .or_insert_with(|| {
                    roster.duplicates.push(Duplicate {
                        email: person.email.clone(),
                        lines: vec![first_line],
                    });
                    roster.duplicates.len() - 1
                });
            roster.duplicates[index].lines.push(line);
            continue;
        }
        seen.insert(person.email.clone(), roster.people.len());
        roster.people.push(person);
    }
    if columns.is_none() {
        return Err(InputError::Empty(path.to_path_buf()));
    }
    Ok(roster)
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

/// Reads the header row. A first row whose first cell is an email starts a plain list of
/// emails (one per line, optionally a team id in the second column): it is data, not a header.
fn header(
    path: &Path,
    record: &csv::StringRecord,
    warnings: &mut Vec<String>,
) -> Result<(Columns, bool), InputError> {
    let first = record.get(0).unwrap_or_default();
    let names: Vec<String> = record
        .iter()
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    if !names.iter().any(|n| n == "user_email" || n == "email") && Email::parse(first).is_ok() {
        return Ok((
            Columns {
                email: Some(0),
                team: (record.len() > 1).then_some(1),
                ..Columns::default()
            },
            true,
        ));
    }
    let mut cols = Columns::default();
    for (index, name) in names.iter().enumerate() {
        let slot = match name.as_str() {
            "user_email" | "email" => &mut cols.email,
            "team_id" | "team" => &mut cols.team,
            "user_role" | "role" => &mut cols.role,
            "user_alias" | "alias" => &mut cols.alias,
            "" => continue,
            other => {
                warnings.push(format!(
                    "{}:1: column {other:?} is not used (known: user_email, team_id, user_role, user_alias)",
                    path.display()
                ));
                continue;
            }
        };
        slot.get_or_insert(index);
    }
    if cols.email.is_none() {
        return Err(InputError::NoEmailColumn {
            path: path.to_path_buf(),
            found: record.iter().collect::<Vec<_>>().join(","),
        });
    }
    Ok((cols, false))
}

fn row(
    line: u64,
    record: &csv::StringRecord,
    cols: &Columns,
    defaults: &Defaults,
) -> Result<Person, RowProblem> {
    let cell = |index: Option<usize>| index.and_then(|i| record.get(i)).filter(|v| !v.is_empty());
    let raw_email = cell(cols.email);
    let problem = |field, message: String| RowProblem {
        line,
        field,
        message,
        raw_email: raw_email.map(str::to_string),
    };
    let email =
        Email::parse(raw_email.unwrap_or_default()).map_err(|m| problem("user_email", m))?;
    let team = match (cell(cols.team), &defaults.team) {
        (Some(team), _) => TeamId::new(team),
        (None, Some(default)) => default.clone(),
        (None, None) => {
            return Err(problem(
                "team_id",
                "is empty and no --team was given".into(),
            ));
        }
    };
    let role = match cell(cols.role) {
        Some(role) => role.parse::<Role>().map_err(|m| problem("user_role", m))?,
        None => defaults.role.unwrap_or_default(),
    };
    Ok(Person {
        line,
        email,
        team,
        role,
        alias: cell(cols.alias).map(str::to_string),
    })
}

impl fmt::Display for RowProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}: {}", self.line, self.field, self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str, team: Option<&str>) -> Result<Roster, InputError> {
        let defaults = Defaults {
            team: team.map(TeamId::new),
            role: None,
        };
        parse_csv(Path::new("users.csv"), text.as_bytes(), &defaults)
    }

    #[test]
    fn spreadsheet_quirks_are_tolerated() {
        let text = "\u{feff} User_Email , TEAM_ID ,,\r\n\"alice@company.com\",t1,,\r\n\r\nbob@company.com , t2,,\r\n";
        let roster = parse(text, None).unwrap();
        let emails: Vec<_> = roster.people.iter().map(|p| p.email.as_str()).collect();
        assert_eq!(emails, ["alice@company.com", "bob@company.com"]);
        assert_eq!(roster.people[1].team.as_str(), "t2");
        assert_eq!(roster.people[1].line, 4);
        assert!(roster.problems.is_empty() && roster.warnings.is_empty());
    }

    #[test]
    fn problems_name_line_and_field() {
        let text = "user_email,team_id,user_role\nnot-an-email,t1,\ncarol@company.com,,\ndave@company.com,t1,boss\n";
        let roster = parse(text, None).unwrap();
        let fields: Vec<_> = roster.problems.iter().map(|p| (p.line, p.field)).collect();
        assert_eq!(
            fields,
            [(2, "user_email"), (3, "team_id"), (4, "user_role")]
        );
        assert!(roster.people.is_empty());
    }

    #[test]
    fn duplicates_are_merged_case_insensitively() {
        let text = "user_email\nalice@company.com\n ALICE@company.com\nbob@company.com\nalice@Company.com\n";
        let roster = parse(text, Some("t")).unwrap();
        assert_eq!(roster.people.len(), 2);
        assert_eq!(roster.duplicates[0].lines, [2, 3, 5]);
    }

    #[test]
    fn plain_list_of_emails_with_team() {
        let roster = parse("alice@company.com\nbob@company.com\n", Some("t")).unwrap();
        assert_eq!(roster.people.len(), 2);
        assert_eq!(roster.people[0].line, 1);
    }

    #[test]
    fn whole_file_errors() {
        assert!(matches!(parse("", None), Err(InputError::Empty(_))));
        assert!(matches!(
            parse("name,team_id\nx,y\n", None),
            Err(InputError::NoEmailColumn { .. })
        ));
        let bad = parse_csv(
            Path::new("u.csv"),
            b"user_email\n\xff\xfe@x.com\n",
            &Defaults::default(),
        );
        assert!(matches!(bad, Err(InputError::NotUtf8 { line: 2, .. })));
    }

    #[test]
    fn unknown_columns_warn() {
        let roster = parse("user_email,team_id,department\na@b.co,t,x\n", None).unwrap();
        assert_eq!(roster.people.len(), 1);
        assert!(roster.warnings[0].contains("department"));
    }
}
