use super::read::read_capped;
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
        .map(|p| (p.line, p.fields[0].field.as_str()))
        .collect();
    assert_eq!(
        fields,
        [(2, "user_email"), (3, "team_id"), (4, "user_role")]
    );
    assert!(roster.people.is_empty());
}

#[test]
fn duplicates_are_merged_case_insensitively() {
    let text =
        "user_email\nalice@company.com\n ALICE@company.com\nbob@company.com\nalice@Company.com\n";
    let roster = parse(text, Some("t")).unwrap();
    assert_eq!(roster.people.len(), 2);
    assert_eq!(roster.duplicates[0].lines, [2, 3, 5]);
}

#[test]
fn duplicates_keep_the_first_row_and_are_listed_as_their_first_repeat_comes() {
    let text = "user_email\na@x.com\nb@x.com\nB@x.com\na@x.com\nc@x.com\nb@x.com\n";
    let roster = parse(text, Some("t")).unwrap();
    let kept: Vec<(&str, u64)> = roster
        .people
        .iter()
        .map(|p| (p.email.as_str(), p.line))
        .collect();
    assert_eq!(kept, [("a@x.com", 2), ("b@x.com", 3), ("c@x.com", 6)]);
    let listed: Vec<(&str, &[u64])> = roster
        .duplicates
        .iter()
        .map(|d| (d.email.as_str(), d.lines.as_slice()))
        .collect();
    assert_eq!(
        listed,
        [("b@x.com", &[3, 4, 7][..]), ("a@x.com", &[2, 5][..])]
    );
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
        .map(|p| (p.line, p.fields[0].field.as_str()))
        .collect();
    assert_eq!(fields, [(2, "user_alias"), (4, "column 4"), (5, "team_id")]);
    assert!(
        roster.problems[0].fields[0]
            .message
            .contains("control character")
    );
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
    assert_eq!(
        read_capped(&b"abc"[..], 3, 3).unwrap(),
        Some(b"abc".to_vec())
    );
    assert_eq!(read_capped(&b"abcd"[..], 3, 0).unwrap(), None);
    assert_eq!(read_capped(std::io::repeat(0), 1024, 0).unwrap(), None);
}

#[test]
fn unknown_columns_warn() {
    let roster = parse("user_email,team_id,department\na@b.co,t,x\n", None).unwrap();
    assert_eq!(roster.people.len(), 1);
    assert!(roster.warnings[0].contains("department"));
}

#[test]
fn every_bad_field_of_a_row_is_reported() {
    let text = "user_email,teams,user_role,max_budget,budget_duration,models,metadata,team_role\n\
                not-an-email,,boss,-5,forever,\",\",[1],owner\n";
    let roster = parse(text, None).unwrap();
    assert_eq!(roster.problems.len(), 1, "one problem per row");
    let fields: Vec<&str> = roster.problems[0]
        .fields
        .iter()
        .map(|f| f.field.as_str())
        .collect();
    assert_eq!(
        fields,
        [
            "user_email",
            "teams",
            "user_role",
            "max_budget",
            "budget_duration",
            "models",
            "metadata",
            "team_role"
        ]
    );
    let shown = roster.problems[0].to_string();
    assert!(shown.starts_with("line 2: user_email: "), "{shown}");
    assert!(shown.contains("; team_role: "), "{shown}");
}

#[test]
fn header_names_ignore_case_spaces_and_hyphens() {
    let text =
        "User Email,Team ID,User-Role,Max Budget\nalice@company.com,t1,internal_user_viewer,5\n";
    let roster = parse(text, None).unwrap();
    assert!(roster.warnings.is_empty(), "{:?}", roster.warnings);
    assert!(roster.problems.is_empty(), "{:?}", roster.problems);
    assert_eq!(roster.people[0].team.as_str(), "t1");
    assert_eq!(roster.people[0].role, Role::InternalUserViewer);
    let again = "User Email,Team ID\na@b.co,t\nuser_email,team_id\n";
    let roster = parse(again, None).unwrap();
    assert_eq!(roster.people.len(), 1);
    assert!(roster.warnings[0].contains("repeated on line(s) 3"));
}

#[test]
fn reading_for_emails_looks_at_the_email_cell_only() {
    let text = "user_email,team_id,user_role,max_budget,budget_duration,notes\n\
                a@x.com,,boss,0,soon,\u{7}\n\
                not-an-email,t1,,,,\n\
                A@x.com\n";
    let list = parse_emails(Path::new("leavers.csv"), text.as_bytes()).unwrap();
    let emails: Vec<&str> = list.emails.iter().map(Email::as_str).collect();
    assert_eq!(emails, ["a@x.com", "a@x.com"]);
    let problems: Vec<(u64, &str)> = list
        .problems
        .iter()
        .map(|p| (p.line, p.fields[0].field.as_str()))
        .collect();
    assert_eq!(problems, [(3, "user_email")]);
    assert!(list.warnings.is_empty(), "{:?}", list.warnings);
    let control = parse_emails(Path::new("l.csv"), b"user_email\nb\x07@x.com\n").unwrap();
    assert_eq!(control.problems[0].fields[0].field, "user_email");
    assert!(matches!(
        parse_emails(Path::new("l.csv"), b"name\nx\n"),
        Err(InputError::NoEmailColumn { .. })
    ));
}
