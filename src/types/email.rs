//! An email address: the identity every match uses, and the spelling it was given.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An email address, checked for syntax.
///
/// Two spellings of one address are one person: equality, hashing and order use the
/// *identity* (the local part lower-cased, the domain lower-cased in its ASCII form, so
/// `Anna@Bücher.example` and `anna@xn--bcher-kva.example` are equal). The spelling it was
/// given (trimmed) is kept for what is sent to the proxy, which stores emails as given.
///
/// The identity is what is shown and what the audit file records: a record keeps one key
/// whichever spelling the next CSV uses, and files written before the spelling was kept
/// (which hold this form) read the same.
#[derive(Clone, Debug)]
pub struct Email {
    identity: String,
    given: String,
}

impl Email {
    /// Parses an address; the error says what is wrong with it. The domain must contain a dot.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err("is empty".into());
        }
        if let Err(e) = email_address::EmailAddress::from_str(trimmed) {
            return Err(format!("{trimmed:?} is not a valid email address ({e})"));
        }
        let (local, domain) = trimmed.rsplit_once('@').unwrap_or((trimmed, ""));
        if !domain.contains('.') {
            return Err(format!("{trimmed:?} has no domain with a dot"));
        }
        let domain = match url::Host::parse(domain) {
            Ok(url::Host::Domain(ascii)) => ascii,
            Ok(_) => domain.to_lowercase(),
            Err(e) => return Err(format!("{trimmed:?} has an invalid domain ({e})")),
        };
        Ok(Email {
            identity: format!("{}@{domain}", local.to_lowercase()),
            given: trimmed.to_string(),
        })
    }

    /// Text that failed validation, or an email as the proxy stores it: keyed by the same
    /// identity as a checked address where it has one (an unusable domain is lower-cased).
    pub fn unchecked(raw: &str) -> Self {
        let trimmed = raw.trim();
        let identity = match trimmed.rsplit_once('@') {
            Some((local, domain)) => {
                let domain =
                    idna::domain_to_ascii(domain).unwrap_or_else(|_| domain.to_lowercase());
                format!("{}@{domain}", local.to_lowercase())
            }
            None => trimmed.to_lowercase(),
        };
        Email {
            identity,
            given: trimmed.to_string(),
        }
    }

    /// The identity: the local part lower-cased, `@`, the domain lower-cased in ASCII.
    pub fn as_str(&self) -> &str {
        &self.identity
    }

    /// The spelling given (trimmed): what `/user/new` is sent.
    pub fn given(&self) -> &str {
        &self.given
    }

    /// True when the domain is internationalised: the proxy may hold it in Unicode or in
    /// punycode, and its duplicate check (an equality of the stored string) sees only one.
    pub fn has_idn_domain(&self) -> bool {
        self.identity
            .rsplit_once('@')
            .is_some_and(|(_, domain)| domain.split('.').any(|l| l.starts_with("xn--")))
    }

    /// The spellings to ask the proxy's `/user/list?user_email=` (a case-insensitive
    /// substring match on the stored string) with: the one given, and for an
    /// internationalised domain the other form of it (Unicode or punycode), since the proxy
    /// may hold either.
    pub fn spellings(&self) -> Vec<String> {
        let mut spellings = vec![self.given.clone()];
        let Some((local, given_domain)) = self.given.rsplit_once('@') else {
            return spellings;
        };
        if !self.has_idn_domain() {
            return spellings;
        }
        let ascii = self.identity.rsplit_once('@').map_or("", |(_, d)| d);
        let (unicode, fine) = idna::domain_to_unicode(ascii);
        if fine.is_err() || unicode == ascii {
            return spellings;
        }
        let other = if given_domain.is_ascii() {
            unicode
        } else {
            ascii.to_string()
        };
        spellings.push(format!("{local}@{other}"));
        spellings
    }
}

impl PartialEq for Email {
    fn eq(&self, other: &Self) -> bool {
        self.identity == other.identity
    }
}

impl Eq for Email {}

impl Hash for Email {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.identity.hash(state);
    }
}

impl PartialOrd for Email {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Email {
    fn cmp(&self, other: &Self) -> Ordering {
        self.identity.cmp(&other.identity)
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.identity)
    }
}

impl Serialize for Email {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.identity)
    }
}

impl<'de> Deserialize<'de> for Email {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Ok(Email::unchecked(&text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_is_trimmed_and_lowercased() {
        let email = Email::parse("  Alice@Company.COM ").unwrap();
        assert_eq!(email.as_str(), "alice@company.com");
        assert_eq!(email.given(), "Alice@Company.COM");
    }

    #[test]
    fn bad_emails_are_rejected() {
        for bad in [
            "",
            "alice",
            "alice@",
            "@company.com",
            "a b@c.com",
            "alice@localhost",
            "a.b@localhost",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn case_and_both_idn_spellings_are_one_identity() {
        let unicode = Email::parse("Anna@Bücher.example").unwrap();
        let ascii = Email::parse("anna@xn--bcher-kva.example").unwrap();
        let upper = Email::parse("ANNA@BÜCHER.EXAMPLE").unwrap();
        assert_eq!(unicode, ascii);
        assert_eq!(unicode, upper);
        assert_eq!(unicode.as_str(), "anna@xn--bcher-kva.example");
        assert_eq!(unicode.given(), "Anna@Bücher.example");
        assert_eq!(unicode.cmp(&ascii), Ordering::Equal);
        let set: std::collections::HashSet<Email> = [unicode, ascii, upper].into();
        assert_eq!(set.len(), 1);
    }

    #[test]
    fn a_proxy_email_matches_by_identity() {
        let ours = Email::parse("anna@xn--bcher-kva.example").unwrap();
        assert_eq!(Email::unchecked(" anna@bücher.example"), ours);
        assert_eq!(Email::unchecked("ANNA@Bücher.Example"), ours);
        assert_ne!(Email::unchecked("hanna@bücher.example"), ours);
        // Text that is no address is still keyed, lower-cased.
        assert_eq!(Email::unchecked(" Not An Email ").as_str(), "not an email");
    }

    #[test]
    fn only_an_idn_email_is_asked_for_in_two_spellings() {
        let plain = Email::parse("Bob@Company.com").unwrap();
        assert!(!plain.has_idn_domain());
        assert_eq!(plain.spellings(), ["Bob@Company.com"]);
        let unicode = Email::parse("Anna@Bücher.example").unwrap();
        assert!(unicode.has_idn_domain());
        assert_eq!(
            unicode.spellings(),
            ["Anna@Bücher.example", "Anna@xn--bcher-kva.example"]
        );
        let ascii = Email::parse("anna@xn--bcher-kva.example").unwrap();
        assert_eq!(
            ascii.spellings(),
            ["anna@xn--bcher-kva.example", "anna@bücher.example"]
        );
    }

    #[test]
    fn the_audit_file_holds_the_identity_and_reads_either_spelling() {
        let email = Email::parse("Anna@Bücher.example").unwrap();
        let json = serde_json::to_string(&email).unwrap();
        assert_eq!(json, "\"anna@xn--bcher-kva.example\"");
        let old: Email = serde_json::from_str("\"anna@xn--bcher-kva.example\"").unwrap();
        let unicode: Email = serde_json::from_str("\"Anna@Bücher.example\"").unwrap();
        assert_eq!(old, email);
        assert_eq!(unicode, email);
    }
}
