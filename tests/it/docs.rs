//! The guide names only what exists: every config key in the structs is in
//! the configuration reference and the other way round; every file, flag
//! and key README and docs/ name exists.

use convsync::config::Config;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// README.md and every page of docs/, with their paths.
fn pages() -> Vec<(PathBuf, String)> {
    let mut files = vec![root().join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .expect("docs/ exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    files.extend(docs);
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            (p, text)
        })
        .collect()
}

/// The field names serde expects where an unknown one was given, from its
/// error ("unknown field `zzz`, expected one of `a`, `b`"), or None when
/// the table takes any key or is not a table of fields.
fn expected_fields(toml: &str) -> Option<Vec<String>> {
    let err = match Config::parse(toml, Path::new("probe.toml")) {
        Ok(_) => return None,
        Err(e) => e.to_string(),
    };
    let rest = err.split("unknown field `zzz`, expected ").nth(1)?;
    if rest.starts_with("nothing") {
        return Some(Vec::new());
    }
    Some(
        rest.split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_owned)
            .collect(),
    )
}

/// Every key of the config structs, dotted, found by asking the real
/// deserializer which fields each table takes (a table of tables is
/// followed down; a table that takes any key, or a value that is not a
/// table of fields, is a key of its own).
fn struct_keys() -> BTreeSet<String> {
    fn probe(path: &[String], keys: &mut BTreeSet<String>) {
        // A migration is an array of tables: its own keys go under
        // `[[migration]]`, a table of it under `[migration.<key>]` after.
        let header = match path {
            [first] if first == "migration" => "[[migration]]".to_owned(),
            [first, ..] if first == "migration" => {
                format!("[[migration]]\n[{}]", path.join("."))
            }
            _ => format!("[{}]", path.join(".")),
        };
        let toml = if path.is_empty() {
            "zzz = 1\n".to_owned()
        } else {
            format!("{header}\nzzz = 1\n")
        };
        match expected_fields(&toml) {
            Some(fields) if !fields.is_empty() => {
                for f in fields {
                    let mut p = path.to_vec();
                    p.push(f);
                    probe(&p, keys);
                }
            }
            _ => {
                keys.insert(path.join("."));
            }
        }
    }
    let mut keys = BTreeSet::new();
    probe(&[], &mut keys);
    keys
}

/// `{a,b}.c` -> `a.c`, `b.c` (one brace group).
fn expand(key: &str) -> Vec<String> {
    match (key.find('{'), key.find('}')) {
        (Some(a), Some(b)) if a < b => key[a + 1..b]
            .split(',')
            .map(|alt| format!("{}{}{}", &key[..a], alt.trim(), &key[b + 1..]))
            .collect(),
        _ => vec![key.to_owned()],
    }
}

/// The keys the reference's tables list: the backticked names in each
/// row's first cell, a section's prefix given by the table's heading
/// (`| key (`[mapping]`) |`).
fn reference_keys() -> BTreeSet<String> {
    let text = std::fs::read_to_string(root().join("docs/configuration.md")).unwrap();
    let mut keys = BTreeSet::new();
    let mut prefix = String::new();
    for line in text.lines() {
        let Some(row) = line.strip_prefix('|') else {
            continue;
        };
        let first = row.split(" | ").next().unwrap_or("").trim();
        if first.starts_with("key") {
            // (`[mapping]`, `[[migration]]`)
            prefix = first
                .split('`')
                .nth(1)
                .map(|s| format!("{}.", s.trim_matches(['[', ']'])))
                .unwrap_or_default();
            continue;
        }
        if first.starts_with("---") {
            continue;
        }
        for name in first.split('`').skip(1).step_by(2) {
            for k in expand(name) {
                keys.insert(format!("{prefix}{k}"));
            }
        }
    }
    keys
}

#[test]
fn the_configuration_reference_lists_every_key_and_no_other() {
    let structs = struct_keys();
    assert!(
        structs.len() > 40 && structs.contains("sync.poll_interval_secs"),
        "the probe found too little: {structs:?}"
    );
    let reference = reference_keys();
    let missing: Vec<_> = structs.difference(&reference).collect();
    let unknown: Vec<_> = reference.difference(&structs).collect();
    assert!(
        missing.is_empty() && unknown.is_empty(),
        "docs/configuration.md lacks {missing:?}; it lists keys the config does not take: {unknown:?}"
    );
}

