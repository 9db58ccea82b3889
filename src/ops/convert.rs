//! The `convert` operation: read either format as one JSON document or as
//! JSONL, convert, and write the mirror shape.
//!
//! JSONL is streamed through a bounded pipeline (a reader thread, one worker
//! per core, the caller's thread writing in input order), so memory stays flat
//! whatever the file size. A line that cannot be converted is reported with
//! its number and skipped; the rest goes on.

use crate::format::Mapping;
use crate::format::hubster::Activity;
use crate::format::json::write_str;
use crate::format::{self, ConvertError, HubsterResume, LpResume, Report, liveperson};
use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use std::collections::BTreeMap;
use std::io::{self, BufRead, Write};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};

/// Which way to convert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// LivePerson records in, Hubster activities out.
    ToHubster,
    /// Hubster activities in, LivePerson records out.
    ToLivePerson,
}

/// How the input is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InputFormat {
    /// JSONL when the first line is a whole object and more follow (or it
    /// names a conversationId); one JSON document otherwise.
    #[default]
    Auto,
    /// One JSON document.
    Json,
    /// One conversation per line.
    Jsonl,
}

#[derive(Debug, Clone)]
pub struct Options {
    pub direction: Direction,
    pub conversation_id: Option<String>,
    /// The input file's name without its extension: the conversation id of
    /// a LivePerson document whose records name none (no dialogId).
    pub file_stem: Option<String>,
    pub pretty: bool,
    pub input_format: InputFormat,
    /// Worker threads for JSONL (0 = one per core).
    pub threads: usize,
}

/// One input line that could not be converted.
#[derive(Debug, Clone, PartialEq)]
pub struct LineError {
    pub line: u64,
    /// Where in the line, for malformed JSON.
    pub column: Option<usize>,
    pub reason: String,
}

impl std::fmt::Display for LineError {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self.column {
            Some(c) => write!(f, "line {}, column {c}: {}", self.line, self.reason),
            None => write!(f, "line {}: {}", self.line, self.reason),
        }
    }
}

