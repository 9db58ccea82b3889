//! The house's shape, checked from the code's own `use` lines and paths:
//! no cycle of files (the simulator's axum handlers aside), no arrow from
//! a module below `ops` up to it or to the binary, files of one thing (at
//! most 700 lines), errors typed to the edge, and waiting in its places.
//!
//! The import graph: every `.rs` file of `src/` and `crates/format/src/` is
//! a node; a path a file uses (`use` lines and inline `crate::`, `super::`,
//! `self::`, `convsync::` paths, outside `#[cfg(test)]` modules) is an arrow
//! to the file that defines what it names, following `pub use` re-exports;
//! `mod` and `pub use` lines themselves are structure, not arrows.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

type Module = Vec<String>;

struct Tree {
    /// Module path (crate first) -> file, relative to the repository.
    files: BTreeMap<Module, PathBuf>,
    /// Each file's text without comments, strings and test modules.
    code: BTreeMap<Module, String>,
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

impl Tree {
    fn read() -> Tree {
        let mut t = Tree {
            files: BTreeMap::new(),
            code: BTreeMap::new(),
        };
        t.crate_files("convsync", "src", "lib.rs", Some("bin"));
        t.crate_files("convsync_format", "crates/format/src", "lib.rs", None);
        t.crate_files("bin", "src/bin/convsync", "main.rs", None);
        t
    }

    fn crate_files(&mut self, name: &str, dir: &str, root_file: &str, skip: Option<&str>) {
        let base = root().join(dir);
        let mut stack = vec![base.clone()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                let rel = p.strip_prefix(&base).unwrap().to_owned();
                if p.is_dir() {
                    if skip.is_none_or(|s| rel != Path::new(s)) {
                        stack.push(p);
                    }
                    continue;
                }
                if p.extension().is_none_or(|x| x != "rs") {
                    continue;
                }
                let mut parts: Vec<String> = rel
                    .with_extension("")
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                let last = parts.last().unwrap().clone();
                if last == "mod" || (parts.len() == 1 && format!("{last}.rs") == root_file) {
                    parts.pop();
                }
                let mut module = vec![name.to_owned()];
                module.extend(parts);
                let text = std::fs::read_to_string(&p).unwrap();
                self.code.insert(module.clone(), clean(&text));
                self.files
                    .insert(module, p.strip_prefix(root()).unwrap().to_owned());
            }
        }
    }
}

/// The code without comments, string and char literals, and
/// `#[cfg(test)]` modules.
fn clean(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        if b[i..].starts_with(b"//") {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if b[i..].starts_with(b"/*") {
            i = text[i..].find("*/").map_or(b.len(), |e| i + e + 2);
        } else if b[i] == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("\"\"");
        } else if b[i..].starts_with(b"r#\"") {
            i = text[i + 3..].find("\"#").map_or(b.len(), |e| i + 3 + e + 2);
            out.push_str("\"\"");
        } else {
            let c = text[i..].chars().next().unwrap();
            out.push(c);
            i += c.len_utf8();
        }
    }
    // Test modules: `#[cfg(test)] mod name;` or `{ ... }`.
    let mut kept = String::with_capacity(out.len());
    let mut rest = out.as_str();
    while let Some(at) = rest.find("#[cfg(test)]") {
        kept.push_str(&rest[..at]);
        let after = &rest[at + "#[cfg(test)]".len()..];
        let trimmed = after.trim_start();
        let item = trimmed
            .strip_prefix("pub(crate) ")
            .or_else(|| trimmed.strip_prefix("pub "))
            .unwrap_or(trimmed);
        if !item.starts_with("mod ") {
            rest = after;
            continue;
        }
        let end = item.find([';', '{']).unwrap();
        let skip_to = if item.as_bytes()[end] == b';' {
            end + 1
        } else {
            let mut depth = 0;
            let mut j = end;
            for (k, ch) in item[end..].char_indices() {
                match ch {
                    '{' => depth += 1,
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            j = end + k + 1;
                            break;
                        }
                    }
                    _ => {}
                }
            }
            j
        };
        rest = &item[skip_to..];
    }
    kept.push_str(rest);
    kept
}

