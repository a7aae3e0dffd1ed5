//! An organization's levels of policies (root, each OU, the account), each distinct policy held
//! once: a policy attached at several levels of one path is evaluated once per decision.

use std::cell::RefCell;
use std::hash::Hasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use compact_str::CompactString;
use hashbrown::HashTable;
use rustc_hash::{FxHashMap, FxHasher};
use smallvec::SmallVec;

use crate::compile::{lists_in_order, CompiledStatement, MergedIndex, PolicySet};
use crate::context::same_bytes;
use crate::evaluate::{matched, MatchedStatement, PolicySlot};
use crate::model::Effect;

/// Levels of policies, such as the SCPs of one account's path. Each level must allow (any of its
/// policies allowing), and any applicable `Deny` wins.
///
/// The policies are held once each, in the order they first appear (root first), and are told
/// apart by their `Arc`: two levels holding the same `Arc` share the policy and the evaluator
/// reads it once. Equal documents behind different `Arc`s are simply two policies.
///
/// The distinct policies come with one action index over all of them, so a decision looks its
/// action up once per kind of level, not once per policy. Built through a [`PathCache`], the
/// policies and their index are shared by every account whose path holds the same policies.
#[derive(Debug, Clone, Default)]
pub struct OrgLevels {
    /// Every distinct policy set and their merged index; `None` without levels or policies.
    path: Option<Arc<PathPolicies>>,
    /// Every level's entries (indices into the path's policies), level after level.
    members: Vec<u32>,
    /// Where each level's entries end in `members`.
    ends: Vec<u32>,
    /// Every level holds a policy that allows everything unconditionally, and the path's policies
    /// allow nothing else: the levels allow every request their `Deny` statements let through.
    allows_everything: bool,
}

/// The distinct policies of a path, with one index over their statements.
#[derive(Debug)]
struct PathPolicies {
    /// Its number, for the action memo.
    id: u64,
    policies: Vec<Arc<PolicySet>>,
    index: MergedIndex,
    /// When every `Allow` statement of the path allows everything unconditionally (the usual
    /// deny-list organization: `FullAWSAccess` everywhere, `Deny` statements beside it), those
    /// statements; the index then holds only `Deny` statements, since what the allows say does
    /// not depend on the request.
    allows_everything: Option<AllowsEverything>,
}

/// A path's statements that allow everything unconditionally.
#[derive(Debug)]
struct AllowsEverything {
    /// (policy, statement), in order.
    statements: Vec<(u32, u32)>,
    /// As a decision names them, as SCPs and as RCPs: made once, shared by every decision.
    named: [OnceLock<Arc<[MatchedStatement]>>; 2],
}

/// The statements of a path whose `Action`/`NotAction` covers an action: (policy, statement), in
/// order. Few statements match any one action.
type ActionMatches = SmallVec<[(u32, u32); 4]>;

/// Every path's distinct number, never reused: the action memo's entries name their path by it.
static NEXT_PATH: AtomicU64 = AtomicU64::new(0);

/// At most this many (path, action) answers are remembered per thread; the memo is emptied when
/// full, so a caller naming ever new actions costs memory no more than this.
const MEMO_ENTRIES: usize = 4096;

/// Longer actions are not remembered (no AWS action is this long).
const MEMO_ACTION_LENGTH: usize = 128;

/// A remembered answer: the path's number, the (lowercased) action, its matching statements.
struct Remembered {
    path: u64,
    /// Inline up to 24 bytes (most actions): the entry is one cache line or two, not a pointer
    /// to chase.
    action: CompactString,
    matches: ActionMatches,
}

thread_local! {
    /// Per thread, which statements of a path an action matches. A path never changes (an
    /// organization change builds new ones), so an answer stays true; one per thread, so the
    /// decision path takes no lock. Most decisions of an organization name a few actions on a
    /// few paths, which this turns from index lookups and `NotAction` checks (AWS's region SCP
    /// lists 45 services) into one lookup.
    static ACTION_MEMO: RefCell<HashTable<Remembered>> = const { RefCell::new(HashTable::new()) };
}

fn memo_hash(path: u64, action: &str) -> u64 {
    let mut hasher = FxHasher::default();
    hasher.write_u64(path);
    hasher.write(action.as_bytes());
    hasher.finish()
}