/// What stopped a conversion as a whole.
#[derive(Debug, thiserror::Error)]
pub enum ConvertFailure {
    #[error("input is empty")]
    Empty,
    #[error("{0}")]
    Input(String),
    #[error(transparent)]
    Convert(#[from] ConvertError),
    #[error("i/o error: {0}")]
    Io(#[from] io::Error),
}

/// Converts `input` to `output`. Line errors go to `on_error` as they occur
/// (in input order) and are counted in the report's `failed`.
pub fn run(
    mut input: Box<dyn BufRead + Send>,
    output: &mut dyn Write,
    opts: &Options,
    mapping: &Mapping,
    on_error: &mut dyn FnMut(&LineError),
) -> Result<Report, ConvertFailure> {
    let mut first = Vec::new();
    input.read_until(b'\n', &mut first)?;
    let start = first.iter().position(|b| !b.is_ascii_whitespace());
    let Some(start) = start else {
        // Only blank lines so far: skip them all, still empty means empty.
        let mut rest = Vec::new();
        input.read_to_end(&mut rest)?;
        if rest.iter().all(u8::is_ascii_whitespace) {
            return Err(ConvertFailure::Empty);
        }
        first.extend_from_slice(&rest);
        return single(&first, output, opts, mapping);
    };
    let jsonl = match opts.input_format {
        InputFormat::Json => false,
        InputFormat::Jsonl => true,
        InputFormat::Auto => first[start] == b'{' && looks_like_jsonl(&first, &mut input)?,
    };
    if jsonl {
        jsonl_stream(first, input, output, opts, mapping, on_error)
    } else {
        input.read_to_end(&mut first)?;
        single(&first, output, opts, mapping)
    }
}

/// The first line is a complete object, and either names a conversation or
/// is followed by more lines.
fn looks_like_jsonl(first: &[u8], input: &mut dyn BufRead) -> io::Result<bool> {
    #[derive(serde::Deserialize)]
    struct Probe {
        #[serde(rename = "conversationId")]
        conversation_id: Option<serde::de::IgnoredAny>,
    }
    let Ok(probe) = serde_json::from_slice::<Probe>(first) else {
        return Ok(false);
    };
    if probe.conversation_id.is_some() {
        return Ok(true);
    }
    // Anything but white space after the first line?
    loop {
        let buf = input.fill_buf()?;
        if buf.is_empty() {
            return Ok(false);
        }
        match buf.iter().position(|b| !b.is_ascii_whitespace()) {
            Some(_) => return Ok(true),
            None => {
                let n = buf.len();
                input.consume(n);
            }
        }
    }
}

/// "line 3, column 7: expected `,`" from a serde_json error on a document
/// that began on `first_line`.
fn json_error(e: &serde_json::Error, first_line: u64) -> String {
    let msg = e.to_string();
    let msg = msg
        .rsplit_once(" at line ")
        .map_or(msg.as_str(), |(m, _)| m)
        .to_owned();
    if e.line() == 0 {
        return msg;
    }
    format!(
        "line {}, column {}: {msg}",
        first_line + e.line() as u64 - 1,
        e.column()
    )
}

fn write_json(output: &mut dyn Write, value: &impl Serialize, pretty: bool) -> io::Result<()> {
    if pretty {
        serde_json::to_writer_pretty(&mut *output, value)?;
    } else {
        serde_json::to_writer(&mut *output, value)?;
    }
    output.write_all(b"\n")
}

fn single(
    text: &[u8],
    output: &mut dyn Write,
    opts: &Options,
    mapping: &Mapping,
) -> Result<Report, ConvertFailure> {
    let bad = |e: serde_json::Error| {
        ConvertFailure::Input(format!("input is not valid JSON: {}", json_error(&e, 1)))
    };
    let first = text.iter().find(|b| !b.is_ascii_whitespace()).copied();
    match opts.direction {
        Direction::ToHubster => {
            let records: Vec<liveperson::Record> = match first {
                Some(b'[') => serde_json::from_slice(text).map_err(bad)?,
                Some(b'{') => {
                    let doc =
                        serde_json::from_slice::<liveperson::ContentSearch>(text).map_err(bad)?;
                    if !doc.has_records {
                        return Err(ConvertFailure::Input(format!(
                            "not LivePerson records: found {} where a content-search response ({{\"messageEventRecords\": [...]}}), an array of records or JSONL was expected",
                            doc.extra.shape()
                        )));
                    }
                    doc.records
                }
                _ => return Err(not_json_start()),
            };
            // (id, whether it is the file's name)
            let (id, from_file_name) = match &opts.conversation_id {
                Some(id) => (id.clone(), false),
                None => match format::main_dialog(&records)? {
                    Some(id) => (id, false),
                    None if records.is_empty() => (String::new(), false),
                    None => match &opts.file_stem {
                        Some(stem) => (stem.clone(), true),
                        None => {
                            return Err(ConvertFailure::Input(
                                "cannot tell the conversation id: no record has a dialogId and the input is not a file; pass --conversation-id".into(),
                            ));
                        }
                    },
                },
            };
            let mut out = format::to_hubster(&id, &records, mapping, &LpResume::default())?;
            if from_file_name {
                out.report.warn(
                    format::report::kind::CONVERSATION_ID_FROM_FILE_NAME,
                    &id,
                    format!("no record has a dialogId: conversation id {id:?} taken from the file's name (--conversation-id chooses another)"),
                );
            }
            let mut buf = Vec::new();
            Activity::write_array(&out.activities, &mut buf);
            if opts.pretty {
                // Re-indent, keeping the field order as written.
                let mut de = serde_json::Deserializer::from_slice(&buf);
                let mut ser = serde_json::Serializer::pretty(&mut *output);
                serde_transcode::transcode(&mut de, &mut ser).map_err(io::Error::other)?;
            } else {
                output.write_all(&buf)?;
            }
            output.write_all(b"\n")?;
            Ok(out.report)
        }
        Direction::ToLivePerson => {
            let (activities, given) = match first {
                Some(b'[') => (
                    serde_json::from_slice::<Vec<serde_json::Value>>(text).map_err(bad)?,
                    None,
                ),
                Some(b'{') => {
                    let line: format::hubster::ConversationLine =
                        serde_json::from_slice(text).map_err(bad)?;
                    (line.activities, line.conversation_id)
                }
                _ => return Err(not_json_start()),
            };
            let named = opts.conversation_id.clone().or(given);
            let from_file_name = named.is_none();
            let Some(id) = named.or_else(|| opts.file_stem.clone()) else {
                return Err(ConvertFailure::Input(
                    "Hubster activities do not name their conversation and the input is not a file: pass --conversation-id"
                        .into(),
                ));
            };
            let mut out =
                format::to_liveperson(&id, &activities, mapping, &HubsterResume::default())?;
            if from_file_name && !activities.is_empty() {
                out.report.warn(
                    format::report::kind::CONVERSATION_ID_FROM_FILE_NAME,
                    &id,
                    format!("the activities name no conversation: conversation id {id:?} taken from the file's name (--conversation-id chooses another)"),
                );
            }
            write_json(
                output,
                &serde_json::json!({ "messageEventRecords": out.records }),
                opts.pretty,
            )?;
            Ok(out.report)
        }
    }
}

fn not_json_start() -> ConvertFailure {
    ConvertFailure::Input("input is not valid JSON: line 1: expected `[` or `{`".into())
}

/// The most input one batch holds before it is handed to a worker (a single
/// longer line makes a batch of its own).
const BATCH_BYTES: usize = 512 * 1024;

/// How much one read asks for.
const READ_BYTES: usize = 128 * 1024;

struct Batch {
    index: u64,
    first_line: u64,
    /// Whole lines.
    data: Vec<u8>,
}

struct Done {
    index: u64,
    out: Vec<u8>,
    errors: Vec<LineError>,
    report: Report,
}

fn jsonl_stream(
    first: Vec<u8>,
    mut input: Box<dyn BufRead + Send>,
    output: &mut dyn Write,
    opts: &Options,
    mapping: &Mapping,
    on_error: &mut dyn FnMut(&LineError),
) -> Result<Report, ConvertFailure> {
    let workers = match opts.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    let (batch_tx, batch_rx) = sync_channel::<Batch>(workers);
    let batch_rx = Arc::new(Mutex::new(batch_rx));
    let (done_tx, done_rx) = sync_channel::<Done>(workers);
    let mut report = Report::default();
    // Buffers go round (reader -> worker -> reader, worker -> writer ->
    // worker) instead of being freed on another thread: memory stays flat.
    let in_pool = Pool::new(2 * workers + 2);
    let out_pool = Pool::new(2 * workers + 2);
    std::thread::scope(|s| -> Result<(), ConvertFailure> {
        let in_pool = &in_pool;
        let out_pool = &out_pool;
        let reader = s.spawn(move || -> io::Result<()> {
            // Whole chunks, cut after their last newline; the tail starts the
            // next batch. Workers find the line ends themselves.
            let mut data = first;
            let mut next_line = 1u64;
            let mut index = 0u64;
            let mut eof = false;
            while !eof {
                while data.len() < BATCH_BYTES {
                    let len = data.len();
                    data.resize(len + READ_BYTES, 0);
                    let n = loop {
                        match input.read(&mut data[len..]) {
                            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                            other => break other?,
                        }
                    };
                    data.truncate(len + n);
                    if n == 0 {
                        eof = true;
                        break;
                    }
                }
                let cut = match memchr::memrchr(b'\n', &data) {
                    _ if eof => data.len(),
                    Some(i) => i + 1,
                    // One line longer than a batch: keep reading it.
                    None => continue,
                };
                if cut == 0 {
                    continue;
                }
                let mut next = in_pool.get();
                next.extend_from_slice(&data[cut..]);
                data.truncate(cut);
                let lines = memchr::memchr_iter(b'\n', &data).count() as u64
                    + u64::from(!data.ends_with(b"\n"));
                let batch = Batch {
                    index,
                    first_line: next_line,
                    data: std::mem::replace(&mut data, next),
                };
                if batch_tx.send(batch).is_err() {
                    return Ok(());
                }
                index += 1;
                next_line += lines;
            }
            Ok(())
        });
        for _ in 0..workers {
            let rx = Arc::clone(&batch_rx);
            let tx = done_tx.clone();
            let pools = (in_pool, out_pool);
            s.spawn(move || worker(&rx, &tx, pools, opts.direction, mapping));
        }
        drop(done_tx);
        // Only the workers hold the batch receiver now: when they stop, the
        // reader's next send fails and it stops too.
        drop(batch_rx);
        let mut pending: BTreeMap<u64, Done> = BTreeMap::new();
        let mut next = 0u64;
        let mut write_err = None;
        'recv: for done in done_rx.iter() {
            pending.insert(done.index, done);
            while let Some(done) = pending.remove(&next) {
                next += 1;
                for e in &done.errors {
                    on_error(e);
                }
                report.merge(done.report);
                if let Err(e) = output.write_all(&done.out) {
                    write_err = Some(e);
                    break 'recv;
                }
                out_pool.put(done.out);
            }
        }
        // Dropping the receiver stops the workers, and through them the reader.
        drop(done_rx);
        let read = reader.join().expect("the reader does not panic");
        if let Some(e) = write_err {
            return Err(e.into());
        }
        read?;
        Ok(())
    })?;
    output.flush()?;
    Ok(report)
}

/// A few reusable byte buffers.
struct Pool {
    bufs: Mutex<Vec<Vec<u8>>>,
    keep: usize,
}

impl Pool {
    fn new(keep: usize) -> Self {
        Pool {
            bufs: Mutex::new(Vec::with_capacity(keep)),
            keep,
        }
    }

