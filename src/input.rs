//! The CSV input: read, checked row by row, deduplicated into the people to onboard.

use std::collections::HashMap;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::settings::{self, Budget, Settings, TeamRole};
use crate::types::{Email, Role, TeamId, escape, no_control};

/// The largest CSV read (a file or stdin); a bigger input is refused, not read.
pub const MAX_CSV_BYTES: u64 = 64 * 1024 * 1024;

/// The most unknown column names a warning lists before "and N more".
const UNKNOWN_COLUMNS_LISTED: usize = 10;

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
    pub settings: Settings,
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

/// A row that could not be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowProblem {
    /// The CSV line.
    pub line: u64,
    /// The column at fault.
    pub field: String,
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

#[derive(Default)]
struct Columns {
    email: Option<usize>,
    team: Option<usize>,
    /// The team column is `teams`: a cell may name several, comma-separated.
    teams_cell: bool,
    role: Option<usize>,
    alias: Option<usize>,
    max_budget: Option<usize>,
    budget_duration: Option<usize>,
    models: Option<usize>,
    metadata: Option<usize>,
    team_role: Option<usize>,
}

/// The columns `onboard` reads, as the messages name them.
const KNOWN_COLUMNS: &str = "user_email, team_id or teams, user_role, user_alias, max_budget, budget_duration, models, metadata, team_role";

/// Reads and checks a whole CSV file (`-` is stdin). Row problems are collected, not returned
/// as errors, so the caller can list them all (or skip them with `--skip-invalid`).
pub fn read_csv(path: &Path, defaults: &Defaults) -> Result<Roster, InputError> {
    let io = |source| InputError::Io {
        path: path.to_path_buf(),
        source,
    };
    if path == Path::new("-") {
        let name = Path::new("<stdin>");
        let bytes = read_capped(std::io::stdin().lock(), MAX_CSV_BYTES)
            .map_err(|source| InputError::Io {
                path: name.to_path_buf(),
                source,
            })?
            .ok_or_else(|| InputError::TooLarge(name.to_path_buf()))?;
        return parse_csv(name, &bytes, defaults);
    }
    // Checked before opening: opening a FIFO blocks until a writer comes.
    let regular = |meta: std::fs::Metadata| {
        if !meta.is_file() {
            return Err(InputError::NotRegular(path.to_path_buf()));
        }
        if meta.len() > MAX_CSV_BYTES {
            return Err(InputError::TooLarge(path.to_path_buf()));
        }
        Ok(())
    };
    regular(std::fs::metadata(path).map_err(io)?)?;
    let file = std::fs::File::open(path).map_err(io)?;
    regular(file.metadata().map_err(io)?)?;
    let bytes = read_capped(file, MAX_CSV_BYTES)
        .map_err(io)?
        .ok_or_else(|| InputError::TooLarge(path.to_path_buf()))?;
    parse_csv(path, &bytes, defaults)
}

