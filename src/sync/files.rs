//! A directory of conversations as a migration source. Each conversation is
//! a file of its own (`<id>.json`; Hubster also `<id>.jsonl`, one activity a
//! line) or a line of a JSONL file in the layout `convsync convert` and
//! `convsync generate` write: `{"conversationId": .., "messageEventRecords":
//! [..]}` (LivePerson) or `{"conversationId": .., "activities": [..]}`
//! (Hubster). A line that cannot be read stands as a conversation of its own
//! named `<file>:<line>`, which fails with the reason (a dead letter), so it
//! stops nothing else.

use super::export::read_activities;
use super::migrate::Format;
use super::pipeline::{file_name, read_records, strip_bom};
use serde::Deserialize;
use serde_json::Value;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// Where a conversation is.
#[derive(Debug, Clone)]
enum Place {
    /// A line of a JSONL file: (file, byte offset, length).
    Line(PathBuf, u64, usize),
    /// A line that could not be read: why.
    Broken(String),
}

/// The conversations of a directory.
#[derive(Debug)]
pub struct FileSet {
    dir: PathBuf,
    format: Format,
    /// Conversations that live in lines of JSONL files (or broken lines).
    lines: HashMap<String, Place>,
    /// Every conversation, sorted.
    ids: Vec<String>,
}

