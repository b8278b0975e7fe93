//! The audit file: `onboarding_results.json`, one record per email, merged across runs.
//!
//! Durability: while a run works, each finished person is appended to a journal
//! (`<file>.journal`, JSON lines) and synced before it is reported. At the end the journal
//! is folded into the JSON file atomically (a `tempfile` temp file in the same directory,
//! sync, `persist`, directory sync) and removed. A run that was killed leaves the journal
//! behind; the next run folds it in before anything else. A lock file (`<file>.lock`, an OS
//! lock) keeps two runs off one audit file. Every file is created with mode 0600:
//! onboarding links are credentials. The audit path must be a regular file or absent (never
//! a device, FIFO, socket, directory or symlink), and each record names its proxy.

mod file;
mod journal;
pub mod record;

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use crate::audit::file::{check_kind, load, open_private, sibling, tighten};
use crate::audit::journal::{Fresh, index_of, replay};
use crate::audit::record::Record;
use crate::types::Email;

/// Why the audit file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// Another `onboard` holds the lock.
    #[error("{0} is in use by another onboard run (lock held on {0}.lock); wait for it to finish")]
    Locked(PathBuf),
    /// The existing file is not an audit file we can read; it is left untouched.
    #[error(
        "{path}: cannot read the existing audit file ({message}); it was left untouched — move it aside or pass --results with another path"
    )]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        message: String,
    },
    /// Something other than a regular file is at the audit path (a device, FIFO, socket,
    /// directory or symlink): nothing is written there, or next to it.
    #[error(
        "{path}: the audit file must be a regular file or absent, but this is {kind}; nothing was sent or written — pass --results with the path of a regular file"
    )]
    NotAFile {
        /// The path.
        path: PathBuf,
        /// What is there ("a directory", "a symlink", …).
        kind: &'static str,
    },
    /// The file's records were made on another proxy.
    #[error(
        "{path} holds records made on the proxy {recorded}, not on {proxy}; nothing was sent — pass --results with another audit file for this proxy"
    )]
    OtherProxy {
        /// The file.
        path: PathBuf,
        /// The proxy its records name.
        recorded: String,
        /// The proxy of this run.
        proxy: String,
    },
    /// The journal a killed run left has a line that cannot be read (not only a torn last
    /// line): it is moved aside, never dropped, and nothing is sent or written.
    #[error(
        "{path}: line {line} of the journal left by an interrupted run cannot be read ({message}); the journal was moved aside to {aside} and nothing was sent or written — recover its records by hand (one JSON record a line), then run again"
    )]
    JournalDamaged {
        /// The audit file.
        path: PathBuf,
        /// The line that cannot be read (1-based).
        line: u64,
        /// What was wrong with it.
        message: String,
        /// Where the journal is now.
        aside: PathBuf,
    },
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> AuditError + '_ {
    move |source| AuditError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The open, locked audit file.
///
/// The records the file held when opened stay in memory (re-runs and `refresh` consult
/// them). Records of emails new to the file live only in the journal, found by offset, so a
/// run over many new people keeps memory flat; `commit` streams them into the file.
#[derive(Debug)]
pub struct Audit {
    path: PathBuf,
    records: Vec<Record>,
    index: HashMap<Email, usize>,
    fresh: Vec<Fresh>,
    fresh_index: HashMap<Email, usize>,
    journal: Option<File>,
    journal_len: u64,
    changed: bool,
    proxy: Option<String>,
    notes: Vec<String>,
    _lock: File,
}

