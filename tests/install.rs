//! The install path without Rust, as a LiteLLM admin takes it: `pip install .` from this checkout
//! into a fresh virtual environment builds the wheel (maturin, release profile, with the release's
//! glibc floor), and the installed `onboard` onboards people on the emulator.
//!
//! It needs python3 that can make a virtual environment (`.ci/run` sees to it) and the package
//! index: pip fetches maturin for the build, and ziglang, which links against the floor's glibc.
//! Its cargo build has a target directory of its own, so it never waits on the cargo running
//! the tests. The first run builds for a few minutes; later runs rebuild what changed.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{DEV_TEST, Env, RESEARCH};

/// maturin's arguments for a wheel to publish, as RELEASING.md builds it: the oldest glibc it
/// may need is 2.17 (manylinux2014, as ruff and uv promise), linked by zig; maturin refuses a
/// binary that needs a newer one.
const RELEASE_ARGS: &str = "--locked --zig --compatibility manylinux2014";
/// The newest glibc symbol version the binary may need.
const GLIBC_FLOOR: (u32, u32) = (2, 17);
/// The zig that links the release build (from the package index).
const ZIGLANG: &str = "ziglang==0.17.1";

#[test]
fn pip_install_from_the_checkout_gives_a_working_onboard() {
    let checkout = Path::new(env!("CARGO_MANIFEST_DIR"));
    let work = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let tools = build_tools(&work.join("wheel-tools"));
    let venv = tempfile::tempdir_in(work).unwrap();
    run(Command::new("python3")
        .args(["-m", "venv"])
        .arg(venv.path()));
    run(Command::new(venv.path().join("bin/pip"))
        .args(["install", "--disable-pip-version-check", "--quiet"])
        .arg(checkout)
        .env("CARGO_TARGET_DIR", work.join("wheel-build"))
        .env("CARGO_ZIGBUILD_PYTHON_PATH", tools.join("bin/python"))
        .env("MATURIN_PEP517_ARGS", RELEASE_ARGS));

    let onboard = venv.path().join("bin/onboard");
    let binary = std::fs::read(&onboard).expect("pip installed bin/onboard");
    assert!(
        binary.starts_with(b"\x7fELF"),
        "the native binary, no Python"
    );
    let (major, minor) = GLIBC_FLOOR;
    let tag = format!(
        "Tag: py3-none-manylinux_{major}_{minor}_{}",
        std::env::consts::ARCH
    );
    assert!(wheel_tags(venv.path()).contains(&tag), "{tag}");
    let needed = run(Command::new("objdump").arg("-p").arg(&onboard));
    assert!(!needed.to_lowercase().contains("libpython"), "{needed}");
    let newest = newest_glibc(&run(Command::new("objdump").arg("-T").arg(&onboard)));
    assert!(newest <= GLIBC_FLOOR, "needs glibc {newest:?}");

    let env = Env::default_proxy();
    let version = env
        .program(Command::new(&onboard).into())
        .arg("--version")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8(version.stdout).unwrap(),
        common::expected_version()
    );
    let csv = env.write(
        "users.csv",
        &format!("user_email,team_id\nann@company.com,{DEV_TEST}\nbob@company.com,{RESEARCH}\ncy@company.com,Dev-Test\n"),
    );
    env.program(Command::new(&onboard).into())
        .env("PATH", "/nonexistent")
        .arg(&csv)
        .assert()
        .code(0);
    let records = env.records();
    assert_eq!(records.len(), 3);
    for record in &records {
        assert_eq!(record["status"], "success", "{record}");
        let link = record["onboarding_link"].as_str().expect("a link");
        assert!(env.link_opens(link), "link must open: {link}");
    }
    assert_eq!(env.emulator.stats().count("/invitation/new"), 3);
}

/// A virtual environment with zig, made once per target directory (again if [`ZIGLANG`]
/// changes).
fn build_tools(dir: &Path) -> PathBuf {
    let marker = dir.join("installed");
    if std::fs::read_to_string(&marker).ok().as_deref() != Some(ZIGLANG) {
        run(Command::new("python3")
            .args(["-m", "venv", "--clear"])
            .arg(dir));
        run(Command::new(dir.join("bin/pip")).args([
            "install",
            "--disable-pip-version-check",
            "--quiet",
            ZIGLANG,
        ]));
        std::fs::write(&marker, ZIGLANG).unwrap();
    }
    dir.to_path_buf()
}

/// The tags of the installed wheel (its `.dist-info/WHEEL`).
fn wheel_tags(venv: &Path) -> String {
    let lib = venv.join("lib");
    let python = std::fs::read_dir(&lib).unwrap().next().unwrap().unwrap();
    let site = python.path().join("site-packages");
    let dist_info = std::fs::read_dir(&site)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .find(|path| {
            let name = path.file_name().unwrap().to_string_lossy();
            name.starts_with("litellm_onboard-") && name.ends_with(".dist-info")
        })
        .expect("litellm_onboard's dist-info");
    std::fs::read_to_string(dist_info.join("WHEEL")).unwrap()
}

/// The newest `GLIBC_x.y` symbol version in `objdump -T` output.
fn newest_glibc(symbols: &str) -> (u32, u32) {
    symbols
        .split("GLIBC_")
        .skip(1)
        .filter_map(|rest| {
            let version: String = rest
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '.')
                .collect();
            let mut parts = version.split('.').map(|p| p.parse::<u32>().ok());
            Some((parts.next()??, parts.next().flatten().unwrap_or(0)))
        })
        .max()
        .expect("the binary links glibc")
}

/// Runs `cmd`, which must succeed; its stdout.
fn run(cmd: &mut Command) -> String {
    let output = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        output.status.success(),
        "{cmd:?} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}
