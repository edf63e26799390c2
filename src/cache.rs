//! [`EntityCache`], the opt-in cache of loaded entities.
//!
//! With the cache on, an [`AuthedEntity`](crate::AuthedEntity) guard serves a
//! row loaded up to `entity_cache_ttl` ago instead of querying the database on
//! every request. The token is still verified on every request, so only the
//! row can be stale. An entry is never served after its time-to-live, the
//! number of entries is bounded, and [`EntityCache::invalidate`] drops an
//! entry at once.

use std::any::{Any, TypeId};
use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::entity::{Entity, EntityId};

/// How many independently locked parts the cache has, so that concurrent
/// requests for different entities rarely wait on the same lock.
const SHARDS: usize = 16;

/// The settings of an enabled cache, from `entity_cache_ttl` and
/// `entity_cache_max_entries`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CacheSettings {
    pub(crate) ttl: Duration,
    pub(crate) max_entries: usize,
}

/// The shared cache of entities loaded by the guards of one Rocket instance.
///
/// [`JwtRouter::fairing()`](crate::JwtRouter::fairing) puts one into managed
/// state whether or not the cache is on, so that code which invalidates
/// entries works unchanged with either setting. It is off unless
/// `entity_cache_ttl` is set:
///
/// ```toml
/// [default.jwt_router]
/// entity_cache_ttl = "30s"         # at most 1 hour
/// entity_cache_max_entries = 10000 # the default, at most 100000
/// ```
///
/// Entries are keyed by entity type and the token's `sub`. The guards accept
/// only tokens whose `sub` is exactly [`EntityId::to_subject`] of the id it
/// names, so `invalidate` always finds the entry that requests use.
///
/// # What a changed or deleted entity can do while cached
///
/// For up to `entity_cache_ttl` after its row was read, and unless the
/// application calls [`EntityCache::invalidate`]:
///
/// - a **deleted** entity whose token has not expired still passes
///   `AuthedEntity` and `OptionalEntity` guards. It can also call a route
///   that re-issues its token with
///   [`TokenIssuer::update`](crate::TokenIssuer::update). Those guards reject
///   the new token once the entry expires, but the gate and the `Claims`
///   guard, which check only the token, accept it until its own `exp`;
/// - a **changed** entity (a new role, a disabled flag, a new name) is seen by
///   handlers as it was when the row was read.
///
/// Invalidate the entry after the transaction that changes or deletes the row
/// has committed. An invalidation also stops a load that was already running
/// from storing its possibly older row.
///
/// ```
/// use rocket::{delete, State};
/// # use rocket_db_pools::{sqlx, Database};
/// # #[derive(Database)] #[database("app")] struct AppDb(sqlx::SqlitePool);
/// # #[derive(sqlx::FromRow)] struct User { id: i64 }
/// # impl rocket_jwt_router::Entity for User { type Database = AppDb; type Id = i64; const TABLE: &'static str = "users"; }
/// use rocket_jwt_router::{AuthedEntity, EntityCache};
///
/// #[delete("/user")]
/// async fn delete_account(user: AuthedEntity<User>, cache: &State<EntityCache>) {
///     // ... delete the row and commit ...
///     cache.invalidate::<User>(user.id());
/// }
/// ```
#[derive(Clone, Default)]
pub struct EntityCache {
    inner: Option<Arc<CacheInner>>,
}

struct CacheInner {
    ttl: Duration,
    shard_capacity: usize,
    hasher: RandomState,
    shards: Box<[Mutex<Shard>]>,
}

#[derive(Default)]
struct Shard {
    /// Entries by entity type, then by the token subject that names them.
    entries: HashMap<TypeId, HashMap<Box<str>, CachedEntity>>,
    len: usize,
    /// Bumped by every invalidation, so that a load that started before one
    /// does not store what it read.
    generation: u64,
}

struct CachedEntity {
    value: Arc<dyn Any + Send + Sync>,
    expires_at: Instant,
}

/// The result of looking an entity up.
pub(crate) enum Lookup<T> {
    /// A fresh entry.
    Hit(Arc<T>),
    /// No fresh entry. Load the row, then hand it to [`EntityCache::store`]
    /// with this ticket, which is `None` when the cache is off.
    Miss(Option<MissTicket>),
}

/// The record of a miss that [`EntityCache::store`] needs: the shard, the
/// time the load started, and the shard's generation at that time.
pub(crate) struct MissTicket {
    shard: usize,
    generation: u64,
    started: Instant,
}