    fn get(&self) -> Vec<u8> {
        self.bufs
            .lock()
            .expect("pool lock")
            .pop()
            .unwrap_or_default()
    }

    fn put(&self, mut buf: Vec<u8>) {
        buf.clear();
        let mut bufs = self.bufs.lock().expect("pool lock");
        if bufs.len() < self.keep {
            bufs.push(buf);
        }
    }
}

fn worker(
    rx: &Mutex<Receiver<Batch>>,
    tx: &SyncSender<Done>,
    (in_pool, out_pool): (&Pool, &Pool),
    dir: Direction,
    mapping: &Mapping,
) {
    loop {
        let batch = {
            let rx = rx.lock().expect("no worker panics holding the lock");
            match rx.recv() {
                Ok(b) => b,
                Err(_) => return,
            }
        };
        let mut done = Done {
            index: batch.index,
            out: out_pool.get(),
            errors: Vec::new(),
            report: Report::default(),
        };
        // Valid UTF-8 as a whole (the usual case) lets each line be parsed as
        // text, without checking every string again.
        let text = std::str::from_utf8(&batch.data).ok();
        let mut start = 0;
        for (i, end) in memchr::memchr_iter(b'\n', &batch.data)
            .map(|e| e + 1)
            .chain((!batch.data.ends_with(b"\n")).then_some(batch.data.len()))
            .enumerate()
        {
            let range = start..end;
            start = end;
            let line = &batch.data[range.clone()];
            let line = line.strip_suffix(b"\n").unwrap_or(line);
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let line_no = batch.first_line + i as u64;
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let start = done.out.len();
            let result = match dir {
                Direction::ToHubster => {
                    let line = Input::new(
                        text.map(|t| &t[range.start..range.start + line.len()]),
                        line,
                    );
                    line_to_hubster(line, mapping, &mut done.out)
                }
                Direction::ToLivePerson => line_to_liveperson(line, mapping, &mut done.out),
            };
            match result {
                Ok(r) => done.report.merge(r),
                Err(Failed { column, reason }) => {
                    done.out.truncate(start);
                    done.report.failed += 1;
                    done.errors.push(LineError {
                        line: line_no,
                        column,
                        reason,
                    });
                }
            }
        }
        in_pool.put(batch.data);
        if tx.send(done).is_err() {
            return;
        }
    }
}

/// `{"conversationId": .., "<items>": [..], ...other fields of the input line}`.
struct OutLine<'b, T: Serialize, X: Serialize> {
    conversation_id: &'b str,
    items_key: &'static str,
    items: &'b T,
    extra: &'b X,
}

