//! Store entries sorted in bounded memory: an external merge sort, so `gen` can write a state that is
//! generated in trie order in key order instead, which a B-tree store (redb) takes as appends.
//!
//! Entries are buffered up to a budget; a full buffer is sorted and written to an unnamed temporary
//! file (a run), and at the end the runs and what is still buffered are merged. The files have no
//! name, so the operating system removes them when the process ends, however it ends.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Seek, Write};
use std::path::PathBuf;

use kvdb::Namespace;

use crate::{Error, Result, H256};

/// Bytes of the buffer through which a run is written: runs are written sequentially.
const RUN_WRITE_BUFFER: usize = 1 << 20;

/// Bytes of the buffer through which each run is read back during the merge: one per run is held at
/// once, so it stays small (runs are read sequentially, mostly from the page cache).
const RUN_READ_BUFFER: usize = 128 << 10;

/// Where an entry sorts: by namespace, then by key.
type SortKey = (Namespace, H256);

/// Bytes of a run file's entry header: namespace index, key, value length (u64, little-endian).
const HEADER_LEN: usize = 1 + 32 + 8;

/// Entries pushed in any order, handed back by [`SortedSpill::drain`] sorted by namespace then key,
/// each key once.
pub(crate) struct SortedSpill {
    /// Where the runs' files go.
    dir: PathBuf,
    /// Bytes of buffered entries (values plus their index) that make a run: what the spill holds in
    /// memory, apart from the merge's read buffers.
    budget: usize,
    /// The buffered entries, not yet sorted.
    buffer: Run,
    /// Sorted runs written so far, each rewound to its start.
    runs: Vec<File>,
}

/// Entries held in memory: their values one after the other, and an index.
#[derive(Default)]
struct Run {
    values: Vec<u8>,
    entries: Vec<Buffered>,
}

/// A buffered entry: its key and where its value lies in [`Run::values`].
struct Buffered {
    key: SortKey,
    start: usize,
    len: usize,
}

impl Run {
    /// Bytes this run takes in memory.
    fn bytes(&self) -> usize {
        self.values.len() + self.entries.len() * std::mem::size_of::<Buffered>()
    }

    fn sort(&mut self) {
        self.entries.sort_unstable_by_key(|entry| entry.key);
    }

    fn value(&self, entry: &Buffered) -> &[u8] {
        &self.values[entry.start..entry.start + entry.len]
    }
}

impl SortedSpill {
    /// An empty spill whose runs, if the entries outgrow `budget` bytes, go to files in `dir`.
    pub(crate) fn new(dir: PathBuf, budget: usize) -> Self {
        SortedSpill { dir, budget, buffer: Run::default(), runs: Vec::new() }
    }

    /// Adds an entry. Fails only if a full buffer cannot be written out: [`Error::Spill`].
    pub(crate) fn push(&mut self, namespace: Namespace, key: H256, value: &[u8]) -> Result<()> {
        let added = value.len() + std::mem::size_of::<Buffered>();
        if !self.buffer.entries.is_empty() && self.buffer.bytes() + added > self.budget {
            self.write_run()?;
        }
        let start = self.buffer.values.len();
        self.buffer.values.extend_from_slice(value);
        self.buffer.entries.push(Buffered { key: (namespace, key), start, len: value.len() });
        Ok(())
    }

    /// Number of runs written to files so far.
    #[cfg(test)]
    fn runs(&self) -> usize {
        self.runs.len()
    }

    /// Sorts the buffer and writes it as a run.
    fn write_run(&mut self) -> Result<()> {
        self.buffer.sort();
        let written = (|| {
            let mut file = BufWriter::with_capacity(RUN_WRITE_BUFFER, tempfile::tempfile_in(&self.dir)?);
            for entry in &self.buffer.entries {
                let (namespace, key) = entry.key;
                file.write_all(&[namespace.index() as u8])?;
                file.write_all(key.as_bytes())?;
                file.write_all(&(entry.len as u64).to_le_bytes())?;
                file.write_all(self.buffer.value(entry))?;
            }
            let mut file = file.into_inner().map_err(|error| error.into_error())?;
            file.rewind()?;
            io::Result::Ok(file)
        })();
        let file = written.map_err(|source| self.error(source))?;
        self.runs.push(file);
        self.buffer.values.clear();
        self.buffer.entries.clear();
        tracing::debug!(target: "statesync::spill", runs = self.runs.len(), "wrote a sorted run");
        Ok(())
    }

    /// Hands every entry to `visit`, sorted by namespace then key; of entries with the same namespace
    /// and key (which in a content-addressed store have the same value) only the first. Stops at the
    /// first error, `visit`'s or [`Error::Spill`] for a run that cannot be read back.
    pub(crate) fn drain(mut self, mut visit: impl FnMut(Namespace, H256, &[u8]) -> Result<()>) -> Result<()> {
        self.buffer.sort();
        let dir = std::mem::take(&mut self.dir);
        let error = |source| Error::Spill { dir: dir.clone(), source };
        let mut sources: Vec<Source> = Vec::with_capacity(self.runs.len() + 1);
        for file in self.runs.drain(..) {
            sources.push(Source::File(FileRun::new(file)));
        }
        sources.push(Source::Memory { run: std::mem::take(&mut self.buffer), next: 0 });
        // The smallest current key of each source, and the source.
        let mut heads = BinaryHeap::with_capacity(sources.len());
        for (index, source) in sources.iter_mut().enumerate() {
            if let Some(key) = source.advance().map_err(error)? {
                heads.push(Reverse((key, index)));
            }
        }
        let mut last = None;
        while let Some(Reverse((key, index))) = heads.pop() {
            let source = &mut sources[index];
            if last != Some(key) {
                visit(key.0, key.1, source.value())?;
                last = Some(key);
            }
            if let Some(key) = source.advance().map_err(error)? {
                heads.push(Reverse((key, index)));
            }
        }
        Ok(())
    }

