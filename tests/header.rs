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

/// One declaration of the header: its doc comment and its text up to `;`.
struct Declaration {
    name: String,
    doc: String,
    params: Vec<String>,
    returns_void: bool,
}

fn declarations() -> Vec<Declaration> {
    let lines: Vec<&str> = COMMITTED.lines().collect();
    let mut found = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if !lines[i].starts_with("INFERKIT_API") {
            i += 1;
            continue;
        }
        // The doc comment ends on the line before the declaration.
        let end = i;
        let start = (0..end)
            .rev()
            .find(|k| lines[*k].starts_with("/**"))
            .expect("a doc comment above every function");
        let doc = lines[start..end].join("\n");
        let mut decl = String::new();
        while !decl.contains(';') {
            decl.push_str(lines[i]);
            decl.push(' ');
            i += 1;
        }
        let open = decl.find('(').expect("a parameter list");
        let head = &decl[..open];
        let name = head.rsplit([' ', '*']).next().unwrap().to_string();
        let returns_void = head.trim_start_matches("INFERKIT_API").trim() == format!("void {name}");
        let inside = &decl[open + 1..decl.rfind(')').unwrap()];
        let params = if inside.trim() == "void" {
            Vec::new()
        } else {
            inside
                .split(',')
                .map(|p| p.trim().rsplit([' ', '*']).next().unwrap().to_string())
                .collect()
        };
        found.push(Declaration {
            name,
            doc,
            params,
            returns_void,
        });
    }
    found
}

/// The header is written for C readers: every function has a Doxygen brief, a `\param` for each
/// parameter, a `\return` unless it returns nothing, one ownership sentence and one thread-safety
/// sentence — and no Rust doc links.
#[test]
fn every_function_is_documented_for_c_readers() {
    let decls = declarations();
    assert!(
        decls.len() > 70,
        "found only {} declarations: the parser no longer reads the header",
        decls.len()
    );
    let mut missing = Vec::new();
    for d in &decls {
        for need in ["\\brief ", "Ownership: ", "Thread safety: "] {
            if !d.doc.contains(need) {
                missing.push(format!("{}: no `{}`", d.name, need.trim()));
            }
        }
        for p in &d.params {
            if !d.doc.contains(&format!("\\param {p} ")) {
                missing.push(format!("{}: no `\\param {p}`", d.name));
            }
        }
        if !d.returns_void && !d.doc.contains("\\return ") {
            missing.push(format!("{}: no `\\return`", d.name));
        }
        if d.doc.contains("](") || d.doc.contains("[`") {
            missing.push(format!("{}: a Rust doc link", d.name));
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}

/// Every function is marked with the export macro, and the version and ABI macros are there.
#[test]
fn exports_and_versions_are_declared() {
    let total = COMMITTED
        .lines()
        .filter(|l| {
            l.contains("inferkit_") && l.contains('(') && !l.starts_with([' ', '*', '/', '#'])
        })
        .filter(|l| !l.starts_with("typedef"))
        .count();
    assert_eq!(
        total,
        declarations().len(),
        "a function is declared without INFERKIT_API"
    );
    assert!(COMMITTED.contains("define INFERKIT_API __attribute__((visibility(\"default\")))"));
    let number: u32 = COMMITTED
        .lines()
        .find_map(|l| l.strip_prefix("#define INFERKIT_VERSION_NUMBER "))
        .expect("INFERKIT_VERSION_NUMBER")
        .parse()
        .unwrap();
    assert_eq!(number, inferkit::ffi::runtime::inferkit_version_number());
    let (mut major, mut minor) = (0, 0);
    inferkit::ffi::runtime::inferkit_abi_version(&mut major, &mut minor);
    assert!(COMMITTED.contains(&format!("#define INFERKIT_ABI_VERSION_MAJOR {major}")));
    assert!(COMMITTED.contains(&format!("#define INFERKIT_ABI_VERSION_MINOR {minor}")));
}
