//! ARNs of IAM entities: builders and a parser for `arn:aws:iam::<account>:<kind><path><name>`.

use std::fmt;

use crate::{AccountId, EntityName, IamPath, NameKind, TypesError};

const PREFIX: &str = "arn:aws:iam::";

/// The kind of IAM entity an ARN names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub enum ResourceKind {
    /// `user/`.
    User,
    /// `group/`.
    Group,
    /// `role/`.
    Role,
    /// `policy/`.
    Policy,
    /// `instance-profile/`.
    InstanceProfile,
    /// `mfa/`: a virtual MFA device (its ARN is its serial number).
    MfaDevice,
}

impl ResourceKind {
    /// The ARN resource-type word.
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceKind::User => "user",
            ResourceKind::Group => "group",
            ResourceKind::Role => "role",
            ResourceKind::Policy => "policy",
            ResourceKind::InstanceProfile => "instance-profile",
            ResourceKind::MfaDevice => "mfa",
        }
    }

    fn name_kind(self) -> NameKind {
        match self {
            ResourceKind::User => NameKind::User,
            ResourceKind::Group => NameKind::Group,
            ResourceKind::Role => NameKind::Role,
            ResourceKind::Policy => NameKind::Policy,
            ResourceKind::InstanceProfile => NameKind::InstanceProfile,
            ResourceKind::MfaDevice => NameKind::MfaDevice,
        }
    }
}

/// The ARN of an IAM entity or of an account's root user.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum IamArn {
    /// `arn:aws:iam::<account>:root`.
    Root {
        /// The account.
        account: AccountId,
    },
    /// `arn:aws:iam::<account>:<kind><path><name>`; `account` is `None` only for AWS-managed
    /// policies (`arn:aws:iam::aws:policy/...`).
    Entity {
        /// The owning account; `None` means `aws`.
        account: Option<AccountId>,
        /// User, group, role, policy or instance profile.
        kind: ResourceKind,
        /// The entity's path.
        path: IamPath,
        /// The entity's name.
        name: EntityName,
    },
}

impl IamArn {
    /// The root user of an account.
    pub fn root(account: &AccountId) -> IamArn {
        IamArn::Root {
            account: account.clone(),
        }
    }

    /// An entity owned by an account.
    pub fn entity(account: &AccountId, kind: ResourceKind, path: &IamPath, name: &EntityName) -> IamArn {
        IamArn::Entity {
            account: Some(account.clone()),
            kind,
            path: path.clone(),
            name: name.clone(),
        }
    }

    /// A user.
    pub fn user(account: &AccountId, path: &IamPath, name: &EntityName) -> IamArn {
        IamArn::entity(account, ResourceKind::User, path, name)
    }

    /// A group.
    pub fn group(account: &AccountId, path: &IamPath, name: &EntityName) -> IamArn {
        IamArn::entity(account, ResourceKind::Group, path, name)
    }

    /// A role.
    pub fn role(account: &AccountId, path: &IamPath, name: &EntityName) -> IamArn {
        IamArn::entity(account, ResourceKind::Role, path, name)
    }

    /// A customer-managed policy.
    pub fn policy(account: &AccountId, path: &IamPath, name: &EntityName) -> IamArn {
        IamArn::entity(account, ResourceKind::Policy, path, name)
    }

    /// An instance profile.
    pub fn instance_profile(account: &AccountId, path: &IamPath, name: &EntityName) -> IamArn {
        IamArn::entity(account, ResourceKind::InstanceProfile, path, name)
    }

    /// A virtual MFA device (`arn:aws:iam::<account>:mfa<path><name>`, its serial number).
    pub fn mfa_device(account: &AccountId, path: &IamPath, name: &EntityName) -> IamArn {
        IamArn::entity(account, ResourceKind::MfaDevice, path, name)
    }

    /// An AWS-managed policy, `arn:aws:iam::aws:policy<path><name>`.
    pub fn aws_managed_policy(path: &IamPath, name: &EntityName) -> IamArn {
        IamArn::Entity {
            account: None,
            kind: ResourceKind::Policy,
            path: path.clone(),
            name: name.clone(),
        }
    }