impl<T: Serialize, X: Serialize> Serialize for OutLine<'_, T, X> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::Error;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("conversationId", self.conversation_id)?;
        m.serialize_entry(self.items_key, self.items)?;
        // Other fields of the input line ride along.
        let extra = serde_json::to_value(self.extra).map_err(S::Error::custom)?;
        if let serde_json::Value::Object(o) = extra {
            for (k, v) in o {
                if k != "conversationId" && k != self.items_key {
                    m.serialize_entry(&k, &v)?;
                }
            }
        }
        m.end()
    }
}

/// Why one line failed.
struct Failed {
    column: Option<usize>,
    reason: String,
}

impl Failed {
    fn json(e: serde_json::Error) -> Self {
        let msg = e.to_string();
        let reason = msg
            .rsplit_once(" at line ")
            .map_or(msg.as_str(), |(m, _)| m)
            .to_owned();
        Failed {
            column: (e.line() > 0).then_some(e.column()),
            reason,
        }
    }

    fn because(reason: impl ToString) -> Self {
        Failed {
            column: None,
            reason: reason.to_string(),
        }
    }
}

/// One line, as text when the batch was valid UTF-8.
#[derive(Clone, Copy)]
struct Input<'a> {
    text: Option<&'a str>,
    bytes: &'a [u8],
}