/// `a::{b, c::{d, e}}` as whole paths.
fn expand(path: &str) -> Vec<String> {
    let path: String = path.split_whitespace().collect::<Vec<_>>().join(" ");
    let Some(open) = path.find('{') else {
        let p = path.split(" as ").next().unwrap().replace(' ', "");
        return vec![p];
    };
    let prefix = path[..open].trim().trim_end_matches("::").replace(' ', "");
    let body = &path[open + 1..path.rfind('}').unwrap()];
    let (mut parts, mut depth, mut cur) = (Vec::new(), 0, String::new());
    for ch in body.chars() {
        match ch {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(ch);
    }
    parts.push(cur);
    let mut out = Vec::new();
    for p in parts.iter().map(|p| p.trim()).filter(|p| !p.is_empty()) {
        if p == "self" {
            out.push(prefix.clone());
        } else if prefix.is_empty() {
            out.extend(expand(p));
        } else {
            out.extend(expand(&format!("{prefix}::{p}")));
        }
    }
    out
}

/// The `use` lines of some code: (public, path).
fn uses(code: &str) -> Vec<(bool, String)> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(at) = find_word(rest, "use") {
        let before = rest[..at].trim_end();
        let public = before.ends_with("pub") || before.ends_with(')') && before.contains("pub(");
        let after = &rest[at + 3..];
        let end = after.find(';').unwrap_or(after.len());
        for p in expand(&after[..end]) {
            out.push((public, p));
        }
        rest = &after[end..];
    }
    out
}

/// Where `word` stands as a word of its own in `s`.
fn find_word(s: &str, word: &str) -> Option<usize> {
    let is = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
    let mut from = 0;
    while let Some(i) = s[from..].find(word) {
        let at = from + i;
        let before = s[..at].chars().next_back();
        let after = s[at + word.len()..].chars().next();
        if !is(before) && !is(after) {
            return Some(at);
        }
        from = at + word.len();
    }
    None
}

/// Paths written inline: `crate::a::b`, `super::c`, `convsync::d`, ...
fn inline_paths(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    for start in [
        "crate::",
        "super::",
        "self::",
        "convsync::",
        "convsync_format::",
    ] {
        let mut from = 0;
        while let Some(i) = code[from..].find(start) {
            let at = from + i;
            let before = code[..at].chars().next_back();
            from = at + start.len();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            let end = code[at..]
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .map_or(code.len(), |e| at + e);
            out.push(code[at..end].trim_end_matches(':').to_owned());
        }
    }
    out
}

struct Graph<'a> {
    tree: &'a Tree,
    /// Per module, the names it re-exports and the paths they stand for.
    reexports: HashMap<Module, HashMap<String, Module>>,
}

