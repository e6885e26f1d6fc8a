//! The floors stay one-way: no cycle among the modules of `src/`, at any level (the top-level
//! modules among themselves, and the files of each directory among themselves), and the
//! top-level modules depend on each other only as the table [`FLOORS`] allows.
//!
//! It reads `use` lines and `crate::`/`super::`/`self::` paths in the source (test modules
//! left out), resolves each to the module it names (following `use` re-exports, as `super::X`
//! may name an item a parent imported from a sibling), and draws an arrow from the file to it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Which top-level modules each may use (besides itself). `cli` is the top, `domain` the
/// bottom; `config` is the composition root of settings that nothing below `cli` imports.
const FLOORS: &[(&str, &[&str])] = &[
    ("cli", &["*"]),
    ("config", &["assets", "server", "tui", "client", "api", "domain"]),
    ("demo", &["client", "server", "assets", "api", "domain"]),
    ("run", &["domain", "api"]),
    ("tui", &["client", "render", "assets", "api", "domain"]),
    ("client", &["api", "domain"]),
    ("server", &["assets", "api", "domain", "shutdown"]),
    ("render", &["domain"]),
    ("assets", &["domain"]),
    ("api", &["domain"]),
    ("shutdown", &[]),
    ("domain", &[]),
];

type ModPath = Vec<String>;

struct Module {
    file: PathBuf,
    /// alias -> absolute path, from this module's `use` lines.
    imports: BTreeMap<String, ModPath>,
    /// Absolute paths this module names, with the line they are on.
    refs: Vec<(ModPath, usize)>,
}

fn module_path(src: &Path, file: &Path) -> Option<ModPath> {
    let rel = file.strip_prefix(src).ok()?;
    let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    let last = parts.pop()?;
    match last.as_str() {
        "lib.rs" if parts.is_empty() => {}
        "main.rs" if parts.is_empty() => return None,
        "mod.rs" => {}
        other => parts.push(other.strip_suffix(".rs")?.to_string()),
    }
    if parts.iter().any(|p| p == "tests") {
        return None;
    }
    Some(parts)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// The source without test modules and comments, one entry per line.
fn code_lines(text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut iter = text.lines().peekable();
    while let Some(l) = iter.next() {
        let t = l.trim();
        if (t == "#[cfg(test)]" || t.starts_with("#[cfg(all(test"))
            && let Some(next) = iter.peek()
            && (next.trim_start().starts_with("mod ") || next.trim_start().starts_with("pub mod "))
        {
            if next.trim_end().ends_with(';') {
                // `mod tests;`: a file of its own, left out by its name.
                iter.next();
                lines.extend([String::new(), String::new()]);
                continue;
            }
            break;
        }
        if t.starts_with("//") {
            lines.push(String::new());
            continue;
        }
        lines.push(l.to_string());
    }
    lines
}

/// Expands a `use` tree (`a::{b, c::{d as e, self}}`) into (alias, path) pairs.
fn expand(tree: &str, prefix: &[String], out: &mut Vec<(String, Vec<String>)>) {
    let tree = tree.trim();
    if tree.is_empty() {
        return;
    }
    if let Some(open) = tree.find('{') {
        let head: Vec<String> =
            tree[..open].split("::").map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect();
        let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
        let mut p = prefix.to_vec();
        p.extend(head);
        let (mut depth, mut start) = (0, 0);
        for (i, c) in inner.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    expand(&inner[start..i], &p, out);
                    start = i + 1;
                }
                _ => {}
            }
        }
        expand(&inner[start..], &p, out);
        return;
    }
    let (path, alias) = match tree.split_once(" as ") {
        Some((p, a)) => (p.trim(), Some(a.trim().to_string())),
        None => (tree, None),
    };
    let mut p = prefix.to_vec();
    p.extend(path.split("::").map(str::trim).filter(|s| !s.is_empty()).map(String::from));
    if p.last().is_some_and(|s| s == "self") {
        p.pop();
    }
    if p.last().is_some_and(|s| s == "*") {
        p.pop();
        out.push(("*".into(), p));
        return;
    }
    let alias = alias.unwrap_or_else(|| p.last().cloned().unwrap_or_default());
    out.push((alias, p));
}

