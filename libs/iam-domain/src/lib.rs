//! The IAM account aggregate: commands, domain events, `decide` and `evolve`.
//!
//! One aggregate per tenant: [`AccountState`] holds everything IAM in one account, and its stream
//! version is the account's event sequence. The crate is pure: no I/O, no async, no clock, no
//! randomness. Time, new ids and the caller arrive in a [`DecideContext`].
//!
//! ```text
//! decide(&state, &command, &ctx) -> Result<Vec<DomainEvent>, DomainError>
//! evolve(&mut state, &event)          // infallible: events are facts
//! ```

mod authorization;
mod catalog;
mod command;
pub mod credentials;
mod decide;
mod error;
mod event;
mod evolve;
pub mod oidc;
pub mod organization;
mod reads;
pub mod session;
mod state;
mod upcast;

#[cfg(test)]
mod tests;

pub use authorization::{
    access_key_user, is_account_root, name_claims, requirements, unique_names, NameClaim, Requirement,
};
pub use catalog::{aws_managed_policies, aws_managed_policy};
pub use command::{Command, TagInput};
pub use decide::{decide, quota, DecideContext};
pub use error::DomainError;
pub use event::*;
pub use evolve::evolve;
pub use reads::{authorization_details, AuthorizationDetail, EntityType, Read};
pub use state::{
    AccessKey, AccessKeyLastUsed, AccessKeyOwner, AccessKeyStatus, AccountInfo, AccountState, EffectivePolicies,
    EffectivePolicy, Group, InlinePolicies, InstanceProfile, ManagedPolicy, Permissions, PolicyVersion, PrincipalKind,
    Role, User,
};
pub use upcast::{decode_event, DecodeError};

/// Replays events onto an empty account.
pub fn replay<'e>(events: impl IntoIterator<Item = &'e DomainEvent>) -> AccountState {
    let mut state = AccountState::new();
    for event in events {
        evolve(&mut state, event);
    }
    state
}
