//! The README's samples, run against the emulator and compared with what they show.
//!
//! Every ```` ```console ```` block is a terminal session: its `$ command` lines run in one
//! `sh` (stderr merged into stdout), in one scratch directory, against one emulator, in README
//! order, and the lines after each command must be its output. Before comparing, both sides get
//! the same placeholders: ids (`[ID]`), timestamps (`[TIME]`), dates (`[DATE]`), durations
//! (`in [ELAPSED] s`), relative times (`[WHEN]`), runs of spaces (one space); the emulator's
//! URL reads `http://127.0.0.1:4000`. `[..]` in a sample matches anything on its line, and a
//! line `...` any number of lines. ```` ```console,ignore ```` opts a block out; a block of
//! another kind that starts with `$ ` is refused (an unchecked sample). Hidden set-up goes in
//! `<!-- readme-test: … -->` comments; CONTRIBUTING.md lists them.

mod common;

use std::process::Command;

use chrono::Duration;
use common::Env;
use regex::Regex;

/// Ends each command's output in a block's script, followed by its exit code.
const MARK: &str = "@@readme-test exit ";

/// What the README holds, in order.
enum Item {
    /// A `<!-- readme-test: … -->` directive.
    Directive { line: usize, text: String },
    /// A fenced block.
    Block {
        line: usize,
        info: String,
        body: Vec<String>,
    },
}

fn items(text: &str) -> Vec<Item> {
    let mut items = Vec::new();
    let mut lines = text.lines().enumerate();
    while let Some((index, line)) = lines.next() {
        let trimmed = line.trim();
        if let Some(rest) = trimmed.strip_prefix("<!-- readme-test:") {
            let text = rest
                .strip_suffix("-->")
                .expect("a directive fits on one line");
            items.push(Item::Directive {
                line: index + 1,
                text: text.trim().to_string(),
            });
        } else if let Some(info) = trimmed.strip_prefix("```") {
            let mut body = Vec::new();
            for (_, line) in lines.by_ref() {
                if line.trim() == "```" {
                    break;
                }
                body.push(line.to_string());
            }
            items.push(Item::Block {
                line: index + 1,
                info: info.trim().to_string(),
                body,
            });
        }
    }
    items
}

/// The placeholders both sides get before they are compared.
struct Placeholders {
    rules: Vec<(Regex, &'static str)>,
}

impl Placeholders {
    fn new() -> Self {
        let rules = [
            (
                r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
                "[ID]",
            ),
            (
                r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?",
                "[TIME]",
            ),
            (r"\d{4}-\d{2}-\d{2}", "[DATE]"),
            (r"in \d+\.\d s\b", "in [ELAPSED] s"),
            (r"\bin \d+ (day|hour|minute|second)s?\b", "[WHEN]"),
            (r"\b\d+ (day|hour|minute|second)s? ago\b", "[WHEN]"),
            (r"(\S) {2,}", "$1 "),
            (r" +$", ""),
        ];
        Placeholders {
            rules: rules
                .into_iter()
                .map(|(re, to)| (Regex::new(&format!("(?m){re}")).unwrap(), to))
                .collect(),
        }
    }

