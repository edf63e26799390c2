//! Route patterns from the `jwt_router` table and the compiled route table
//! that classifies each request as ignored, public or protected.
//!
//! Patterns use Rocket's route syntax and Rocket's matching rules: a request
//! path is compared segment by segment after percent-decoding, with empty
//! segments dropped, exactly as `req.uri().path().segments()` yields them.
//! `<name>` matches one segment, a final `<name..>` matches zero or more, and
//! every other segment must be equal byte for byte. There is no prefix
//! matching, no case folding and no implicit public route.

use std::collections::HashMap;
use std::fmt;

use rocket::http::Method;

/// One segment of a route pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PatternSegment {
    /// A literal segment that must equal the decoded request segment.
    Static(String),
    /// `<name>`: exactly one segment.
    Dynamic,
    /// `<name..>`: zero or more trailing segments.
    Trailing,
}

/// A route path in Rocket's syntax, such as `/users/<id>` or `/static/<path..>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PathPattern {
    pub(crate) segments: Vec<PatternSegment>,
}

impl PathPattern {
    /// Parses `path`, which must start with `/`.
    pub(crate) fn parse(path: &str) -> Result<Self, String> {
        if !path.starts_with('/') {
            return Err(format!("the path `{path}` must start with `/`"));
        }

        let raw: Vec<&str> = path[1..].split('/').collect();
        let mut segments = Vec::with_capacity(raw.len());
        for (index, text) in raw.iter().enumerate() {
            let is_last = index + 1 == raw.len();

            // A lone trailing slash is allowed because Rocket ignores empty
            // segments, but an empty segment in the middle is a likely typo.
            if text.is_empty() {
                if is_last {
                    continue;
                }
                return Err(format!("the path `{path}` contains an empty segment (`//`)"));
            }

            let segment = parse_segment(text).map_err(|reason| format!("the path `{path}` {reason}"))?;
            if segment == PatternSegment::Trailing && !is_last {
                return Err(format!("the path `{path}` has a `<name..>` segment that is not the last one"));
            }

            segments.push(segment);
        }

        Ok(PathPattern { segments })
    }

    /// Returns a pattern with `prefix`'s static segments in front of this one.
    pub(crate) fn prefixed(&self, prefix: &[String]) -> Self {
        let mut segments: Vec<PatternSegment> = prefix.iter().cloned().map(PatternSegment::Static).collect();
        segments.extend(self.segments.iter().cloned());
        PathPattern { segments }
    }
}

impl fmt::Display for PathPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.segments.is_empty() {
            return f.write_str("/");
        }

        for segment in &self.segments {
            match segment {
                PatternSegment::Static(text) => write!(f, "/{text}")?,
                PatternSegment::Dynamic => f.write_str("/<_>")?,
                PatternSegment::Trailing => f.write_str("/<_..>")?,
            }
        }

        Ok(())
    }
}

fn parse_segment(text: &str) -> Result<PatternSegment, String> {
    if let Some(inner) = text.strip_prefix('<') {
        let Some(name) = inner.strip_suffix('>') else {
            return Err(format!("has a segment `{text}` that opens `<` but does not end with `>`"));
        };

        let (name, segment) = match name.strip_suffix("..") {
            Some(name) => (name, PatternSegment::Trailing),
            None => (name, PatternSegment::Dynamic),
        };
        if !is_parameter_name(name) {
            return Err(format!("has a parameter `{text}` whose name is not a Rust identifier"));
        }

        return Ok(segment);
    }

    // Rocket compares a route's literal segments with decoded request segments
    // without decoding the route, so a percent sign in a pattern could never
    // match what it appears to mean.
    if let Some(bad) = text.chars().find(|c| matches!(c, '<' | '>' | '%' | '?' | '#') || c.is_whitespace() || c.is_control()) {
        return Err(format!("has a segment `{text}` with the character {bad:?}, which route paths do not allow"));
    }

    Ok(PatternSegment::Static(text.to_owned()))
}

fn is_parameter_name(name: &str) -> bool {
    let mut chars = name.chars();
    let Some(first) = chars.next() else {
        return false;
    };

    (first == '_' || first.is_alphabetic()) && chars.all(|c| c == '_' || c.is_alphanumeric())
}

/// Parses an HTTP method name from the configuration.
///
/// HEAD is rejected because the gate classifies HEAD requests as GET, as
/// Rocket serves HEAD with GET routes; an entry for HEAD would suggest
/// otherwise.
pub(crate) fn parse_method(text: &str) -> Result<Method, String> {
    let method = match text.to_ascii_uppercase().as_str() {
        "GET" => Method::Get,
        "PUT" => Method::Put,
        "POST" => Method::Post,
        "DELETE" => Method::Delete,
        "OPTIONS" => Method::Options,
        "TRACE" => Method::Trace,
        "CONNECT" => Method::Connect,
        "PATCH" => Method::Patch,
        "HEAD" => {
            return Err("HEAD requests are classified as GET, as Rocket routes them; list the route as GET".to_owned())
        }
        _ => {
            return Err(format!(
                "`{text}` is not an HTTP method; use one of GET, POST, PUT, PATCH, DELETE, OPTIONS, TRACE, CONNECT"
            ))
        }
    };

    Ok(method)
}

