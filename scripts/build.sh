# Sourced by the example and benchmark scripts: build lake with the one
# profile and target directory that the tests and CI use (DuckDB is compiled
# once), and set $lake to the binary.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/lake/target}"
cargo build --locked --quiet
lake="$CARGO_TARGET_DIR/debug/lake"