    fn error(&self, source: io::Error) -> Error {
        Error::Spill { dir: self.dir.clone(), source }
    }
}

/// One sorted sequence the merge reads from.
enum Source {
    /// A run written to a file.
    File(FileRun),
    /// The last entries, still in memory (sorted); `next` is the one after the current one.
    Memory { run: Run, next: usize },
}

impl Source {
    /// Moves to the next entry and returns its key; `None` at the end.
    fn advance(&mut self) -> io::Result<Option<SortKey>> {
        match self {
            Source::File(file) => file.advance(),
            Source::Memory { run, next } => {
                let key = run.entries.get(*next).map(|entry| entry.key);
                *next += 1;
                Ok(key)
            }
        }
    }

    /// The current entry's value.
    fn value(&self) -> &[u8] {
        match self {
            Source::File(file) => &file.value,
            Source::Memory { run, next } => run.value(&run.entries[*next - 1]),
        }
    }
}

/// A run file being read back, one entry at a time.
struct FileRun {
    reader: BufReader<File>,
    /// The current entry's value.
    value: Vec<u8>,
}

impl FileRun {
    fn new(file: File) -> Self {
        FileRun { reader: BufReader::with_capacity(RUN_READ_BUFFER, file), value: Vec::new() }
    }

    fn advance(&mut self) -> io::Result<Option<SortKey>> {
        if self.reader.fill_buf()?.is_empty() {
            return Ok(None);
        }
        let mut header = [0u8; HEADER_LEN];
        self.reader.read_exact(&mut header)?;
        let namespace = Namespace::ALL.get(usize::from(header[0])).copied().ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidData, "a sorted run names no namespace: the file changed")
        })?;
        let key = H256::from_slice(&header[1..33]);
        let mut len = [0u8; 8];
        len.copy_from_slice(&header[33..]);
        let len = usize::try_from(u64::from_le_bytes(len))
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "a sorted run's entry is too long"))?;
        self.value.resize(len, 0);
        self.reader.read_exact(&mut self.value)?;
        Ok(Some((namespace, key)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn drained(spill: SortedSpill) -> Vec<(Namespace, H256, Vec<u8>)> {
        let mut out = Vec::new();
        spill
            .drain(|namespace, key, value| {
                out.push((namespace, key, value.to_vec()));
                Ok(())
            })
            .unwrap();
        out
    }

    #[test]
    fn entries_come_back_sorted_and_once_from_files_and_memory() {
        let dir = tempfile::tempdir().unwrap();
        // A budget of a few entries: many runs, and the last entries still in memory.
        let mut spill = SortedSpill::new(dir.path().into(), 300);
        let mut expected = BTreeMap::new();
        for i in 0u32..500 {
            // Every fifth entry repeats the one before (the same value), as shared subtries do.
            let n = if i % 5 == 4 { i - 1 } else { i };
            let namespace = if n % 3 == 0 { Namespace::Code } else { Namespace::TrieNodes };
            let key = trie_sync::keccak256(n.to_be_bytes());
            let value = vec![n as u8; (n % 70) as usize];
            spill.push(namespace, key, &value).unwrap();
            expected.insert((namespace, key), value);
        }
        assert!(spill.runs() > 10, "{} runs", spill.runs());
        let expected: Vec<_> =
            expected.into_iter().map(|((namespace, key), value)| (namespace, key, value)).collect();
        assert_eq!(drained(spill), expected);
        // The runs' files have no name: nothing is left in the directory.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_small_spill_stays_in_memory() {
        let mut spill = SortedSpill::new(PathBuf::from("/nonexistent/spill/dir"), 1 << 20);
        spill.push(Namespace::TrieNodes, H256::repeat_byte(2), b"b").unwrap();
        spill.push(Namespace::TrieNodes, H256::repeat_byte(1), b"a").unwrap();
        spill.push(Namespace::Code, H256::repeat_byte(0), b"c").unwrap();
        let keys: Vec<_> = drained(spill).into_iter().map(|(namespace, key, _)| (namespace, key)).collect();
        assert_eq!(
            keys,
            [
                (Namespace::TrieNodes, H256::repeat_byte(1)),
                (Namespace::TrieNodes, H256::repeat_byte(2)),
                (Namespace::Code, H256::repeat_byte(0))
            ]
        );
    }

    #[test]
    fn a_run_that_cannot_be_written_is_a_spill_error() {
        let mut spill = SortedSpill::new(PathBuf::from("/nonexistent/spill/dir"), 10);
        spill.push(Namespace::TrieNodes, H256::repeat_byte(1), &[1; 20]).unwrap();
        let error = spill.push(Namespace::TrieNodes, H256::repeat_byte(2), &[2; 20]).unwrap_err();
        assert!(matches!(error, Error::Spill { .. }), "{error:?}");
        assert!(error.to_string().contains("/nonexistent/spill/dir"), "{error}");
    }
}
