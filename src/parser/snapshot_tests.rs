//! Parsing snapshots: `{% snapshot %}` blocks (several per file), config
//! from the three levels, YAML-defined snapshots, located config errors.

use std::sync::Arc;

use crate::config::Flags;
use crate::diag::Diagnostics;
use crate::manifest::{Manifest, ResourceType};

const PROJECT: &str = "name: p\nversion: '1'\nconfig-version: 2\nprofile: p\n\
snapshots:\n  p:\n    +target_schema: snaps\n    nested:\n      +strategy: check\n      +check_cols: all\n";
const PROFILE: &str = "p:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: p.duckdb\n      schema: main\n";

fn parse(files: &[(&str, &str)]) -> Result<Manifest, Diagnostics> {
    parse_in(&tempfile::tempdir().expect("tempdir"), files)
}

fn parse_in(dir: &tempfile::TempDir, files: &[(&str, &str)]) -> Result<Manifest, Diagnostics> {
    let mut all = vec![("dbt_project.yml", PROJECT), ("profiles.yml", PROFILE), ("models/m.sql", "select 1 as id, current_date as u")];
    all.extend_from_slice(files);
    for (rel, text) in all {
        let p = dir.path().join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(&p, text).expect("write");
    }
    let flags = Flags { project_dir: Some(dir.path().to_path_buf()), profiles_dir: Some(dir.path().to_path_buf()), ..Default::default() };
    let config = Arc::new(crate::config::load(&flags)?);
    super::parse(&config).map(|p| p.manifest)
}

fn errors(files: &[(&str, &str)]) -> Vec<String> {
    // The files must outlive the diagnostics (their positions are read back).
    let dir = tempfile::tempdir().expect("tempdir");
    match parse_in(&dir, files) {
        Ok(_) => panic!("expected errors"),
        Err(d) => d
            .0
            .iter()
            .filter(|d| d.is_error())
            .map(|d| {
                let text = d.file.as_ref().and_then(|f| std::fs::read_to_string(f).ok());
                let (line, col) = d.span.zip(text).map_or((0, 0), |(s, t)| crate::diag::Diagnostic::line_col(&t, s.start));
                let file = d.file.as_ref().and_then(|f| f.file_name()).map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
                format!("{file}:{line}:{col}: {}", d.message)
            })
            .collect(),
    }
}

#[test]
fn blocks_in_one_file_with_config_levels() {
    let m = parse(&[
        (
            "snapshots/two.sql",
            "{% snapshot a %}\n{{ config(unique_key='id', strategy='timestamp', updated_at='u') }}\nselect * from {{ ref('m') }}\n{% endsnapshot %}\n\n\
             {% snapshot b %}{{ config(unique_key='id', strategy='check', check_cols=['u'], target_schema='other') }}select 2 as id{% endsnapshot %}\n",
        ),
        ("snapshots/nested/c.sql", "{% snapshot c %}\nselect * from {{ source('s', 't') }}\n{% endsnapshot %}"),
        ("snapshots/props.yml", "version: 2\nsnapshots:\n  - name: c\n    config:\n      unique_key: id\n      schema: hist\n      target_schema: null\n"),
        ("models/sources.yml", "version: 2\nsources:\n  - name: s\n    tables:\n      - name: t\n"),
    ])
    .expect("parses");
    let a = &m.nodes["snapshot.p.a"];
    assert_eq!(a.resource_type, ResourceType::Snapshot);
    assert_eq!(a.fqn, vec!["p", "two", "a"]);
    assert_eq!(a.raw_code, "\n{{ config(unique_key='id', strategy='timestamp', updated_at='u') }}\nselect * from {{ ref('m') }}\n");
    assert_eq!(a.schema, "snaps");
    assert_eq!(a.config.get_str("materialized"), Some("snapshot"));
    assert_eq!(a.depends_on.nodes, vec!["model.p.m"]);
    let b = &m.nodes["snapshot.p.b"];
    assert_eq!(b.schema, "other");
    // Project tree (strategy, check_cols) + YAML (unique_key, schema: the
    // new style goes through generate_schema_name).
    let c = &m.nodes["snapshot.p.c"];
    assert_eq!(c.fqn, vec!["p", "nested", "c", "c"]);
    assert_eq!(c.config.get_str("strategy"), Some("check"));
    assert_eq!(c.schema, "main_hist");
    assert_eq!(c.depends_on.nodes, vec!["source.p.s.t"]);
}

