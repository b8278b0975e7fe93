//! Reading the input: a regular file or stdin, at most [`MAX_CSV_BYTES`].

use std::io::Read;
use std::path::{Path, PathBuf};

use super::{Defaults, EmailList, InputError, MAX_CSV_BYTES, Roster, parse_csv, parse_emails};

/// Reads and checks a whole CSV file (`-` is stdin). Row problems are collected, not returned
/// as errors, so the caller can list them all (or skip them with `--skip-invalid`).
pub fn read_csv(path: &Path, defaults: &Defaults) -> Result<Roster, InputError> {
    let (name, bytes) = read_input(path)?;
    parse_csv(&name, &bytes, defaults)
}

/// Reads a CSV file (`-` is stdin) for its emails only: see [`parse_emails`].
pub fn read_emails(path: &Path) -> Result<EmailList, InputError> {
    let (name, bytes) = read_input(path)?;
    parse_emails(&name, &bytes)
}

/// The bytes of a regular file or of stdin (`-`), and the name messages give them.
fn read_input(path: &Path) -> Result<(PathBuf, Vec<u8>), InputError> {
    let io = |source| InputError::Io {
        path: path.to_path_buf(),
        source,
    };
    if path == Path::new("-") {
        let name = Path::new("<stdin>");
        let bytes = read_capped(std::io::stdin().lock(), MAX_CSV_BYTES, 0)
            .map_err(|source| InputError::Io {
                path: name.to_path_buf(),
                source,
            })?
            .ok_or_else(|| InputError::TooLarge(name.to_path_buf()))?;
        return Ok((name.to_path_buf(), bytes));
    }
    // Checked before opening: opening a FIFO blocks until a writer comes.
    let regular = |meta: std::fs::Metadata| {
        if !meta.is_file() {
            return Err(InputError::NotRegular(path.to_path_buf()));
        }
        if meta.len() > MAX_CSV_BYTES {
            return Err(InputError::TooLarge(path.to_path_buf()));
        }
        Ok(())
    };
    regular(std::fs::metadata(path).map_err(io)?)?;
    let file = std::fs::File::open(path).map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    let size = meta.len();
    regular(meta)?;
    let bytes = read_capped(file, MAX_CSV_BYTES, size)
        .map_err(io)?
        .ok_or_else(|| InputError::TooLarge(path.to_path_buf()))?;
    Ok((path.to_path_buf(), bytes))
}

/// Reads at most `cap` bytes (`size`: how many are expected); `None` when there is more.
pub(super) fn read_capped(
    reader: impl Read,
    cap: u64,
    size: u64,
) -> std::io::Result<Option<Vec<u8>>> {
    let mut bytes = Vec::with_capacity(size.min(cap) as usize + 1);
    reader.take(cap + 1).read_to_end(&mut bytes)?;
    Ok((bytes.len() as u64 <= cap).then_some(bytes))
}
