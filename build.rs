// When DuckDB is linked from a prebuilt shared library (tests and CI; see
// scripts/libduckdb.sh), record its directory as the binary's rpath so that
// `rdbt` runs without LD_LIBRARY_PATH.
//
// scripts/test sets RDBT_SOURCE_DIR to the checkout it builds. Cargo decides
// freshness by file times and leaves the checkout's path out of its
// fingerprints, so two checkouts sharing one target directory (CI's fresh
// clone and a working tree, see scripts/test) would otherwise reuse each
// other's test binaries: older code, with the other checkout's
// CARGO_MANIFEST_DIR compiled in. A changed value reruns this script, and
// that rebuilds rdbt's own units (not its dependencies).
fn main() {
    println!("cargo:rerun-if-env-changed=DUCKDB_LIB_DIR");
    println!("cargo:rerun-if-env-changed=RDBT_SOURCE_DIR");
    if std::env::var_os("CARGO_FEATURE_BUNDLED").is_none() {
        if let Ok(dir) = std::env::var("DUCKDB_LIB_DIR") {
            println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
        }
    }
}
