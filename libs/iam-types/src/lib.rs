//! The vocabulary of Gatehouse IAM: account ids, unique ids, entity names, paths, ARNs, tags and
//! the closed set of AWS error codes the API returns.
//!
//! Every type here is built only through `parse` (or a builder that cannot produce an invalid
//! value), so a value in hand is valid. The crate is pure and depends on nothing internal.

mod account;
mod arn;
mod error;
mod id;
mod name;
mod tag;

pub use account::AccountId;
pub use arn::{IamArn, ResourceKind};
pub use error::{ErrorCode, TypesError};
pub use id::{IdKind, UniqueId};
pub use name::{EntityName, IamPath, NameKind};
pub use tag::{validate_tag_set, Tag, MAX_TAGS};