impl PathPolicies {
    /// Runs `visit` on the statements of the path whose `Action`/`NotAction` covers the
    /// (lowercased) action, remembered per thread.
    fn with_action_matches(&self, action: &str, visit: impl FnOnce(&[(u32, u32)])) {
        if action.len() > MEMO_ACTION_LENGTH {
            return visit(&self.find_action_matches(action));
        }
        let hash = memo_hash(self.id, action);
        let same = |entry: &Remembered| entry.path == self.id && same_bytes(entry.action.as_bytes(), action.as_bytes());
        let mut visit = Some(visit);
        let mut visit_once = |matches: &[(u32, u32)]| {
            if let Some(visit) = visit.take() {
                visit(matches);
            }
        };
        // (Not there while the thread is being torn down: then found from the index.)
        let _ = ACTION_MEMO.try_with(|memo| {
            // Visited under a shared borrow: a visit that came back here would borrow it again,
            // which sharing allows (it would only not remember what it found).
            if let Ok(known) = memo.try_borrow() {
                if let Some(entry) = known.find(hash, same) {
                    return visit_once(&entry.matches);
                }
            }
            let matches = self.find_action_matches(action);
            if let Ok(mut memo) = memo.try_borrow_mut() {
                if memo.len() >= MEMO_ENTRIES {
                    memo.clear();
                }
                memo.insert_unique(
                    hash,
                    Remembered {
                        path: self.id,
                        action: CompactString::new(action),
                        matches: matches.clone(),
                    },
                    |entry| memo_hash(entry.path, &entry.action),
                );
            }
            visit_once(&matches)
        });
        if let Some(visit) = visit {
            visit(&self.find_action_matches(action));
        }
    }

    /// What [`PathPolicies::with_action_matches`] visits, found from the index.
    fn find_action_matches(&self, action: &str) -> ActionMatches {
        let lists = self.index.candidates(action);
        let covers = |(policy, statement): &(u32, u32)| {
            self.policies
                .get(*policy as usize)
                .and_then(|set| set.statement(*statement))
                .is_some_and(|statement| statement.matches_action(action))
        };
        let mut matches: ActionMatches = lists.into_iter().flatten().copied().filter(covers).collect();
        if !lists_in_order(&lists) {
            matches.sort_unstable();
            matches.dedup();
        }
        matches
    }

    fn new(policies: Vec<Arc<PolicySet>>) -> Self {
        let statements = || {
            policies
                .iter()
                .enumerate()
                .flat_map(|(at, set)| set.all_statements().iter().map(move |statement| (index(at), statement)))
        };
        let only_allows_everything = statements()
            .filter(|(_, statement)| statement.effect == Effect::Allow)
            .all(|(_, statement)| statement.allows_everything());
        let allows_everything = only_allows_everything.then(|| AllowsEverything {
            statements: statements()
                .filter(|(_, statement)| statement.effect == Effect::Allow)
                .map(|(at, statement)| (at, statement.index))
                .collect(),
            named: Default::default(),
        });
        let index = match allows_everything {
            Some(_) => MergedIndex::merge(&policies, |statement| statement.effect == Effect::Deny),
            None => MergedIndex::merge(&policies, |_| true),
        };
        PathPolicies {
            id: NEXT_PATH.fetch_add(1, Ordering::Relaxed),
            index,
            policies,
            allows_everything,
        }
    }
}

/// Shares the distinct policies of paths (and their merged index) between the [`OrgLevels`] that
/// hold the same policies: the accounts of one OU typically do. Entries are held weakly, so a
/// path's index lives as long as some [`OrgLevels`] holds it.
#[derive(Debug, Default)]
pub struct PathCache {
    /// The policies' addresses -> the shared path. An entry found is checked against the policies
    /// it holds (which keeps their addresses from being reused while it lives).
    paths: Mutex<FxHashMap<Vec<usize>, Weak<PathPolicies>>>,
}

impl PathCache {
    /// An empty cache.
    pub fn new() -> Self {
        PathCache::default()
    }