/// The configuration list that an entry comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RouteList {
    /// `white_list_routes`: public, with `api_name` in front of the path.
    WhiteList,
    /// `ignored_routes`: public, path taken as written.
    Ignored,
}

impl RouteList {
    pub(crate) fn key(self) -> &'static str {
        match self {
            RouteList::WhiteList => "white_list_routes",
            RouteList::Ignored => "ignored_routes",
        }
    }
}

/// One validated entry of `white_list_routes` or `ignored_routes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RouteEntry {
    pub(crate) list: RouteList,
    pub(crate) method: Method,
    /// The full path that requests are matched against, prefix included.
    pub(crate) pattern: PathPattern,
    /// The entry as written in the configuration, for messages.
    pub(crate) source: String,
    /// Whether the entry may open mounted routes with a different pattern.
    pub(crate) allow_overlap: bool,
}

impl fmt::Display for RouteEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} (from {} entry `{}`)", self.method, self.pattern, self.list.key(), self.source)
    }
}

/// The gate's classification of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// An `ignored_routes` entry matches: the gate does not look at the token.
    Ignored(usize),
    /// A `white_list_routes` entry matches: the gate does not require a token.
    Public(usize),
    /// No entry matches: the request needs a valid token.
    Protected,
}

/// A trie of pattern segments, so that classification costs the same for ten
/// entries as for ten thousand.
#[derive(Debug, Default)]
struct Node {
    statics: HashMap<String, Node>,
    dynamic: Option<Box<Node>>,
    /// The entry whose pattern ends with `<name..>` at this node.
    trailing: Option<usize>,
    /// The entry whose pattern ends exactly at this node.
    end: Option<usize>,
}

impl Node {
    fn insert(&mut self, segments: &[PatternSegment], entry: usize) {
        let Some((first, rest)) = segments.split_first() else {
            self.end.get_or_insert(entry);
            return;
        };

        match first {
            PatternSegment::Static(text) => self.statics.entry(text.clone()).or_default().insert(rest, entry),
            PatternSegment::Dynamic => self.dynamic.get_or_insert_with(Box::default).insert(rest, entry),
            PatternSegment::Trailing => {
                self.trailing.get_or_insert(entry);
            }
        }
    }

    fn find<'a, I>(&self, mut segments: I) -> Option<usize>
    where
        I: Iterator<Item = &'a str> + Clone,
    {
        if let Some(entry) = self.trailing {
            return Some(entry);
        }

        let Some(segment) = segments.next() else {
            return self.end;
        };

        let by_static = self.statics.get(segment).and_then(|node| node.find(segments.clone()));
        by_static.or_else(|| self.dynamic.as_ref().and_then(|node| node.find(segments)))
    }
}

/// Methods that the gate can see, as indexes into the per-method tries.
const METHOD_COUNT: usize = 9;

fn method_index(method: Method) -> usize {
    match method {
        Method::Get | Method::Head => 0,
        Method::Put => 1,
        Method::Post => 2,
        Method::Delete => 3,
        Method::Options => 4,
        Method::Trace => 5,
        Method::Connect => 6,
        Method::Patch => 7,
        // `Method` is non-exhaustive in name only; any future variant shares
        // a trie that no configuration entry can reach, so it stays protected.
        #[allow(unreachable_patterns)]
        _ => 8,
    }
}

/// The compiled `white_list_routes` and `ignored_routes`.
#[derive(Debug, Default)]
pub(crate) struct RouteTable {
    entries: Vec<RouteEntry>,
    ignored: Vec<Node>,
    public: Vec<Node>,
}

impl RouteTable {
    pub(crate) fn new(entries: Vec<RouteEntry>) -> Self {
        let mut ignored: Vec<Node> = (0..METHOD_COUNT).map(|_| Node::default()).collect();
        let mut public: Vec<Node> = (0..METHOD_COUNT).map(|_| Node::default()).collect();

        for (index, entry) in entries.iter().enumerate() {
            let tries = match entry.list {
                RouteList::Ignored => &mut ignored,
                RouteList::WhiteList => &mut public,
            };
            tries[method_index(entry.method)].insert(&entry.pattern.segments, index);
        }

        RouteTable { entries, ignored, public }
    }

