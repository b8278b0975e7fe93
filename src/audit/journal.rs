//! The journal: `<file>.journal`, JSON lines, each batch synced before it is reported;
//! replayed when a killed run left one behind, and read back by offset for records new to
//! the file.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use crate::audit::file::{open_private, sibling};
use crate::audit::record::Record;
use crate::audit::{Audit, AuditError, io_error};

/// Where the latest journal line of a record new to the file is, and its input position.
#[derive(Debug, Clone, Copy)]
pub(super) struct Fresh {
    pub(super) order: u64,
    offset: u64,
    len: u32,
}

impl Audit {
    pub(super) fn replay(&mut self, journal: &Path) -> Result<usize, AuditError> {
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
    use crate::types::Email;

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
}
