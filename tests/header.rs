//! The committed C header is what cbindgen generates from the current source, and its version
//! macros agree with Cargo.toml.

const GENERATED: &str = include_str!(concat!(env!("OUT_DIR"), "/inferkit.h"));
const COMMITTED: &str = include_str!("../include/inferkit.h");

#[test]
fn committed_header_is_current() {
    assert!(
        GENERATED == COMMITTED,
        "include/inferkit.h is stale: run `make header` and commit it (the generated copy is {}/inferkit.h)",
        env!("OUT_DIR")
    );
}

#[test]
fn version_macros_match_cargo_toml() {
    let cargo_toml = include_str!("../Cargo.toml");
    let version = cargo_toml
        .lines()
        .find_map(|l| l.strip_prefix("version = \""))
        .and_then(|v| v.strip_suffix('"'))
        .expect("Cargo.toml has a version line");
    let mut parts = version.split('.');
    for name in ["MAJOR", "MINOR", "PATCH"] {
        let want = format!("#define INFERKIT_VERSION_{name} {}", parts.next().unwrap());
        assert!(COMMITTED.contains(&want), "header lacks `{want}`");
    }
    assert!(COMMITTED.contains(&format!("#define INFERKIT_VERSION_STRING \"{version}\"")));
    assert_eq!(inferkit::VERSION, version);
    // and the library reports the same through the C ABI
    let v = unsafe { std::ffi::CStr::from_ptr(inferkit::ffi::runtime::inferkit_version()) };
    assert_eq!(v.to_str().unwrap(), version);
}

#[test]
fn every_exported_name_is_prefixed() {
    let mut functions = 0;
    for line in COMMITTED.lines() {
        if let Some(rest) = line.strip_prefix("typedef ") {
            // `typedef struct inferkit_model inferkit_model;`, `typedef uint32_t inferkit_status;`,
            // `typedef void (*inferkit_callback)(…`
            let name = match rest.split_once("(*") {
                Some((_, after)) => after.split(')').next().unwrap_or(""),
                None => rest.trim_end_matches(';').rsplit(' ').next().unwrap_or(""),
            };
            assert!(
                name.starts_with("inferkit_"),
                "type `{name}` lacks the inferkit_ prefix"
            );
            continue;
        }
        let Some(open) = line.find('(') else { continue };
        let head = &line[..open];
        if head.starts_with([' ', '#', '*']) || head.contains("/*") || !head.contains(' ') {
            continue;
        }
        let name = head.rsplit([' ', '*']).next().unwrap_or("");
        assert!(
            name.starts_with("inferkit_"),
            "function `{name}` lacks the inferkit_ prefix"
        );
        functions += 1;
    }
    assert!(
        functions > 40,
        "found only {functions} functions: the parser no longer reads the header"
    );
}
