//! Semantic versions and the version ranges of hub packages: `version:
//! [">=1.0.0", "<2.0.0"]` from every package that requires one package are
//! intersected into one range, and the newest published version inside it is
//! installed (as dbt's resolver does).

use std::cmp::Ordering;
use std::fmt;

/// `major.minor.patch[-prerelease][+build]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
    pub prerelease: Vec<String>,
    pub build: Option<String>,
}

impl Version {
    pub fn parse(text: &str) -> Option<Version> {
        let s = text.trim();
        let s = s.strip_prefix('v').unwrap_or(s);
        let (s, build) = match s.split_once('+') {
            Some((a, b)) => (a, Some(b.to_string())),
            None => (s, None),
        };
        let (core, pre) = match s.split_once('-') {
            Some((a, b)) => (a, b.split('.').map(str::to_string).collect()),
            None => (s, vec![]),
        };
        let mut parts = core.split('.');
        let num = |p: Option<&str>| -> Option<u64> {
            let p = p?;
            // No leading zeros, as semver (and dbt's version pattern) require.
            if p.is_empty() || (p.len() > 1 && p.starts_with('0')) || !p.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            p.parse().ok()
        };
        let v = Version { major: num(parts.next())?, minor: num(parts.next())?, patch: num(parts.next())?, prerelease: pre, build };
        if parts.next().is_some() || v.prerelease.iter().any(|p| p.is_empty()) {
            return None;
        }
        Some(v)
    }

    pub fn is_prerelease(&self) -> bool {
        !self.prerelease.is_empty()
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)?;
        if !self.prerelease.is_empty() {
            write!(f, "-{}", self.prerelease.join("."))?;
        }
        if let Some(b) = &self.build {
            write!(f, "+{b}")?;
        }
        Ok(())
    }
}

impl Ord for Version {
    /// Semver precedence: build metadata is ignored; a prerelease sorts
    /// before its release; numeric identifiers compare as numbers and below
    /// alphanumeric ones.
    fn cmp(&self, other: &Self) -> Ordering {
        (self.major, self.minor, self.patch).cmp(&(other.major, other.minor, other.patch)).then_with(|| {
            match (self.prerelease.is_empty(), other.prerelease.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => {
                    for (a, b) in self.prerelease.iter().zip(&other.prerelease) {
                        let ord = match (a.parse::<u64>(), b.parse::<u64>()) {
                            (Ok(x), Ok(y)) => x.cmp(&y),
                            (Ok(_), Err(_)) => Ordering::Less,
                            (Err(_), Ok(_)) => Ordering::Greater,
                            (Err(_), Err(_)) => a.cmp(b),
                        };
                        if ord != Ordering::Equal {
                            return ord;
                        }
                    }
                    self.prerelease.len().cmp(&other.prerelease.len())
                }
            }
        })
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// One bound of a range: the version and whether it is included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bound {
    pub version: Version,
    pub inclusive: bool,
}

/// A contiguous range of versions; `None` bounds are unbounded.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Range {
    pub lower: Option<Bound>,
    pub upper: Option<Bound>,
}

impl Range {
    /// Parses one constraint: `1.2.3`, `=1.2.3`, `>=1.0.0`, `<2.0.0`, `>1`…
    pub fn parse_one(text: &str) -> Result<Range, String> {
        let t = text.trim();
        let (op, rest) = ["==", ">=", "<=", ">", "<", "="].iter().find_map(|op| t.strip_prefix(op).map(|r| (*op, r))).unwrap_or(("=", t));
        let version = Version::parse(rest).ok_or_else(|| format!("'{t}' is not a version (expected e.g. 1.2.3, >=1.0.0 or <2.0.0)"))?;
        let b = |inclusive| Some(Bound { version: version.clone(), inclusive });
        Ok(match op {
            ">=" => Range { lower: b(true), upper: None },
            ">" => Range { lower: b(false), upper: None },
            "<=" => Range { lower: None, upper: b(true) },
            "<" => Range { lower: None, upper: b(false) },
            _ => Range { lower: b(true), upper: b(true) },
        })
    }

