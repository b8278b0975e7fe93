//! The journal: `<file>.journal`, JSON lines, each batch synced before it is reported;
//! replayed when a killed run left one behind, and read back by offset for records new to
//! the file.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use crate::audit::file::{open_private, sibling};
use crate::audit::record::Record;
use crate::audit::{Audit, AuditError, io_error};
use crate::types::Email;

/// Where the latest journal line of a record new to the file is, and its input position.
#[derive(Debug, Clone, Copy)]
pub(super) struct Fresh {
    pub(super) order: u64,
    offset: u64,
    len: u32,
}

/// Why a journal could not be read: the line (1-based) and what was wrong with it.
#[derive(Debug)]
pub(super) struct Damage {
    pub(super) line: u64,
    pub(super) message: String,
}

/// Lays the journal at `path` (if there is one) over `records`, indexed by email: how many
/// records it held, or where it is damaged. Only a torn last line (one with no newline: a
/// write a crash cut short, or a run still writing it) that does not read is dropped; any
/// other line that does not read (not JSON, not UTF-8, not a record) is damage, and reading
/// stops there.
pub(super) fn replay(
    path: &Path,
    records: &mut Vec<Record>,
    index: &mut HashMap<Email, usize>,
) -> Result<Result<usize, Damage>, AuditError> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Ok(0)),
        Err(e) => return Err(io_error(path)(e)),
    };
    let mut reader = BufReader::new(file);
    let mut line = Vec::new();
    let mut count = 0;
    for number in 1u64.. {
        line.clear();
        if reader
            .read_until(b'\n', &mut line)
            .map_err(io_error(path))?
            == 0
        {
            break;
        }
        let whole = line.last() == Some(&b'\n');
        match serde_json::from_slice::<Record>(&line) {
            Ok(record) => {
                lay_over(records, index, record);
                count += 1;
            }
            Err(_) if !whole => break,
            Err(e) => {
                return Ok(Err(Damage {
                    line: number,
                    message: e.to_string(),
                }));
            }
        }
    }
    Ok(Ok(count))
}

/// Each record's position, by email.
pub(super) fn index_of(records: &[Record]) -> HashMap<Email, usize> {
    records
        .iter()
        .enumerate()
        .map(|(i, r)| (r.email.clone(), i))
        .collect()
}

/// Lays `record` over the records (replacing the one of its email, or added at the end).
fn lay_over(records: &mut Vec<Record>, index: &mut HashMap<Email, usize>, record: Record) {
    match index.get(&record.email) {
        Some(&i) => records[i] = record,
        None => {
            index.insert(record.email.clone(), records.len());
            records.push(record);
        }
    }
}

impl Audit {
    /// Moves a damaged journal aside (named in the error): its records are never dropped.
    pub(super) fn set_aside(&self, journal: &Path, damage: Damage) -> AuditError {
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
        let aside = sibling(&self.path, &format!(".journal.damaged-{stamp}"));
        if let Err(e) = std::fs::rename(journal, &aside) {
            return io_error(journal)(e);
        }
        AuditError::JournalDamaged {
            path: self.path.clone(),
            line: damage.line,
            message: damage.message,
            aside,
        }
    }

    pub(super) fn journal_path(&self) -> PathBuf {
        sibling(&self.path, ".journal")
    }

    pub(super) fn read_fresh(&self, at: Fresh) -> Result<Record, AuditError> {
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::tests::record;

    /// A record as a journal line.
    fn line(email: &str, id: &str) -> Vec<u8> {
        let mut text = serde_json::to_vec(&record(email, id)).unwrap();
        text.push(b'\n');
        text
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

    /// A journal of two good records with `bad` between them: the open is refused, the
    /// journal is moved aside whole, and no audit file is written.
    fn damaged_in_the_middle(bad: &[u8]) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("results.json");
        let journal = [line("a@x.co", "1"), bad.to_vec(), line("b@x.co", "2")].concat();
        std::fs::write(sibling(&path, ".journal"), &journal).unwrap();
        match Audit::open(&path) {
            Err(AuditError::JournalDamaged { line, aside, .. }) => {
                assert_eq!(line, 2);
                assert_eq!(std::fs::read(&aside).unwrap(), journal, "kept whole");
            }
            other => panic!("{other:?}"),
        }
        assert!(!sibling(&path, ".journal").exists());
        assert!(!path.exists(), "nothing written");
    }

    #[test]
    fn a_line_that_does_not_read_before_the_last_is_kept_aside_and_reported() {
        damaged_in_the_middle(b"{\"email\":\"c@x.co\",\"user_\n");
        damaged_in_the_middle(b"\xff\xfe not utf-8\n");
    }

    #[test]
    fn a_reader_without_the_lock_lays_the_journal_over_and_moves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("results.json");
        let mut audit = Audit::open(&path).unwrap();
        audit.append(vec![(record("a@x.co", "1"), 1)]).unwrap();
        audit.commit().unwrap();
        let journal = sibling(&path, ".journal");
        let live = [line("a@x.co", "2"), line("b@x.co", "3")].concat();
        // The run writing it is mid-way through its last line.
        std::fs::write(&journal, [&live[..], b"{\"email\":\"c@x"].concat()).unwrap();
        let records = Audit::read_only(&path).unwrap();
        let ids: Vec<_> = records
            .iter()
            .map(|r| r.invitation_id.as_ref().unwrap().as_str())
            .collect();
        assert_eq!(ids, ["2", "3"]);
        let damaged = [
            &line("a@x.co", "2")[..],
            b"not json\n",
            &line("b@x.co", "3"),
        ]
        .concat();
        std::fs::write(&journal, &damaged).unwrap();
        match Audit::read_only(&path) {
            Err(AuditError::Corrupt { message, .. }) => assert!(message.starts_with("line 2:")),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            std::fs::read(&journal).unwrap(),
            damaged,
            "left where it is"
        );
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
}