impl<'a> Graph<'a> {
    fn new(tree: &'a Tree) -> Graph<'a> {
        let mut g = Graph {
            tree,
            reexports: HashMap::new(),
        };
        for (m, code) in &tree.code {
            for (public, p) in uses(code) {
                if !public {
                    continue;
                }
                if let Some(a) = g.absolute(m, &p) {
                    let name = a.last().unwrap().clone();
                    g.reexports.entry(m.clone()).or_default().insert(name, a);
                }
            }
        }
        g
    }

    /// `path` as written in `m`, from its crate's root.
    fn absolute(&self, m: &Module, path: &str) -> Option<Module> {
        let segs: Vec<String> = path.split("::").map(str::to_owned).collect();
        let dir = |m: &Module| -> bool {
            let f = &self.tree.files[m];
            let name = f.file_name().unwrap();
            name == "mod.rs" || name == "lib.rs" || name == "main.rs"
        };
        let first = segs.first()?.as_str();
        let mut out: Module = match first {
            "crate" => vec![m[0].clone()],
            "convsync" if m[0] == "bin" => vec!["convsync".into()],
            "convsync_format" => vec!["convsync_format".into()],
            "self" => {
                let mut cur = m.clone();
                if !dir(m) {
                    // `self` of a file module is itself.
                }
                cur.extend(segs[1..].iter().cloned());
                return Some(cur);
            }
            "super" => {
                let mut cur = m.clone();
                let mut k = 0;
                while segs.get(k).is_some_and(|s| s == "super") {
                    cur.pop();
                    k += 1;
                }
                cur.extend(segs[k..].iter().cloned());
                return Some(cur);
            }
            child => {
                let mut c = m.clone();
                c.push(child.to_owned());
                if !self.tree.files.contains_key(&c) {
                    return None;
                }
                m.clone()
            }
        };
        let rest = if matches!(first, "crate" | "convsync" | "convsync_format") {
            &segs[1..]
        } else {
            &segs[..]
        };
        out.extend(rest.iter().cloned());
        Some(out)
    }

    /// The file that defines what `a` names.
    fn resolve(&self, mut a: Module, depth: usize) -> Option<Module> {
        if depth > 12 {
            return None;
        }
        if a[0] == "convsync" && a.get(1).is_some_and(|s| s == "format") {
            a.splice(0..2, ["convsync_format".to_owned()]);
        }
        let mut best = None;
        for i in 1..=a.len() {
            if self.tree.files.contains_key(&a[..i]) {
                best = Some(i);
            } else {
                break;
            }
        }
        let best = best?;
        let module: Module = a[..best].to_vec();
        if let Some(name) = a.get(best)
            && let Some(target) = self.reexports.get(&module).and_then(|r| r.get(name))
        {
            let mut t = target.clone();
            t.extend(a[best + 1..].iter().cloned());
            if let Some(r) = self.resolve(t, depth + 1) {
                return Some(r);
            }
        }
        Some(module)
    }

    fn edges(&self) -> BTreeMap<Module, BTreeSet<Module>> {
        let mut edges: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
        for (m, code) in &self.tree.code {
            let mut paths: Vec<String> = uses(code)
                .into_iter()
                .filter(|(public, _)| !public)
                .map(|(_, p)| p)
                .collect();
            paths.extend(inline_paths(&without_uses(code)));
            for p in paths {
                let Some(a) = self.absolute(m, &p) else {
                    continue;
                };
                if let Some(to) = self.resolve(a, 0)
                    && to != *m
                {
                    edges.entry(m.clone()).or_default().insert(to);
                }
            }
        }
        edges
    }
}

/// The code without its `use` lines (their paths are read whole).
fn without_uses(code: &str) -> String {
    let mut out = String::new();
    let mut rest = code;
    while let Some(at) = find_word(rest, "use") {
        out.push_str(&rest[..at]);
        let after = &rest[at..];
        rest = &after[after.find(';').map_or(after.len(), |e| e + 1)..];
    }
    out.push_str(rest);
    out
}

/// Strongly connected components of more than one node (Tarjan).
fn cycles(edges: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<Vec<Module>> {
    struct S<'e> {
        edges: &'e BTreeMap<Module, BTreeSet<Module>>,
        index: HashMap<Module, usize>,
        low: HashMap<Module, usize>,
        stack: Vec<Module>,
        on: BTreeSet<Module>,
        next: usize,
        out: Vec<Vec<Module>>,
    }
    fn visit(s: &mut S, v: &Module) {
        s.index.insert(v.clone(), s.next);
        s.low.insert(v.clone(), s.next);
        s.next += 1;
        s.stack.push(v.clone());
        s.on.insert(v.clone());
        for w in s.edges.get(v).into_iter().flatten() {
            if !s.index.contains_key(w) {
                visit(s, w);
                let l = s.low[v].min(s.low[w]);
                s.low.insert(v.clone(), l);
            } else if s.on.contains(w) {
                let l = s.low[v].min(s.index[w]);
                s.low.insert(v.clone(), l);
            }
        }
        if s.low[v] == s.index[v] {
            let mut comp = Vec::new();
            loop {
                let w = s.stack.pop().unwrap();
                s.on.remove(&w);
                let done = w == *v;
                comp.push(w);
                if done {
                    break;
                }
            }
            if comp.len() > 1 {
                s.out.push(comp);
            }
        }
    }
    let mut s = S {
        edges,
        index: HashMap::new(),
        low: HashMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        next: 0,
        out: Vec::new(),
    };
    let nodes: BTreeSet<&Module> = edges.keys().chain(edges.values().flatten()).collect();
    for n in nodes {
        if !s.index.contains_key(n) {
            visit(&mut s, n);
        }
    }
    s.out
}

fn in_sim(m: &Module) -> bool {
    m[0] == "convsync" && m.get(1).is_some_and(|s| s == "sim")
}

#[test]
fn no_cycle_of_files_outside_the_simulator_and_no_arrow_up_to_ops() {
    let tree = Tree::read();
    let graph = Graph::new(&tree);
    let edges = graph.edges();
    let name = |m: &Module| tree.files[m].display().to_string();
    // The reader sees what it should: arrows it must find are there.
    let arrow = |from: &str, to: &str| {
        edges
            .iter()
            .any(|(a, bs)| name(a) == from && bs.iter().any(|b| name(b) == to))
    };
    assert!(arrow("src/ops/jobs.rs", "src/control.rs"));
    assert!(arrow(
        "src/sync/pipeline/execute.rs",
        "src/sync/pipeline/plan.rs"
    ));
    assert!(arrow("src/bin/convsync/commands.rs", "src/ops/jobs.rs"));
    assert!(arrow("src/sync/jobs/mod.rs", "src/sync/retention.rs"));
    assert!(arrow(
        "src/sync/pipeline/plan.rs",
        "crates/format/src/resume.rs"
    ));
    let bad: Vec<Vec<String>> = cycles(&edges)
        .into_iter()
        .filter(|c| !c.iter().all(in_sim))
        .map(|c| c.iter().map(name).collect())
        .collect();
    assert!(bad.is_empty(), "cycles of files: {bad:#?}");
    let up: Vec<String> = edges
        .iter()
        .flat_map(|(a, bs)| bs.iter().map(move |b| (a, b)))
        .filter(|(a, b)| {
            let ops_or_bin = |m: &Module| m[0] == "bin" || m.get(1).is_some_and(|s| s == "ops");
            ops_or_bin(b) && !ops_or_bin(a)
        })
        .map(|(a, b)| format!("{} -> {}", name(a), name(b)))
        .collect();
    assert!(up.is_empty(), "arrows up to ops or the binary: {up:#?}");
}

#[test]
fn a_cycle_is_found_where_there_is_one() {
    let m = |s: &str| vec![s.to_owned()];
    let mut edges = BTreeMap::new();
    edges.insert(m("a"), BTreeSet::from([m("b")]));
    edges.insert(m("b"), BTreeSet::from([m("c")]));
    edges.insert(m("c"), BTreeSet::from([m("a"), m("d")]));
    let found = cycles(&edges);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].len(), 3);
    edges.insert(m("c"), BTreeSet::from([m("d")]));
    assert!(cycles(&edges).is_empty());
}