impl Audit {
    /// Locks and loads the audit file (missing is fine), folding in a journal left by a
    /// killed run. Fails without touching anything if the lock is held or the file is unreadable.
    pub fn open(path: &Path) -> Result<Audit, AuditError> {
        for path in [path, &sibling(path, ".lock"), &sibling(path, ".journal")] {
            check_kind(path)?;
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io_error(dir))?;
        }
        let lock_path = sibling(path, ".lock");
        let lock = open_private(
            &lock_path,
            OpenOptions::new().create(true).truncate(false).write(true),
        )
        .map_err(io_error(&lock_path))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(AuditError::Locked(path.to_path_buf()));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io_error(&lock_path)(e)),
        }
        // Checked again under the lock: the path may have changed since.
        check_kind(path)?;
        let records = load(path)?;
        let notes = tighten(path)?.into_iter().collect();
        let mut audit = Audit {
            path: path.to_path_buf(),
            index: index_of(&records),
            records,
            fresh: Vec::new(),
            fresh_index: HashMap::new(),
            journal: None,
            journal_len: 0,
            changed: false,
            proxy: None,
            notes,
            _lock: lock,
        };
        let journal_path = sibling(path, ".journal");
        if journal_path.exists() {
            let recovered = replay(&journal_path, &mut audit.records, &mut audit.index)?
                .map_err(|damage| audit.set_aside(&journal_path, damage))?;
            if recovered > 0 {
                audit.notes.push(format!(
                    "recovered {recovered} record(s) from {} left by an interrupted run",
                    journal_path.display()
                ));
            }
            audit.write_file()?;
        }
        Ok(audit)
    }

    /// The records as a reader sees them without the lock (another run holds it): the file
    /// as last saved, with that run's journal laid over it in memory. Nothing is written.
    pub fn read_only(path: &Path) -> Result<Vec<Record>, AuditError> {
        check_kind(path)?;
        let mut records = load(path)?;
        let journal = sibling(path, ".journal");
        // The run writing it may be mid-way through its last line: that one is left out.
        let mut index = index_of(&records);
        if let Err(damage) = replay(&journal, &mut records, &mut index)? {
            return Err(AuditError::Corrupt {
                path: journal,
                message: format!("line {}: {}", damage.line, damage.message),
            });
        }
        Ok(records)
    }

    /// True when another run holds the lock on the audit file (nothing is created: a
    /// missing lock file means nobody holds it).
    pub fn is_locked(path: &Path) -> bool {
        let Ok(lock) = File::open(sibling(path, ".lock")) else {
            return false;
        };
        matches!(
            lock.try_lock_shared(),
            Err(std::fs::TryLockError::WouldBlock)
        )
    }

    /// True when there is an audit file (or a journal a killed run left) at `path`.
    pub fn exists(path: &Path) -> bool {
        path.exists() || sibling(path, ".journal").exists()
    }

    /// Ties the file to the proxy of this run (named by [`crate::audit::record::proxy_name`]):
    /// refused if its records were made on another proxy. Records without a proxy are
    /// adopted (the field is written with the next change); every record appended from
    /// now on names this proxy.
    pub fn bind_proxy(&mut self, proxy: &str) -> Result<(), AuditError> {
        if let Some(other) = self
            .records
            .iter()
            .filter_map(|r| r.proxy_url.as_deref())
            .find(|recorded| *recorded != proxy)
        {
            return Err(AuditError::OtherProxy {
                path: self.path.clone(),
                recorded: other.to_string(),
                proxy: proxy.to_string(),
            });
        }
        for record in &mut self.records {
            record.proxy_url.get_or_insert_with(|| proxy.to_string());
        }
        self.proxy = Some(proxy.to_string());
        Ok(())
    }

    /// What opening the file did that the person should hear of (a journal recovered, the
    /// file's mode tightened), for the printer.
    pub fn take_notes(&mut self) -> Vec<String> {
        std::mem::take(&mut self.notes)
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The record of an email the file held when it was opened (with changes made since).
    /// A bulk run asks this: each of its emails is onboarded once.
    pub fn prior(&self, email: &Email) -> Option<&Record> {
        self.index.get(email).map(|&i| &self.records[i])
    }

    /// The latest record for an email, if any (from memory, or read back from the journal).
    pub fn get(&self, email: &Email) -> Result<Option<Record>, AuditError> {
        if let Some(&i) = self.index.get(email) {
            return Ok(Some(self.records[i].clone()));
        }
        match self.fresh_index.get(email) {
            Some(&i) => self.read_fresh(self.fresh[i]).map(Some),
            None => Ok(None),
        }
    }

    /// The records the file held when it was opened, with the changes made to them since.
    /// (People new to the file are in the journal until `commit`.)
    pub fn records(&self) -> &[Record] {
        &self.records
    }

    /// Writes the whole file atomically (temp file, sync, rename) and removes the journal.
    /// Records new to the file follow the old ones, in input order. A file nothing was added
    /// to is left as it is (a run that changed nothing does not rewrite it).
    pub fn commit(mut self) -> Result<(), AuditError> {
        if !self.changed && self.path.exists() {
            return Ok(());
        }
        self.fresh.sort_unstable_by_key(|f| f.order);
        self.write_file()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::InvitationId;
    use chrono::Utc;

    pub(super) fn record(email: &str, invitation: &str) -> Record {
        let mut r = Record::new(Email::parse(email).unwrap(), Utc::now());
        r.set_invitation(
            InvitationId::new(invitation),
            Utc::now(),
            None,
            format!("link-{invitation}"),
            Utc::now(),
        );
        r
    }

    #[cfg(unix)]
    #[test]
    fn a_run_that_changes_nothing_does_not_rewrite_the_file() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("results.json");
        let mut audit = Audit::open(&path).unwrap();
        audit.append(vec![(record("a@x.co", "1"), 1)]).unwrap();
        audit.commit().unwrap();
        let inode = std::fs::metadata(&path).unwrap().ino();
        Audit::open(&path).unwrap().commit().unwrap();
        assert_eq!(
            std::fs::metadata(&path).unwrap().ino(),
            inode,
            "not rewritten"
        );
        let mut audit = Audit::open(&path).unwrap();
        audit.append(vec![(record("a@x.co", "2"), 1)]).unwrap();
        audit.commit().unwrap();
        assert_ne!(std::fs::metadata(&path).unwrap().ino(), inode, "rewritten");
    }

    #[test]
    fn second_open_is_refused_while_locked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("results.json");
        let _first = Audit::open(&path).unwrap();
        assert!(matches!(Audit::open(&path), Err(AuditError::Locked(_))));
    }
}
