//! Command-line interface: dbt's commands and flags. Each command loads the
//! project through `Invocation` and calls into the library.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::Flags;
use crate::run::output::LogFormat;

mod commands;
pub mod invocation;

/// rdbt: build dbt projects in-process on an embedded engine.
#[derive(Debug, Parser)]
#[command(name = "rdbt", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Flags every command takes, before or after the command name.
    #[command(flatten)]
    pub common: Common,
}

#[derive(Debug, Clone, Args)]
pub struct Common {
    /// Directory of dbt_project.yml (default: current directory).
    #[arg(long, global = true, env = "DBT_PROJECT_DIR")]
    pub project_dir: Option<PathBuf>,
    /// Directory of profiles.yml (default: DBT_PROFILES_DIR, project dir, ~/.dbt).
    #[arg(long, global = true)]
    pub profiles_dir: Option<PathBuf>,
    /// Profile to use instead of dbt_project.yml's `profile`.
    #[arg(long, global = true)]
    pub profile: Option<String>,
    /// Target of the profile.
    #[arg(short = 't', long, global = true)]
    pub target: Option<String>,
    /// Vars as YAML, e.g. '{key: value}'.
    #[arg(long, global = true)]
    pub vars: Option<String>,
    /// Worker threads (default: the target's `threads`).
    #[arg(long, global = true)]
    pub threads: Option<usize>,
    /// Where artifacts go (default: the project's target-path).
    #[arg(long, global = true)]
    pub target_path: Option<PathBuf>,
    /// Skip `require-dbt-version` checks (of the project and its packages).
    #[arg(long, global = true)]
    pub no_version_check: bool,
    /// `text` or `json`.
    #[arg(long, global = true, default_value = "text")]
    pub log_format: String,
}

#[derive(Debug, Clone, Args, Default)]
pub struct Selection {
    /// Nodes to include (dbt selection syntax).
    #[arg(short = 's', long = "select", alias = "models", short_alias = 'm', num_args = 1.., action = clap::ArgAction::Append)]
    pub select: Vec<String>,
    /// Nodes to exclude.
    #[arg(long, num_args = 1.., action = clap::ArgAction::Append)]
    pub exclude: Vec<String>,
    /// A selector from selectors.yml.
    #[arg(long)]
    pub selector: Option<String>,
    /// Only these resource types (ls, build).
    #[arg(long = "resource-type", alias = "resource-types", num_args = 1.., action = clap::ArgAction::Append)]
    pub resource_type: Vec<String>,
}