    /// Classifies a request by its method and decoded, non-empty path segments.
    pub(crate) fn classify<'a, I>(&self, method: Method, segments: I) -> Access
    where
        I: Iterator<Item = &'a str> + Clone,
    {
        let index = method_index(method);
        if let Some(entry) = self.ignored[index].find(segments.clone()) {
            return Access::Ignored(entry);
        }

        match self.public[index].find(segments) {
            Some(entry) => Access::Public(entry),
            None => Access::Protected,
        }
    }

    pub(crate) fn entries(&self) -> &[RouteEntry] {
        &self.entries
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(list: RouteList, method: Method, path: &str) -> RouteEntry {
        RouteEntry { list, method, pattern: PathPattern::parse(path).unwrap(), source: path.to_owned(), allow_overlap: false }
    }

    fn classify(table: &RouteTable, method: Method, path: &str) -> Access {
        table.classify(method, path.split('/').filter(|s| !s.is_empty()))
    }

    #[test]
    fn pattern_parse_errors() {
        assert!(PathPattern::parse("users").unwrap_err().contains("must start with `/`"));
        assert!(PathPattern::parse("/a//b").unwrap_err().contains("empty segment"));
        assert!(PathPattern::parse("/<path..>/x").unwrap_err().contains("not the last"));
        assert!(PathPattern::parse("/<id").unwrap_err().contains("does not end with `>`"));
        assert!(PathPattern::parse("/<1d>").unwrap_err().contains("not a Rust identifier"));
        assert!(PathPattern::parse("/<>").unwrap_err().contains("not a Rust identifier"));
        assert!(PathPattern::parse("/a%20b").unwrap_err().contains("'%'"));
        assert!(PathPattern::parse("/a?b").unwrap_err().contains("'?'"));
        assert!(PathPattern::parse("/a b").unwrap_err().contains("' '"));
    }

    #[test]
    fn pattern_trailing_slash_and_root() {
        assert_eq!(PathPattern::parse("/users/").unwrap(), PathPattern::parse("/users").unwrap());
        assert!(PathPattern::parse("/").unwrap().segments.is_empty());
        assert_eq!(PathPattern::parse("/a/<b>/<c..>").unwrap().to_string(), "/a/<_>/<_..>");
    }

    #[test]
    fn method_parse() {
        assert_eq!(parse_method("post").unwrap(), Method::Post);
        assert!(parse_method("HEAD").unwrap_err().contains("list the route as GET"));
        assert!(parse_method("FETCH").unwrap_err().contains("not an HTTP method"));
    }

    #[test]
    fn dynamic_entry_is_not_a_prefix() {
        let table = RouteTable::new(vec![entry(RouteList::WhiteList, Method::Get, "/apples/sub/<id>")]);

        assert_eq!(classify(&table, Method::Get, "/apples/sub/1"), Access::Public(0));
        assert_eq!(classify(&table, Method::Get, "/apples"), Access::Protected);
        assert_eq!(classify(&table, Method::Get, "/apples/sub"), Access::Protected);
        assert_eq!(classify(&table, Method::Get, "/apples/sub/1/2"), Access::Protected);
    }

    #[test]
    fn trailing_entry_matches_zero_or_more() {
        let table = RouteTable::new(vec![entry(RouteList::Ignored, Method::Get, "/static/<path..>")]);

        assert_eq!(classify(&table, Method::Get, "/static"), Access::Ignored(0));
        assert_eq!(classify(&table, Method::Get, "/static/a/b/c"), Access::Ignored(0));
        assert_eq!(classify(&table, Method::Get, "/staticx"), Access::Protected);
        assert_eq!(classify(&table, Method::Post, "/static/a"), Access::Protected);
    }

    #[test]
    fn head_is_classified_as_get() {
        let table = RouteTable::new(vec![entry(RouteList::WhiteList, Method::Get, "/about")]);

        assert_eq!(classify(&table, Method::Head, "/about"), Access::Public(0));
        assert_eq!(classify(&table, Method::Post, "/about"), Access::Protected);
    }

    #[test]
    fn static_and_dynamic_siblings_backtrack() {
        let table = RouteTable::new(vec![
            entry(RouteList::WhiteList, Method::Get, "/a/b/c"),
            entry(RouteList::WhiteList, Method::Get, "/a/<x>/d"),
        ]);

        assert_eq!(classify(&table, Method::Get, "/a/b/d"), Access::Public(1));
        assert_eq!(classify(&table, Method::Get, "/a/b/c"), Access::Public(0));
        assert_eq!(classify(&table, Method::Get, "/a/b/e"), Access::Protected);
    }

    #[test]
    fn empty_table_protects_everything() {
        let table = RouteTable::new(Vec::new());

        assert_eq!(classify(&table, Method::Get, "/"), Access::Protected);
        assert_eq!(classify(&table, Method::Get, "/static/x"), Access::Protected);
    }
}
