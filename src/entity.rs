//! The [`Entity`] trait: what a token authenticates, and how its row is
//! loaded through a rocket_db_pools database.
//!
//! Table and column names are checked to be plain SQL identifiers and quoted
//! in the backend's dialect. The id is always a bound parameter of the id's
//! own SQL type, so a database never compares a token's subject as text
//! against an integer column.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use rocket_db_pools::Database;

/// A kind of authenticated principal stored in a database table, such as a
/// user or an API client.
///
/// Implement it next to the row type, which also derives `sqlx::FromRow`:
///
/// ```
/// use rocket_db_pools::{sqlx, Database};
/// use rocket_jwt_router::Entity;
///
/// #[derive(Database)]
/// #[database("app")]
/// struct AppDb(sqlx::SqlitePool);
///
/// #[derive(sqlx::FromRow)]
/// struct User {
///     id: i64,
///     name: String,
/// }
///
/// impl Entity for User {
///     type Database = AppDb;
///     type Id = i64;
///     const TABLE: &'static str = "users";
/// }
/// ```
///
/// The token's `kind` claim is [`Entity::KIND`], which defaults to the table
/// name; a guard for one entity type rejects tokens issued for another.
pub trait Entity: Send + Sync + Unpin + 'static {
    /// The rocket_db_pools database that contains the table, such as a
    /// `#[derive(Database)] struct AppDb(sqlx::SqlitePool)`.
    type Database: Database<Pool: EntityPool>;

    /// The type of the primary key: `i32`, `i64` or `String`.
    type Id: EntityId;

    /// The table, optionally qualified with a schema (`"auth.users"`). Each
    /// part must be a plain SQL identifier; launch aborts otherwise.
    const TABLE: &'static str;

    /// The primary-key column. `None`, the default, uses the configured
    /// `entity_key` (itself `"id"` by default).
    const KEY: Option<&'static str> = None;

    /// The entity kind written into tokens. Defaults to [`Entity::TABLE`].
    /// Changing it invalidates every token issued before the change.
    const KIND: &'static str = Self::TABLE;
}

/// A primary-key type that a token's `sub` claim can name.
///
/// `sub` is always a JSON string. Parsing is strict: only the exact text that
/// [`EntityId::to_subject`] produces is accepted, so `"01"`, `"+1"`, `" 1"`,
/// `"1.0"` and `"1abc"` never name the entity with id 1.
///
/// ```
/// use rocket_jwt_router::EntityId;
///
/// assert_eq!(i64::parse_subject("42"), Some(42));
/// assert_eq!(i64::parse_subject("042"), None);
/// assert_eq!(42_i64.to_subject(), "42");
/// assert_eq!(String::parse_subject("alice").as_deref(), Some("alice"));
/// ```
pub trait EntityId: Sized + Clone + Send + Sync + 'static {
    /// Whether the id is compared as text in SQL. Text ids are compared byte
    /// for byte, even where the column's collation ignores case (the default
    /// of MySQL and MariaDB) or trailing spaces (MariaDB's default). Defaults
    /// to `false`.
    const IS_TEXT: bool = false;

    /// Whether [`EntityId::parse_subject`] accepts only the exact text that
    /// [`EntityId::to_subject`] produces. When it is `false`, the default,
    /// the guards format each parsed id and reject a subject that differs,
    /// so that one id has one subject. The built-in ids set it to `true`,
    /// which saves that formatting on every request.
    const PARSES_ONLY_CANONICAL: bool = false;

    /// Parses the canonical text of an id, or returns `None`.
    fn parse_subject(subject: &str) -> Option<Self>;

    /// Formats the id as the canonical text stored in `sub`.
    fn to_subject(&self) -> String;
}

