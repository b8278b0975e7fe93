use super::*;

#[test]
fn chunks_are_at_most_500_and_as_few_as_possible() {
    assert_eq!(chunk_sizes(0), Vec::<usize>::new());
    assert_eq!(chunk_sizes(3), [3]);
    assert_eq!(chunk_sizes(500), [500]);
    assert_eq!(chunk_sizes(501), [251, 250]);
    assert_eq!(chunk_sizes(1000), [500, 500]);
    assert_eq!(chunk_sizes(1201), [401, 400, 400]);
}

#[test]
fn each_chunk_is_queued_before_its_people_and_one_chunk_ahead() {
    // 1,002 people, all bulk-created but the second.
    let members: Vec<u64> = (0..1002).filter(|&i| i != 1).collect();
    let (jobs, groups) = queue(members, 1002);
    assert_eq!(
        groups.iter().map(Vec::len).collect::<Vec<_>>(),
        [334, 334, 333]
    );
    let shape: Vec<String> = jobs
        .iter()
        .map(|j| match j {
            Job::Chunk(k) => format!("C{k}"),
            Job::Person(o, k) => format!("{o}:{k:?}"),
        })
        .collect();
    assert_eq!(shape[..5], ["C0", "0:Some(0)", "C1", "1:None", "2:Some(0)"]);
    let c2 = shape.iter().position(|s| s == "C2").unwrap();
    assert_eq!(shape[c2 - 1], "335:Some(1)");
    assert_eq!(jobs.len(), 1002 + 3);
}

#[test]
fn every_team_a_create_asks_for_is_checked_in_the_answer() {
    use crate::input::Person;
    use crate::settings::{Settings, TeamRole};
    use crate::types::{Email, Role, TeamId};
    let mut person = Person {
        line: 2,
        email: Email::unchecked("a@b.co"),
        team: TeamId::new("t1"),
        role: Role::InternalUser,
        alias: None,
        more_teams: vec![TeamId::new("t2"), TeamId::new("t3")],
        settings: Default::default(),
    };
    // The answer lists the first team only: the others get `add_to_team`, not just the first.
    let answer = vec!["t1".to_string(), "t3".to_string()];
    assert_eq!(chunk::missing(Some(&answer), &person), [TeamId::new("t2")]);
    assert_eq!(chunk::missing(None, &person).len(), 3);
    // A team admin's create asks for no team: their plan's own `add_to_team`s add them.
    person.settings = Settings {
        team_role: Some(TeamRole::Admin),
        ..Settings::default()
    }
    .into();
    assert!(chunk::missing(None, &person).is_empty());
}

mod against_the_emulator {
    use std::sync::atomic::Ordering;

    use super::*;
    use crate::input::Person;
    use crate::proxy::client::{ClientOptions, ProxyClient};
    use crate::proxy::pacer::{Limiter, Pacer, RetryPolicy};
    use crate::types::{Email, MasterKey, Role, TeamId};

    const DEV_TEST: &str = "f6dbea80-21b4-4f7b-a669-3d6adcc6e8d1";

    fn client(emulator: &litellm_emulator::Emulator) -> ProxyClient {
        let pacer = Arc::new(Pacer::new(Arc::new(Limiter::fixed(4)), None));
        let url = url::Url::parse(&emulator.url()).unwrap();
        ProxyClient::new(
            &url,
            MasterKey::new(emulator.master_key()),
            &ClientOptions::default(),
            pacer,
        )
        .unwrap()
    }

    fn person(line: u64, email: &str, team: &str) -> Person {
        Person {
            line,
            email: Email::unchecked(email),
            team: TeamId::new(team),
            role: Role::InternalUser,
            alias: None,
            more_teams: Vec::new(),
            settings: Default::default(),
        }
    }

    struct Quiet;

    impl crate::apply::drive::Notes for Quiet {
        fn note(&mut self, _: &str) {}
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_run_stopped_before_it_starts_counts_people_not_jobs() {
        let emulator =
            litellm_emulator::Emulator::start(litellm_emulator::EmulatorConfig::default())
                .await
                .unwrap();
        let client = client(&emulator);
        let executor = Executor {
            links: crate::proxy::links::Links::new(client.base(), None),
            client,
            retry: RetryPolicy::default(),
        };
        let items: Vec<Pending> = (0..3)
            .map(|i| Pending::Person(person(i, &format!("p{i}@company.com"), DEV_TEST)))
            .collect();
        let mut onboarding = Onboarding {
            lookups: Default::default(),
            rosters: Default::default(),
            options: Default::default(),
            now: Utc::now(),
            grants: Default::default(),
        };
        let dir = tempfile::tempdir().unwrap();
        let mut audit = Audit::open(&dir.path().join("results.json")).unwrap();
        let (signals, shutdown) = Shutdown::manual();
        signals.send_replace(1);
        let applied = apply_bulk(
            &executor,
            items,
            &mut onboarding,
            &mut audit,
            &mut Quiet,
            &shutdown,
            &mut (),
            |_, _, _| {},
            |_, _, _| {},
        )
        .await
        .unwrap();
        assert!(applied.interrupted);
        assert_eq!(applied.not_started, 3, "three people (and one chunk job)");
        assert_eq!(emulator.stats().write_requests, 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn rows_fail_alone_an_unknown_team_fails_its_person_an_existing_email_is_to_adopt() {
        let emulator =
            litellm_emulator::Emulator::start(litellm_emulator::EmulatorConfig::default())
                .await
                .unwrap();
        let existing = emulator.add_user("taken@company.com", &[DEV_TEST]);
        let client = client(&emulator);
        let entry = |i: u64, email: &str, team: &str| (i, person(i, email, team), None);
        let entries = vec![
            entry(0, "new@company.com", DEV_TEST),
            entry(1, "lost@company.com", "no-such-team"),
            entry(2, "TAKEN@company.com", DEV_TEST),
        ];
        let disabled = AtomicBool::new(false);
        let (records, made, report) =
            create_chunk(&client, RetryPolicy::default(), &disabled, entries).await;
        assert_eq!(report.requests, 1);
        assert_eq!(report.created, 1);
        assert_eq!(records.len(), 1, "only the created user is journaled");
        let new = &made[&Email::unchecked("new@company.com")];
        let Made::Created { record, missing } = new else {
            panic!("{new:?}")
        };
        assert!(missing.is_empty());
        assert_eq!(record.user, Some(UserOrigin::Created));
        assert!(record.invitation_id.is_none());
        let user = emulator.user(record.user_id.as_ref().unwrap().as_str());
        assert_eq!(user.unwrap().key_count, 0);
        let lost = &made[&Email::unchecked("lost@company.com")];
        assert!(
            matches!(lost, Made::Failed { reason, .. } if reason == "team not found"),
            "{lost:?}"
        );
        assert!(emulator.users_with_email("lost@company.com").is_empty());
        assert!(matches!(
            made[&Email::unchecked("taken@company.com")],
            Made::Exists
        ));
        assert_eq!(
            emulator.users_with_email("taken@company.com")[0].user_id,
            existing
        );
        assert!(!disabled.load(Ordering::Relaxed));
    }
}
