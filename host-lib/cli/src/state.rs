//! What `evnic filter add` installed on a board, kept between runs: the device's filter table
//! cannot be read back, so the tool records each entry it leaves installed in a small text file
//! per device (`INDEX<TAB>SPEC` lines), and `evnic filter list` shows it with the hit counters.
//!
//! The file lives in `$EVNIC_STATE_DIR`, else `$XDG_RUNTIME_DIR/evnic`, else
//! `/tmp/evnic-$UID`, named after the device's PCI address. Entries installed by other programs
//! are not in it: `filter list` shows them as entries with hits and no known spec.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The recorded entries of one device.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FilterState {
    /// Entry index to its spec text.
    pub entries: BTreeMap<u32, String>,
}

/// Why the state could not be read or written.
#[derive(Debug, thiserror::Error)]
#[error("{}: {why}", path.display())]
pub struct StateError {
    /// The file.
    pub path: PathBuf,
    /// What failed.
    pub why: String,
}

/// The directory of the state files.
pub fn state_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("EVNIC_STATE_DIR") {
        return PathBuf::from(d);
    }
    if let Some(d) = std::env::var_os("XDG_RUNTIME_DIR") {
        return PathBuf::from(d).join("evnic");
    }
    // SAFETY: getuid has no preconditions and cannot fail.
    let uid = unsafe { libc::getuid() };
    std::env::temp_dir().join(format!("evnic-{uid}"))
}

/// The state file of the device named `device` (a PCI address).
pub fn state_file(dir: &Path, device: &str) -> PathBuf {
    let name: String = device
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    dir.join(format!("{name}.filters"))
}

impl FilterState {
    /// Reads the file; a missing file is an empty state.
    pub fn load(path: &Path) -> Result<FilterState, StateError> {
        let err = |why: String| StateError {
            path: path.to_path_buf(),
            why,
        };
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => return Err(err(e.to_string())),
        };
        let mut entries = BTreeMap::new();
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let (i, spec) = line
                .split_once('\t')
                .ok_or_else(|| err(format!("line {}: no tab", n + 1)))?;
            let i: u32 = i
                .parse()
                .map_err(|_| err(format!("line {}: `{i}` is not an entry index", n + 1)))?;
            entries.insert(i, spec.to_string());
        }
        Ok(FilterState { entries })
    }

    /// Writes the file (and its directory), replacing it whole.
    pub fn save(&self, path: &Path) -> Result<(), StateError> {
        let err = |why: String| StateError {
            path: path.to_path_buf(),
            why,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| err(e.to_string()))?;
        }
        let text: String = self
            .entries
            .iter()
            .map(|(i, s)| format!("{i}\t{s}\n"))
            .collect();
        let tmp = path.with_extension("filters.tmp");
        std::fs::write(&tmp, text).map_err(|e| err(e.to_string()))?;
        std::fs::rename(&tmp, path).map_err(|e| err(e.to_string()))
    }

    /// The lowest entry index of a table of `count` that the state does not hold.
    pub fn lowest_free(&self, count: u32) -> Option<u32> {
        (0..count).find(|i| !self.entries.contains_key(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_finds_free_entries() {
        let dir = std::env::temp_dir().join(format!("evnic-state-{}", std::process::id()));
        let path = state_file(&dir, "0000:01:00.0");
        assert!(path.ends_with("0000_01_00_0.filters"));
        let mut s = FilterState::load(&path).unwrap();
        assert!(s.entries.is_empty());
        s.entries.insert(0, "udp dst 319 -> vi 2".into());
        s.entries.insert(2, "any -> drop".into());
        s.save(&path).unwrap();
        let t = FilterState::load(&path).unwrap();
        assert_eq!(t, s);
        assert_eq!(t.lowest_free(32), Some(1));
        assert_eq!(t.lowest_free(1), None);
        std::fs::write(&path, "x\ty\n").unwrap();
        assert!(FilterState::load(&path)
            .unwrap_err()
            .to_string()
            .contains("line 1"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
