//! AWS Organizations: one management account governs member accounts arranged in a tree of
//! organizational units, with service control policies (what member principals may do) and
//! resource control policies (what may be done to member resources) attached along the tree.
//!
//! The organization is an aggregate of its own: its stream is keyed by its id (`o-...`) on the
//! same log as the accounts', with its own sequence, which is the consistency token an org change
//! returns. Like the account aggregate it is pure: [`decide_organization`] checks a command
//! against [`OrganizationState`] and answers with events, [`evolve_organization`] applies them.

mod decide;
mod events;
mod state;
#[cfg(test)]
mod tests;

pub use decide::{decide_organization, OrgCommand, OrgDecideContext};
pub use events::*;
pub use state::*;

/// AWS's Organizations quotas and limits that `decide` enforces.
pub mod org_quota {
    /// OUs below the root, at most (AWS: 5 levels).
    pub const MAX_OU_DEPTH: usize = 5;
    /// Policies of one type attached to one target.
    pub const POLICIES_PER_TARGET: usize = 5;
    /// Characters of an SCP or RCP document.
    pub const POLICY_DOCUMENT_CHARS: usize = 5_120;
    /// Characters of a tag policy document.
    pub const TAG_POLICY_DOCUMENT_CHARS: usize = 10_000;
    /// Policies of one type in an organization.
    pub const POLICIES_PER_TYPE: usize = 1_000;
    /// OUs in an organization.
    pub const ORGANIZATIONAL_UNITS: usize = 2_000;
    /// Accounts in an organization (Gatehouse's bound; AWS's default is 10 and can be raised).
    pub const ACCOUNTS: usize = 100_000;
    /// Open handshakes at once.
    pub const OPEN_HANDSHAKES: usize = 20;
    /// Longest OU, policy or account name.
    pub const NAME_CHARS: usize = 128;
    /// Longest account name (AWS: 50).
    pub const ACCOUNT_NAME_CHARS: usize = 50;
    /// Longest policy description.
    pub const DESCRIPTION_CHARS: usize = 512;
    /// Days an invitation stays open.
    pub const HANDSHAKE_DAYS: i64 = 15;
}

/// The organization id an account-id-like text would never be mistaken for: `o-` and 10
/// lowercase letters or digits, as AWS draws them.
pub fn is_organization_id(text: &str) -> bool {
    text.strip_prefix("o-").is_some_and(|rest| {
        (10..=32).contains(&rest.len()) && rest.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    })
}