    fn apply(&self, text: &str) -> String {
        let mut text = text.to_string();
        for (re, to) in &self.rules {
            text = re.replace_all(&text, *to).into_owned();
        }
        text
    }
}

/// One line of a sample against one line of output: `[..]` matches anything.
fn line_matches(expected: &str, actual: &str) -> bool {
    let parts: Vec<&str> = expected.split("[..]").collect();
    if parts.len() == 1 {
        return expected == actual;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !actual.starts_with(first) || !actual[first.len()..].ends_with(last) {
        return false;
    }
    let mut rest = &actual[first.len()..actual.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    true
}

/// A sample's lines against the output's: a line `...` matches any number of lines.
fn lines_match(expected: &[&str], actual: &[&str]) -> bool {
    match expected.split_first() {
        None => actual.is_empty(),
        Some((&"...", rest)) => (0..=actual.len()).any(|skip| lines_match(rest, &actual[skip..])),
        Some((line, rest)) => {
            actual.first().is_some_and(|a| line_matches(line, a)) && lines_match(rest, &actual[1..])
        }
    }
}

/// The README session: one emulator and one scratch directory, set up by the directives.
struct Session {
    env: Env,
    placeholders: Placeholders,
    /// Set by `file NAME`: the next block is written to NAME.
    file: Option<String>,
    /// Set by `exit N` for the next console block.
    exit: i32,
    /// Set by `unordered` for the next console block.
    unordered: bool,
    failures: Vec<String>,
}

impl Session {
    fn new() -> Self {
        Session {
            env: Env::ready_proxy(),
            placeholders: Placeholders::new(),
            file: None,
            exit: 0,
            unordered: false,
            failures: Vec::new(),
        }
    }

    /// Runs `command` in `sh`, stderr merged into stdout: (exit code, output).
    fn sh(&self, command: &str) -> (i32, String) {
        let bin = std::path::Path::new(env!("CARGO_BIN_EXE_onboard"))
            .parent()
            .expect("the binary's directory")
            .to_path_buf();
        let path = format!(
            "{}:{}",
            bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let out = Command::new("sh")
            .arg("-c")
            .arg(format!("exec 2>&1; {command}"))
            .current_dir(self.env.dir.path())
            .env_clear()
            .env("PATH", path)
            .env("HOME", self.env.dir.path())
            .env("NO_COLOR", "1")
            .env("LITELLM_PROXY_URL", self.env.emulator.url())
            .env("LITELLM_MASTER_KEY", common::KEY)
            .output()
            .expect("sh runs");
        let text = String::from_utf8_lossy(&out.stdout)
            .replace(&self.env.emulator.url(), "http://127.0.0.1:4000");
        (out.status.code().unwrap_or(-1), text)
    }

    /// A string field of the person's audit record.
    fn recorded(&self, email: &str, key: &str) -> String {
        let record = self.env.record(email);
        let value = record[key].as_str();
        value
            .unwrap_or_else(|| panic!("{email}: no {key}"))
            .to_string()
    }

    fn directive(&mut self, line: usize, text: &str) {
        let (word, arg) = text.split_once(' ').unwrap_or((text, ""));
        match word {
            "reset" => self.env = Env::ready_proxy(),
            "file" => self.file = Some(arg.to_string()),
            "exit" => self.exit = arg.parse().expect("exit N"),
            "unordered" => self.unordered = true,
            "clock" => {
                let days: i64 = arg.trim_end_matches('d').parse().expect("clock -Nd");
                self.env.emulator.set_clock_offset(Duration::days(days));
            }
            "run" => {
                let (code, out) = self.sh(arg);
                if code != 0 {
                    self.failures.push(format!(
                        "README.md:{line}: set-up `{arg}` exited {code}:\n{out}"
                    ));
                }
            }
            "add-user" => {
                self.env.emulator.add_user(arg, &[]);
            }
            "accept" => {
                let id = self.recorded(arg, "invitation_id");
                assert!(self.env.emulator.accept_invitation(&id), "accept {arg}");
            }
            "delete-user" => {
                let id = self.recorded(arg, "user_id");
                assert!(self.env.emulator.delete_user(&id), "delete-user {arg}");
            }
            other => panic!("README.md:{line}: unknown readme-test directive {other:?}"),
        }
    }

    fn block(&mut self, line: usize, info: &str, body: &[String]) {
        if let Some(name) = self.file.take() {
            let mut text = body.join("\n");
            text.push('\n');
            self.env.write(&name, &text);
            return;
        }
        let kinds: Vec<&str> = info.split(',').map(str::trim).collect();
        let starts_with_command = body.first().is_some_and(|l| l.starts_with("$ "));
        if kinds.contains(&"ignore") {
            return;
        }
        if kinds[0] != "console" {
            if starts_with_command {
                self.failures.push(format!(
                    "README.md:{line}: a command sample in a ```{info} block: make it ```console (checked) or ```console,ignore"
                ));
            }
            return;
        }
        let (exit, unordered) = (self.exit, self.unordered);
        self.exit = 0;
        self.unordered = false;
        let mut commands: Vec<(usize, &str, Vec<&str>)> = Vec::new();
        for (offset, text) in body.iter().enumerate() {
            match text.strip_prefix("$ ") {
                Some(command) => commands.push((line + 1 + offset, command, Vec::new())),
                None => match commands.last_mut() {
                    Some((_, _, expected)) => expected.push(text),
                    None => self.failures.push(format!(
                        "README.md:{line}: a ```console block starts with a `$ command` line"
                    )),
                },
            }
        }
        // One shell for the block, as on a terminal: each command's end is marked with its
        // exit code.
        let script: String = commands
            .iter()
            .map(|(_, command, _)| format!("{command}\nprintf '\\n{MARK}%d\\n' $?\n"))
            .collect();
        let (_, all) = self.sh(&script);
        let mut ends = all.split(MARK);
        let mut output = ends.next().unwrap_or_default().to_string();
        for (at, command, expected) in commands {
            let rest = ends.next().unwrap_or("-1\n");
            let (code, next) = rest.split_once('\n').unwrap_or((rest, ""));
            let code: i32 = code.parse().unwrap_or(-1);
            let output = std::mem::replace(&mut output, next.to_string());
            let output = output.strip_suffix('\n').unwrap_or(&output);
            let expected = self.placeholders.apply(&expected.join("\n"));
            let actual = self.placeholders.apply(output.trim_end_matches('\n'));
            let mut want: Vec<&str> = expected.lines().collect();
            let mut got: Vec<&str> = actual.lines().collect();
            if unordered {
                want.sort_unstable();
                got.sort_unstable();
            }
            if code != exit || !lines_match(&want, &got) {
                self.failures.push(format!(
                    "README.md:{at}: `{command}` (exit {code}, expected {exit})\n--- the README shows (with placeholders) ---\n{expected}\n--- it prints ---\n{actual}\n--- as printed ---\n{output}"
                ));
            }
        }
    }
}

#[test]
fn every_readme_sample_is_what_the_tool_prints() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
    let text = std::fs::read_to_string(path).expect("README.md");
    let mut session = Session::new();
    let mut ran = 0;
    for item in items(&text) {
        match item {
            Item::Directive { line, text } => session.directive(line, &text),
            Item::Block { line, info, body } => {
                ran += usize::from(info == "console");
                session.block(line, &info, &body);
            }
        }
    }
    assert!(ran >= 5, "the README has {ran} checked samples");
    assert!(
        session.failures.is_empty(),
        "{} README sample(s) differ from what the tool prints:\n\n{}",
        session.failures.len(),
        session.failures.join("\n\n")
    );
}

#[test]
fn placeholders_and_wildcards_match_only_what_they_stand_for() {
    let p = Placeholders::new();
    let shown = p.apply("✓ a@b.co: invited (expires 2026-11-30 08:40 UTC) in 0.3 s\n    http://127.0.0.1:4000/ui/onboarding?invitation_id=60b2afd6-4511-408e-a854-d5f9c136682a");
    let printed = p.apply("✓ a@b.co: invited (expires 2026-12-10 09:00 UTC) in 12.5 s\n    http://127.0.0.1:4000/ui/onboarding?invitation_id=7fe68d6f-4939-446f-a6d5-61b68dc72fba");
    assert_eq!(shown, printed);
    let other = p.apply("✓ a@b.co: user created (expires 2026-12-10 09:00 UTC) in 12.5 s");
    assert_ne!(shown.lines().next(), other.lines().next());
    assert!(line_matches(
        "failed: [..] not found",
        "failed: team x not found"
    ));
    assert!(!line_matches(
        "failed: [..] not found",
        "failed: team x missing"
    ));
    assert!(lines_match(&["a", "...", "d"], &["a", "b", "c", "d"]));
    assert!(!lines_match(&["a", "d"], &["a", "b", "d"]));
}

/// A heading's anchor as GitHub makes it: lower case, punctuation dropped, spaces to hyphens.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

#[test]
fn every_link_within_the_readme_and_contributing_goes_to_a_heading() {
    let link = Regex::new(r"\]\(#([^)]+)\)").unwrap();
    for name in ["README.md", "CONTRIBUTING.md"] {
        let path = format!("{}/{name}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).expect(name);
        let mut fenced = false;
        let mut anchors = std::collections::HashSet::new();
        for line in text.lines() {
            if line.trim_start().starts_with("```") {
                fenced = !fenced;
            } else if !fenced && line.starts_with('#') {
                anchors.insert(anchor(line.trim_start_matches('#')));
            }
        }
        let broken: Vec<&str> = link
            .captures_iter(&text)
            .map(|c| c.get(1).unwrap().as_str())
            .filter(|a| !anchors.contains(*a))
            .collect();
        assert!(broken.is_empty(), "{name}: links to no heading: {broken:?}");
    }
    assert_eq!(anchor(" Quiet: `-q`"), "quiet--q");
}