impl EntityCache {
    pub(crate) fn new(settings: Option<CacheSettings>) -> Self {
        let inner = settings.map(|settings| {
            let shards = SHARDS.min(settings.max_entries).max(1);
            Arc::new(CacheInner {
                ttl: settings.ttl,
                // Rounded down, so that the shards together never exceed
                // `max_entries`.
                shard_capacity: settings.max_entries / shards,
                hasher: RandomState::new(),
                shards: (0..shards).map(|_| Mutex::default()).collect(),
            })
        });

        EntityCache { inner }
    }

    /// Returns whether `entity_cache_ttl` turned the cache on.
    ///
    /// ```
    /// use rocket_jwt_router::EntityCache;
    ///
    /// fn describe(cache: &EntityCache) -> &'static str {
    ///     if cache.is_enabled() { "rows may be up to one TTL old" } else { "rows are always fresh" }
    /// }
    /// ```
    pub fn is_enabled(&self) -> bool {
        self.inner.is_some()
    }

    /// Returns the time-to-live of an entry, or `None` when the cache is off.
    ///
    /// ```
    /// use rocket_jwt_router::EntityCache;
    ///
    /// fn max_staleness_secs(cache: &EntityCache) -> u64 {
    ///     cache.ttl().map_or(0, |ttl| ttl.as_secs())
    /// }
    /// ```
    pub fn ttl(&self) -> Option<Duration> {
        self.inner.as_ref().map(|inner| inner.ttl)
    }

    /// Drops the cached entity of type `T` with this id, so that the next
    /// request loads it from the database. Does nothing when the cache is off
    /// or contains no such entity.
    ///
    /// See [`EntityCache`] for an example.
    pub fn invalidate<T: Entity>(&self, id: &T::Id) {
        let Some(inner) = &self.inner else {
            return;
        };

        let subject = id.to_subject();
        let mut shard = inner.lock(inner.shard_of(TypeId::of::<T>(), &subject));
        shard.generation += 1;

        let removed = shard.entries.get_mut(&TypeId::of::<T>()).and_then(|entries| entries.remove(subject.as_str()));
        if removed.is_some() {
            shard.len -= 1;
        }
    }

    /// Drops every cached entity of type `T`, for example after a bulk update
    /// of its table.
    ///
    /// ```
    /// # use rocket_db_pools::{sqlx, Database};
    /// # #[derive(Database)] #[database("app")] struct AppDb(sqlx::SqlitePool);
    /// # #[derive(sqlx::FromRow)] struct User { id: i64 }
    /// # impl rocket_jwt_router::Entity for User { type Database = AppDb; type Id = i64; const TABLE: &'static str = "users"; }
    /// use rocket_jwt_router::EntityCache;
    ///
    /// fn after_role_migration(cache: &EntityCache) {
    ///     cache.invalidate_all::<User>();
    /// }
    /// ```
    pub fn invalidate_all<T: Entity>(&self) {
        self.drop_where(|type_id| type_id == TypeId::of::<T>());
    }

    /// Drops every cached entity of every type.
    ///
    /// ```
    /// use rocket_jwt_router::EntityCache;
    ///
    /// fn after_restore_from_backup(cache: &EntityCache) {
    ///     cache.clear();
    /// }
    /// ```
    pub fn clear(&self) {
        self.drop_where(|_| true);
    }

    /// Returns how many entities the cache contains, expired ones included
    /// until they are evicted.
    ///
    /// ```
    /// use rocket_jwt_router::EntityCache;
    ///
    /// fn report(cache: &EntityCache) -> String {
    ///     format!("{} cached entities", cache.len())
    /// }
    /// ```
    pub fn len(&self) -> usize {
        let Some(inner) = &self.inner else {
            return 0;
        };

        (0..inner.shards.len()).map(|index| inner.lock(index).len).sum()
    }

    /// Returns whether the cache contains no entity.
    ///
    /// ```
    /// use rocket_jwt_router::EntityCache;
    ///
    /// assert!(EntityCache::default().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Looks up the entity of type `T` that `subject` names.
    pub(crate) fn lookup<T: Entity>(&self, subject: &str) -> Lookup<T> {
        self.lookup_at(subject, Instant::now())
    }

    fn lookup_at<T: Entity>(&self, subject: &str, now: Instant) -> Lookup<T> {
        let Some(inner) = &self.inner else {
            return Lookup::Miss(None);
        };

        let shard_index = inner.shard_of(TypeId::of::<T>(), subject);
        let mut shard = inner.lock(shard_index);

        match fresh_value::<T>(&mut shard, subject, now).and_then(|value| value.downcast::<T>().ok()) {
            Some(entity) => Lookup::Hit(entity),
            None => Lookup::Miss(Some(MissTicket { shard: shard_index, generation: shard.generation, started: now })),
        }
    }

