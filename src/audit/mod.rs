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

pub mod record;

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

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

/// Where the latest journal line of a record new to the file is, and its input position.
#[derive(Debug, Clone, Copy)]
struct Fresh {
    order: u64,
    offset: u64,
    len: u32,
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(suffix);
    path.with_file_name(name)
}

fn open_private(path: &Path, options: &mut OpenOptions) -> std::io::Result<File> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
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
            index: HashMap::with_capacity(records.len()),
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
        for (i, record) in audit.records.iter().enumerate() {
            audit.index.insert(record.email.clone(), i);
        }
        let journal_path = sibling(path, ".journal");
        if journal_path.exists() {
            let recovered = audit.replay(&journal_path)?;
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
        let file = match File::open(&journal) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(records),
            Err(e) => return Err(io_error(&journal)(e)),
        };
        let mut index: HashMap<Email, usize> = records
            .iter()
            .enumerate()
            .map(|(i, r)| (r.email.clone(), i))
            .collect();
        for line in BufReader::new(file).lines() {
            let Ok(line) = line else { break };
            if let Ok(record) = serde_json::from_str::<Record>(&line) {
                match index.get(&record.email) {
                    Some(&i) => records[i] = record,
                    None => {
                        index.insert(record.email.clone(), records.len());
                        records.push(record);
                    }
                }
            }
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

    fn replay(&mut self, journal: &Path) -> Result<usize, AuditError> {
        let file = File::open(journal).map_err(io_error(journal))?;
        let mut count = 0;
        for line in BufReader::new(file).lines() {
            let Ok(line) = line else { break };
            // A line cut short by a crash is the only kind that does not parse; skip it.
            if let Ok(record) = serde_json::from_str::<Record>(&line) {
                match self.index.get(&record.email) {
                    Some(&i) => self.records[i] = record,
                    None => {
                        self.index.insert(record.email.clone(), self.records.len());
                        self.records.push(record);
                    }
                }
                count += 1;
            }
        }
        Ok(count)
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

    fn journal_path(&self) -> PathBuf {
        sibling(&self.path, ".journal")
    }

    fn read_fresh(&self, at: Fresh) -> Result<Record, AuditError> {
        use std::io::{Read, Seek, SeekFrom};
        let path = self.journal_path();
        let journal = self
            .journal
            .as_ref()
            .expect("fresh records are in the open journal");
        let mut line = vec![0; at.len as usize];
        let read = (|| {
            let mut reader = journal.try_clone()?;
            reader.seek(SeekFrom::Start(at.offset))?;
            reader.read_exact(&mut line)?;
            serde_json::from_slice(&line).map_err(std::io::Error::other)
        })();
        read.map_err(io_error(&path))
    }

    /// Makes a batch of records durable in the journal (one sync), then takes them in.
    /// `order` is each record's position in the input, used to keep the file in input order.
    pub fn append(&mut self, mut batch: Vec<(Record, u64)>) -> Result<(), AuditError> {
        if batch.is_empty() {
            return Ok(());
        }
        let journal_path = self.journal_path();
        if self.journal.is_none() {
            let file = open_private(
                &journal_path,
                OpenOptions::new().create(true).read(true).append(true),
            )
            .map_err(io_error(&journal_path))?;
            self.journal_len = file.metadata().map_err(io_error(&journal_path))?.len();
            self.journal = Some(file);
        }
        let mut text = Vec::with_capacity(batch.len() * 512);
        let mut spans = Vec::with_capacity(batch.len());
        if let Some(proxy) = &self.proxy {
            for (record, _) in &mut batch {
                record.proxy_url = Some(proxy.clone());
            }
        }
        for (record, _) in &batch {
            let start = text.len();
            serde_json::to_writer(&mut text, record).expect("records serialise");
            spans.push((start, text.len() - start));
            text.push(b'\n');
        }
        let journal = self.journal.as_mut().expect("opened above");
        journal.write_all(&text).map_err(io_error(&journal_path))?;
        journal.sync_data().map_err(io_error(&journal_path))?;
        self.changed = true;
        let base = self.journal_len;
        self.journal_len += text.len() as u64;
        for ((record, order), (start, len)) in batch.into_iter().zip(spans) {
            if let Some(&i) = self.index.get(&record.email) {
                self.records[i] = record;
                continue;
            }
            let at = Fresh {
                order,
                offset: base + start as u64,
                len: len as u32,
            };
            match self.fresh_index.get(&record.email) {
                Some(&i) => {
                    self.fresh[i].offset = at.offset;
                    self.fresh[i].len = at.len;
                }
                None => {
                    self.fresh_index.insert(record.email, self.fresh.len());
                    self.fresh.push(at);
                }
            }
        }
        Ok(())
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

    fn write_file(&mut self) -> Result<(), AuditError> {
        // `tempfile` makes the temp file next to the audit file under a unique name, mode
        // 0600, and removes it if anything below fails; `persist` renames it into place.
        let dir = match self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            Some(dir) => dir.to_path_buf(),
            None => PathBuf::from("."),
        };
        let mut prefix = self
            .path
            .file_name()
            .map(|n| n.to_os_string())
            .unwrap_or_default();
        prefix.push(".tmp.");
        let result = (|| {
            let mut builder = tempfile::Builder::new();
            builder.prefix(&prefix);
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                builder.permissions(std::fs::Permissions::from_mode(0o600));
            }
            let temp = builder.tempfile_in(&dir)?;
            let mut writer = std::io::BufWriter::new(temp);
            serde_json::to_writer_pretty(&mut writer, &Everyone(self))?;
            writer.write_all(b"\n")?;
            let temp = writer.into_inner().map_err(|e| e.into_error())?;
            temp.as_file().sync_all()?;
            // The path is checked again right before the rename: never replace anything
            // but a regular file (or nothing).
            check_kind(&self.path).map_err(std::io::Error::other)?;
            temp.persist(&self.path).map_err(|e| e.error)?;
            File::open(&dir).and_then(|d| d.sync_all()).ok();
            Ok::<_, std::io::Error>(())
        })();
        if let Err(e) = result {
            return Err(io_error(&self.path)(e));
        }
        self.journal = None;
        let journal_path = self.journal_path();
        match std::fs::remove_file(&journal_path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_error(&journal_path)(e)),
        }
    }
}

