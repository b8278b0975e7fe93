use super::*;
use clap::CommandFactory;

#[test]
fn definition_is_consistent() {
    Cli::command().debug_assert();
}

#[test]
fn csv_and_subcommands_parse() {
    let cli =
        Cli::try_parse_from(["onboard", "users.csv", "--team", "t", "--concurrency", "8"]).unwrap();
    assert_eq!(cli.csv.unwrap(), PathBuf::from("users.csv"));
    assert_eq!(cli.global.concurrency, Some(8));
    let cli = Cli::try_parse_from(["onboard", "invite", "a@b.co", "--team", "t"]).unwrap();
    assert!(matches!(cli.command, Some(Command::Invite(_))));
    let cli = Cli::try_parse_from(["onboard", "./invite"]).unwrap();
    assert!(cli.command.is_none());
    let cli =
        Cli::try_parse_from(["onboard", "status", "--results", "r.json", "--pending"]).unwrap();
    assert_eq!(cli.global.results, PathBuf::from("r.json"));
    assert!(Cli::try_parse_from(["onboard"]).is_err());
    assert!(Cli::try_parse_from(["onboard", "x.csv", "--concurrency", "0"]).is_err());
}

#[test]
fn durations_and_rates_are_typed_at_the_edge() {
    for (text, secs) in [
        ("24h", 86_400),
        ("2d", 172_800),
        ("30m", 1_800),
        ("90s", 90),
        ("0s", 0),
        ("1d12h", 129_600),
    ] {
        assert_eq!(parse_within(text), Ok(Duration::from_secs(secs)), "{text}");
    }
    assert_eq!(parse_duration("1w"), Ok(INVITATION_LIFETIME));
    for bad in ["1w", "7d", "8d", "", "abc", "5", "-1h"] {
        assert!(parse_within(bad).is_err(), "--within {bad}");
    }
    assert_eq!(parse_timeout("30"), Ok(Duration::from_secs(30)));
    assert_eq!(parse_timeout("2.5"), Ok(Duration::from_millis(2500)));
    assert_eq!(parse_timeout("30s"), Ok(Duration::from_secs(30)));
    assert_eq!(parse_timeout("2m"), Ok(Duration::from_secs(120)));
    for bad in ["inf", "NaN", "0", "-1", "0s", "3601", "2h", "1e30", "abc"] {
        assert!(parse_timeout(bad).is_err(), "--timeout {bad}");
    }
    assert_eq!(parse_rate("0.5"), Ok(0.5));
    for bad in ["1e-20", "0", "-3", "inf", "NaN", "1e9", "x"] {
        assert!(parse_rate(bad).is_err(), "--rate {bad}");
    }
}