macro_rules! canonical_integer_id {
    ($($int:ty),*) => {$(
        impl EntityId for $int {
            const PARSES_ONLY_CANONICAL: bool = true;

            fn parse_subject(subject: &str) -> Option<Self> {
                // `parse` accepts "+1" and "01"; only the canonical form may
                // name an entity, so that one id has exactly one subject.
                is_canonical_integer(subject).then(|| subject.parse().ok()).flatten()
            }

            fn to_subject(&self) -> String {
                self.to_string()
            }
        }
    )*};
}

canonical_integer_id!(i32, i64);

/// Checks that `text` is an integer as `to_string` writes it: an optional
/// `-`, then `0` alone or digits without a leading zero, and never `-0`.
fn is_canonical_integer(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);

    match digits.as_bytes() {
        [b'0'] => digits.len() == text.len(),
        [b'1'..=b'9', rest @ ..] => rest.iter().all(u8::is_ascii_digit),
        _ => false,
    }
}

impl EntityId for String {
    const IS_TEXT: bool = true;
    const PARSES_ONLY_CANONICAL: bool = true;

    fn parse_subject(subject: &str) -> Option<Self> {
        (!subject.is_empty()).then(|| subject.to_owned())
    }

    fn to_subject(&self) -> String {
        self.clone()
    }
}

/// The SQL dialect of a backend, which decides identifier quoting and
/// parameter placeholders.
///
/// ```
/// use rocket_jwt_router::{Dialect, EntityPool};
///
/// fn dialect_of<P: EntityPool>() -> Dialect {
///     P::DIALECT
/// }
///
/// assert_eq!(dialect_of::<rocket_db_pools::sqlx::SqlitePool>(), Dialect::Sqlite);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite: `"name"` quoting, `?` placeholders.
    Sqlite,
    /// PostgreSQL: `"name"` quoting, `$1` placeholders.
    Postgres,
    /// MySQL and MariaDB: `` `name` `` quoting, `?` placeholders.
    MySql,
}

mod sealed {
    pub trait Sealed {}
}

/// A boxed future, as returned by [`EntityPool::fetch_entity`].
///
/// ```
/// use rocket_jwt_router::BoxFuture;
///
/// let future: BoxFuture<'static, u8> = Box::pin(async { 7 });
/// assert_eq!(rocket::tokio::runtime::Runtime::new().unwrap().block_on(future), 7);
/// ```
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The failure of an entity lookup.
#[doc(hidden)]
#[derive(Debug)]
pub enum FetchError {
    /// No connection could be acquired: the database is unreachable, refuses
    /// connections, or the pool timed out.
    Acquire(sqlx::Error),
    /// The statement failed on an acquired connection.
    Query(sqlx::Error),
}

/// The statement that loads one entity, and how often the id is bound to it.
#[doc(hidden)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadStatement {
    pub(crate) sql: String,
    pub(crate) id_binds: usize,
}

/// An sqlx pool that entities can be loaded from. Implemented for the pools of
/// the enabled backends (`sqlx::SqlitePool`, `sqlx::PgPool`,
/// `sqlx::MySqlPool`) and sealed.
///
/// ```
/// use rocket_jwt_router::{Dialect, EntityPool};
///
/// assert_eq!(<rocket_db_pools::sqlx::SqlitePool as EntityPool>::DIALECT, Dialect::Sqlite);
/// ```
pub trait EntityPool: sealed::Sealed + Send + Sync + 'static {
    /// The sqlx database driver of the pool.
    type Backend: sqlx::Database;

    /// The SQL dialect used to build the lookup statement.
    const DIALECT: Dialect;

    /// Acquires a connection, runs `statement` with `id` bound to each of its
    /// placeholders and decodes at most one row.
    #[doc(hidden)]
    fn fetch_entity<'a, T, I>(&'a self, statement: &'a LoadStatement, id: I) -> BoxFuture<'a, Result<Option<T>, FetchError>>
    where
        T: for<'r> sqlx::FromRow<'r, <Self::Backend as sqlx::Database>::Row> + Send + Unpin + 'a,
        I: for<'q> sqlx::Encode<'q, Self::Backend> + sqlx::Type<Self::Backend> + Clone + Send + Sync + 'a;
}

