//! An organization's levels of policies (root, each OU, the account), each distinct policy held
//! once: a policy attached at several levels of one path is evaluated once per decision.

use std::sync::{Arc, Mutex, Weak};

use rustc_hash::FxHashMap;
use smallvec::SmallVec;

use crate::compile::{CompiledStatement, MergedIndex, PolicySet};

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
}

/// The distinct policies of a path, with one index over their statements.
#[derive(Debug)]
struct PathPolicies {
    policies: Vec<Arc<PolicySet>>,
    index: MergedIndex,
}

impl PathPolicies {
    fn new(policies: Vec<Arc<PolicySet>>) -> Self {
        PathPolicies {
            index: MergedIndex::merge(&policies),
            policies,
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
        OrgLevels { path, members, ends }
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
        let lists = path.index.candidates(action);
        let mut visit_entry = |(policy, statement): (u32, u32)| {
            let Some(set) = path.policies.get(policy as usize) else {
                return;
            };
            if let Some(statement) = set.statement(statement).filter(|s| s.matches_action(action)) {
                visit(policy, set, statement);
            }
        };
        // As in `PolicySet::for_each_action_match`: in order when each non-empty list starts
        // after the previous one ended, else merged.
        let mut last_seen: Option<(u32, u32)> = None;
        let mut in_order = true;
        for list in lists {
            if let (Some(first), Some(last)) = (list.first(), last_seen) {
                in_order &= *first > last;
            }
            last_seen = list.last().copied().or(last_seen);
        }
        if in_order {
            for entry in lists.into_iter().flatten() {
                visit_entry(*entry);
            }
            return;
        }
        let mut entries: SmallVec<[(u32, u32); 32]> = lists.into_iter().flatten().copied().collect();
        entries.sort_unstable();
        entries.dedup();
        for entry in entries {
            visit_entry(entry);
        }
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