impl FileSet {
    /// Reads which conversations `dir` holds (lines are only indexed, not
    /// kept).
    pub fn scan(dir: &Path, format: Format) -> Result<FileSet, String> {
        let entries = std::fs::read_dir(dir)
            .map_err(|e| format!("source directory {}: {e}", dir.display()))?;
        let mut paths: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_file())
            .collect();
        paths.sort();
        let mut set = FileSet {
            dir: dir.to_owned(),
            format,
            lines: HashMap::new(),
            ids: Vec::new(),
        };
        let mut whole = Vec::new();
        for path in paths {
            let ext = path.extension().and_then(|x| x.to_str()).unwrap_or("");
            let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else {
                continue;
            };
            match ext {
                "json" => whole.push(stem.to_owned()),
                "jsonl" if set.is_bundle(&path)? => set.index_lines(&path)?,
                "jsonl" if format == Format::Hubster => whole.push(stem.to_owned()),
                _ => {}
            }
        }
        for id in whole {
            if set.lines.contains_key(&id) {
                tracing::warn!(conversation = %id, dir = %dir.display(), "conversation both in a file of its own and in a JSONL line: the line is used");
                continue;
            }
            set.ids.push(id);
        }
        set.ids.extend(set.lines.keys().cloned());
        set.ids.sort();
        set.ids.dedup();
        Ok(set)
    }

    /// Whether a `.jsonl` file holds whole conversations a line (rather than
    /// a Hubster conversation's activities, one a line).
    fn is_bundle(&self, path: &Path) -> Result<bool, String> {
        if self.format == Format::Liveperson {
            return Ok(true);
        }
        let f = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut first = String::new();
        for line in BufReader::new(f).lines() {
            let line = line.map_err(|e| format!("{}: {e}", path.display()))?;
            if !line.trim().is_empty() {
                first = line;
                break;
            }
        }
        #[derive(Deserialize)]
        struct Probe {
            activities: Option<serde::de::IgnoredAny>,
        }
        let first = first.strip_prefix('\u{feff}').unwrap_or(&first);
        Ok(serde_json::from_str::<Probe>(first).is_ok_and(|p| p.activities.is_some()))
    }

    fn index_lines(&mut self, path: &Path) -> Result<(), String> {
        #[derive(Deserialize)]
        struct Head {
            #[serde(rename = "conversationId")]
            conversation_id: String,
        }
        let f = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut reader = BufReader::new(f);
        let (mut offset, mut number) = (0u64, 0usize);
        let mut line = Vec::new();
        let name = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        loop {
            line.clear();
            let n = reader
                .read_until(b'\n', &mut line)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            if n == 0 {
                break;
            }
            number += 1;
            let at = offset;
            offset += n as u64;
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let place = Place::Line(path.to_owned(), at, n);
            match serde_json::from_slice::<Head>(strip_bom(&line)) {
                Ok(h) => {
                    if self.lines.contains_key(&h.conversation_id) {
                        self.lines.insert(
                            format!("{name}:{number}"),
                            Place::Broken(format!(
                                "{}: line {number}: conversation {} again (it is on an earlier line)",
                                path.display(),
                                h.conversation_id
                            )),
                        );
                    } else {
                        self.lines.insert(h.conversation_id, place);
                    }
                }
                Err(e) => {
                    self.lines.insert(
                        format!("{name}:{number}"),
                        Place::Broken(format!(
                            "{}: line {number}: not a conversation ({{\"conversationId\": .., ...}}): {e}",
                            path.display()
                        )),
                    );
                }
            }
        }
        Ok(())
    }

    /// Every conversation, sorted.
    pub fn ids(&self) -> &[String] {
        &self.ids
    }

    /// The JSON of a conversation's line.
    fn line(&self, id: &str) -> Option<Result<Value, String>> {
        let read = |path: &Path, at: u64, len: usize| -> Result<Value, String> {
            let mut f =
                std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
            f.seek(SeekFrom::Start(at))
                .map_err(|e| format!("{}: {e}", path.display()))?;
            let mut buf = vec![0; len];
            f.read_exact(&mut buf)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            serde_json::from_slice(strip_bom(&buf)).map_err(|e| format!("{}: {e}", path.display()))
        };
        Some(match self.lines.get(id)? {
            Place::Line(path, at, len) => read(path, *at, *len),
            Place::Broken(why) => Err(why.clone()),
        })
    }

    fn known(&self, id: &str) -> Result<(), String> {
        match self.ids.binary_search_by(|i| i.as_str().cmp(id)) {
            Ok(_) => Ok(()),
            Err(_) => Err(format!(
                "no conversation {id} in {} (no file {}.json and no JSONL line)",
                self.dir.display(),
                file_name(id)
            )),
        }
    }

    /// A LivePerson conversation's records.
    pub fn records(&self, id: &str) -> Result<Vec<Value>, String> {
        self.known(id)?;
        match self.line(id) {
            Some(doc) => match doc?.get_mut("messageEventRecords").map(Value::take) {
                Some(Value::Array(a)) => Ok(a),
                _ => Err(format!(
                    "conversation {id}: its line has no messageEventRecords array"
                )),
            },
            None => read_records(&self.dir.join(format!("{}.json", file_name(id)))),
        }
    }

    /// A Hubster conversation's activities, as stored.
    pub fn activities(&self, id: &str) -> Result<Vec<Value>, String> {
        self.known(id)?;
        match self.line(id) {
            Some(doc) => match doc?.get_mut("activities").map(Value::take) {
                Some(Value::Array(a)) => Ok(a),
                _ => Err(format!(
                    "conversation {id}: its line has no activities array"
                )),
            },
            None => read_activities(&self.dir, id).map_err(|e| e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_files_and_lines_are_conversations_and_a_bad_line_is_one_too() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(
            d.join("a.json"),
            // (With a byte-order mark, as some Windows editors save.)
            "\u{feff}{\"messageEventRecords\":[{\"sequence\":0}]}",
        )
        .unwrap();
        std::fs::write(
            d.join("bundle.jsonl"),
            "\u{feff}{\"conversationId\":\"b\",\"messageEventRecords\":[{\"sequence\":0},{\"sequence\":1}]}\n\n{oops\n{\"conversationId\":\"c\",\"messageEventRecords\":[]}\n",
        )
        .unwrap();
        std::fs::write(d.join("notes.txt"), "not a conversation").unwrap();
        let set = FileSet::scan(d, Format::Liveperson).unwrap();
        assert_eq!(set.ids(), ["a", "b", "bundle.jsonl:3", "c"]);
        assert_eq!(set.records("a").unwrap().len(), 1);
        assert_eq!(set.records("b").unwrap().len(), 2);
        assert_eq!(set.records("c").unwrap().len(), 0);
        let e = set.records("bundle.jsonl:3").unwrap_err();
        assert!(e.contains("bundle.jsonl: line 3"), "{e}");
        let e = set.records("zz").unwrap_err();
        assert!(e.contains("no conversation zz"), "{e}");
    }

    #[test]
    fn hubster_jsonl_is_activities_a_line_or_conversations_a_line() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(
            d.join("x.jsonl"),
            "{\"type\":\"message\"}\n{\"type\":\"event\"}\n",
        )
        .unwrap();
        std::fs::write(
            d.join("all.jsonl"),
            "{\"conversationId\":\"y\",\"activities\":[{\"type\":\"message\"}]}\n",
        )
        .unwrap();
        let set = FileSet::scan(d, Format::Hubster).unwrap();
        assert_eq!(set.ids(), ["x", "y"]);
        assert_eq!(set.activities("x").unwrap().len(), 2);
        assert_eq!(set.activities("y").unwrap().len(), 1);
    }
}