    /// Intersects every constraint (each may itself be a comma-separated
    /// list); `Err` names the first that cannot hold with the ones before.
    pub fn intersect_all<'a>(constraints: impl IntoIterator<Item = &'a str>) -> Result<Range, String> {
        let mut range = Range::default();
        for c in constraints {
            for part in c.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                let one = Range::parse_one(part)?;
                range = range.intersect(&one).ok_or_else(|| format!("'{part}' cannot be satisfied together with {range}"))?;
            }
        }
        Ok(range)
    }

    /// The common part of two ranges, or `None` if they do not overlap.
    pub fn intersect(&self, other: &Range) -> Option<Range> {
        let lower = match (&self.lower, &other.lower) {
            (Some(a), Some(b)) => Some(match a.version.cmp(&b.version) {
                Ordering::Greater => a.clone(),
                Ordering::Less => b.clone(),
                Ordering::Equal => Bound { version: a.version.clone(), inclusive: a.inclusive && b.inclusive },
            }),
            (a, b) => a.clone().or_else(|| b.clone()),
        };
        let upper = match (&self.upper, &other.upper) {
            (Some(a), Some(b)) => Some(match a.version.cmp(&b.version) {
                Ordering::Less => a.clone(),
                Ordering::Greater => b.clone(),
                Ordering::Equal => Bound { version: a.version.clone(), inclusive: a.inclusive && b.inclusive },
            }),
            (a, b) => a.clone().or_else(|| b.clone()),
        };
        if let (Some(l), Some(u)) = (&lower, &upper) {
            match l.version.cmp(&u.version) {
                Ordering::Greater => return None,
                Ordering::Equal if !(l.inclusive && u.inclusive) => return None,
                _ => {}
            }
        }
        Some(Range { lower, upper })
    }

    pub fn contains(&self, v: &Version) -> bool {
        let above = self.lower.as_ref().is_none_or(|b| if b.inclusive { v >= &b.version } else { v > &b.version });
        let below = self.upper.as_ref().is_none_or(|b| if b.inclusive { v <= &b.version } else { v < &b.version });
        above && below
    }

    /// The newest of `available` inside the range. Prereleases count only
    /// when `prerelease` is set (or the range itself names one).
    pub fn newest<'a>(&self, available: impl IntoIterator<Item = &'a str>, prerelease: bool) -> Option<Version> {
        let named_pre = [&self.lower, &self.upper].iter().any(|b| b.as_ref().is_some_and(|b| b.version.is_prerelease()));
        available
            .into_iter()
            .filter_map(Version::parse)
            .filter(|v| prerelease || named_pre || !v.is_prerelease())
            .filter(|v| self.contains(v))
            .max()
    }
}

impl fmt::Display for Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.lower, &self.upper) {
            (None, None) => f.write_str("any version"),
            (Some(l), Some(u)) if l.version == u.version => write!(f, "={}", l.version),
            (l, u) => {
                let mut parts = vec![];
                if let Some(l) = l {
                    parts.push(format!("{}{}", if l.inclusive { ">=" } else { ">" }, l.version));
                }
                if let Some(u) = u {
                    parts.push(format!("{}{}", if u.inclusive { "<=" } else { "<" }, u.version));
                }
                f.write_str(&parts.join(","))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    #[test]
    fn orders_as_semver() {
        assert!(v("1.0.0-alpha") < v("1.0.0-alpha.1"));
        assert!(v("1.0.0-alpha.1") < v("1.0.0-beta"));
        assert!(v("1.0.0-beta.2") < v("1.0.0-beta.11"));
        assert!(v("1.0.0-rc.1") < v("1.0.0"));
        assert!(v("1.9.0") < v("1.10.0"));
        assert_eq!(v("1.2.3+build").cmp(&v("1.2.3")), Ordering::Equal);
        assert!(Version::parse("1.2").is_none());
        assert!(Version::parse("01.2.3").is_none());
    }

    #[test]
    fn intersects_ranges() {
        let r = Range::intersect_all([">=1.0.0", "<2.0.0", ">=1.1.0,<1.9.0"]).unwrap();
        assert_eq!(r.to_string(), ">=1.1.0,<1.9.0");
        assert_eq!(r.newest(["1.0.0", "1.1.0", "1.8.3", "1.9.0", "2.0.0"], false), Some(v("1.8.3")));
        let exact = Range::intersect_all(["1.2.3", ">=1.0.0"]).unwrap();
        assert_eq!(exact.to_string(), "=1.2.3");
        let err = Range::intersect_all([">=2.0.0", "<2.0.0"]).unwrap_err();
        assert!(err.contains("'<2.0.0' cannot be satisfied together with >=2.0.0"), "{err}");
        assert!(Range::intersect_all(["<=1.0.0", ">=1.0.0"]).is_ok());
        assert!(Range::intersect_all(["<1.0.0", ">=1.0.0"]).is_err());
    }

    #[test]
    fn prereleases_only_when_asked() {
        let r = Range::intersect_all([">=1.0.0"]).unwrap();
        assert_eq!(r.newest(["1.0.0", "1.1.0-b1"], false), Some(v("1.0.0")));
        assert_eq!(r.newest(["1.0.0", "1.1.0-b1"], true), Some(v("1.1.0-b1")));
        let named = Range::intersect_all([">=1.1.0-a1"]).unwrap();
        assert_eq!(named.newest(["1.0.0", "1.1.0-b1"], false), Some(v("1.1.0-b1")));
    }
}
