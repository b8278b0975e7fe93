//! Build script: `onboard --version` names the commit when built from this project's own git
//! checkout, and only the version otherwise (an sdist, a crate unpacked from a registry, no git).

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let version = std::env::var("CARGO_PKG_VERSION").expect("cargo sets CARGO_PKG_VERSION");
    let dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let commit = checkout_commit(&dir);
    if commit.is_some() {
        // A commit, a checkout or a reset moves HEAD and appends to its reflog.
        for name in ["HEAD", "logs/HEAD"] {
            if let Some(path) = git(&dir, &["rev-parse", "--git-path", name]) {
                let path = dir.join(path);
                if path.exists() {
                    println!("cargo:rerun-if-changed={}", path.display());
                }
            }
        }
    }
    println!(
        "cargo:rustc-env=ONBOARD_VERSION={}",
        long_version(&version, commit.as_deref())
    );
}

/// `0.1.0`, or `0.1.0 (commit 0123456789ab)`.
pub(crate) fn long_version(version: &str, commit: Option<&str>) -> String {
    match commit {
        Some(commit) => format!("{version} (commit {commit})"),
        None => version.to_string(),
    }
}

/// The commit checked out in `dir`, when `dir` is the top of a git work tree (not a directory
/// inside some other repository, such as an sdist unpacked under a checkout or a home directory
/// kept in git) and git runs.
pub(crate) fn checkout_commit(dir: &Path) -> Option<String> {
    let top = git(dir, &["rev-parse", "--show-toplevel"])?;
    if Path::new(&top).canonicalize().ok()? != dir.canonicalize().ok()? {
        return None;
    }
    git(dir, &["rev-parse", "--short=12", "HEAD"])
}

/// What `git ARGS` prints in `dir`, trimmed; `None` if git is missing, fails or prints nothing.
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let output = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .ok()?;
    let text = String::from_utf8(output.stdout).ok()?;
    let text = text.trim();
    (output.status.success() && !text.is_empty()).then(|| text.to_string())
}