macro_rules! entity_pool {
    ($feature:literal, $backend:ty, $dialect:expr) => {
        #[cfg(feature = $feature)]
        impl sealed::Sealed for sqlx::Pool<$backend> {}

        #[cfg(feature = $feature)]
        impl EntityPool for sqlx::Pool<$backend> {
            type Backend = $backend;

            const DIALECT: Dialect = $dialect;

            fn fetch_entity<'a, T, I>(&'a self, statement: &'a LoadStatement, id: I) -> BoxFuture<'a, Result<Option<T>, FetchError>>
            where
                T: for<'r> sqlx::FromRow<'r, <Self::Backend as sqlx::Database>::Row> + Send + Unpin + 'a,
                I: for<'q> sqlx::Encode<'q, Self::Backend> + sqlx::Type<Self::Backend> + Clone + Send + Sync + 'a,
            {
                async fn fetch_row<T, I>(
                    connection: &mut <$backend as sqlx::Database>::Connection,
                    statement: &LoadStatement,
                    id: &I,
                ) -> Result<Option<T>, sqlx::Error>
                where
                    T: for<'r> sqlx::FromRow<'r, <$backend as sqlx::Database>::Row> + Send + Unpin,
                    I: for<'q> sqlx::Encode<'q, $backend> + sqlx::Type<$backend> + Clone + Send,
                {
                    let mut query = sqlx::query_as::<$backend, T>(&statement.sql);
                    for _ in 0..statement.id_binds {
                        query = query.bind(id.clone());
                    }

                    query.fetch_optional(connection).await
                }

                Box::pin(async move {
                    // sqlx checked an idle connection when it went back to the
                    // pool, so checking it again in `acquire` would only add a
                    // round trip. If the connection broke while idle, it is
                    // discarded and the read runs again on a checked one.
                    if let Some(mut connection) = self.try_acquire() {
                        let limit = self.options().get_acquire_timeout();
                        match fetch_idle(Self::DIALECT, limit, fetch_row::<T, I>(&mut connection, statement, &id)).await {
                            IdleFetch::Done(result) => return result.map_err(FetchError::Query),
                            IdleFetch::Lost(error) => {
                                log::debug!("jwt_router: an idle database connection is gone ({error}); retrying on a checked one");
                                drop(connection.detach());
                            }
                            IdleFetch::TimedOut => {
                                // No retry, because a firewall drops every idle
                                // connection at once and `acquire` would wait on the next.
                                log::warn!(
                                    "jwt_router: an entity lookup timed out after {limit:?} on an idle database connection, which was \
                                     discarded; check the database load and any firewall that drops idle connections"
                                );
                                drop(connection.detach());
                                return Err(FetchError::Acquire(sqlx::Error::PoolTimedOut));
                            }
                        }
                    }

                    let mut connection = self.acquire().await.map_err(FetchError::Acquire)?;
                    fetch_row::<T, I>(&mut connection, statement, &id).await.map_err(FetchError::Query)
                })
            }
        }
    };
}

/// The outcome of a read on a connection taken without sqlx's liveness check.
enum IdleFetch<T> {
    /// The read finished, successfully or with an error of the statement.
    Done(Result<T, sqlx::Error>),
    /// The connection is gone, and the read can be repeated on another one.
    Lost(sqlx::Error),
    /// On a network backend, the read did not finish within the pool's
    /// timeout. The connection may have gone silent, as when a firewall drops
    /// it, or the server may be overloaded.
    TimedOut,
}

