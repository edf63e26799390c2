//! The launch-time route audit: compares `white_list_routes` and
//! `ignored_routes` with the routes the application mounted.
//!
//! It runs as the last ignite fairing, so every route mounted before launch is
//! in its input, and it can still abort launch, which a liftoff fairing cannot.
//! It logs one line per mounted route with its access class, and rejects an
//! entry that matches no route (a typo) or that also opens a route with a
//! different pattern. The second rule covers both directions: an entry
//! `GET /users/<id>` opens a route `GET /users/me`, and an entry `GET /about`
//! opens a route `GET /<slug>` for the request `/about` whenever the `about`
//! route forwards, because Rocket then tries the next route without the gate.

use std::fmt;

use rocket::http::Method;
use rocket::route::Route;
use rocket::{Build, Rocket};

use crate::routes::{PatternSegment, RouteEntry, RouteList, RouteTable};

/// The name of the gate routes, which the audit skips.
pub(crate) const GATE_ROUTE_NAME: &str = "jwt_router gate";

/// The route audit's response to a problem, set by `route_audit` in the
/// `jwt_router` table.
///
/// ```
/// use rocket::figment::{Figment, providers::Serialized};
/// use rocket_jwt_router::{AuditMode, Config};
///
/// assert_eq!(AuditMode::default(), AuditMode::Abort);
///
/// let figment = Figment::from(Serialized::default("jwt_router.secret", "x".repeat(32)))
///     .merge(Serialized::default("jwt_router.route_audit", "warn"));
/// assert_eq!(Config::from_figment(&figment).unwrap().route_audit(), AuditMode::Warn);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuditMode {
    /// Abort launch. The default.
    #[default]
    Abort,
    /// Log a warning and launch anyway, for applications that mount routes
    /// after ignition.
    Warn,
}

/// A mounted route, reduced to what the audit compares.
struct MountedRoute {
    /// GET for HEAD routes, because the gate classifies HEAD as GET.
    method: Method,
    segments: Vec<PatternSegment>,
    /// `METHOD /full/uri (name)`, for messages.
    display: String,
}

impl MountedRoute {
    fn new(route: &Route) -> Self {
        let method = if route.method == Method::Head { Method::Get } else { route.method };
        let segments = route.uri.path().split('/').filter(|raw| !raw.is_empty()).map(route_segment).collect();

        let name = route.name.as_deref().unwrap_or("unnamed");
        let display = format!("{} {} ({name})", route.method, route.uri);

        MountedRoute { method, segments, display }
    }
}

/// Parses a segment of a mounted route the way Rocket does: `<x..>` is
/// trailing, `<x>` is dynamic, anything else is literal text.
fn route_segment(raw: &str) -> PatternSegment {
    match raw.strip_prefix('<').and_then(|inner| inner.strip_suffix('>')) {
        Some(name) if name.ends_with("..") => PatternSegment::Trailing,
        Some(_) => PatternSegment::Dynamic,
        None => PatternSegment::Static(raw.to_owned()),
    }
}

/// Returns whether some request path matches both patterns.
fn overlaps(left: &[PatternSegment], right: &[PatternSegment]) -> bool {
    match (left.split_first(), right.split_first()) {
        (None, None) => true,
        (Some((PatternSegment::Trailing, _)), _) | (_, Some((PatternSegment::Trailing, _))) => true,
        (None, Some(_)) | (Some(_), None) => false,
        (Some((PatternSegment::Static(a), left_rest)), Some((PatternSegment::Static(b), right_rest))) => {
            a == b && overlaps(left_rest, right_rest)
        }
        (Some((_, left_rest)), Some((_, right_rest))) => overlaps(left_rest, right_rest),
    }
}

/// A problem that the audit found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AuditProblem(pub(crate) String);

impl fmt::Display for AuditProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The result of an audit: one line per mounted route, and the problems.
pub(crate) struct AuditReport {
    pub(crate) lines: Vec<String>,
    pub(crate) problems: Vec<AuditProblem>,
}

/// Audits the routes mounted on `rocket` against `table`.
pub(crate) fn audit(rocket: &Rocket<Build>, table: &RouteTable) -> AuditReport {
    let mounted: Vec<MountedRoute> = rocket
        .routes()
        .filter(|route| route.name.as_deref() != Some(GATE_ROUTE_NAME))
        .map(MountedRoute::new)
        .collect();

    let lines = mounted.iter().map(|route| route_line(route, table.entries())).collect();
    let problems = table.entries().iter().flat_map(|entry| entry_problems(entry, &mounted)).collect();

    AuditReport { lines, problems }
}