    fn path(&self, policies: Vec<Arc<PolicySet>>) -> Arc<PathPolicies> {
        let key: Vec<usize> = policies.iter().map(|p| Arc::as_ptr(p) as usize).collect();
        let same = |found: &Arc<PathPolicies>| {
            found.policies.len() == policies.len()
                && found.policies.iter().zip(&policies).all(|(a, b)| Arc::ptr_eq(a, b))
        };
        let Ok(mut paths) = self.paths.lock() else {
            return Arc::new(PathPolicies::new(policies));
        };
        if let Some(found) = paths.get(&key).and_then(Weak::upgrade).filter(same) {
            return found;
        }
        // Forget paths no account holds any more, now and then.
        if paths.len() >= 1024 && paths.len().is_power_of_two() {
            paths.retain(|_, weak| weak.strong_count() > 0);
        }
        let path = Arc::new(PathPolicies::new(policies));
        paths.insert(key, Arc::downgrade(&path));
        path
    }
}

static NO_LEVELS: OrgLevels = OrgLevels {
    path: None,
    members: Vec::new(),
    ends: Vec::new(),
    allows_everything: false,
};

/// An index into a `Vec` that fits in memory: more than `u32::MAX` entries of 4 bytes each would
/// not, so the conversion does not fail in practice.
fn index(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl OrgLevels {
    /// No levels: an absent kind of organization policy, which takes no part in a decision.
    pub fn none() -> &'static OrgLevels {
        &NO_LEVELS
    }

    /// Levels from the root down, each a list of compiled policies (typically one policy per set,
    /// shared through the `Arc` by every level it is attached to). A level without policies
    /// allows nothing.
    pub fn new<L, P>(levels: L) -> Self
    where
        L: IntoIterator<Item = P>,
        P: IntoIterator<Item = Arc<PolicySet>>,
    {
        Self::build(levels, None)
    }

    /// As [`OrgLevels::new`], sharing the distinct policies and their index through `cache`
    /// with every other levels of the same policies.
    pub fn shared<L, P>(levels: L, cache: &PathCache) -> Self
    where
        L: IntoIterator<Item = P>,
        P: IntoIterator<Item = Arc<PolicySet>>,
    {
        Self::build(levels, Some(cache))
    }

    fn build<L, P>(levels: L, cache: Option<&PathCache>) -> Self
    where
        L: IntoIterator<Item = P>,
        P: IntoIterator<Item = Arc<PolicySet>>,
    {
        let mut policies: Vec<Arc<PolicySet>> = Vec::new();
        let mut members = Vec::new();
        let mut ends = Vec::new();
        for level in levels {
            for policy in level {
                let found = policies.iter().position(|known| Arc::ptr_eq(known, &policy));
                let at = found.unwrap_or_else(|| {
                    policies.push(policy);
                    policies.len() - 1
                });
                members.push(index(at));
            }
            ends.push(index(members.len()));
        }
        members.shrink_to_fit();
        ends.shrink_to_fit();
        let path = match (policies.is_empty(), cache) {
            (true, _) => None,
            (false, Some(cache)) => Some(cache.path(policies)),
            (false, None) => Some(Arc::new(PathPolicies::new(policies))),
        };
        let mut levels = OrgLevels {
            path,
            members,
            ends,
            allows_everything: false,
        };
        levels.allows_everything = levels
            .path
            .as_ref()
            .and_then(|p| p.allows_everything.as_ref())
            .is_some_and(|allowing| {
                levels.level_indices().all(|level| {
                    level
                        .iter()
                        .any(|policy| allowing.statements.iter().any(|(p, _)| p == policy))
                })
            });
        levels
    }

    /// When every level allows every request unconditionally (see [`PathPolicies`]), the
    /// statements that allow it, named as `slot`; the action index then holds only `Deny`
    /// statements.
    pub(crate) fn unconditional_allows(&self, slot: PolicySlot) -> Option<Arc<[MatchedStatement]>> {
        if !self.allows_everything {
            return None;
        }
        let path = self.path.as_ref()?;
        let allowing = path.allows_everything.as_ref()?;
        let named = allowing.named.get(usize::from(slot == PolicySlot::ResourceControl))?;
        let named = named.get_or_init(|| {
            allowing
                .statements
                .iter()
                .filter_map(|(policy, statement)| {
                    let set = path.policies.get(*policy as usize)?;
                    Some(matched(set, slot, set.statement(*statement)?))
                })
                .collect()
        });
        Some(named.clone())
    }

    /// Visits the statements of every distinct policy whose `Action` matches the (lowercased)
    /// action, in policy order then statement order, each once, with the policy's index.
    pub(crate) fn for_each_action_match<'s>(
        &'s self,
        action: &str,
        mut visit: impl FnMut(u32, &'s PolicySet, &'s CompiledStatement),
    ) {
        let Some(path) = &self.path else {
            return;
        };
        path.with_action_matches(action, |matches| {
            for &(policy, statement) in matches {
                let Some(set) = path.policies.get(policy as usize) else {
                    continue;
                };
                if let Some(statement) = set.statement(statement) {
                    visit(policy, set, statement);
                }
            }
        });
    }

    /// Number of levels.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether there are no levels.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The distinct policy sets, each once, in the order they first appear.
    pub fn policies(&self) -> &[Arc<PolicySet>] {
        self.path.as_ref().map_or(&[], |path| path.policies.as_slice())
    }

    /// The levels from the root down, each as indices into [`OrgLevels::policies`].
    pub fn level_indices(&self) -> impl Iterator<Item = &[u32]> + '_ {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        starts
            .zip(self.ends.iter().copied())
            .map(|(start, end)| self.members.get(start as usize..end as usize).unwrap_or_default())
    }

    /// The levels from the root down, each as its policy sets.
    pub fn levels(&self) -> impl Iterator<Item = impl Iterator<Item = &Arc<PolicySet>> + '_> + '_ {
        self.level_indices()
            .map(|level| level.iter().filter_map(|at| self.policies().get(*at as usize)))
    }
}

