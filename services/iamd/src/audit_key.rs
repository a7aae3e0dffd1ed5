//! The audit signing key (`<data_dir>/audit-signing.key`): an Ed25519 key whose PKCS#8 document
//! is sealed with the master key, made on first start and recorded (its public half) in the
//! audit log. `--rotate-audit-signing-key` replaces it at start: the old key endorses the new
//! one, the endorsed key is recorded, and the old secret half is destroyed with the file it was
//! in (digests it signed still verify through its recorded public half).

use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use base64::Engine as _;
use iam_audit::integrity::AuditSigner;
use iam_audit::AuditLog;
use iam_secrets::Sealer;
use rand::RngCore as _;
use serde::{Deserialize, Serialize};

/// What binds the sealed key to its purpose: a sealed access-key secret cannot stand in for it.
const SEAL_OWNER: &str = "gatehouse/audit-signing-key";

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct KeyFile {
    key_id: String,
    created: String,
    /// The PKCS#8 document, base64, sealed with the master key.
    sealed_pkcs8: String,
}

fn generate(sealer: &Sealer) -> anyhow::Result<(AuditSigner, KeyFile)> {
    let created = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let (signer, pkcs8) = AuditSigner::generate(&created)?;
    let mut nonce = [0u8; 12];
    rand::thread_rng().fill_bytes(&mut nonce);
    let encoded = zeroize::Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(pkcs8.as_slice()));
    let sealed_pkcs8 = sealer.seal(&encoded, SEAL_OWNER, nonce)?;
    let file = KeyFile {
        key_id: signer.key_id().to_owned(),
        created,
        sealed_pkcs8,
    };
    Ok((signer, file))
}

fn read(path: &Path, sealer: &Sealer) -> anyhow::Result<AuditSigner> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let file: KeyFile =
        serde_json::from_str(&text).with_context(|| format!("{} is not an audit signing key", path.display()))?;
    let encoded = sealer
        .open(&file.sealed_pkcs8, SEAL_OWNER)
        .with_context(|| format!("cannot open {} with the master key", path.display()))?;
    let pkcs8 = zeroize::Zeroizing::new(base64::engine::general_purpose::STANDARD.decode(encoded.as_bytes())?);
    let signer = AuditSigner::from_pkcs8(&pkcs8, &file.created)?;
    anyhow::ensure!(
        signer.key_id() == file.key_id,
        "{} names key {} but holds key {}",
        path.display(),
        file.key_id,
        signer.key_id()
    );
    Ok(signer)
}

fn write(path: &Path, file: &KeyFile) -> anyhow::Result<()> {
    let staged = path.with_extension("key.new");
    let _ = std::fs::remove_file(&staged);
    crate::write_private(&staged, &serde_json::to_string_pretty(file)?)?;
    std::fs::rename(&staged, path).with_context(|| format!("cannot replace {}", path.display()))?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir).and_then(|d| d.sync_all())?;
    }
    Ok(())
}

/// The process's signing key, made on first start or replaced when `rotate`, and recorded in
/// `audit` (the first key as it is; a new one endorsed by the key it replaces).
pub(crate) async fn load(
    path: &Path,
    sealer: &Sealer,
    audit: &Arc<dyn AuditLog>,
    rotate: bool,
) -> anyhow::Result<Arc<AuditSigner>> {
    let signer = if path.exists() {
        let current = read(path, sealer)?;
        // Recorded before anything else, so a key is never used before the log names it.
        audit.record_signing_key(current.public_key().clone()).await?;
        if rotate {
            let (next, file) = generate(sealer)?;
            audit.record_signing_key(current.endorse(next.public_key())).await?;
            write(path, &file)?;
            tracing::warn!(
                old = current.key_id(),
                new = next.key_id(),
                "rotated the audit signing key"
            );
            next
        } else {
            current
        }
    } else {
        let (signer, file) = generate(sealer)?;
        audit.record_signing_key(signer.public_key().clone()).await?;
        write(path, &file)?;
        tracing::info!(key = signer.key_id(), path = %path.display(), "made the audit signing key");
        signer
    };
    Ok(Arc::new(signer))
}