/// Every record, as the file holds them: the old ones, then the new ones read back one at a
/// time from the journal.
struct Everyone<'a>(&'a Audit);

impl serde::Serialize for Everyone<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{Error, SerializeSeq};
        let audit = self.0;
        let mut seq = serializer.serialize_seq(Some(audit.records.len() + audit.fresh.len()))?;
        for record in &audit.records {
            seq.serialize_element(record)?;
        }
        for at in &audit.fresh {
            let record = audit.read_fresh(*at).map_err(S::Error::custom)?;
            seq.serialize_element(&record)?;
        }
        seq.end()
    }
}

/// Reads the JSON file (missing or blank is an empty list).
fn load(path: &Path) -> Result<Vec<Record>, AuditError> {
    match std::fs::read(path) {
        Ok(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => Ok(Vec::new()),
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| AuditError::Corrupt {
            path: path.to_path_buf(),
            message: e.to_string(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(io_error(path)(e)),
    }
}

/// The audit path must hold a regular file, or nothing. A device (`/dev/null`), FIFO,
/// socket, directory or symlink is refused before anything is read, sent or written.
fn check_kind(path: &Path) -> Result<(), AuditError> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_error(path)(e)),
    };
    let kind = meta.file_type();
    let what = if kind.is_file() {
        return Ok(());
    } else if kind.is_symlink() {
        "a symlink (refused: the file it points to could be anything)"
    } else if kind.is_dir() {
        "a directory"
    } else {
        special_kind(&kind)
    };
    Err(AuditError::NotAFile {
        path: path.to_path_buf(),
        kind: what,
    })
}

