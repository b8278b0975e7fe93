//! `onboard --version`: the version, and the commit when built from this project's git checkout
//! (the build script decides; an sdist or a copy without git gets the version alone).

mod common;

use std::path::Path;
use std::process::Command;

#[path = "../build.rs"]
#[allow(dead_code)]
mod build_script;

/// `git ARGS` in `dir`, which must succeed; its output, trimmed.
fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
        .args(["-c", "commit.gpgsign=false"])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git runs");
    assert!(output.status.success(), "git {args:?}: {output:?}");
    String::from_utf8(output.stdout).unwrap().trim().to_string()
}

#[test]
fn version_names_the_commit_it_was_built_from() {
    let output = assert_cmd::cargo::cargo_bin_cmd!("onboard")
        .arg("--version")
        .output()
        .unwrap();
    assert!(output.status.success());
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        common::expected_version()
    );
}

#[test]
fn only_the_top_of_a_checkout_has_a_commit() {
    let repo = tempfile::tempdir().unwrap();
    let plain = tempfile::tempdir().unwrap();
    assert_eq!(build_script::checkout_commit(plain.path()), None);

    git(repo.path(), &["init", "-q"]);
    assert_eq!(
        build_script::checkout_commit(repo.path()),
        None,
        "no commit yet"
    );
    git(
        repo.path(),
        &["commit", "-q", "--allow-empty", "-m", "first"],
    );
    let head = git(repo.path(), &["rev-parse", "HEAD"]);
    let commit = build_script::checkout_commit(repo.path()).expect("a commit");
    assert_eq!(commit.len(), 12);
    assert!(head.starts_with(&commit), "{commit} is not {head}");

    // An sdist unpacked inside some other repository is not that repository's commit.
    let unpacked = repo.path().join("target/litellm_onboard-0.1.0");
    std::fs::create_dir_all(&unpacked).unwrap();
    assert_eq!(build_script::checkout_commit(&unpacked), None);

    assert_eq!(
        build_script::long_version("1.2.3", Some(&commit)),
        format!("1.2.3 (commit {commit})")
    );
    assert_eq!(build_script::long_version("1.2.3", None), "1.2.3");
}
