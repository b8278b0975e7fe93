//! The email template: a `Subject: …` line, a blank line, then the plain-text body, with
//! `{email}`, `{link}`, `{expires_at}` and `{team}` filled in (`{{` and `}}` for braces).

use std::fmt;

/// The placeholders a template may use.
pub const PLACEHOLDERS: [&str; 4] = ["email", "link", "expires_at", "team"];

/// The template used without `--email-template`.
pub const DEFAULT_TEMPLATE: &str = "\
Subject: Your invitation to the LiteLLM proxy

Hello,

an account on our LiteLLM proxy has been set up for {email} (team {team}).
Open this link to choose your password and sign in:

{link}

The link works until {expires_at}. It is personal: please do not forward it.
If it has expired, ask your administrator for a new one.
";

/// One piece of a parsed text.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    Text(String),
    Field(&'static str),
}

/// A parsed, checked template.
#[derive(Clone, PartialEq, Eq)]
pub struct Template {
    subject: Vec<Piece>,
    body: Vec<Piece>,
}

impl fmt::Debug for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Template")
    }
}

/// The values for one person.
#[derive(Clone, Debug)]
pub struct Values<'a> {
    /// The person's email.
    pub email: &'a str,
    /// The onboarding link.
    pub link: &'a str,
    /// When the link stops working, as people read it.
    pub expires_at: &'a str,
    /// The team.
    pub team: &'a str,
}

impl Values<'_> {
    fn get(&self, field: &str) -> &str {
        match field {
            "email" => self.email,
            "link" => self.link,
            "expires_at" => self.expires_at,
            "team" => self.team,
            other => unreachable!("unchecked placeholder {other}"),
        }
    }
}

/// A filled-in email.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rendered {
    /// The subject line.
    pub subject: String,
    /// The body (lines end with `\n`).
    pub body: String,
}

fn parse_text(text: &str) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut literal = String::new();
    let mut rest = text;
    while let Some(i) = rest.find(['{', '}']) {
        literal.push_str(&rest[..i]);
        let tail = &rest[i..];
        if let Some(after) = tail.strip_prefix("{{") {
            literal.push('{');
            rest = after;
        } else if let Some(after) = tail.strip_prefix("}}") {
            literal.push('}');
            rest = after;
        } else if tail.starts_with('}') {
            return Err("a lone \"}\" (write \"}}\" for a brace)".into());
        } else {
            let end = tail
                .find('}')
                .ok_or("a \"{\" is never closed (write \"{{\" for a brace)")?;
            let name = tail[1..end].trim();
            let field = PLACEHOLDERS.iter().find(|p| **p == name).ok_or_else(|| {
                format!(
                    "unknown placeholder {{{name}}} (use {})",
                    PLACEHOLDERS.map(|p| format!("{{{p}}}")).join(", ")
                )
            })?;
            if !literal.is_empty() {
                pieces.push(Piece::Text(std::mem::take(&mut literal)));
            }
            pieces.push(Piece::Field(field));
            rest = &tail[end + 1..];
        }
    }
    literal.push_str(rest);
    if !literal.is_empty() {
        pieces.push(Piece::Text(literal));
    }
    Ok(pieces)
}

fn fill(pieces: &[Piece], values: &Values<'_>) -> String {
    pieces
        .iter()
        .map(|piece| match piece {
            Piece::Text(text) => text.as_str(),
            Piece::Field(field) => values.get(field),
        })
        .collect()
}

impl Template {
    /// Parses a template; the error says what is wrong with it.
    pub fn parse(text: &str) -> Result<Template, String> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let text = text.replace("\r\n", "\n");
        let (first, rest) = text.split_once('\n').unwrap_or((&text, ""));
        let subject = first
            .get(..8)
            .filter(|head| head.eq_ignore_ascii_case("subject:"))
            .map(|_| first[8..].trim())
            .ok_or("the first line must be \"Subject: …\"")?;
        if subject.is_empty() {
            return Err("the subject is empty".into());
        }
        let body = rest
            .strip_prefix('\n')
            .ok_or("a blank line must follow the subject line")?;
        let subject = parse_text(subject).map_err(|e| format!("subject: {e}"))?;
        let body = parse_text(body).map_err(|e| format!("body: {e}"))?;
        if !body.contains(&Piece::Field("link")) {
            return Err("the body must contain {link}".into());
        }
        Ok(Template { subject, body })
    }

    /// The built-in template.
    pub fn builtin() -> Template {
        Template::parse(DEFAULT_TEMPLATE).expect("the built-in template parses")
    }

    /// Fills in the template for one person. Values never break the subject onto a new line.
    pub fn render(&self, values: &Values<'_>) -> Rendered {
        let subject = fill(&self.subject, values)
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let mut body = fill(&self.body, values);
        if !body.ends_with('\n') {
            body.push('\n');
        }
        Rendered { subject, body }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values() -> Values<'static> {
        Values {
            email: "a@b.co",
            link: "https://p/ui/onboarding?invitation_id=1",
            expires_at: "2026-11-30 08:00 UTC",
            team: "Dev",
        }
    }

    #[test]
    fn builtin_template_has_everything() {
        let mail = Template::builtin().render(&values());
        assert_eq!(mail.subject, "Your invitation to the LiteLLM proxy");
        for part in [
            "a@b.co",
            "(team Dev)",
            "invitation_id=1",
            "until 2026-11-30 08:00 UTC",
        ] {
            assert!(mail.body.contains(part), "{part} missing in {}", mail.body);
        }
        assert!(mail.body.starts_with("Hello,\n"));
    }

    #[test]
    fn custom_template_with_braces_and_crlf() {
        let t = Template::parse("subject: Hi {email}\r\n\r\n{{literal}} {link} {team}").unwrap();
        let mail = t.render(&values());
        assert_eq!(mail.subject, "Hi a@b.co");
        assert_eq!(
            mail.body,
            "{literal} https://p/ui/onboarding?invitation_id=1 Dev\n"
        );
    }

    #[test]
    fn bad_templates_say_why() {
        for (text, why) in [
            ("Hello {link}", "first line"),
            ("Subject:\n\n{link}", "subject is empty"),
            ("Subject: x\nbody {link}", "blank line"),
            ("Subject: x\n\nno link", "must contain {link}"),
            ("Subject: x\n\n{link} {name}", "unknown placeholder {name}"),
            ("Subject: x\n\n{link} {oops", "never closed"),
            ("Subject: x}\n\n{link}", "lone"),
        ] {
            let err = Template::parse(text).unwrap_err();
            assert!(err.contains(why), "{text:?}: {err}");
        }
    }

    #[test]
    fn values_cannot_break_the_subject() {
        let t = Template::parse("Subject: for {team}\n\n{link}").unwrap();
        let mut v = values();
        v.team = "x\r\nBcc: evil@x.co";
        assert_eq!(t.render(&v).subject, "for x  Bcc: evil@x.co");
    }
}