    /// Stores an entity loaded after a miss, unless an invalidation happened
    /// since the miss. The entry expires one TTL after the load started, so
    /// it never outlives the TTL counted from the moment the row was read.
    pub(crate) fn store<T: Entity>(&self, ticket: MissTicket, subject: &str, entity: Arc<T>) {
        let Some(inner) = &self.inner else {
            return;
        };

        let mut shard = inner.lock(ticket.shard);
        if shard.generation != ticket.generation {
            return;
        }

        // NOTE: `Instant` does not advance while the host is suspended, so
        // after a suspend an entry can outlast the TTL in wall-clock time.
        let Some(expires_at) = ticket.started.checked_add(inner.ttl) else {
            return;
        };

        let shard = &mut *shard;
        let type_id = TypeId::of::<T>();
        let exists = shard.entries.get(&type_id).is_some_and(|entries| entries.contains_key(subject));
        if !exists && shard.len >= inner.shard_capacity {
            evict_one(shard, ticket.started);
        }

        let entry = CachedEntity { value: entity, expires_at };
        if shard.entries.entry(type_id).or_default().insert(subject.into(), entry).is_none() {
            shard.len += 1;
        }
    }

    fn drop_where(&self, matches: impl Fn(TypeId) -> bool) {
        let Some(inner) = &self.inner else {
            return;
        };

        for index in 0..inner.shards.len() {
            let mut shard = inner.lock(index);
            shard.generation += 1;
            shard.entries.retain(|&type_id, _| !matches(type_id));
            shard.len = shard.entries.values().map(HashMap::len).sum();
        }
    }
}

impl std::fmt::Debug for EntityCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EntityCache").field("ttl", &self.ttl()).finish_non_exhaustive()
    }
}

impl CacheInner {
    fn shard_of(&self, type_id: TypeId, subject: &str) -> usize {
        // Keyed SipHash, so that subjects chosen by an attacker cannot pile
        // into one shard.
        let hash = self.hasher.hash_one((type_id, subject));
        (hash % self.shards.len() as u64) as usize
    }