/// Runs `fetch` on a connection taken without sqlx's liveness check. On
/// PostgreSQL and MySQL the read gets `limit`, because a peer that vanished
/// without closing the socket would otherwise hold the request until the
/// kernel gives up on the connection, many minutes later.
async fn fetch_idle<T>(dialect: Dialect, limit: Duration, fetch: impl Future<Output = Result<T, sqlx::Error>>) -> IdleFetch<T> {
    let result = if dialect == Dialect::Sqlite {
        fetch.await
    } else {
        match rocket::tokio::time::timeout(limit, fetch).await {
            Ok(result) => result,
            Err(_) => return IdleFetch::TimedOut,
        }
    };

    match result {
        Err(error) if is_connection_lost(&error, dialect) => IdleFetch::Lost(error),
        result => IdleFetch::Done(result),
    }
}

/// Checks whether `error` shows that the connection itself is gone, so that
/// the same read can succeed on another connection.
fn is_connection_lost(error: &sqlx::Error, dialect: Dialect) -> bool {
    let database_error = match error {
        sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::Protocol(_) | sqlx::Error::WorkerCrashed => return true,
        sqlx::Error::Database(database_error) => database_error,
        _ => return false,
    };

    // SQLite's codes are numbers, not SQLSTATEs. PostgreSQL ends sessions
    // with 57P01, 57P02, 57P04 and 57P05 (shutdown, crash, database dropped,
    // idle session timeout).
    // MySQL 8.0.24 and later send error 4031 before closing an idle session.
    let code = database_error.code();
    let code = code.as_deref().unwrap_or("");
    match dialect {
        Dialect::Sqlite => false,
        Dialect::Postgres => code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P04" | "57P05"),
        Dialect::MySql => code.starts_with("08") || is_mysql_idle_timeout(database_error.as_ref()),
    }
}

#[cfg(feature = "mysql")]
fn is_mysql_idle_timeout(error: &dyn sqlx::error::DatabaseError) -> bool {
    const ER_CLIENT_INTERACTION_TIMEOUT: u16 = 4031;

    error.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>().is_some_and(|error| error.number() == ER_CLIENT_INTERACTION_TIMEOUT)
}

#[cfg(not(feature = "mysql"))]
fn is_mysql_idle_timeout(_: &dyn sqlx::error::DatabaseError) -> bool {
    false
}

/// Checks whether `error` means that the database cannot serve requests right
/// now, rather than that the statement is wrong.
pub(crate) fn is_unavailable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,

        // SQLSTATE classes 08 (connection exception), 53 (insufficient
        // resources) and 57 (operator intervention, such as a server shutting
        // down) mean the server is unusable right now, not that the query is
        // wrong. MySQL reports "too many connections" as 08004.
        sqlx::Error::Database(database_error) => database_error
            .code()
            .is_some_and(|code| code.starts_with("08") || code.starts_with("53") || code.starts_with("57")),
        _ => false,
    }
}

entity_pool!("sqlite", sqlx::Sqlite, Dialect::Sqlite);
entity_pool!("postgres", sqlx::Postgres, Dialect::Postgres);
entity_pool!("mysql", sqlx::MySql, Dialect::MySql);

/// The maximum identifier length that PostgreSQL accepts (63 bytes); MySQL's is 64.
const MAX_IDENTIFIER_LENGTH: usize = 63;

/// Checks that `name` is a plain SQL identifier: ASCII letters, digits and
/// underscores, not starting with a digit, at most 63 bytes.
pub(crate) fn validate_identifier(name: &str) -> Result<(), String> {
    let valid_chars = name.bytes().all(|b| b == b'_' || b.is_ascii_alphanumeric());
    let valid_start = name.bytes().next().is_some_and(|b| b == b'_' || b.is_ascii_alphabetic());

    if !valid_chars || !valid_start || name.len() > MAX_IDENTIFIER_LENGTH {
        return Err(format!(
            "`{name}` is not a plain SQL identifier (ASCII letters, digits and `_`, not starting with a digit, at most {MAX_IDENTIFIER_LENGTH} bytes)"
        ));
    }

    Ok(())
}