/// Reads at most `cap` bytes; `None` when there is more.
fn read_capped(reader: impl Read, cap: u64) -> std::io::Result<Option<Vec<u8>>> {
    let mut bytes = Vec::new();
    reader.take(cap + 1).read_to_end(&mut bytes)?;
    Ok((bytes.len() as u64 <= cap).then_some(bytes))
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
                let (cols, is_data) = header(path, &record, &mut roster.warnings)?;
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
    if rows == 0 {
        return Err(InputError::NoRows(path.to_path_buf()));
    }
    if !repeated_headers.is_empty() {
        let lines: Vec<String> = repeated_headers.iter().map(u64::to_string).collect();
        roster.warnings.push(format!(
            "{}: the header row is repeated on line(s) {}: skipped",
            path.display(),
            lines.join(", ")
        ));
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

/// A row's cells as header names are compared: trimmed, lower case, without trailing empties.
fn cell_names(record: &csv::StringRecord) -> Vec<String> {
    let mut names: Vec<String> = record.iter().map(|h| h.trim().to_lowercase()).collect();
    while names.last().is_some_and(String::is_empty) {
        names.pop();
    }
    names
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
    let mut unknown = Vec::new();
    for (index, name) in names.iter().enumerate() {
        let slot = match name.as_str() {
            "user_email" | "email" => &mut cols.email,
            "team_id" | "team" => &mut cols.team,
            "teams" => {
                if cols.team.is_none() {
                    cols.teams_cell = true;
                }
                &mut cols.team
            }
            "user_role" | "role" => &mut cols.role,
            "user_alias" | "alias" => &mut cols.alias,
            "max_budget" => &mut cols.max_budget,
            "budget_duration" => &mut cols.budget_duration,
            "models" => &mut cols.models,
            "metadata" => &mut cols.metadata,
            "team_role" => &mut cols.team_role,
            "" => continue,
            other => {
                unknown.push(other);
                continue;
            }
        };
        slot.get_or_insert(index);
    }
    if !unknown.is_empty() {
        let mut listed: Vec<String> = unknown
            .iter()
            .take(UNKNOWN_COLUMNS_LISTED)
            .map(|name| format!("\"{}\"", escape(name)))
            .collect();
        if unknown.len() > UNKNOWN_COLUMNS_LISTED {
            listed.push(format!(
                "and {} more",
                unknown.len() - UNKNOWN_COLUMNS_LISTED
            ));
        }
        warnings.push(format!(
            "{}:1: {} column(s) not used: {} (known: {KNOWN_COLUMNS})",
            path.display(),
            unknown.len(),
            listed.join(", ")
        ));
    }
    if cols.email.is_none() {
        return Err(InputError::NoEmailColumn {
            path: path.to_path_buf(),
            found: escape(&record.iter().collect::<Vec<_>>().join(",")),
        });
    }
    Ok((cols, false))
}

impl Columns {
    /// The team column's name, for messages.
    fn team_field(&self) -> &'static str {
        if self.teams_cell { "teams" } else { "team_id" }
    }
}

fn row(
    line: u64,
    record: &csv::StringRecord,
    cols: &Columns,
    defaults: &Defaults,
) -> Result<Person, RowProblem> {
    let cell = |index: Option<usize>| index.and_then(|i| record.get(i)).filter(|v| !v.is_empty());
    let raw_email = cell(cols.email);
    let problem = |field: &str, message: String| RowProblem {
        line,
        field: field.to_string(),
        message,
        raw_email: raw_email.map(str::to_string),
    };
    for (index, value) in record.iter().enumerate() {
        if let Err(message) = no_control(value) {
            let named = [
                (cols.email, "user_email"),
                (cols.team, cols.team_field()),
                (cols.role, "user_role"),
                (cols.alias, "user_alias"),
                (cols.max_budget, "max_budget"),
                (cols.budget_duration, "budget_duration"),
                (cols.models, "models"),
                (cols.metadata, "metadata"),
                (cols.team_role, "team_role"),
            ];
            let field = match named.iter().find(|(i, _)| *i == Some(index)) {
                Some((_, name)) => name.to_string(),
                None => format!("column {}", index + 1),
            };
            return Err(problem(&field, message));
        }
    }
    let email =
        Email::parse(raw_email.unwrap_or_default()).map_err(|m| problem("user_email", m))?;
    let team_field = cols.team_field();
    let mut teams: Vec<TeamId> = match (cell(cols.team), &defaults.team) {
        (Some(cell), _) if cols.teams_cell => cell
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(TeamId::new)
            .collect(),
        (Some(team), _) => vec![TeamId::new(team)],
        (None, Some(default)) => vec![default.clone()],
        (None, None) => Vec::new(),
    };
    if teams.is_empty() {
        return Err(problem(
            team_field,
            "is empty and no --team was given".into(),
        ));
    }
    let mut seen_teams = std::collections::HashSet::new();
    teams.retain(|t| seen_teams.insert(t.clone()));
    let team = teams.remove(0);
    let explicit_role = match cell(cols.role) {
        Some(role) => Some(role.parse::<Role>().map_err(|m| problem("user_role", m))?),
        None => None,
    };
    let role = explicit_role.unwrap_or(defaults.role.unwrap_or_default());
    let parsed =
        |index: Option<usize>, field: &str, parse: &dyn Fn(&str) -> Result<(), String>| match cell(
            index,
        ) {
            Some(text) => parse(text).map_err(|m| problem(field, m)),
            None => Ok(()),
        };
    parsed(cols.max_budget, "max_budget", &|t| {
        Budget::parse(t).map(drop)
    })?;
    parsed(cols.budget_duration, "budget_duration", &|t| {
        settings::parse_budget_duration(t).map(drop)
    })?;
    parsed(cols.models, "models", &|t| {
        settings::parse_models(t).map(drop)
    })?;
    parsed(cols.metadata, "metadata", &|t| {
        settings::parse_metadata(t).map(drop)
    })?;
    parsed(cols.team_role, "team_role", &|t| {
        TeamRole::parse(t).map(drop)
    })?;
    // Checked above: these parse.
    let settings = Settings {
        role: explicit_role,
        max_budget: cell(cols.max_budget).and_then(|t| Budget::parse(t).ok()),
        budget_duration: cell(cols.budget_duration)
            .and_then(|t| settings::parse_budget_duration(t).ok()),
        models: cell(cols.models).and_then(|t| settings::parse_models(t).ok()),
        metadata: cell(cols.metadata).and_then(|t| settings::parse_metadata(t).ok()),
        team_role: cell(cols.team_role).and_then(|t| TeamRole::parse(t).ok()),
    };
    Ok(Person {
        line,
        email,
        team,
        role,
        alias: cell(cols.alias).map(str::to_string),
        more_teams: teams,
        settings,
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
        let fields: Vec<_> = roster
            .problems
            .iter()
            .map(|p| (p.line, p.field.as_str()))
            .collect();
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
    fn control_characters_in_any_cell_are_problems() {
        let text = "user_email,team_id,user_alias,note\na@b.co,t,\"Evil\r\nBcc: x\",\nc@d.co,t,C,\"x\u{1b}]0;y\u{7}\"\ne@f.co,t\u{1b},E,\ng@h.co,t,G,\n";
        let roster = parse(text, None).unwrap();
        let fields: Vec<_> = roster
            .problems
            .iter()
            .map(|p| (p.line, p.field.as_str()))
            .collect();
        assert_eq!(fields, [(2, "user_alias"), (4, "column 4"), (5, "team_id")]);
        assert!(roster.problems[0].message.contains("control character"));
        assert_eq!(roster.people.len(), 1);
    }

    #[test]
    fn unknown_columns_are_one_warning() {
        let mut text = String::from("user_email,team_id");
        for i in 0..1000 {
            text.push_str(&format!(",extra{i}"));
        }
        text.push_str(",\"\u{1b}]0;pwned\u{7}\"\na@b.co,t\n");
        let roster = parse(&text, None).unwrap();
        assert_eq!(roster.warnings.len(), 1, "{:?}", roster.warnings);
        let warning = &roster.warnings[0];
        assert!(warning.contains("1001 column(s) not used"), "{warning}");
        assert!(warning.contains("\"extra9\", and 991 more"), "{warning}");
        assert!(!warning.contains("extra10"), "{warning}");
        let roster = parse(
            "user_email,team_id,\"\u{1b}]0;pwned\u{7}\"\na@b.co,t\n",
            None,
        )
        .unwrap();
        assert!(roster.warnings[0].contains("\\u{1b}]0;pwned\\u{7}"));
        assert!(!roster.warnings[0].contains('\u{1b}'));
    }

    #[test]
    fn a_repeated_header_is_skipped_with_one_warning() {
        let text =
            "user_email,team_id\na@b.co,t\n User_Email , TEAM_ID ,\nc@d.co,t\nuser_email,team_id\n";
        let roster = parse(text, None).unwrap();
        let emails: Vec<_> = roster.people.iter().map(|p| p.email.as_str()).collect();
        assert_eq!(emails, ["a@b.co", "c@d.co"]);
        assert!(roster.problems.is_empty());
        assert_eq!(roster.warnings.len(), 1);
        assert!(roster.warnings[0].contains("repeated on line(s) 3, 5"));
    }

    #[test]
    fn a_header_without_rows_is_an_error() {
        for text in [
            "user_email,team_id\n",
            "user_email,team_id\n\n,\nuser_email,team_id\n",
        ] {
            let err = parse(text, None).unwrap_err();
            assert!(matches!(err, InputError::NoRows(_)), "{text:?}: {err}");
            assert_eq!(err.to_string(), "users.csv: no rows (only a header)");
        }
    }

    #[test]
    fn idn_spellings_are_one_person() {
        let roster = parse(
            "user_email\nalice@bücher.example\nalice@xn--bcher-kva.example\n",
            Some("t"),
        )
        .unwrap();
        assert_eq!(roster.people.len(), 1);
        assert_eq!(
            roster.people[0].email.as_str(),
            "alice@xn--bcher-kva.example"
        );
        assert_eq!(roster.duplicates[0].lines, [2, 3]);
    }

    #[test]
    fn reads_are_capped() {
        assert_eq!(read_capped(&b"abc"[..], 3).unwrap(), Some(b"abc".to_vec()));
        assert_eq!(read_capped(&b"abcd"[..], 3).unwrap(), None);
        assert_eq!(read_capped(std::io::repeat(0), 1024).unwrap(), None);
    }

    #[test]
    fn unknown_columns_warn() {
        let roster = parse("user_email,team_id,department\na@b.co,t,x\n", None).unwrap();
        assert_eq!(roster.people.len(), 1);
        assert!(roster.warnings[0].contains("department"));
    }
}