#[derive(Debug, Clone, Args, Default)]
pub struct RunFlags {
    /// Rebuild incremental models and seeds from scratch.
    #[arg(long)]
    pub full_refresh: bool,
    /// Stop at the first failure.
    #[arg(short = 'x', long)]
    pub fail_fast: bool,
    /// Ingest nodes save every HTTP response under DIR/<ingest name>/.
    #[arg(long, value_name = "DIR")]
    pub record_ingest: Option<std::path::PathBuf>,
    /// Ingest nodes replay responses recorded under DIR/<ingest name>/ (no network).
    #[arg(long, value_name = "DIR")]
    pub replay_ingest: Option<std::path::PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum DocsCommand {
    /// Write target/catalog.json (relations and column types from the engine) and target/index.html.
    Generate,
    /// Serve target/index.html on 127.0.0.1 until stopped.
    Serve {
        #[arg(long, default_value_t = 8080)]
        port: u16,
    },
}

#[derive(Debug, Subcommand)]
pub enum SourceCommand {
    /// How long ago each source table was last loaded, against its `freshness:` thresholds.
    Freshness {
        #[command(flatten)]
        sel: Selection,
        /// Where to write the results (default: target/sources.json).
        #[arg(long, short = 'o')]
        output: Option<std::path::PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Ingest loads, seeds, models, snapshots and tests, in DAG order.
    Build {
        #[command(flatten)]
        sel: Selection,
        #[command(flatten)]
        run: RunFlags,
    },
    /// Build models.
    Run {
        #[command(flatten)]
        sel: Selection,
        #[command(flatten)]
        run: RunFlags,
    },
    /// Run data tests.
    Test {
        #[command(flatten)]
        sel: Selection,
        #[command(flatten)]
        run: RunFlags,
    },
    /// Load seed CSVs.
    Seed {
        #[command(flatten)]
        sel: Selection,
        #[command(flatten)]
        run: RunFlags,
    },
    /// Run ingest loads (REST API → the tables of the sources they feed).
    Ingest {
        #[command(flatten)]
        sel: Selection,
        #[command(flatten)]
        run: RunFlags,
    },
    /// Run snapshots (type-2 history tables).
    Snapshot {
        #[command(flatten)]
        sel: Selection,
        /// Stop at the first failure.
        #[arg(short = 'x', long)]
        fail_fast: bool,
    },
    /// Render SQL into target/compiled without running it.
    Compile {
        #[command(flatten)]
        sel: Selection,
        /// Compile this SQL instead of project nodes.
        #[arg(long)]
        inline: Option<String>,
    },
    /// Parse the project and write target/manifest.json.
    Parse,
    /// List selected resources.
    #[command(alias = "list")]
    Ls {
        #[command(flatten)]
        sel: Selection,
        /// name, path, selector, json
        #[arg(long, short = 'o', default_value = "selector")]
        output: String,
    },
    /// Run a model's (or inline) query and print the rows.
    Show {
        #[command(flatten)]
        sel: Selection,
        #[arg(long)]
        inline: Option<String>,
        /// Rows to show (-1 for all).
        #[arg(long, default_value_t = 5)]
        limit: i64,
    },
    /// Check the project, profile and connection.
    Debug,
    /// Re-run what errored, failed or was skipped in the previous invocation.
    Retry,
    /// Call a macro (`name` or `package.name`) with `--args`, executing its statements.
    RunOperation {
        macro_name: String,
        /// Keyword arguments as YAML, e.g. '{days: 7}'.
        #[arg(long)]
        args: Option<String>,
    },
    /// Documentation: `rdbt docs generate`, `rdbt docs serve`.
    Docs {
        #[command(subcommand)]
        command: DocsCommand,
    },
    /// Source commands: `rdbt source freshness`.
    Source {
        #[command(subcommand)]
        command: SourceCommand,
    },
    /// Delete the project's clean-targets.
    Clean,
    /// Install the packages of packages.yml / dependencies.yml into dbt_packages/.
    Deps {
        /// Only resolve the packages and write package-lock.yml.
        #[arg(long)]
        lock: bool,
        /// Resolve again, ignoring package-lock.yml.
        #[arg(long)]
        upgrade: bool,
    },
}

impl Common {
    pub fn flags(&self, run: Option<&RunFlags>) -> Flags {
        Flags {
            project_dir: self.project_dir.clone(),
            profiles_dir: self.profiles_dir.clone(),
            profile: self.profile.clone(),
            target: self.target.clone(),
            vars: self.vars.clone(),
            threads: self.threads,
            full_refresh: run.is_some_and(|r| r.full_refresh),
            fail_fast: run.is_some_and(|r| r.fail_fast),
            target_path: self.target_path.clone(),
            no_version_check: self.no_version_check,
        }
    }
    pub fn log_format(&self) -> LogFormat {
        if self.log_format.eq_ignore_ascii_case("json") { LogFormat::Json } else { LogFormat::Text }
    }
}

/// Exit codes as dbt's: 0 ok, 1 node failures, 2 errors.
pub const EXIT_OK: i32 = 0;
pub const EXIT_FAILURE: i32 = 1;
pub const EXIT_ERROR: i32 = 2;

/// Parses `args` and runs the command; returns the process exit code.
pub fn run<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_ERROR } else { EXIT_OK };
            let _ = e.print();
            return code;
        }
    };
    commands::dispatch(cli.command, &cli.common)
}
