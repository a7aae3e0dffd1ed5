//! The printed schema in `schema/graphql/schema.graphql` must match the code. Run with
//! `GATEHOUSE_UPDATE_SCHEMA=1` to rewrite it after an intended change.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[test]
fn schema_file_matches_the_code() {
    let path = format!("{}/../../schema/graphql/schema.graphql", env!("CARGO_MANIFEST_DIR"));
    let sdl = iam_graphql::sdl();
    if std::env::var_os("GATEHOUSE_UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &sdl).unwrap();
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == sdl,
        "schema/graphql/schema.graphql is out of date; rerun with GATEHOUSE_UPDATE_SCHEMA=1 and review the diff"
    );
}