fn route_line(route: &MountedRoute, entries: &[RouteEntry]) -> String {
    let exact = entries.iter().find(|entry| entry.method == route.method && entry.pattern.segments == route.segments);
    let overlapping = || {
        entries.iter().find(|entry| entry.allow_overlap && entry.method == route.method && overlaps(&entry.pattern.segments, &route.segments))
    };

    let class = match (exact, exact.is_none().then(overlapping).flatten()) {
        (Some(entry), _) => format!("{} by `{}`", access_word(entry.list), entry.source),
        (None, Some(entry)) => format!("partly {} by `{}` (allow_overlap)", access_word(entry.list), entry.source),
        (None, None) => "protected".to_owned(),
    };

    format!("{}: {class}", route.display)
}

fn access_word(list: RouteList) -> &'static str {
    match list {
        RouteList::WhiteList => "public",
        RouteList::Ignored => "ignored",
    }
}

fn entry_problems(entry: &RouteEntry, mounted: &[MountedRoute]) -> Vec<AuditProblem> {
    let matching: Vec<&MountedRoute> = mounted
        .iter()
        .filter(|route| route.method == entry.method && overlaps(&entry.pattern.segments, &route.segments))
        .collect();

    if matching.is_empty() {
        return vec![unmatched_problem(entry, mounted)];
    }

    let different: Vec<&str> =
        matching.iter().filter(|route| route.segments != entry.pattern.segments).map(|route| route.display.as_str()).collect();
    if different.is_empty() || entry.allow_overlap {
        return Vec::new();
    }

    let message = format!(
        "the {list} entry `{source}` ({method} {pattern}) also opens {routes}, whose path is a different pattern, \
         so requests to {them} can pass the gate without a token. List each public route with its exact pattern, \
         or write the entry as {{ method = \"{method}\", path = \"{path}\", allow_overlap = true }} to accept this",
        list = entry.list.key(),
        source = entry.source,
        method = entry.method,
        pattern = entry.pattern,
        routes = different.join(", "),
        them = if different.len() == 1 { "it" } else { "them" },
        path = entry.source.split_once(' ').map_or("", |(_, path)| path),
    );

    vec![AuditProblem(message)]
}

fn unmatched_problem(entry: &RouteEntry, mounted: &[MountedRoute]) -> AuditProblem {
    let target = format!("{} {}", entry.method, entry.pattern);
    let mut by_distance: Vec<(usize, &str)> = mounted
        .iter()
        .map(|route| {
            let candidate = format!("{} {}", route.method, PatternDisplay(&route.segments));
            (edit_distance(&target, &candidate), route.display.as_str())
        })
        .collect();
    by_distance.sort();

    let closest: Vec<&str> = by_distance.iter().take(3).map(|(_, display)| *display).collect();
    let hint = if closest.is_empty() {
        "no routes are mounted".to_owned()
    } else {
        format!("the closest mounted routes are {}", closest.join(", "))
    };

    AuditProblem(format!(
        "the {} entry `{}` ({target}) matches no mounted route; {hint}. Fix the entry or remove it",
        entry.list.key(),
        entry.source,
    ))
}

struct PatternDisplay<'a>(&'a [PatternSegment]);

impl fmt::Display for PatternDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pattern = crate::routes::PathPattern { segments: self.0.to_vec() };
        write!(f, "{pattern}")
    }
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();

    for (i, a_char) in a.chars().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, b_char) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(a_char != *b_char);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }

    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routes::PathPattern;

    fn segments(path: &str) -> Vec<PatternSegment> {
        PathPattern::parse(path).unwrap().segments
    }

    #[test]
    fn overlap_rules() {
        assert!(overlaps(&segments("/users/<id>"), &segments("/users/me")));
        assert!(overlaps(&segments("/about"), &segments("/<slug>")));
        assert!(overlaps(&segments("/files/<p..>"), &segments("/files/admin/x")));
        assert!(overlaps(&segments("/files/<p..>"), &segments("/files")));
        assert!(overlaps(&segments("/"), &segments("/<p..>")));
        assert!(!overlaps(&segments("/apples/sub/<id>"), &segments("/apples")));
        assert!(!overlaps(&segments("/users/<id>"), &segments("/users/<id>/posts")));
        assert!(!overlaps(&segments("/a"), &segments("/b")));
        assert!(!overlaps(&segments("/"), &segments("/a")));
    }

    #[test]
    fn route_segments_parse_like_rocket() {
        assert_eq!(route_segment("<id>"), PatternSegment::Dynamic);
        assert_eq!(route_segment("<path..>"), PatternSegment::Trailing);
        assert_eq!(route_segment("me"), PatternSegment::Static("me".to_owned()));
    }

    #[test]
    fn edit_distances() {
        assert_eq!(edit_distance("GET /regster", "GET /register"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
    }
}