/// One level per set, in order.
impl FromIterator<Arc<PolicySet>> for OrgLevels {
    fn from_iter<I: IntoIterator<Item = Arc<PolicySet>>>(sets: I) -> Self {
        OrgLevels::new(sets.into_iter().map(std::iter::once))
    }
}

/// One level per set, in order.
impl From<&[Arc<PolicySet>]> for OrgLevels {
    fn from(sets: &[Arc<PolicySet>]) -> Self {
        sets.iter().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::{PolicySource, PolicyType};
    use crate::parse::parse_policy;

    fn policy(id: &str, action: &str) -> Arc<PolicySet> {
        let document = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"{action}","Resource":"*"}}]}}"#
        );
        let parsed = parse_policy(&document).unwrap_or_else(|e| panic!("{e}"));
        let source = PolicySource::new(id, PolicyType::ServiceControlPolicy);
        Arc::new(PolicySet::compile([(source, &parsed)]).unwrap_or_else(|e| panic!("{e}")))
    }

    fn matches(levels: &OrgLevels, action: &str) -> Vec<(u32, u32)> {
        let mut seen = Vec::new();
        levels.for_each_action_match(action, |policy, _, statement| seen.push((policy, statement.index)));
        seen
    }

    #[test]
    fn paths_of_the_same_policies_share_one_index_and_others_do_not() {
        let cache = PathCache::new();
        let (full, storage, iam) = (
            policy("p-full", "*"),
            policy("p-s3", "s3:Get*"),
            policy("p-iam", "iam:GetUser"),
        );
        let path = |account_level: &Arc<PolicySet>| {
            OrgLevels::shared(
                [
                    vec![full.clone()],
                    vec![full.clone(), storage.clone()],
                    vec![account_level.clone()],
                ],
                &cache,
            )
        };
        let (first, second, other) = (path(&storage), path(&storage), path(&iam));
        let shared = |a: &OrgLevels, b: &OrgLevels| match (&a.path, &b.path) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            _ => false,
        };
        assert!(shared(&first, &second));
        assert!(!shared(&first, &other));
        // Each distinct policy once, in order of first appearance, whatever the index lists held.
        assert_eq!(matches(&first, "s3:getobject"), vec![(0, 0), (1, 0)]);
        // Answered again from the thread's memo: the same, and another path's answer apart.
        assert_eq!(matches(&first, "s3:getobject"), vec![(0, 0), (1, 0)]);
        assert_eq!(matches(&second, "iam:getuser"), vec![(0, 0)]);
        assert_eq!(matches(&other, "iam:getuser"), vec![(0, 0), (2, 0)]);
        assert_eq!(matches(&other, "s3:getobject"), vec![(0, 0), (1, 0)]);
        assert_eq!(matches(&first, "ec2:runinstances"), vec![(0, 0)]);
        assert!(matches(OrgLevels::none(), "s3:getobject").is_empty());
        // A level without policies still counts as a level.
        let empty_level = OrgLevels::new([Vec::<Arc<PolicySet>>::new()]);
        assert_eq!(empty_level.len(), 1);
        assert!(empty_level.policies().is_empty());
    }
}
