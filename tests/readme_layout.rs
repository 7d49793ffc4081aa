//! The README's Layout table matches the tree: every path it lists exists, and every module
//! of `src/` (a file or a directory, `lib.rs` aside) has its row.

use std::path::Path;

#[test]
fn the_layout_table_lists_every_module_and_only_existing_ones() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let table = readme
        .split("\n## Layout\n")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("a Layout section");
    // The first cell of each row: one or more `path`s.
    let mut listed = Vec::new();
    for row in table.lines().filter(|l| l.starts_with("| `")) {
        let cell = row.split('|').nth(1).unwrap();
        for path in cell.split('`').skip(1).step_by(2) {
            assert!(
                root.join(path).exists(),
                "README Layout lists {path}, which does not exist"
            );
            listed.push(path.trim_end_matches('/').to_string());
        }
    }
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(root.join("src")).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if name == "lib.rs" {
            continue;
        }
        let path = format!("src/{name}");
        if !listed.contains(&path) {
            missing.push(path);
        }
    }
    missing.sort();
    assert!(
        missing.is_empty(),
        "README Layout has no row for {missing:?}"
    );
    // Each path has one row.
    let mut sorted = listed.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(
        sorted.len(),
        listed.len(),
        "a path listed twice: {listed:?}"
    );
}