/// A path as written in module `here` made absolute, or `None` for another crate's.
fn absolute(here: &ModPath, path: &[String], modules: &BTreeSet<ModPath>) -> Option<ModPath> {
    let first = path.first()?;
    let mut cur: ModPath;
    let mut rest = path;
    match first.as_str() {
        "crate" => {
            cur = Vec::new();
            rest = &path[1..];
        }
        "self" => {
            cur = here.clone();
            rest = &path[1..];
        }
        "super" => {
            cur = here.clone();
            while rest.first().is_some_and(|s| s == "super") {
                cur.pop();
                rest = &rest[1..];
            }
        }
        name => {
            let mut child = here.clone();
            child.push(name.to_string());
            if !modules.contains(&child) {
                return None;
            }
            cur = here.clone();
        }
    }
    cur.extend(rest.iter().cloned());
    Some(cur)
}

/// The module an absolute path lands in, following imports of the modules it passes.
fn resolve(path: &ModPath, mods: &BTreeMap<ModPath, Module>, depth: usize) -> ModPath {
    let mut cur: ModPath = Vec::new();
    for (i, seg) in path.iter().enumerate() {
        let mut next = cur.clone();
        next.push(seg.clone());
        if mods.contains_key(&next) {
            cur = next;
            continue;
        }
        if depth < 16
            && let Some(target) = mods.get(&cur).and_then(|m| m.imports.get(seg))
        {
            let mut p = target.clone();
            p.extend(path[i + 1..].iter().cloned());
            return resolve(&p, mods, depth + 1);
        }
        return cur;
    }
    cur
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// `crate::a::b`, `super::c`, `self::d` paths written inline (outside `use` lines).
fn inline_paths(line: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for key in ["crate::", "super::", "self::"] {
        let mut from = 0;
        while let Some(i) = line[from..].find(key) {
            let at = from + i;
            from = at + key.len();
            if line[..at].chars().next_back().is_some_and(|c| is_ident(c) || c == ':' || c == '$') {
                continue;
            }
            let tail: String = line[at..].chars().take_while(|c| is_ident(*c) || *c == ':').collect();
            out.push(tail.split("::").filter(|s| !s.is_empty()).map(String::from).collect());
        }
    }
    out
}

fn load(src: &Path) -> BTreeMap<ModPath, Module> {
    let mut files = Vec::new();
    walk(src, &mut files);
    let paths: BTreeMap<ModPath, PathBuf> =
        files.iter().filter_map(|f| module_path(src, f).map(|m| (m, f.clone()))).collect();
    let names: BTreeSet<ModPath> = paths.keys().cloned().collect();
    let mut mods = BTreeMap::new();
    for (here, file) in &paths {
        let text = std::fs::read_to_string(file).unwrap();
        let lines = code_lines(&text);
        let mut m = Module { file: file.clone(), imports: BTreeMap::new(), refs: Vec::new() };
        let mut i = 0;
        while i < lines.len() {
            let t = lines[i].trim_start();
            let after_vis = t.strip_prefix("pub ").or_else(|| {
                t.strip_prefix("pub(").and_then(|r| r.split_once(')')).map(|(_, r)| r.trim_start())
            });
            let body = after_vis.unwrap_or(t);
            if let Some(u) = body.strip_prefix("use ") {
                let mut stmt = u.to_string();
                let start = i;
                while !stmt.contains(';') && i + 1 < lines.len() {
                    i += 1;
                    stmt.push(' ');
                    stmt.push_str(lines[i].trim());
                }
                let stmt = stmt.split(';').next().unwrap();
                let mut pairs = Vec::new();
                expand(stmt, &[], &mut pairs);
                for (alias, p) in pairs {
                    if let Some(abs) = absolute(here, &p, &names) {
                        m.refs.push((abs.clone(), start + 1));
                        if alias != "*" {
                            m.imports.insert(alias, abs);
                        }
                    }
                }
            } else {
                for p in inline_paths(&lines[i]) {
                    if let Some(abs) = absolute(here, &p, &names) {
                        m.refs.push((abs, i + 1));
                    }
                }
            }
            i += 1;
        }
        mods.insert(here.clone(), m);
    }
    mods
}

/// An arrow between two children of one directory, with where it is written.
type Arrows = BTreeMap<(String, String), String>;

/// For each directory (module with children), the arrows between its children.
fn arrows(mods: &BTreeMap<ModPath, Module>, src: &Path) -> BTreeMap<ModPath, Arrows> {
    let mut out: BTreeMap<ModPath, Arrows> = BTreeMap::new();
    for (from, m) in mods {
        for (raw, line) in &m.refs {
            let to = resolve(raw, mods, 0);
            let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
            if common >= from.len() || common >= to.len() {
                continue; // within one module, or to an ancestor or descendant
            }
            let dir = from[..common].to_vec();
            let key = (from[common].clone(), to[common].clone());
            let at = format!(
                "{}:{line} ({} -> {})",
                m.file.strip_prefix(src.parent().unwrap()).unwrap().display(),
                from.join("::"),
                to.join("::")
            );
            out.entry(dir).or_default().entry(key).or_insert(at);
        }
    }
    out
}

/// Strongly connected components of more than one node.
fn cycles(arrows: &Arrows) -> Vec<Vec<String>> {
    let nodes: BTreeSet<&String> = arrows.keys().flat_map(|(a, b)| [a, b]).collect();
    let reach = |from: &String| {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from.clone()];
        while let Some(n) = todo.pop() {
            for ((a, b), _) in arrows.iter() {
                if *a == n && seen.insert(b.clone()) {
                    todo.push(b.clone());
                }
            }
        }
        seen
    };
    let reach: BTreeMap<&String, BTreeSet<String>> = nodes.iter().map(|n| (*n, reach(n))).collect();
    let mut done = BTreeSet::new();
    let mut out = Vec::new();
    for n in &nodes {
        if done.contains(*n) || !reach[n].contains(*n) {
            continue;
        }
        let scc: Vec<String> = nodes
            .iter()
            .filter(|m| reach[n].contains(**m) && reach[**m].contains(*n))
            .map(|m| (*m).clone())
            .collect();
        done.extend(scc.iter().cloned());
        out.push(scc);
    }
    out
}

