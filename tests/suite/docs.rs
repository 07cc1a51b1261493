//! The reference pages generated from code tables must match the committed docs.
//! Run with `UPCYCLE_BLESS=1` to rewrite them after changing a table.

use std::path::Path;

fn check(path: &str, rendered: &str) {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    if std::env::var_os("UPCYCLE_BLESS").is_some() {
        std::fs::write(&file, rendered).expect("write doc");
        return;
    }
    let committed = std::fs::read_to_string(&file).unwrap_or_default();
    assert!(
        committed == rendered,
        "{path} is out of date with its table; run `UPCYCLE_BLESS=1 cargo test --test docs`"
    );
}

#[test]
fn checks_page_matches_the_code_table() {
    check("docs/checks.md", &upcycle::report::docs::checks());
}

#[test]
fn layouts_page_matches_the_layout_table() {
    check("docs/layouts.md", &upcycle::report::docs::layouts());
}

#[test]
fn sandbox_page_matches_the_provider_table() {
    check("docs/sandbox.md", &upcycle::report::docs::sandbox());
}