/// Every long flag convsync takes, from its man pages (every command).
fn convsync_flags() -> BTreeSet<String> {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_convsync"))
        .args(["man", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let mut flags = BTreeSet::new();
    for e in std::fs::read_dir(dir.path()).unwrap() {
        let roff = std::fs::read_to_string(e.unwrap().path()).unwrap();
        let plain = roff
            .replace("\\-", "-")
            .replace("\\fB", " ")
            .replace("\\fI", " ")
            .replace("\\fR", " ");
        for word in plain.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-')) {
            if let Some(f) = word.strip_prefix("--")
                && !f.is_empty()
            {
                flags.insert(f.to_owned());
            }
        }
    }
    flags
}

/// What is in a page's code spans and code blocks.
fn code(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut fence = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fence = !fence;
            continue;
        }
        if fence {
            out.push(line.to_owned());
        } else {
            out.extend(line.split('`').skip(1).step_by(2).map(str::to_owned));
        }
    }
    out
}

#[test]
fn readme_and_docs_name_only_files_flags_and_keys_that_exist() {
    let flags = convsync_flags();
    assert!(flags.contains("until-idle") && flags.contains("write-config"));
    let keys = struct_keys();
    // Flags of the other tools the pages show.
    let others = [
        "release",
        "locked",
        "path",
        "profile",
        "all-targets",
        "offline",
        "now",
        "dir",
        "all",
        "check",
        "version",
        "help",
        "config.file",
        "web.listen-address",
        "storage.tsdb.path",
    ];
    let mut wrong = Vec::new();
    for (page, text) in pages() {
        let name = page.strip_prefix(root()).unwrap().display().to_string();
        let here = page.parent().unwrap();
        // Links to other pages and files.
        for target in text.split("](").skip(1).filter_map(|s| s.split(')').next()) {
            let file = target.split('#').next().unwrap();
            if file.is_empty() || file.contains("://") {
                continue;
            }
            if !here.join(file).exists() {
                wrong.push(format!("{name}: link to {file}"));
            }
        }
        for span in code(&text) {
            for word in span.split(|c: char| c.is_whitespace() || "()=,;\"'<>|[]".contains(c)) {
                let word = word.trim_end_matches(['.', ':']);
                // Files of this repository.
                let dirs = [
                    "src/", "bench/", "systemd/", "deploy/", "tests/", "docs/", "crates/",
                    "benches/", "debian/",
                ];
                if dirs.iter().any(|d| word.starts_with(d))
                    && !word.contains('*')
                    && !word.contains("...")
                    && !root().join(word).exists()
                {
                    wrong.push(format!("{name}: file {word}"));
                }
                // Flags.
                if let Some(f) = word.strip_prefix("--") {
                    let f = f.split('=').next().unwrap();
                    if !f.is_empty()
                        && f.chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
                        && !flags.contains(f)
                        && !others.contains(&f)
                    {
                        wrong.push(format!("{name}: flag --{f}"));
                    }
                }
                // Keys of the config's sections (not a file of that name,
                // an event's or a format's name).
                let not_keys = [
                    "liveperson.event",
                    "liveperson.content",
                    "liveperson.private-message",
                    "hubster.engine.api",
                ];
                if [".rs", ".md", ".toml", ".json", ".yml"]
                    .iter()
                    .any(|e| word.ends_with(e))
                    || not_keys.contains(&word)
                {
                    continue;
                }
                for section in ["sync.", "liveperson.", "hubster.", "mapping."] {
                    if let Some(rest) = word.strip_prefix(section)
                        && !rest.is_empty()
                        && rest
                            .chars()
                            .all(|c| c.is_ascii_lowercase() || c == '_' || c == '.')
                        && !keys
                            .iter()
                            .any(|k| k == word || k.starts_with(&format!("{word}.")))
                        && !keys.iter().any(|k| word.starts_with(&format!("{k}.")))
                    {
                        wrong.push(format!("{name}: key {word}"));
                    }
                }
            }
        }
    }
    wrong.sort();
    wrong.dedup();
    assert!(wrong.is_empty(), "names that do not exist: {wrong:#?}");
}