/// Checks a table name, which may be qualified with one schema.
pub(crate) fn validate_table(name: &str) -> Result<(), String> {
    let parts: Vec<&str> = name.split('.').collect();
    if parts.len() > 2 {
        return Err(format!("`{name}` has more than one `.`; write `table` or `schema.table`"));
    }

    parts.into_iter().try_for_each(validate_identifier)
}

fn quote(dialect: Dialect, identifier: &str) -> String {
    let quote = if dialect == Dialect::MySql { '`' } else { '"' };

    identifier.split('.').map(|part| format!("{quote}{part}{quote}")).collect::<Vec<_>>().join(".")
}

/// Builds the statement that loads one entity by its key. Both names must have
/// passed [`validate_table`] and [`validate_identifier`].
///
/// Text ids are compared byte for byte. SQLite gets `COLLATE BINARY`, which
/// overrides a `NOCASE` column. MySQL and MariaDB compare with the column's
/// collation, which by default ignores case (and on MariaDB trailing spaces),
/// so a second comparison of both sides cast to binary keeps the index lookup
/// and rejects near matches. PostgreSQL compares text exactly under
/// deterministic collations.
pub(crate) fn select_statement(dialect: Dialect, table: &str, key: &str, text_id: bool) -> LoadStatement {
    let table = quote(dialect, table);
    let key = quote(dialect, key);

    let (condition, id_binds) = match (dialect, text_id) {
        (Dialect::Postgres, _) => (format!("{key} = $1"), 1),
        (Dialect::Sqlite, true) => (format!("{key} = ? COLLATE BINARY"), 1),
        (Dialect::MySql, true) => (format!("{key} = ? AND CAST({key} AS BINARY) = CAST(? AS BINARY)"), 2),
        (_, false) => (format!("{key} = ?"), 1),
    };

    LoadStatement { sql: format!("SELECT * FROM {table} WHERE {condition}"), id_binds }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_subjects_are_canonical() {
        assert_eq!(i64::parse_subject("1"), Some(1));
        assert_eq!(i64::parse_subject("-5"), Some(-5));
        for subject in ["01", "+1", " 1", "1 ", "1.0", "1abc", "", "-0", "1e3", "0x1", "99999999999999999999"] {
            assert_eq!(i64::parse_subject(subject), None, "subject {subject:?}");
            assert_eq!(i32::parse_subject(subject), None, "subject {subject:?}");
        }
        assert_eq!(i32::parse_subject("2147483648"), None);
        assert_eq!(i64::parse_subject("0"), Some(0));
        assert_eq!(i64::parse_subject("-10"), Some(-10));
        assert_eq!(i64::parse_subject("-"), None);
        assert_eq!(i64::parse_subject("--1"), None);
        assert_eq!(i64::parse_subject("-01"), None);
        assert_eq!(i64::parse_subject(&i64::MIN.to_string()), Some(i64::MIN));
        assert_eq!(i32::parse_subject(&i32::MAX.to_string()), Some(i32::MAX));
    }

    #[test]
    fn canonical_parse_round_trips() {
        for id in [0_i64, 1, -1, 42, -987_654_321, i64::MAX, i64::MIN] {
            assert_eq!(i64::parse_subject(&id.to_subject()), Some(id));
        }
        for id in [0_i32, 7, -7, i32::MAX, i32::MIN] {
            assert_eq!(i32::parse_subject(&id.to_subject()), Some(id));
        }
    }

    #[test]
    fn string_subjects() {
        assert_eq!(String::parse_subject(""), None);
        assert_eq!(String::parse_subject(" a").as_deref(), Some(" a"));
    }

    /// A database error with only an SQLSTATE, as a server would send it.
    #[derive(Debug)]
    struct StateError(&'static str);

    impl std::fmt::Display for StateError {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "SQLSTATE {}", self.0)
        }
    }

    impl std::error::Error for StateError {}

    impl sqlx::error::DatabaseError for StateError {
        fn message(&self) -> &str {
            "test error"
        }

        fn code(&self) -> Option<std::borrow::Cow<'_, str>> {
            Some(self.0.into())
        }

        fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
            self
        }

        fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
            self
        }

        fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
            self
        }

        fn kind(&self) -> sqlx::error::ErrorKind {
            sqlx::error::ErrorKind::Other
        }
    }

    fn state(code: &'static str) -> sqlx::Error {
        sqlx::Error::Database(Box::new(StateError(code)))
    }

    #[test]
    fn lost_connections_are_retried() {
        let io = || sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::UnexpectedEof));
        for dialect in [Dialect::Sqlite, Dialect::Postgres, Dialect::MySql] {
            assert!(is_connection_lost(&io(), dialect), "{dialect:?}");
            assert!(is_connection_lost(&sqlx::Error::Protocol("unexpected message".into()), dialect), "{dialect:?}");
            assert!(is_connection_lost(&sqlx::Error::WorkerCrashed, dialect), "{dialect:?}");
            assert!(!is_connection_lost(&sqlx::Error::RowNotFound, dialect), "{dialect:?}");
            assert!(!is_connection_lost(&sqlx::Error::PoolTimedOut, dialect), "{dialect:?}");
        }

        for code in ["08006", "57P01", "57P02", "57P04", "57P05"] {
            assert!(is_connection_lost(&state(code), Dialect::Postgres), "{code}");
        }
        assert!(is_connection_lost(&state("08S01"), Dialect::MySql));
    }

    #[test]
    fn statement_errors_are_not_retried() {
        // A cancelled statement, a full disk or a missing table come from a
        // connection that still works, so a second attempt would only wait again.
        for code in ["57014", "57P03", "53100", "42P01", "23505"] {
            assert!(!is_connection_lost(&state(code), Dialect::Postgres), "{code}");
        }
        assert!(!is_connection_lost(&state("HY000"), Dialect::MySql));

        // SQLite reports numeric result codes, which SQLSTATE prefixes must not match.
        for code in ["531", "5386", "08"] {
            assert!(!is_connection_lost(&state(code), Dialect::Sqlite), "{code}");
        }
    }

    #[test]
    fn identifiers() {
        assert!(validate_identifier("id").is_ok());
        assert!(validate_identifier("_user_id2").is_ok());
        for bad in ["", "1id", "user id", "id;", "id\"", "i`d", "na\u{ef}ve", &"a".repeat(64)] {
            assert!(validate_identifier(bad).is_err(), "identifier {bad:?}");
        }
        assert!(validate_table("auth.users").is_ok());
        assert!(validate_table("a.b.c").is_err());
        assert!(validate_table("auth.").is_err());
    }

    #[test]
    fn statements_per_dialect() {
        let sql = |dialect, table, key, text| select_statement(dialect, table, key, text).sql;

        assert_eq!(sql(Dialect::Sqlite, "users", "id", false), r#"SELECT * FROM "users" WHERE "id" = ?"#);
        assert_eq!(sql(Dialect::Postgres, "auth.users", "id", false), r#"SELECT * FROM "auth"."users" WHERE "id" = $1"#);
        assert_eq!(sql(Dialect::MySql, "users", "uid", false), "SELECT * FROM `users` WHERE `uid` = ?");
    }

    #[test]
    fn text_ids_compare_exactly() {
        let sqlite = select_statement(Dialect::Sqlite, "users", "id", true);
        assert_eq!(sqlite.sql, r#"SELECT * FROM "users" WHERE "id" = ? COLLATE BINARY"#);
        assert_eq!(sqlite.id_binds, 1);

        let mysql = select_statement(Dialect::MySql, "users", "id", true);
        assert_eq!(mysql.sql, "SELECT * FROM `users` WHERE `id` = ? AND CAST(`id` AS BINARY) = CAST(? AS BINARY)");
        assert_eq!(mysql.id_binds, 2);

        let postgres = select_statement(Dialect::Postgres, "users", "id", true);
        assert_eq!(postgres.id_binds, 1);
    }
}
