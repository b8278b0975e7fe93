//! The audit file itself: its kind and mode checked, its sibling files named, created
//! private, read, and written whole atomically.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::audit::record::Record;
use crate::audit::{Audit, AuditError, io_error};

pub(super) fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(suffix);
    path.with_file_name(name)
}

pub(super) fn open_private(path: &Path, options: &mut OpenOptions) -> std::io::Result<File> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

impl Audit {
    pub(super) fn write_file(&mut self) -> Result<(), AuditError> {
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

/// Reads the JSON file (missing or blank is an empty list). Parsed as it is read, so a file
/// of 100,000 people (some 60 MiB) is not held as text beside its records.
pub(super) fn load(path: &Path) -> Result<Vec<Record>, AuditError> {
    use std::io::BufRead;
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_error(path)(e)),
    };
    let mut reader = std::io::BufReader::with_capacity(64 * 1024, file);
    // Blank (whitespace only) is an empty list.
    loop {
        let buffer = reader.fill_buf().map_err(io_error(path))?;
        if buffer.is_empty() {
            return Ok(Vec::new());
        }
        let blank = buffer
            .iter()
            .take_while(|b| b.is_ascii_whitespace())
            .count();
        let more = blank < buffer.len();
        reader.consume(blank);
        if more {
            break;
        }
    }
    serde_json::from_reader(reader).map_err(|e| {
        if e.is_io() {
            return io_error(path)(e.into());
        }
        AuditError::Corrupt {
            path: path.to_path_buf(),
            message: e.to_string(),
        }
    })
}

/// The audit path must hold a regular file, or nothing. A device (`/dev/null`), FIFO,
/// socket, directory or symlink is refused before anything is read, sent or written.
pub(super) fn check_kind(path: &Path) -> Result<(), AuditError> {
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
pub(super) fn tighten(path: &Path) -> Result<Option<String>, AuditError> {
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
    use crate::audit::tests::record;

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

    #[test]
    fn a_blank_file_is_an_empty_list_and_trailing_text_is_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("results.json");
        for blank in ["", "\n", "  \r\n\t "] {
            std::fs::write(&path, blank).unwrap();
            assert!(load(&path).unwrap().is_empty(), "{blank:?}");
        }
        std::fs::write(&path, "\n [ ] \n").unwrap();
        assert!(load(&path).unwrap().is_empty());
        for bad in ["[] []", "[", "  x"] {
            std::fs::write(&path, bad).unwrap();
            assert!(
                matches!(load(&path), Err(AuditError::Corrupt { .. })),
                "{bad:?}"
            );
        }
    }
}
