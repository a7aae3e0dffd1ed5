//! An organization's levels of policies (root, each OU, the account), each distinct policy held
//! once: a policy attached at several levels of one path is evaluated once per decision.

use std::sync::Arc;

use crate::compile::PolicySet;

/// Levels of policies, such as the SCPs of one account's path. Each level must allow (any of its
/// policies allowing), and any applicable `Deny` wins.
///
/// The policies are held once each, in the order they first appear (root first), and are told
/// apart by their `Arc`: two levels holding the same `Arc` share the policy and the evaluator
/// reads it once. Equal documents behind different `Arc`s are simply two policies.
#[derive(Debug, Clone, Default)]
pub struct OrgLevels {
    /// Every distinct policy set.
    policies: Vec<Arc<PolicySet>>,
    /// Every level's entries (indices into `policies`), level after level.
    members: Vec<u32>,
    /// Where each level's entries end in `members`.
    ends: Vec<u32>,
}

static NO_LEVELS: OrgLevels = OrgLevels {
    policies: Vec::new(),
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
        let mut built = OrgLevels::default();
        for level in levels {
            for policy in level {
                let found = built.policies.iter().position(|known| Arc::ptr_eq(known, &policy));
                let at = found.unwrap_or_else(|| {
                    built.policies.push(policy);
                    built.policies.len() - 1
                });
                built.members.push(index(at));
            }
            built.ends.push(index(built.members.len()));
        }
        built.policies.shrink_to_fit();
        built.members.shrink_to_fit();
        built.ends.shrink_to_fit();
        built
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
        &self.policies
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
            .map(|level| level.iter().filter_map(|at| self.policies.get(*at as usize)))
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
