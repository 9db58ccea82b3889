//! Files in either format, read and written: LivePerson JSON
//! (`{"messageEventRecords": [...]}` per conversation), Hubster activities
//! (JSONL, one a line, or a JSON array), and JSONL with one conversation a
//! line as `convert` and `generate` write it ([`FileSet`]). Every file
//! convsync writes is written durably; LivePerson JSON whole and atomically.

use crate::format::identity;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// A file that could not be read or written, named.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: cannot write: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Not JSON where JSON was expected (`line`: of a JSONL file).
    #[error("{}: {}{source}", path.display(), line.map_or(String::new(), |l| format!("line {l}: ")))]
    Json {
        path: PathBuf,
        line: Option<usize>,
        source: serde_json::Error,
    },
    /// JSON, but not of the shape expected: what it is not.
    #[error("{}: {what}", path.display())]
    Shape { path: PathBuf, what: String },
}

impl FileError {
    fn io(path: &Path) -> impl FnOnce(std::io::Error) -> FileError + '_ {
        |source| FileError::Io {
            path: path.to_owned(),
            source,
        }
    }

    fn shape(path: &Path, what: impl Into<String>) -> FileError {
        FileError::Shape {
            path: path.to_owned(),
            what: what.into(),
        }
    }
}

/// A conversation (or a directory) in files that cannot be read: what is
/// wrong, naming the file and, for JSONL, the line.
#[derive(Debug, thiserror::Error)]
pub enum Unreadable {
    #[error("source directory {}: {source}", dir.display())]
    Dir {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: not JSON: {source}", path.display())]
    NotJson {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error(transparent)]
    File(#[from] FileError),
    /// A JSONL line that is no conversation (it stands as one of its own,
    /// `<file>:<line>`, which fails with this).
    #[error("{}: line {line}: {what}", path.display())]
    Line {
        path: PathBuf,
        line: usize,
        what: String,
    },
    #[error("no conversation {id} in {} (no file {}.json and no JSONL line)", dir.display(), file_name(id))]
    Unknown { id: String, dir: PathBuf },
    #[error("conversation {id}: its line has no {list} array")]
    NoList { id: String, list: &'static str },
}

/// The format of files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Liveperson,
    Hubster,
}

/// A conversation id as a file name. Ids of letters, digits, `-`, `_`,
/// `.` and `~` are their own name; in any other, the other characters
/// become `_` and `~` and 8 hex digits of the id's hash are added, so two
/// ids never share a file (`a/b` and `a:b` both sanitize to `a_b`).
pub fn file_name(id: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "-_.~".contains(c);
    if !id.is_empty() && id.chars().all(safe) && !id.starts_with('.') {
        return id.to_owned();
    }
    let mut name: String = id.chars().map(|c| if safe(c) { c } else { '_' }).collect();
    let hash = identity::uuid5_of(id).simple().to_string();
    name.push('~');
    name.push_str(&hash[..8]);
    name
}

/// The conversation ids a file lists, one a line; blank lines and `#`
/// comments are passed over.
pub fn read_id_list(path: &Path) -> std::io::Result<Vec<String>> {
    let text = std::fs::read_to_string(path)?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect())
}

/// Text without the byte-order mark some editors on Windows put first.
pub fn strip_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)
}

/// The records of a LivePerson JSON file: `{"messageEventRecords": [...]}`
/// or a bare array. A file that is missing has none.
pub fn read_records(path: &Path) -> Result<Vec<Value>, Unreadable> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(Unreadable::Read {
                path: path.to_owned(),
                source,
            });
        }
    };
    let doc: Value =
        serde_json::from_slice(strip_bom(&bytes)).map_err(|source| Unreadable::NotJson {
            path: path.to_owned(),
            source,
        })?;
    match doc {
        Value::Array(a) => Ok(a),
        Value::Object(mut o) => match o.remove("messageEventRecords") {
            Some(Value::Array(a)) => Ok(a),
            _ => Err(FileError::shape(path, "has no messageEventRecords array").into()),
        },
        _ => Err(FileError::shape(
            path,
            "neither {\"messageEventRecords\": [...]} nor an array of records",
        )
        .into()),
    }
}

