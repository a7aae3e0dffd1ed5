//! The seed manifest: what `seed` created, with each account's root key, for the other
//! scenarios. It holds secrets, so it is written with mode 0600.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use anyhow::{bail, Context, Result};
use iam_sigv4::Credentials;
use serde::{Deserialize, Serialize};

use crate::scenario::Principal;

/// The manifest's format version.
pub const VERSION: u32 = 1;

/// Everything `seed` created.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// [`VERSION`].
    pub version: u32,
    /// The server seeded.
    pub url: String,
    /// When (RFC 3339).
    pub created_at: String,
    /// A tag for names made by this seed.
    pub run_id: String,
    /// The accounts.
    pub accounts: Vec<SeedAccount>,
}

/// One seeded account.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SeedAccount {
    /// The 12-digit id.
    pub account_id: String,
    /// Its alias.
    pub alias: String,
    /// The root user's access key id.
    pub root_access_key_id: String,
    /// The root user's secret access key.
    pub root_secret_access_key: String,
    /// Customer-managed policy name to ARN.
    pub policies: BTreeMap<String, String>,
    /// Group names.
    pub groups: Vec<String>,
    /// The users.
    pub principals: Vec<Principal>,
}

impl SeedAccount {
    /// The root key as signing credentials.
    pub fn credentials(&self) -> Credentials {
        Credentials {
            access_key_id: self.root_access_key_id.clone(),
            secret_access_key: self.root_secret_access_key.clone(),
            session_token: None,
        }
    }

    /// The root user's ARN.
    pub fn root_arn(&self) -> String {
        format!("arn:aws:iam::{}:root", self.account_id)
    }
}

/// Writes the manifest readable by its owner only (replacing any file there).
///
/// # Errors
/// The file cannot be written.
pub fn write(path: &Path, manifest: &Manifest) -> Result<()> {
    let text = serde_json::to_string_pretty(manifest)?;
    if path.exists() {
        std::fs::remove_file(path).with_context(|| format!("replacing {}", path.display()))?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(text.as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()?;
    Ok(())
}

/// Reads a manifest; warns when it is readable by others.
///
/// # Errors
/// Missing, unreadable, of another version, or without accounts or principals.
pub fn read(path: &Path) -> Result<Manifest> {
    let text = std::fs::read_to_string(path).with_context(|| {
        format!(
            "reading the seed manifest {} (run `loadtest seed` first)",
            path.display()
        )
    })?;
    if let Ok(meta) = std::fs::metadata(path) {
        if meta.permissions().mode() & 0o077 != 0 {
            eprintln!(
                "warning: {} holds secrets but is readable by others; chmod 600 it",
                path.display()
            );
        }
    }
    let manifest: Manifest =
        serde_json::from_str(&text).with_context(|| format!("{} is not a seed manifest", path.display()))?;
    if manifest.version != VERSION {
        bail!(
            "{}: manifest version {} (this loadtest reads {VERSION})",
            path.display(),
            manifest.version
        );
    }
    if manifest.accounts.is_empty() || manifest.accounts.iter().any(|a| a.principals.is_empty()) {
        bail!("{}: every account needs at least one principal", path.display());
    }
    Ok(manifest)
}

/// Reads the first `aws_access_key_id` / `aws_secret_access_key` pair of an AWS credentials
/// file (iamd's `<data_dir>/root-credentials`).
///
/// # Errors
/// The file is missing or lacks either field.
pub fn read_root_credentials(path: &Path) -> Result<Credentials> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let field = |name: &str| {
        text.lines().find_map(|line| {
            let (key, value) = line.split_once('=')?;
            (key.trim() == name).then(|| value.trim().to_owned())
        })
    };
    match (field("aws_access_key_id"), field("aws_secret_access_key")) {
        (Some(access_key_id), Some(secret_access_key)) => Ok(Credentials {
            access_key_id,
            secret_access_key,
            session_token: None,
        }),
        _ => bail!("{} has no aws_access_key_id / aws_secret_access_key", path.display()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn manifest_is_private_and_reads_back() {
        let dir = std::env::temp_dir().join(format!("loadtest-manifest-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("seed.json");
        let manifest = Manifest {
            version: VERSION,
            url: "http://127.0.0.1:1".into(),
            created_at: "2024-01-01T00:00:00Z".into(),
            run_id: "r".into(),
            accounts: vec![SeedAccount {
                account_id: "123456789012".into(),
                alias: "a".into(),
                root_access_key_id: "AKIAEXAMPLE".into(),
                root_secret_access_key: "secret".into(),
                policies: BTreeMap::new(),
                groups: vec![],
                principals: vec![crate::scenario::principal("123456789012", 0)],
            }],
        };
        write(&path, &manifest).unwrap();
        write(&path, &manifest).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(read(&path).unwrap().accounts[0].root_secret_access_key, "secret");
        let creds = dir.join("root-credentials");
        std::fs::write(
            &creds,
            "[gatehouse]\naws_access_key_id = AKIA1\naws_secret_access_key=s3cr3t\n",
        )
        .unwrap();
        let c = read_root_credentials(&creds).unwrap();
        assert_eq!(
            (c.access_key_id.as_str(), c.secret_access_key.as_str()),
            ("AKIA1", "s3cr3t")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
