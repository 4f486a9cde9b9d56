//! Git packages through the system `git` CLI: clone into a scratch
//! directory, pin the revision (branch, tag or commit) to a commit SHA,
//! check it out.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::diag::scrub_secrets;

#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("could not run git: {0} (is git installed and on PATH?)")]
    Spawn(std::io::Error),
    #[error("`git {command}` failed: {stderr}")]
    Failed { command: String, stderr: String },
    #[error("revision '{0}' is not a branch, tag or commit of the repository")]
    UnknownRevision(String),
    #[error("the repository has no directory '{0}' at this revision")]
    NoSubdirectory(String),
}

/// A checked-out package.
#[derive(Debug, Clone)]
pub struct Checkout {
    /// The package root: the clone, or its `subdirectory`.
    pub dir: PathBuf,
    /// The commit that was checked out.
    pub sha: String,
}

fn git(dir: Option<&Path>, args: &[&str]) -> Result<String, GitError> {
    let mut cmd = Command::new("git");
    if let Some(d) = dir {
        cmd.current_dir(d);
    }
    // Never wait for a password prompt: an unreachable or private remote
    // fails at once with git's own message.
    cmd.args(args).env("GIT_TERMINAL_PROMPT", "0").env("GIT_ASKPASS", "").env("LC_ALL", "C").stdin(std::process::Stdio::null());
    let out = cmd.output().map_err(GitError::Spawn)?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        // The URL may carry a token from a secret env var.
        // git's first `fatal:`/`error:` line says it; the rest is advice.
        let all = String::from_utf8_lossy(&out.stderr);
        let stderr = all.lines().find(|l| l.starts_with("fatal:") || l.starts_with("error:")).unwrap_or_else(|| all.trim()).trim().to_string();
        Err(GitError::Failed { command: scrub_secrets(&args.join(" ")).into_owned(), stderr: scrub_secrets(&stderr).into_owned() })
    }
}

/// Clones `url` into `into` (which must not exist) and checks out
/// `revision` (`HEAD` for the default branch).
pub fn checkout(url: &str, revision: &str, subdirectory: Option<&str>, into: &Path) -> Result<Checkout, GitError> {
    let into_s = into.to_string_lossy();
    git(None, &["clone", "--quiet", "--no-checkout", url, &into_s])?;
    let sha = resolve(into, revision)?;
    git(Some(into), &["-c", "advice.detachedHead=false", "checkout", "--quiet", "--detach", &sha])?;
    // The package is the files; its history stays in the scratch clone.
    let _ = std::fs::remove_dir_all(into.join(".git"));
    let dir = match subdirectory {
        Some(s) => {
            let d = into.join(s);
            if !d.is_dir() {
                return Err(GitError::NoSubdirectory(s.to_string()));
            }
            d
        }
        None => into.to_path_buf(),
    };
    Ok(Checkout { dir, sha })
}

/// The commit of `revision` in a fresh clone: a remote branch, a tag, a
/// (possibly abbreviated) commit, or a commit fetched by SHA.
fn resolve(repo: &Path, revision: &str) -> Result<String, GitError> {
    let verify = |r: &str| git(Some(repo), &["rev-parse", "--verify", "--quiet", &format!("{r}^{{commit}}")]).ok().filter(|s| !s.is_empty());
    if revision == "HEAD" {
        return verify("HEAD").ok_or_else(|| GitError::UnknownRevision(revision.into()));
    }
    for candidate in [format!("refs/remotes/origin/{revision}"), format!("refs/tags/{revision}"), revision.to_string()] {
        if let Some(sha) = verify(&candidate) {
            return Ok(sha);
        }
    }
    // A commit that no branch or tag reaches: ask the remote for it.
    if revision.len() >= 7
        && revision.bytes().all(|b| b.is_ascii_hexdigit())
        && git(Some(repo), &["fetch", "--quiet", "origin", revision]).is_ok()
        && let Some(sha) = verify("FETCH_HEAD")
    {
        return Ok(sha);
    }
    Err(GitError::UnknownRevision(revision.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(dir: &Path, args: &[&str]) -> String {
        let out = Command::new("git").args(args).current_dir(dir).env("GIT_AUTHOR_NAME", "t").env("GIT_AUTHOR_EMAIL", "t@t").env("GIT_COMMITTER_NAME", "t").env("GIT_COMMITTER_EMAIL", "t@t").output().unwrap();
        assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    #[test]
    fn pins_branch_tag_and_commit() {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("src");
        std::fs::create_dir_all(src.join("sub")).unwrap();
        run(tmp.path(), &["init", "-q", "-b", "main", "src"]);
        std::fs::write(src.join("sub/f.txt"), "one").unwrap();
        run(&src, &["add", "-A"]);
        run(&src, &["commit", "-qm", "one"]);
        run(&src, &["tag", "v1"]);
        let first = run(&src, &["rev-parse", "HEAD"]);
        run(&src, &["checkout", "-qb", "dev"]);
        std::fs::write(src.join("sub/f.txt"), "two").unwrap();
        run(&src, &["commit", "-qam", "two"]);
        let second = run(&src, &["rev-parse", "HEAD"]);
        run(&src, &["checkout", "-q", "main"]);
        let url = format!("file://{}", src.display());
        let c = checkout(&url, "dev", Some("sub"), &tmp.path().join("a")).unwrap();
        assert_eq!(c.sha, second);
        assert_eq!(std::fs::read_to_string(c.dir.join("f.txt")).unwrap(), "two");
        assert_eq!(checkout(&url, "v1", None, &tmp.path().join("b")).unwrap().sha, first);
        assert_eq!(checkout(&url, &first[..10], None, &tmp.path().join("c")).unwrap().sha, first);
        assert_eq!(checkout(&url, "HEAD", None, &tmp.path().join("d")).unwrap().sha, first);
        assert!(matches!(checkout(&url, "nope", None, &tmp.path().join("e")), Err(GitError::UnknownRevision(_))));
        assert!(matches!(checkout(&url, "v1", Some("missing"), &tmp.path().join("f")), Err(GitError::NoSubdirectory(_))));
    }
}