#[test]
fn files_hold_one_thing_each() {
    let tree = Tree::read();
    let long: Vec<String> = tree
        .files
        .values()
        .filter_map(|f| {
            let n = std::fs::read_to_string(root().join(f))
                .unwrap()
                .lines()
                .count();
            (n > 700).then(|| format!("{} ({n} lines)", f.display()))
        })
        .collect();
    assert!(long.is_empty(), "files over 700 lines: {long:?}");
}

#[test]
fn library_errors_are_typed_and_waiting_lives_in_its_places() {
    let tree = Tree::read();
    // Where the library waits: the HTTP discipline, reading the target
    // back, the daemon's schedule, the control socket's accept loop, the
    // demo's progress and the simulator.
    let may_wait = [
        "src/http/",
        "src/sync/pipeline/readback.rs",
        "src/sync/daemon.rs",
        "src/control.rs",
        "src/ops/demo.rs",
        "src/sim/",
    ];
    let mut strings = Vec::new();
    let mut sleeps = Vec::new();
    for (m, code) in &tree.code {
        let file = tree.files[m].display().to_string();
        if m[0] == "bin" {
            continue;
        }
        let flat: String = code.split_whitespace().collect::<Vec<_>>().join(" ");
        if flat.contains(", String>") && flat.contains("Result<") {
            for (i, _) in flat.match_indices(", String>") {
                let before = &flat[..i];
                let open = before.rfind('<').unwrap_or(0);
                if before[..open].ends_with("Result") {
                    strings.push(file.clone());
                }
            }
        }
        if !m.iter().any(|s| s == "sim")
            && (code.contains("time::sleep(") || code.contains("sleep_until("))
            && !may_wait.iter().any(|w| file.starts_with(w))
        {
            sleeps.push(file);
        }
    }
    assert!(strings.is_empty(), "Result<_, String> in: {strings:?}");
    assert!(sleeps.is_empty(), "waiting outside its places: {sleeps:?}");
}
