//! The layer rule of ARCHITECTURE.md, checked on the source: `main` → `cli` →
//! `commands/*` (and `error`, which gathers the engines' errors) → engines (`checks`,
//! `tls`, `cluster`, `chain`, `output`, `files`, `rancher`, `interrupt`) → `x509`, `check`.
//! Commands never import each other; engines never import `commands`, `cli`, `error` or
//! `output`; the bottom imports nothing above it.

use std::path::{Path, PathBuf};

const ENGINES: &[&str] = &[
    "certset",
    "checks",
    "tls",
    "cluster",
    "chain",
    "output",
    "files",
    "rancher",
    "interrupt",
];
const BOTTOM: &[&str] = &["x509", "check"];

fn sources(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src is readable").flatten() {
        let path = entry.path();
        if path.is_dir() {
            sources(&path, found);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            found.push(path);
        }
    }
}

/// The top-level module a file belongs to: `src/checks/served.rs` → `checks`.
fn module_of(path: &Path, src: &Path) -> String {
    let relative = path.strip_prefix(src).expect("under src");
    let first = relative.components().next().expect("a component");
    first
        .as_os_str()
        .to_string_lossy()
        .trim_end_matches(".rs")
        .to_string()
}

/// What a re-export at the crate root stands for (`crate::exit` is `check::exit`).
fn resolve(path: &str) -> String {
    match path.split("::").next().unwrap_or_default() {
        "exit" => format!("check::{path}"),
        "Error" => format!("error::{path}"),
        _ => path.to_string(),
    }
}

/// The `crate::` modules a file names (`crate::commands::push` → `commands::push`),
/// grouped imports included (`use crate::{exit, Error}` → `check::exit`, `error::Error`).
fn crate_paths(text: &str) -> Vec<String> {
    let mut paths = Vec::new();
    for (index, _) in text.match_indices("crate::") {
        let rest = &text[index + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let inner = &group[..group.find('}').unwrap_or(group.len())];
            for item in inner.split(',') {
                let item: String = item
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                    .collect();
                if !item.is_empty() {
                    paths.push(resolve(item.trim_end_matches(':')));
                }
            }
            continue;
        }
        let path: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
            .collect();
        paths.push(resolve(path.trim_end_matches(':')));
    }
    for line in text.lines().map(str::trim) {
        if let Some(inner) = line.strip_prefix("use super::") {
            paths.push(format!("super::{inner}"));
        }
    }
    paths
}

#[test]
fn grouped_and_re_exported_imports_are_seen() {
    assert_eq!(
        crate_paths("use crate::{exit, Error};"),
        ["check::exit", "error::Error"]
    );
    assert_eq!(crate_paths("crate::exit::OK"), ["check::exit::OK"]);
}

#[test]
fn layers_import_only_downwards() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut violations = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("readable");
        let module = module_of(file, &src);
        let own_command = file
            .strip_prefix(src.join("commands"))
            .ok()
            .map(|rest| rest.to_string_lossy().trim_end_matches(".rs").to_string());
        for path in crate_paths(&text) {
            let top = path.split("::").next().unwrap_or_default().to_string();
            // `error` gathers the engines' error types for the commands: it sits above the
            // engines, so neither they nor the bottom may import it.
            let bad = if ENGINES.contains(&module.as_str()) {
                top == "commands"
                    || top == "cli"
                    || top == "error"
                    || (top == "output" && module != "output")
            } else if BOTTOM.contains(&module.as_str()) {
                top == "commands"
                    || top == "cli"
                    || top == "error"
                    || ENGINES.contains(&top.as_str())
            } else if module == "error" {
                top == "commands" || top == "cli"
            } else if let Some(own) = &own_command {
                let other = path
                    .strip_prefix("commands::")
                    .map(|rest| rest.split("::").next().unwrap_or_default().to_string());
                top == "cli" || other.is_some_and(|other| &other != own && own != "mod")
            } else {
                false
            };
            if bad {
                violations.push(format!("{}: crate::{path}", file.display()));
            }
        }
    }
    assert!(
        violations.is_empty(),
        "layer rule broken:\n{}",
        violations.join("\n")
    );
}

#[test]
fn main_is_thin() {
    let main = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/main.rs"))
        .expect("main.rs");
    assert!(
        main.lines().count() <= 10,
        "main.rs should only call cli::run"
    );
    assert!(main.contains("cli::run"));
}

#[test]
fn no_source_file_is_huge() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut huge: Vec<String> = files
        .iter()
        .filter_map(|file| {
            let lines = std::fs::read_to_string(file).ok()?.lines().count();
            (lines > 600).then(|| format!("{} ({lines} lines)", file.display()))
        })
        .collect();
    huge.sort();
    assert!(huge.is_empty(), "split these files: {}", huge.join(", "));
}
