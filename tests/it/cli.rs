//! The real binary: both input shapes, stdin/stdout, broken lines, bad configs.

use crate::support::{data, read_json};
use serde_json::Value;
use std::io::Write;
use std::path::Path;
use std::process::{Output, Stdio};

fn convsync(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = crate::support::command(None, args)
        .env_remove("CONVSYNC_CONFIG")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        let input = input.to_vec();
        std::thread::spawn(move || pipe.write_all(&input).unwrap());
    }
    child.wait_with_output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn content_search_document_from_a_file() {
    let input = data("liveperson-content-search.json");
    let o = convsync(
        &[
            "convert",
            "--from",
            "liveperson",
            "--to",
            "hubster",
            "--pretty",
            path(&input),
        ],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let got: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(got, read_json("liveperson-content-search.hubster.json"));
    // The report is on stderr, the data alone on stdout.
    assert!(
        stderr(&o).contains("converted 1 conversation(s), 0 failed"),
        "{}",
        stderr(&o)
    );
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("\n  "),
        "pretty output is indented"
    );
}

#[test]
fn bare_array_on_stdin_to_stdout() {
    let doc = read_json("liveperson-content-search.json");
    let arr = doc["messageEventRecords"].to_string();
    let o = convsync(
        &["convert", "--from", "liveperson", "--report", "json", "-"],
        Some(arr.as_bytes()),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let got: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(got, read_json("liveperson-content-search.hubster.json"));
    let report: Value = serde_json::from_str(stderr(&o).trim()).unwrap();
    assert_eq!(report["output"], 10);
    assert_eq!(report["kinds"]["event:liveperson.accept-status"], 4);
}

#[test]
fn hubster_array_is_named_by_its_file_or_a_conversation_id() {
    let input = data("hubster-get-activities.json");
    // From stdin, nothing names the conversation.
    let text = std::fs::read(&input).unwrap();
    let o = convsync(&["convert", "--from", "hubster", "-"], Some(&text));
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("--conversation-id"), "{}", stderr(&o));
    // From a file, its name does, and the report says so.
    let o = convsync(&["convert", "--from", "hubster", path(&input)], None);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("conversation_id_from_file_name"),
        "{}",
        stderr(&o)
    );
    let got: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        got["messageEventRecords"][0]["dialogId"],
        "hubster-get-activities"
    );
    let o = convsync(
        &[
            "convert",
            "--from",
            "hubster",
            "--conversation-id",
            "conv-1",
            path(&input),
        ],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let got: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(got, read_json("hubster-get-activities.liveperson.json"));
}

#[test]
fn ambiguous_main_dialog_is_an_error_that_says_so() {
    let doc = serde_json::json!({"messageEventRecords": [
        {"sequence": 0, "dialogId": "d1", "event": {"type": "ContentEvent", "contentType": "text/plain", "message": "a"}},
        {"sequence": 1, "dialogId": "d2", "event": {"type": "ContentEvent", "contentType": "text/plain", "message": "b"}}]});
    let o = convsync(
        &["convert", "--from", "liveperson"],
        Some(doc.to_string().as_bytes()),
    );
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(
        e.contains("2 dialogs") && e.contains("d1, d2") && e.contains("--conversation-id"),
        "{e}"
    );
    let o = convsync(
        &["convert", "--from", "liveperson", "--conversation-id", "d1"],
        Some(doc.to_string().as_bytes()),
    );
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn malformed_document_names_line_and_column() {
    let o = convsync(
        &["convert", "--from", "liveperson"],
        Some(b"{\n  \"messageEventRecords\": [\n    {\"sequence\": 1,}\n  ]\n}\n"),
    );
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(e.contains("line 3, column 20"), "{e}");
}

fn jsonl_corpus(n: u64) -> Vec<u8> {
    let mut out = Vec::new();
    convsync::sim::generate::jsonl(11, n, 8, &mut out).unwrap();
    out
}

#[test]
fn jsonl_with_a_broken_line_converts_the_rest_and_exits_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    let good = jsonl_corpus(40);
    let mut lines: Vec<&[u8]> = good
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    lines.insert(
        7,
        b"{\"conversationId\": \"broken\", \"messageEventRecords\": [",
    );
    lines.insert(
        20,
        b"{\"conversationId\": \"bad-seq\", \"messageEventRecords\": [{\"sequence\": \"x\"}]}",
    );
    let input = dir.path().join("in.jsonl");
    std::fs::write(&input, lines.join(&b'\n')).unwrap();
    let out = dir.path().join("out.jsonl");
    let o = convsync(
        &[
            "convert",
            "--from",
            "liveperson",
            "-o",
            path(&out),
            "--threads",
            "2",
            path(&input),
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(e.contains("line 8, column"), "{e}");
    assert!(
        e.contains("line 21, column") && e.contains("invalid type: string"),
        "{e}"
    );
    assert!(e.contains("converted 40 conversation(s), 2 failed"), "{e}");
    let text = std::fs::read_to_string(&out).unwrap();
    let got: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(got.len(), 40);
    // In input order, one output line per good input line.
    let want: Vec<Value> = good
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice::<Value>(l).unwrap()["conversationId"].clone())
        .collect();
    let ids: Vec<Value> = got.iter().map(|l| l["conversationId"].clone()).collect();
    assert_eq!(ids, want);
    assert!(got.iter().all(|l| l["activities"].is_array()));
}

#[test]
fn jsonl_is_the_same_whatever_the_thread_count() {
    let corpus = jsonl_corpus(300);
    let one = convsync(
        &[
            "convert",
            "--from",
            "liveperson",
            "--threads",
            "1",
            "--report",
            "none",
        ],
        Some(&corpus),
    );
    let four = convsync(
        &[
            "convert",
            "--from",
            "liveperson",
            "--threads",
            "4",
            "--report",
            "none",
        ],
        Some(&corpus),
    );
    assert!(one.status.success() && four.status.success());
    assert!(one.stdout.len() > corpus.len());
    assert_eq!(one.stdout, four.stdout);
}

#[test]
fn jsonl_round_trips_through_both_directions() {
    let corpus = jsonl_corpus(50);
    let h = convsync(
        &["convert", "--from", "liveperson", "--report", "none"],
        Some(&corpus),
    );
    assert!(h.status.success(), "{}", stderr(&h));
    let lp = convsync(
        &["convert", "--from", "hubster", "--report", "none"],
        Some(&h.stdout),
    );
    assert!(lp.status.success(), "{}", stderr(&lp));
    let parse = |b: &[u8]| -> Vec<Value> {
        b.split(|&c| c == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice(l).unwrap())
            .collect()
    };
    let (a, b) = (parse(&corpus), parse(&lp.stdout));
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x["conversationId"], y["conversationId"]);
        let mut xs: Vec<String> = x["messageEventRecords"]
            .as_array()
            .unwrap()
            .iter()
            .map(Value::to_string)
            .collect();
        let mut ys: Vec<String> = y["messageEventRecords"]
            .as_array()
            .unwrap()
            .iter()
            .map(Value::to_string)
            .collect();
        xs.sort();
        xs.dedup();
        ys.sort();
        assert_eq!(xs, ys, "conversation {}", x["conversationId"]);
    }
}

