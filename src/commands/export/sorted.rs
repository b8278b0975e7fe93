//! Lines sorted by a key in bounded memory: held until [`HELD_BYTES`], then sorted and spilled
//! to an anonymous temporary file (a run); the runs are merged when written out. An export of
//! any number of users holds one run's worth of rows, plus a read buffer per run.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, Write};

/// Bytes of lines (and keys) held before they are spilled to a run.
pub const HELD_BYTES: usize = 8 * 1024 * 1024;

/// What one held line costs beyond its bytes (its key's and line's headers and allocations).
const PER_LINE: usize = 64;

/// Lines to be written in the order of their keys (equal keys in the order pushed).
pub struct Sorted {
    held: Vec<(String, Vec<u8>)>,
    bytes: usize,
    limit: usize,
    runs: Vec<File>,
}

impl Sorted {
    /// Holds at most about `limit` bytes before spilling.
    pub fn new(limit: usize) -> Sorted {
        Sorted {
            held: Vec::new(),
            bytes: 0,
            limit,
            runs: Vec::new(),
        }
    }

    /// Adds `line` (written as is) under `key`.
    pub fn push(&mut self, key: String, line: Vec<u8>) -> io::Result<()> {
        self.bytes += key.len() + line.len() + PER_LINE;
        self.held.push((key, line));
        if self.bytes >= self.limit {
            self.spill()?;
        }
        Ok(())
    }

    /// Sorts what is held (stably) and writes it to a new run.
    fn spill(&mut self) -> io::Result<()> {
        self.held.sort_by(|a, b| a.0.cmp(&b.0));
        let mut out = BufWriter::new(tempfile::tempfile()?);
        for (key, line) in self.held.drain(..) {
            for part in [key.as_bytes(), &line] {
                out.write_all(&(part.len() as u64).to_le_bytes())?;
                out.write_all(part)?;
            }
        }
        let mut file = out.into_inner().map_err(|e| e.into_error())?;
        file.rewind()?;
        self.runs.push(file);
        self.bytes = 0;
        Ok(())
    }

    /// Writes every line to `out`, in order.
    pub fn write_to(mut self, out: &mut (impl Write + ?Sized)) -> io::Result<()> {
        if self.runs.is_empty() {
            self.held.sort_by(|a, b| a.0.cmp(&b.0));
            return self
                .held
                .iter()
                .try_for_each(|(_, line)| out.write_all(line));
        }
        if !self.held.is_empty() {
            self.spill()?;
        }
        let mut runs: Vec<BufReader<File>> = self.runs.into_iter().map(BufReader::new).collect();
        let mut lines: Vec<Vec<u8>> = vec![Vec::new(); runs.len()];
        // The smallest key first; of equal keys, the earlier run (pushed first).
        let mut heads = BinaryHeap::new();
        for (i, run) in runs.iter_mut().enumerate() {
            if let Some((key, line)) = next(run)? {
                lines[i] = line;
                heads.push(Reverse((key, i)));
            }
        }
        while let Some(Reverse((_, i))) = heads.pop() {
            out.write_all(&lines[i])?;
            if let Some((key, line)) = next(&mut runs[i])? {
                lines[i] = line;
                heads.push(Reverse((key, i)));
            }
        }
        Ok(())
    }
}

/// The next key and line of a run; `None` at its end.
fn next(run: &mut BufReader<File>) -> io::Result<Option<(String, Vec<u8>)>> {
    let Some(key) = part(run, true)? else {
        return Ok(None);
    };
    let key = String::from_utf8(key).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    match part(run, false)? {
        Some(line) => Ok(Some((key, line))),
        None => Err(io::ErrorKind::UnexpectedEof.into()),
    }
}

/// One length-prefixed part; `None` at the run's end when `first` (a key may start there).
fn part(run: &mut BufReader<File>, first: bool) -> io::Result<Option<Vec<u8>>> {
    let mut len = [0; 8];
    match run.read_exact(&mut len) {
        Err(e) if first && e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        answer => answer?,
    }
    let mut bytes = vec![0; u64::from_le_bytes(len) as usize];
    run.read_exact(&mut bytes)?;
    Ok(Some(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(limit: usize, keys: &[&str]) -> (String, usize) {
        let mut sorted = Sorted::new(limit);
        for (i, key) in keys.iter().enumerate() {
            sorted
                .push(key.to_string(), format!("{key}{i}\n").into_bytes())
                .unwrap();
        }
        let runs = sorted.runs.len();
        let mut out = Vec::new();
        sorted.write_to(&mut out).unwrap();
        (String::from_utf8(out).unwrap(), runs)
    }

    #[test]
    fn spilled_runs_merge_in_key_order_and_equal_keys_keep_their_order() {
        let keys = ["d", "b", "a", "c", "b", "e", "a", "", "é", "b"];
        let (whole, runs) = sorted(HELD_BYTES, &keys);
        assert_eq!(runs, 0);
        assert_eq!(whole, "7\na2\na6\nb1\nb4\nb9\nc3\nd0\ne5\né8\n");
        // Two lines a run: five runs.
        let (merged, runs) = sorted(2 * (PER_LINE + 3), &keys);
        assert_eq!(runs, 5);
        assert_eq!(merged, whole);
    }
}