impl<'a> Input<'a> {
    fn new(text: Option<&'a str>, bytes: &'a [u8]) -> Self {
        Input { text, bytes }
    }

    fn parse<T: serde::Deserialize<'a>>(self) -> Result<T, Failed> {
        match self.text {
            Some(t) => serde_json::from_str(t),
            None => serde_json::from_slice(self.bytes),
        }
        .map_err(Failed::json)
    }
}

fn line_to_hubster(
    line: Input<'_>,
    mapping: &Mapping,
    out: &mut Vec<u8>,
) -> Result<Report, Failed> {
    let parsed: liveperson::ConversationLine = line.parse()?;
    let Some(id) = parsed.conversation_id.as_ref().map(|s| s.as_str()) else {
        return Err(Failed::because("no conversationId"));
    };
    if !parsed.has_records {
        return Err(Failed::because(format!(
            "no messageEventRecords: found {}",
            parsed.extra.shape()
        )));
    }
    let conv = format::to_hubster(id, &parsed.records, mapping, &LpResume::default())
        .map_err(Failed::because)?;
    out.extend_from_slice(b"{\"conversationId\":");
    write_str(out, id);
    out.extend_from_slice(b",\"activities\":");
    Activity::write_array(&conv.activities, out);
    // Other fields of the input line ride along.
    for (k, v) in &parsed.extra.0 {
        if k.as_str() != "activities" {
            out.push(b',');
            write_str(out, k.as_str());
            out.push(b':');
            out.extend_from_slice(v.get().as_bytes());
        }
    }
    out.extend_from_slice(b"}\n");
    Ok(conv.report)
}

fn line_to_liveperson(line: &[u8], mapping: &Mapping, out: &mut Vec<u8>) -> Result<Report, Failed> {
    let parsed: format::hubster::ConversationLine =
        serde_json::from_slice(line).map_err(Failed::json)?;
    let Some(id) = parsed.conversation_id.as_deref() else {
        return Err(Failed::because("no conversationId"));
    };
    let conv = format::to_liveperson(id, &parsed.activities, mapping, &HubsterResume::default())
        .map_err(Failed::because)?;
    let line = OutLine {
        conversation_id: id,
        items_key: "messageEventRecords",
        items: &conv.records,
        extra: &parsed.extra,
    };
    serde_json::to_writer(&mut *out, &line).map_err(Failed::because)?;
    out.push(b'\n');
    Ok(conv.report)
}