#[test]
fn bad_config_names_file_key_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("convsync.toml");
    std::fs::write(
        &cfg,
        "[mapping]\nkeep_previews = true\n\n[mapping.roles]\nCONSUMER = \"Shopper\"\n",
    )
    .unwrap();
    let o = convsync(
        &["convert", "--config", path(&cfg), "--from", "liveperson"],
        Some(b"[]"),
    );
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(e.contains(&format!("{}:5:", cfg.display())), "{e}");
    assert!(e.contains("mapping.roles.CONSUMER"), "{e}");
    assert!(e.contains("Shopper"), "{e}");
}

#[test]
fn shipped_config_works_with_the_binary() {
    let cfg = Path::new(env!("CARGO_MANIFEST_DIR")).join("config.toml");
    let input = data("liveperson-content-search.json");
    let o = convsync(
        &[
            "--config",
            path(&cfg),
            "convert",
            "--from",
            "liveperson",
            path(&input),
        ],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn empty_input_and_same_platform_are_clear_errors() {
    let o = convsync(&["convert", "--from", "liveperson"], Some(b"\n  \n"));
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("input is empty"), "{}", stderr(&o));
    let o = convsync(
        &["convert", "--from", "hubster", "--to", "hubster"],
        Some(b"[]"),
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("same platform"), "{}", stderr(&o));
}

#[test]
fn help_teaches_the_input_shapes_and_exit_codes() {
    let o = convsync(&["convert", "--help"], None);
    let h = String::from_utf8_lossy(&o.stdout);
    for s in [
        "messageEventRecords",
        "JSONL",
        "Exit codes",
        "--conversation-id",
        "Examples",
    ] {
        assert!(h.contains(s), "help lacks {s}: {h}");
    }
}

#[test]
fn input_that_holds_no_records_is_named_not_converted_to_nothing() {
    // A structured-content object is not a LivePerson conversation.
    let sc = br#"{"type": "vertical", "elements": [{"type": "text", "text": "hi"}]}"#;
    let o = convsync(&["convert", "--from", "liveperson"], Some(sc));
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains("not LivePerson records") && e.contains("type, elements"),
        "{e}"
    );
    assert!(o.stdout.is_empty());
    // In JSONL, such a line fails and names what it found; the rest converts.
    let mut jsonl = jsonl_corpus(2);
    jsonl.extend_from_slice(b"{\"conversationId\": \"c9\", \"records\": []}\n");
    let o = convsync(
        &["convert", "--from", "liveperson", "--report", "json"],
        Some(&jsonl),
    );
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains("line 3") && e.contains("no messageEventRecords") && e.contains("records"),
        "{e}"
    );
    // An empty list of records is still a conversation with nothing in it.
    let o = convsync(
        &["convert", "--from", "liveperson", "--conversation-id", "c"],
        Some(br#"{"messageEventRecords": []}"#),
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn completions_and_man_pages_are_generated() {
    for shell in ["bash", "zsh", "fish"] {
        let o = convsync(&["completions", shell], None);
        assert!(o.status.success(), "{}", stderr(&o));
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(
            text.contains("convsync") && text.contains("backfill"),
            "{shell}"
        );
    }
    let o = convsync(&["completions", "tcsh"], None);
    assert_eq!(
        o.status.code(),
        Some(2),
        "an unknown shell is a usage error"
    );
    let o = convsync(&["man"], None);
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).contains(".TH convsync 1"));
    let dir = tempfile::tempdir().unwrap();
    let o = convsync(&["man", "--dir", dir.path().to_str().unwrap()], None);
    assert!(o.status.success(), "{}", stderr(&o));
    for page in [
        "convsync.1",
        "convsync-run.1",
        "convsync-doctor.1",
        "convsync-migrate.1",
    ] {
        let text = std::fs::read_to_string(dir.path().join(page)).unwrap();
        assert!(text.contains(".TH") && text.contains(".SH NAME"), "{page}");
    }
}