/// A conversation's activities from a directory: `<id>.jsonl` (one a line)
/// or `<id>.json` (an array). A line cut short (JSON that ends too soon, as
/// a crash while appending leaves) is passed over with a warning; any other
/// bad line is an error naming it.
pub fn read_activities(dir: &Path, conversation_id: &str) -> Result<Vec<Value>, FileError> {
    let stem = file_name(conversation_id);
    let jsonl = dir.join(format!("{stem}.jsonl"));
    let json = dir.join(format!("{stem}.json"));
    if let Some(found) = read_activity_lines(&jsonl)? {
        return Ok(found);
    }
    match std::fs::read(&json) {
        Ok(bytes) => match serde_json::from_slice::<Value>(strip_bom(&bytes)) {
            Ok(Value::Array(a)) => Ok(a),
            Ok(_) => Err(FileError::shape(&json, "not an array of activities")),
            Err(source) => Err(FileError::Json {
                path: json,
                line: None,
                source,
            }),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(FileError::shape(
            &jsonl,
            format!("no such file (nor {})", json.display()),
        )),
        Err(e) => Err(FileError::io(&json)(e)),
    }
}

/// The activities of a JSONL file, one a line (`None`: no such file). Lines
/// cut short are passed over (see [`read_activities`]).
pub fn read_activity_lines(path: &Path) -> Result<Option<Vec<Value>>, FileError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(FileError::io(path)(e)),
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let mut out = Vec::new();
    for (i, l) in text.lines().enumerate() {
        if l.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Value>(l) {
            Ok(v) if v.is_object() => out.push(v),
            Ok(_) => {
                return Err(FileError::shape(
                    path,
                    format!("line {}: not an activity object", i + 1),
                ));
            }
            Err(e) if e.is_eof() => {
                tracing::warn!(file = %path.display(), line = i + 1, "a line cut short (a crash while writing?): passed over");
            }
            Err(source) => {
                return Err(FileError::Json {
                    path: path.to_owned(),
                    line: Some(i + 1),
                    source,
                });
            }
        }
    }
    Ok(Some(out))
}

/// Appends one activity to a JSONL file, durably. A line a crash left cut
/// short is ended first, so the new one starts on a line of its own.
pub fn append_activity(path: &Path, activity: &Value) -> Result<(), FileError> {
    use std::io::{Read, Seek, SeekFrom, Write};
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(path)?;
        let mut line = Vec::new();
        if f.metadata()?.len() > 0 {
            let mut last = [0u8];
            f.seek(SeekFrom::End(-1))?;
            f.read_exact(&mut last)?;
            if last[0] != b'\n' {
                line.push(b'\n');
            }
        }
        serde_json::to_writer(&mut line, activity).expect("activities serialize");
        line.push(b'\n');
        f.write_all(&line)?;
        f.sync_data()
    };
    write().map_err(|source| FileError::Write {
        path: path.to_owned(),
        source,
    })
}

/// A record's identity in a file ([`identity::record_identity`]; a file
/// holds one conversation, so its id does not matter here).
fn identity(r: &Value) -> String {
    identity::record_identity("", r)
}