fn special_kind(kind: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return "a FIFO";
        } else if kind.is_socket() {
            return "a socket";
        } else if kind.is_char_device() || kind.is_block_device() {
            return "a device";
        }
    }
    let _ = kind;
    "not a regular file"
}

/// An existing audit file readable by others (e.g. 0644 from an older version or a copy)
/// is tightened to 0600 when a run opens it: its links are credentials.
fn tighten(path: &Path) -> Result<Option<String>, AuditError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        match std::fs::metadata(path) {
            Ok(meta) if meta.permissions().mode() & 0o077 != 0 => {
                let mode = meta.permissions().mode() & 0o700;
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
                    .map_err(io_error(path))?;
                return Ok(Some(format!(
                    "{}: was readable by others (mode {:o}); tightened to {:o}",
                    path.display(),
                    meta.permissions().mode() & 0o777,
                    mode
                )));
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_error(path)(e)),
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::InvitationId;
    use chrono::Utc;

    fn record(email: &str, invitation: &str) -> Record {
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

    #[test]
    fn merges_across_runs_in_input_order_and_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("results.json");
        {
            let mut audit = Audit::open(&path).unwrap();
            audit
                .append(vec![(record("b@x.co", "1"), 2), (record("a@x.co", "2"), 1)])
                .unwrap();
            audit.commit().unwrap();
        }
        {
            let mut audit = Audit::open(&path).unwrap();
            audit
                .append(vec![(record("c@x.co", "3"), 1), (record("b@x.co", "4"), 2)])
                .unwrap();
            audit.commit().unwrap();
        }
        let records: Vec<Record> = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let order: Vec<_> = records
            .iter()
            .map(|r| (r.email.as_str(), r.invitation_id.as_ref().unwrap().as_str()))
            .collect();
        assert_eq!(order, [("a@x.co", "2"), ("b@x.co", "4"), ("c@x.co", "3")]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
    }

    #[test]
    fn journal_left_by_a_crash_is_recovered_and_a_torn_line_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("results.json");
        {
            let mut audit = Audit::open(&path).unwrap();
            audit.append(vec![(record("a@x.co", "1"), 1)]).unwrap();
            // No commit: the process "dies" here, leaving the journal and a torn write.
            let mut journal = OpenOptions::new()
                .append(true)
                .open(sibling(&path, ".journal"))
                .unwrap();
            journal.write_all(b"{\"email\":\"b@x.co\",\"user_").unwrap();
        }
        let audit = Audit::open(&path).unwrap();
        assert_eq!(audit.records().len(), 1);
        assert!(!sibling(&path, ".journal").exists());
        assert!(path.exists());
    }

    #[test]
    fn new_records_live_in_the_journal_and_the_latest_wins() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("results.json");
        let mut audit = Audit::open(&path).unwrap();
        audit
            .append(vec![(record("a@x.co", "1"), 2), (record("b@x.co", "2"), 1)])
            .unwrap();
        let a = Email::parse("a@x.co").unwrap();
        assert!(audit.prior(&a).is_none(), "not in memory");
        assert_eq!(
            audit
                .get(&a)
                .unwrap()
                .unwrap()
                .invitation_id
                .unwrap()
                .as_str(),
            "1"
        );
        audit.append(vec![(record("a@x.co", "3"), 9)]).unwrap();
        assert_eq!(
            audit
                .get(&a)
                .unwrap()
                .unwrap()
                .invitation_id
                .unwrap()
                .as_str(),
            "3"
        );
        audit.commit().unwrap();
        let records: Vec<Record> = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let ids: Vec<_> = records
            .iter()
            .map(|r| r.invitation_id.as_ref().unwrap().as_str())
            .collect();
        assert_eq!(
            ids,
            ["2", "3"],
            "input order (first position), latest record"
        );
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

    #[test]
    fn corrupt_file_is_left_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("results.json");
        std::fs::write(&path, "[{not json").unwrap();
        assert!(matches!(
            Audit::open(&path),
            Err(AuditError::Corrupt { .. })
        ));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "[{not json");
    }
}