    /// Parses an IAM ARN of a user, group, role, policy, instance profile or root.
    pub fn parse(text: &str) -> Result<IamArn, TypesError> {
        let err = || TypesError::Arn(text.to_owned());
        let rest = text.strip_prefix(PREFIX).ok_or_else(err)?;
        let (account_text, resource) = rest.split_once(':').ok_or_else(err)?;
        let account = if account_text == "aws" {
            None
        } else {
            Some(AccountId::parse(account_text).map_err(|_| err())?)
        };
        if resource == "root" {
            return account.map(|account| IamArn::Root { account }).ok_or_else(err);
        }
        let (kind_text, tail) = resource.split_once('/').ok_or_else(err)?;
        let kind = match kind_text {
            "user" => ResourceKind::User,
            "group" => ResourceKind::Group,
            "role" => ResourceKind::Role,
            "policy" => ResourceKind::Policy,
            "instance-profile" => ResourceKind::InstanceProfile,
            "mfa" => ResourceKind::MfaDevice,
            _ => return Err(err()),
        };
        if account.is_none() && kind != ResourceKind::Policy {
            return Err(err());
        }
        let (path_text, name_text) = match tail.rfind('/') {
            Some(i) => (format!("/{}", &tail[..=i]), &tail[i + 1..]),
            None => ("/".to_owned(), tail),
        };
        let path = IamPath::parse(&path_text).map_err(|_| err())?;
        let name = EntityName::parse(kind.name_kind(), name_text).map_err(|_| err())?;
        Ok(IamArn::Entity {
            account,
            kind,
            path,
            name,
        })
    }

    /// The owning account; `None` for AWS-managed policies.
    pub fn account(&self) -> Option<&AccountId> {
        match self {
            IamArn::Root { account } => Some(account),
            IamArn::Entity { account, .. } => account.as_ref(),
        }
    }

    /// The entity kind; `None` for root.
    pub fn kind(&self) -> Option<ResourceKind> {
        match self {
            IamArn::Root { .. } => None,
            IamArn::Entity { kind, .. } => Some(*kind),
        }
    }

    /// The entity name; `None` for root.
    pub fn name(&self) -> Option<&EntityName> {
        match self {
            IamArn::Root { .. } => None,
            IamArn::Entity { name, .. } => Some(name),
        }
    }

    /// The entity path; `None` for root.
    pub fn path(&self) -> Option<&IamPath> {
        match self {
            IamArn::Root { .. } => None,
            IamArn::Entity { path, .. } => Some(path),
        }
    }

    /// True for `arn:aws:iam::aws:policy/...`.
    pub fn is_aws_managed(&self) -> bool {
        matches!(self, IamArn::Entity { account: None, .. })
    }
}

impl fmt::Display for IamArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IamArn::Root { account } => write!(f, "{PREFIX}{account}:root"),
            IamArn::Entity {
                account,
                kind,
                path,
                name,
            } => {
                let account = account.as_ref().map_or("aws", AccountId::as_str);
                write!(f, "{PREFIX}{account}:{}{path}{name}", kind.as_str())
            }
        }
    }
}

impl TryFrom<String> for IamArn {
    type Error = TypesError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        IamArn::parse(&value)
    }
}

impl From<IamArn> for String {
    fn from(value: IamArn) -> Self {
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_and_parses_round_trip() {
        let account = AccountId::parse("111122223333").unwrap();
        let name = EntityName::parse(NameKind::User, "Bob").unwrap();
        let path = IamPath::parse("/division_abc/subdivision_xyz/").unwrap();
        let arn = IamArn::user(&account, &path, &name);
        assert_eq!(
            arn.to_string(),
            "arn:aws:iam::111122223333:user/division_abc/subdivision_xyz/Bob"
        );
        assert_eq!(IamArn::parse(&arn.to_string()).unwrap(), arn);
        for text in [
            "arn:aws:iam::111122223333:root",
            "arn:aws:iam::111122223333:group/Admins",
            "arn:aws:iam::111122223333:role/service/Deployer",
            "arn:aws:iam::111122223333:policy/ReadReports",
            "arn:aws:iam::aws:policy/AdministratorAccess",
            "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
        ] {
            let parsed = IamArn::parse(text).unwrap();
            assert_eq!(parsed.to_string(), text);
        }
        let aws = IamArn::parse("arn:aws:iam::aws:policy/service-role/X").unwrap();
        assert!(aws.is_aws_managed());
        assert_eq!(aws.path().unwrap().as_str(), "/service-role/");
    }

    #[test]
    fn rejects_bad_arns() {
        for bad in [
            "",
            "arn:aws:s3:::bucket",
            "arn:aws:iam::aws:user/alice",
            "arn:aws:iam::aws:root",
            "arn:aws:iam::12:user/alice",
            "arn:aws:iam::111122223333:widget/x",
            "arn:aws:iam::111122223333:user/",
            "arn:aws:iam::111122223333:user/bad name",
        ] {
            assert!(IamArn::parse(bad).is_err(), "{bad}");
        }
    }
}