fn src_dir() -> PathBuf {
    PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into())).join("src")
}

#[test]
fn no_module_cycles_at_any_level() {
    let src = src_dir();
    let mods = load(&src);
    let mut report = String::new();
    for (dir, arrows) in arrows(&mods, &src) {
        for scc in cycles(&arrows) {
            let name = if dir.is_empty() { "crate".to_string() } else { dir.join("::") };
            report.push_str(&format!("cycle in {name}: {}\n", scc.join(", ")));
            for ((a, b), at) in &arrows {
                if scc.contains(a) && scc.contains(b) {
                    report.push_str(&format!("    {a} -> {b}: {at}\n"));
                }
            }
        }
    }
    assert!(report.is_empty(), "module cycles:\n{report}");
}

#[test]
fn top_level_modules_keep_to_their_floors() {
    let src = src_dir();
    let mods = load(&src);
    let top = arrows(&mods, &src).remove(&Vec::new()).unwrap_or_default();
    let mut report = String::new();
    for ((from, to), at) in &top {
        let allowed = FLOORS.iter().find(|(m, _)| m == from).map(|(_, a)| *a);
        match allowed {
            None => report.push_str(&format!("{from} is not in FLOORS (add it): {at}\n")),
            Some(a) if a.contains(&"*") || a.contains(&to.as_str()) => {}
            Some(_) => report.push_str(&format!("{from} may not use {to}: {at}\n")),
        }
    }
    assert!(report.is_empty(), "arrows against the floors:\n{report}");
}

/// The checker finds a cycle where there is one (so a green run means something).
#[test]
fn the_checker_sees_a_cycle() {
    let dir = std::env::temp_dir().join(format!("layering-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("src/a")).unwrap();
    std::fs::write(dir.join("src/lib.rs"), "pub mod a;\npub mod b;\n").unwrap();
    std::fs::write(dir.join("src/a/mod.rs"), "mod x;\nmod y;\npub use y::Y;\n").unwrap();
    std::fs::write(dir.join("src/a/x.rs"), "use super::Y;\npub struct X;\n").unwrap();
    std::fs::write(dir.join("src/a/y.rs"), "pub struct Y(crate::a::x::X);\n").unwrap();
    std::fs::write(dir.join("src/b.rs"), "use crate::a::{self, Y};\n").unwrap();
    let src = dir.join("src");
    let all = arrows(&load(&src), &src);
    let a = &all[&vec!["a".to_string()]];
    assert_eq!(cycles(a), vec![vec!["x".to_string(), "y".to_string()]], "{a:?}");
    assert!(all[&Vec::new()].contains_key(&("b".into(), "a".into())));
    assert!(cycles(&all[&Vec::new()]).is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}