/// Adds records to a LivePerson JSON file (written whole, atomically),
/// leaving out any it already holds. Returns how many it added.
pub fn append_records(path: &Path, records: Vec<Value>) -> Result<usize, FileError> {
    let io = FileError::io(path);
    let mut existing: Vec<Value> = match std::fs::read(path) {
        Ok(bytes) => {
            let doc: Value =
                serde_json::from_slice(strip_bom(&bytes)).map_err(|source| FileError::Json {
                    path: path.to_owned(),
                    line: None,
                    source,
                })?;
            match doc.get("messageEventRecords") {
                Some(Value::Array(a)) => a.clone(),
                _ => return Err(FileError::shape(path, "has no messageEventRecords array")),
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(io(e)),
    };
    let have: HashSet<String> = existing.iter().map(identity).collect();
    let before = existing.len();
    existing.extend(records.into_iter().filter(|r| !have.contains(&identity(r))));
    let added = existing.len() - before;
    if added == 0 {
        return Ok(0);
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(FileError::io(path))?;
    }
    let tmp = path.with_extension("json.tmp");
    let text = serde_json::to_vec_pretty(&json!({ "messageEventRecords": existing }))
        .expect("values serialize");
    let write = || -> std::io::Result<()> {
        use std::io::Write;
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&text)?;
        f.sync_all()
    };
    write().map_err(FileError::io(path))?;
    std::fs::rename(&tmp, path).map_err(io)?;
    // The rename itself, durable.
    if let Some(parent) = path.parent() {
        let _ = std::fs::File::open(parent).and_then(|d| d.sync_all());
    }
    Ok(added)
}
/// Where a conversation is.
#[derive(Debug, Clone)]
enum Place {
    /// A line of a JSONL file: (file, byte offset, length).
    Line(PathBuf, u64, usize),
    /// A line that is no conversation: its file, its number, why.
    Broken(PathBuf, usize, String),
}

/// A directory of conversations as a migration source. Each conversation is
/// a file of its own (`<id>.json`; Hubster also `<id>.jsonl`, one activity a
/// line) or a line of a JSONL file in the layout `convsync convert` and
/// `convsync generate` write: `{"conversationId": .., "messageEventRecords":
/// [..]}` (LivePerson) or `{"conversationId": .., "activities": [..]}`
/// (Hubster). A line that cannot be read stands as a conversation of its own
/// named `<file>:<line>`, which fails with the reason (a dead letter), so it
/// stops nothing else.
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
    pub fn scan(dir: &Path, format: Format) -> Result<FileSet, Unreadable> {
        let entries = std::fs::read_dir(dir).map_err(|source| Unreadable::Dir {
            dir: dir.to_owned(),
            source,
        })?;
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
    fn is_bundle(&self, path: &Path) -> Result<bool, FileError> {
        if self.format == Format::Liveperson {
            return Ok(true);
        }
        let f = std::fs::File::open(path).map_err(FileError::io(path))?;
        let mut first = String::new();
        for line in BufReader::new(f).lines() {
            let line = line.map_err(FileError::io(path))?;
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

    fn index_lines(&mut self, path: &Path) -> Result<(), FileError> {
        #[derive(Deserialize)]
        struct Head {
            #[serde(rename = "conversationId")]
            conversation_id: String,
        }
        let f = std::fs::File::open(path).map_err(FileError::io(path))?;
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
                .map_err(FileError::io(path))?;
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
                            Place::Broken(
                                path.to_owned(),
                                number,
                                format!(
                                    "conversation {} again (it is on an earlier line)",
                                    h.conversation_id
                                ),
                            ),
                        );
                    } else {
                        self.lines.insert(h.conversation_id, place);
                    }
                }
                Err(e) => {
                    self.lines.insert(
                        format!("{name}:{number}"),
                        Place::Broken(
                            path.to_owned(),
                            number,
                            format!("not a conversation ({{\"conversationId\": .., ...}}): {e}"),
                        ),
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
    fn line(&self, id: &str) -> Option<Result<Value, Unreadable>> {
        let read = |path: &Path, at: u64, len: usize| -> Result<Value, FileError> {
            let mut f = std::fs::File::open(path).map_err(FileError::io(path))?;
            f.seek(SeekFrom::Start(at)).map_err(FileError::io(path))?;
            let mut buf = vec![0; len];
            f.read_exact(&mut buf).map_err(FileError::io(path))?;
            serde_json::from_slice(strip_bom(&buf)).map_err(|source| FileError::Json {
                path: path.to_owned(),
                line: None,
                source,
            })
        };
        Some(match self.lines.get(id)? {
            Place::Line(path, at, len) => read(path, *at, *len).map_err(Into::into),
            Place::Broken(path, line, why) => Err(Unreadable::Line {
                path: path.clone(),
                line: *line,
                what: why.clone(),
            }),
        })
    }

    fn known(&self, id: &str) -> Result<(), Unreadable> {
        match self.ids.binary_search_by(|i| i.as_str().cmp(id)) {
            Ok(_) => Ok(()),
            Err(_) => Err(Unreadable::Unknown {
                id: id.to_owned(),
                dir: self.dir.clone(),
            }),
        }
    }

    /// A conversation's `list` from its JSONL line, if it has one.
    fn in_line(&self, id: &str, list: &'static str) -> Option<Result<Vec<Value>, Unreadable>> {
        Some(
            self.line(id)?
                .and_then(|mut doc| match doc.get_mut(list).map(Value::take) {
                    Some(Value::Array(a)) => Ok(a),
                    _ => Err(Unreadable::NoList {
                        id: id.to_owned(),
                        list,
                    }),
                }),
        )
    }

    /// A LivePerson conversation's records.
    pub fn records(&self, id: &str) -> Result<Vec<Value>, Unreadable> {
        self.known(id)?;
        match self.in_line(id, "messageEventRecords") {
            Some(r) => r,
            None => read_records(&self.dir.join(format!("{}.json", file_name(id)))),
        }
    }

    /// A Hubster conversation's activities, as stored.
    pub fn activities(&self, id: &str) -> Result<Vec<Value>, Unreadable> {
        self.known(id)?;
        match self.in_line(id, "activities") {
            Some(a) => a,
            None => Ok(read_activities(&self.dir, id)?),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_cut_short_by_a_crash_is_passed_over_anywhere_and_a_bad_one_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.jsonl");
        append_activity(&path, &json!({"externalId": "1"})).unwrap();
        // A crash in the middle of the second append...
        std::fs::write(
            &path,
            std::fs::read_to_string(&path).unwrap() + "{\"externalId\": \"2",
        )
        .unwrap();
        // ... then the same activity and one more, each on a line of its own.
        append_activity(&path, &json!({"externalId": "2"})).unwrap();
        append_activity(&path, &json!({"externalId": "3"})).unwrap();
        let got: Vec<Value> = read_activities(dir.path(), "c").unwrap();
        let ids: Vec<&str> = got
            .iter()
            .map(|a| a["externalId"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["1", "2", "3"]);
        // Not cut short but wrong: an error naming the line.
        std::fs::write(&path, "{\"externalId\": \"1\"}\n{nope}\n").unwrap();
        let e = read_activities(dir.path(), "c").unwrap_err().to_string();
        assert!(e.contains("c.jsonl") && e.contains("line 2"), "{e}");
        assert!(
            read_activity_lines(&dir.path().join("none.jsonl"))
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn liveperson_files_gain_only_records_they_lack() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("c.json");
        let r = |s: i64| json!({"dialogId": "d", "sequence": s});
        assert_eq!(append_records(&path, vec![r(0), r(1)]).unwrap(), 2);
        assert_eq!(append_records(&path, vec![r(1), r(2)]).unwrap(), 1);
        let seqs: Vec<i64> = read_records(&path)
            .unwrap()
            .iter()
            .map(|r| r["sequence"].as_i64().unwrap())
            .collect();
        assert_eq!(seqs, [0, 1, 2]);
        assert!(!path.with_extension("json.tmp").exists());
    }

    #[test]
    fn file_names_are_the_id_when_safe_and_never_shared() {
        assert_eq!(file_name("4f3c-9a1b_x.y~z"), "4f3c-9a1b_x.y~z");
        let (a, b) = (file_name("a/b"), file_name("a:b"));
        assert!(a.starts_with("a_b~") && b.starts_with("a_b~"), "{a} {b}");
        assert_ne!(a, b);
        assert_eq!(file_name(&a), a, "a file's stem names the same file");
        assert!(
            file_name("..").starts_with("..~"),
            "never a path of its own"
        );
        assert!(file_name("").starts_with('~'));
        assert_eq!(file_name("web-visitor-42"), "web-visitor-42");
    }

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
        let e = set.records("bundle.jsonl:3").unwrap_err().to_string();
        assert!(e.contains("bundle.jsonl: line 3"), "{e}");
        let e = set.records("zz").unwrap_err().to_string();
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