#[test]
fn yaml_defined_snapshot() {
    let dir = tempfile::tempdir().expect("tempdir");
    let m = parse_in(&dir, &[(
        "snapshots/s.yml",
        "version: 2\nsnapshots:\n  - name: y\n    relation: ref('m')\n    config:\n      unique_key: id\n      strategy: timestamp\n      updated_at: u\n    columns:\n      - name: id\n        data_tests: [not_null]\n",
    )])
    .expect("parses");
    let y = &m.nodes["snapshot.p.y"];
    assert_eq!(y.raw_code, "select * from {{ ref('m') }}");
    assert_eq!(y.depends_on.nodes, vec!["model.p.m"]);
    assert_eq!(y.path, "s.yml/y.sql");
    assert_eq!(y.original_file_path, "snapshots/s.yml");
    assert_eq!(y.checksum, super::file_checksum(&std::fs::read_to_string(dir.path().join("snapshots/s.yml")).expect("read")));
    let test = m.nodes.values().find(|n| n.resource_type == ResourceType::Test).expect("test on the snapshot");
    assert_eq!(test.depends_on.nodes, vec!["snapshot.p.y"]);
    assert_eq!(test.attached_node.as_deref(), Some("snapshot.p.y"));
}

#[test]
fn config_errors_are_located() {
    assert_eq!(
        errors(&[("snapshots/x.sql", "\n  {% snapshot x %}\n{{ config(strategy='timestamp', updated_at='u') }}\nselect 1\n{% endsnapshot %}")]),
        vec!["x.sql:2:3: Invalid config for snapshot 'x': Snapshots must be configured with a 'strategy' and 'unique_key'."]
    );
    assert_eq!(
        errors(&[("snapshots/x.sql", "{% snapshot x %}\n{{ config(unique_key='id', strategy='rolling') }}\nselect 1\n{% endsnapshot %}")]),
        vec!["x.sql:2:28: Invalid config for snapshot 'x': The specified strategy macro 'rolling' was not found: rdbt snapshots support the 'timestamp' and 'check' strategies"]
    );
    // In a YAML-defined snapshot: the key in its entry.
    assert_eq!(
        errors(&[("snapshots/s.yml", "version: 2\nsnapshots:\n  - name: y\n    relation: ref('m')\n    config:\n      strategy: timestamp\n      unique_key: id\n")]),
        vec!["s.yml:6:7: Invalid config for snapshot 'y': A snapshot configured with the timestamp strategy must specify an updated_at configuration."]
    );
    // Two snapshots of one name, a block without a name, a macro in a snapshot file.
    let mut e = errors(&[
        ("snapshots/d1.sql", "{% snapshot d %}{{ config(unique_key='id', strategy='check', check_cols='all') }}select 1 as id{% endsnapshot %}"),
        ("snapshots/d2.sql", "{% snapshot d %}{{ config(unique_key='id', strategy='check', check_cols='all') }}select 1 as id{% endsnapshot %}\n{% macro m() %}{% endmacro %}"),
    ]);
    e.sort();
    assert_eq!(e.len(), 2, "{e:?}");
    assert!(e[0].starts_with("d2.sql:0:0: two snapshots are named 'd'"), "{e:?}");
    assert!(e[1].starts_with("d2.sql:2:1: a file in snapshot-paths may only hold"), "{e:?}");
}