    fn lock(&self, index: usize) -> MutexGuard<'_, Shard> {
        // A panic while holding the lock cannot leave a shard inconsistent in
        // a way that serves a wrong entity, because entries are inserted whole.
        self.shards[index].lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Returns the value cached for `subject` if it is fresh at `now`. An
/// expired entry is dropped, so that a row is not kept in memory after it
/// can no longer be served.
fn fresh_value<T: Entity>(shard: &mut Shard, subject: &str, now: Instant) -> Option<Arc<dyn Any + Send + Sync>> {
    let entries = shard.entries.get_mut(&TypeId::of::<T>())?;
    let entry = entries.get(subject)?;
    if now < entry.expires_at {
        return Some(entry.value.clone());
    }

    entries.remove(subject);
    shard.len -= 1;
    None
}

/// Makes room for one entry: drops every entry expired by `now`, or, if none
/// has expired, the one that expires first.
fn evict_one(shard: &mut Shard, now: Instant) {
    let before = shard.len;
    for entries in shard.entries.values_mut() {
        entries.retain(|_, entry| now < entry.expires_at);
    }

    shard.len = shard.entries.values().map(HashMap::len).sum();
    if shard.len < before {
        return;
    }

    let oldest = shard
        .entries
        .iter()
        .flat_map(|(&type_id, entries)| entries.iter().map(move |(subject, entry)| (type_id, subject, entry.expires_at)))
        .min_by_key(|&(_, _, expires_at)| expires_at)
        .map(|(type_id, subject, _)| (type_id, subject.clone()));

    let removed = oldest.and_then(|(type_id, subject)| shard.entries.get_mut(&type_id)?.remove(&subject));
    if removed.is_some() {
        shard.len -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct User(u32);
    struct Admin;

    impl Entity for User {
        type Database = TestDb;
        type Id = i64;
        const TABLE: &'static str = "users";
    }

    impl Entity for Admin {
        type Database = TestDb;
        type Id = i64;
        const TABLE: &'static str = "admins";
    }

    #[derive(rocket_db_pools::Database)]
    #[database("test")]
    struct TestDb(rocket_db_pools::sqlx::SqlitePool);

    const TTL: Duration = Duration::from_secs(30);

    fn cache(max_entries: usize) -> EntityCache {
        EntityCache::new(Some(CacheSettings { ttl: TTL, max_entries }))
    }

    fn load<T: Entity>(cache: &EntityCache, subject: &str, value: T, at: Instant) {
        match cache.lookup_at::<T>(subject, at) {
            Lookup::Miss(Some(ticket)) => cache.store(ticket, subject, Arc::new(value)),
            Lookup::Miss(None) => panic!("the cache is off"),
            Lookup::Hit(_) => panic!("expected a miss for {subject}"),
        }
    }

    fn hit(cache: &EntityCache, subject: &str, at: Instant) -> Option<u32> {
        match cache.lookup_at::<User>(subject, at) {
            Lookup::Hit(user) => Some(user.0),
            _ => None,
        }
    }

    #[test]
    fn off_by_default() {
        let cache = EntityCache::default();
        assert!(matches!(cache.lookup::<User>("1"), Lookup::Miss(None)));
        cache.invalidate::<User>(&1);
        cache.clear();
        assert!(cache.is_empty());
        assert_eq!(cache.ttl(), None);
    }

    #[test]
    fn serves_until_the_ttl_ends() {
        let cache = cache(100);
        let start = Instant::now();
        load(&cache, "1", User(7), start);

        assert_eq!(hit(&cache, "1", start), Some(7));
        assert_eq!(hit(&cache, "1", start + TTL - Duration::from_millis(1)), Some(7));
        assert_eq!(hit(&cache, "1", start + TTL), None);
        assert_eq!(hit(&cache, "2", start), None);
    }

    #[test]
    fn expired_entry_is_removed_on_lookup() {
        let cache = cache(100);
        let start = Instant::now();
        load(&cache, "1", User(7), start);

        assert_eq!(hit(&cache, "1", start + TTL), None);
        assert!(cache.is_empty());
    }

    #[test]
    fn types_do_not_share_entries() {
        let cache = cache(100);
        let now = Instant::now();
        load(&cache, "1", Admin, now);

        assert_eq!(hit(&cache, "1", now), None);
        assert!(matches!(cache.lookup_at::<Admin>("1", now), Lookup::Hit(_)));
    }

    #[test]
    fn invalidate_drops_one_entry() {
        let cache = cache(100);
        let now = Instant::now();
        load(&cache, "1", User(1), now);
        load(&cache, "2", User(2), now);

        cache.invalidate::<User>(&1);
        assert_eq!(hit(&cache, "1", now), None);
        assert_eq!(hit(&cache, "2", now), Some(2));
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn invalidate_all_keeps_other_types() {
        let cache = cache(100);
        let now = Instant::now();
        load(&cache, "1", User(1), now);
        load(&cache, "1", Admin, now);

        cache.invalidate_all::<User>();
        assert_eq!(hit(&cache, "1", now), None);
        assert!(matches!(cache.lookup_at::<Admin>("1", now), Lookup::Hit(_)));

        cache.clear();
        assert!(cache.is_empty());
    }

    #[test]
    fn invalidation_discards_racing_load() {
        let cache = cache(100);
        let now = Instant::now();
        let Lookup::<User>::Miss(Some(ticket)) = cache.lookup_at::<User>("1", now) else {
            panic!("expected a miss");
        };

        cache.invalidate::<User>(&1);
        cache.store(ticket, "1", Arc::new(User(1)));
        assert_eq!(hit(&cache, "1", now), None);
    }

    #[test]
    fn capacity_is_bounded() {
        let cache = cache(20);
        let now = Instant::now();
        for id in 0..500 {
            let at = now + Duration::from_millis(id);
            load(&cache, &id.to_string(), User(id as u32), at);
            assert!(cache.len() <= 20, "{} entries after {id} loads", cache.len());
        }

        // The newest entry survives eviction.
        assert_eq!(hit(&cache, "499", now + Duration::from_secs(1)), Some(499));
    }

    #[test]
    fn expired_entries_are_evicted_first() {
        let now = Instant::now();
        let entry = |seconds: u64| CachedEntity { value: Arc::new(User(0)), expires_at: now + Duration::from_secs(seconds) };
        let mut shard = Shard::default();
        let users = shard.entries.entry(TypeId::of::<User>()).or_default();
        users.insert("late".into(), entry(20));
        users.insert("expired".into(), entry(1));
        users.insert("early".into(), entry(10));
        shard.len = 3;

        evict_one(&mut shard, now + Duration::from_secs(5));
        let mut left: Vec<_> = shard.entries[&TypeId::of::<User>()].keys().map(|subject| subject.to_string()).collect();
        left.sort();
        assert_eq!(left, ["early", "late"]);

        evict_one(&mut shard, now + Duration::from_secs(5));
        assert_eq!(shard.len, 1);
        assert!(shard.entries[&TypeId::of::<User>()].contains_key("late"));
    }
}
