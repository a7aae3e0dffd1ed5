//! Finding the access key and region to sign with, the way the AWS CLI does.
//!
//! Order for the key: `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`/`AWS_SESSION_TOKEN` (skipped
//! when `--profile` is given, as in the AWS CLI), then the profile in the shared credentials file
//! (`AWS_SHARED_CREDENTIALS_FILE` or `~/.aws/credentials`), then the profile in the config file
//! (`AWS_CONFIG_FILE` or `~/.aws/config`). The profile is `--profile`, `AWS_PROFILE` or `default`.
//!
//! Order for the region: `--region`, `AWS_REGION`, `AWS_DEFAULT_REGION`, the profile's `region`
//! in the config file, then in the credentials file, then `us-east-1`.
//!
//! Everything reads the environment through a lookup function so tests pass explicit maps.
//! No message or `Debug` output here ever contains a secret key or a session token.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use iam_sigv4::Credentials;

/// Region used when nothing names one.
pub const DEFAULT_REGION: &str = "us-east-1";

/// Where the credentials came from, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialSource {
    /// `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`.
    Environment,
    /// A profile in an INI file.
    File {
        /// The file.
        path: PathBuf,
        /// The profile name.
        profile: String,
    },
}

/// Credentials and region to sign with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The key pair (its `Debug` redacts the secret).
    pub credentials: Credentials,
    /// Where the key pair came from.
    pub source: CredentialSource,
    /// Signing region.
    pub region: String,
}

/// Why no credentials could be resolved. All of these are the caller's configuration problem.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CredentialsError {
    /// Nothing anywhere.
    #[error("no credentials found for profile `{profile}`; looked in {}", .looked.join(", "))]
    NotFound {
        /// The profile looked for.
        profile: String,
        /// Human-readable places, in order.
        looked: Vec<String>,
    },
    /// A profile named explicitly exists in neither file.
    #[error("profile `{profile}` not found; looked in {}", .looked.join(", "))]
    ProfileNotFound {
        /// The profile looked for.
        profile: String,
        /// Human-readable places, in order.
        looked: Vec<String>,
    },
    /// One half of a key pair without the other.
    #[error("incomplete credentials in {place}: `{missing}` is missing")]
    Partial {
        /// Environment or file and profile.
        place: String,
        /// The missing variable or key.
        missing: String,
    },
    /// A file exists but cannot be read.
    #[error("cannot read `{path}`: {message}")]
    Unreadable {
        /// The file.
        path: String,
        /// The I/O error.
        message: String,
    },
    /// A file is not INI.
    #[error("`{path}` line {line}: {message}")]
    Malformed {
        /// The file.
        path: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong (never the line's text, which may hold a secret).
        message: String,
    },
}

/// Resolves credentials and region. `env` looks up an environment variable; `profile` and
/// `region` are the `--profile` and `--region` flags.
pub fn resolve(
    env: &dyn Fn(&str) -> Option<String>,
    profile: Option<&str>,
    region: Option<&str>,
) -> Result<Resolved, CredentialsError> {
    // Empty variables count as unset, as in the AWS CLI.
    let var = |name: &str| env(name).filter(|value| !value.is_empty());
    let profile_flag = profile.filter(|p| !p.is_empty());
    let explicit_profile = profile_flag.map(str::to_owned).or_else(|| var("AWS_PROFILE"));
    let profile = explicit_profile.clone().unwrap_or_else(|| "default".to_owned());

    let credentials_path = var("AWS_SHARED_CREDENTIALS_FILE")
        .map(PathBuf::from)
        .or_else(|| home(&var).map(|home| home.join(".aws").join("credentials")));
    let config_path = var("AWS_CONFIG_FILE")
        .map(PathBuf::from)
        .or_else(|| home(&var).map(|home| home.join(".aws").join("config")));
    let credentials_file = credentials_path.as_deref().map(read_ini).transpose()?.flatten();
    let config_file = config_path.as_deref().map(read_ini).transpose()?.flatten();
    let credentials_section = credentials_file.as_ref().and_then(|ini| ini.get(&profile));
    let config_section = config_file.as_ref().and_then(|ini| config_profile(ini, &profile));

    let region = region
        .filter(|r| !r.is_empty())
        .map(str::to_owned)
        .or_else(|| var("AWS_REGION"))
        .or_else(|| var("AWS_DEFAULT_REGION"))
        .or_else(|| config_section.and_then(|s| non_empty(s, "region")))
        .or_else(|| credentials_section.and_then(|s| non_empty(s, "region")))
        .unwrap_or_else(|| DEFAULT_REGION.to_owned());

    // The AWS CLI skips the environment when `--profile` names a profile (not for `AWS_PROFILE`).
    if profile_flag.is_none() {
        if let Some(credentials) = from_environment(&var)? {
            return Ok(Resolved {
                credentials,
                source: CredentialSource::Environment,
                region,
            });
        }
    }
    let sections = [
        (credentials_path.as_ref(), credentials_section),
        (config_path.as_ref(), config_section),
    ];
    for (path, section) in sections {
        if let (Some(path), Some(section)) = (path, section) {
            if let Some(credentials) = from_section(section, path, &profile)? {
                return Ok(Resolved {
                    credentials,
                    source: CredentialSource::File {
                        path: path.clone(),
                        profile,
                    },
                    region,
                });
            }
        }
    }

    let mut looked = Vec::new();
    if profile_flag.is_none() {
        looked.push("environment variables `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`".to_owned());
    }
    for (path, variable) in [
        (&credentials_path, "AWS_SHARED_CREDENTIALS_FILE"),
        (&config_path, "AWS_CONFIG_FILE"),
    ] {
        looked.push(match path {
            Some(path) if path.exists() => format!("`{}`", path.display()),
            Some(path) => format!("`{}` (absent)", path.display()),
            None => format!("no `{variable}` and no home directory"),
        });
    }
    let profile_exists = credentials_section.is_some() || config_section.is_some();
    match explicit_profile {
        Some(_) if !profile_exists => Err(CredentialsError::ProfileNotFound { profile, looked }),
        _ => Err(CredentialsError::NotFound { profile, looked }),
    }
}

/// The process environment, for `resolve`'s `env` argument.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

fn home(var: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    var("HOME").or_else(|| var("USERPROFILE")).map(PathBuf::from)
}

fn from_environment(var: &dyn Fn(&str) -> Option<String>) -> Result<Option<Credentials>, CredentialsError> {
    let partial = |missing: &str| CredentialsError::Partial {
        place: "the environment".to_owned(),
        missing: missing.to_owned(),
    };
    match (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY")) {
        (Some(access_key_id), Some(secret_access_key)) => Ok(Some(Credentials {
            access_key_id,
            secret_access_key,
            session_token: var("AWS_SESSION_TOKEN"),
        })),
        (Some(_), None) => Err(partial("AWS_SECRET_ACCESS_KEY")),
        (None, Some(_)) => Err(partial("AWS_ACCESS_KEY_ID")),
        (None, None) => Ok(None),
    }
}

fn from_section(section: &Section, path: &Path, profile: &str) -> Result<Option<Credentials>, CredentialsError> {
    let partial = |missing: &str| CredentialsError::Partial {
        place: format!("profile `{profile}` of `{}`", path.display()),
        missing: missing.to_owned(),
    };
    match (
        non_empty(section, "aws_access_key_id"),
        non_empty(section, "aws_secret_access_key"),
    ) {
        (Some(access_key_id), Some(secret_access_key)) => Ok(Some(Credentials {
            access_key_id,
            secret_access_key,
            session_token: non_empty(section, "aws_session_token").or_else(|| non_empty(section, "aws_security_token")),
        })),
        (Some(_), None) => Err(partial("aws_secret_access_key")),
        (None, Some(_)) => Err(partial("aws_access_key_id")),
        (None, None) => Ok(None),
    }
}

fn non_empty(section: &Section, key: &str) -> Option<String> {
    section.get(key).filter(|value| !value.is_empty()).cloned()
}

/// Keys (lowercased) to values of one section.
type Section = HashMap<String, String>;
/// Section names to sections; repeated sections merge, a later key wins.
type Ini = HashMap<String, Section>;

/// The profile's section of a config file: `[profile NAME]`, or `[default]` for `default`.
fn config_profile<'a>(ini: &'a Ini, profile: &str) -> Option<&'a Section> {
    ini.iter()
        .find(|(name, _)| {
            let prefixed = name
                .strip_prefix("profile")
                .filter(|rest| rest.starts_with(char::is_whitespace))
                .map(str::trim);
            prefixed == Some(profile)
        })
        .map(|(_, section)| section)
        .or_else(|| if profile == "default" { ini.get("default") } else { None })
}

/// Reads an INI file; `None` when it does not exist.
fn read_ini(path: &Path) -> Result<Option<Ini>, CredentialsError> {
    match std::fs::read_to_string(path) {
        Ok(text) => parse_ini(&text)
            .map(Some)
            .map_err(|(line, message)| CredentialsError::Malformed {
                path: path.display().to_string(),
                line,
                message,
            }),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(CredentialsError::Unreadable {
            path: path.display().to_string(),
            message: error.to_string(),
        }),
    }
}

/// The subset of Python's `configparser` that AWS files use: `[section]`, `key = value`,
/// `#`/`;` comment lines. Indented lines continue a value (nested settings such as `s3 =`),
/// which credentials never need, so they are skipped.
fn parse_ini(text: &str) -> Result<Ini, (usize, String)> {
    let mut ini = Ini::new();
    let mut current: Option<String> = None;
    for (index, raw) in text.lines().enumerate() {
        let line_number = index + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if raw.starts_with(char::is_whitespace) && current.is_some() {
            continue;
        }
        if let Some(header) = line.strip_prefix('[') {
            let name = header
                .strip_suffix(']')
                .ok_or_else(|| (line_number, "unterminated section header".to_owned()))?
                .trim();
            ini.entry(name.to_owned()).or_default();
            current = Some(name.to_owned());
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err((line_number, "expected `key = value` or `[section]`".to_owned()));
        };
        let Some(section) = current.as_ref() else {
            return Err((line_number, "setting before the first `[section]`".to_owned()));
        };
        ini.entry(section.clone())
            .or_default()
            .insert(key.trim().to_ascii_lowercase(), value.trim().to_owned());
    }
    Ok(ini)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

    /// A home directory with optional `~/.aws/credentials` and `~/.aws/config`.
    struct Home {
        dir: tempfile::TempDir,
    }

    impl Home {
        fn new(credentials: Option<&str>, config: Option<&str>) -> Home {
            let dir = tempfile::tempdir().unwrap();
            std::fs::create_dir(dir.path().join(".aws")).unwrap();
            if let Some(text) = credentials {
                std::fs::write(dir.path().join(".aws/credentials"), text).unwrap();
            }
            if let Some(text) = config {
                std::fs::write(dir.path().join(".aws/config"), text).unwrap();
            }
            Home { dir }
        }

        fn env<'a>(&'a self, vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
            move |name| {
                if name == "HOME" {
                    return Some(self.dir.path().display().to_string());
                }
                vars.iter().find(|(n, _)| *n == name).map(|(_, v)| (*v).to_owned())
            }
        }
    }

    const CREDENTIALS: &str = "\
# comment
[default]
aws_access_key_id = AKIDDEFAULT
aws_secret_access_key = wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY

[admin]
AWS_ACCESS_KEY_ID=AKIDADMIN
aws_secret_access_key=secret=with=equals
aws_session_token = TOKEN
region = eu-west-1
";

    #[test]
    fn environment_comes_first() {
        let home = Home::new(Some(CREDENTIALS), None);
        let vars = [
            ("AWS_ACCESS_KEY_ID", "AKIDENV"),
            ("AWS_SECRET_ACCESS_KEY", "envsecret"),
            ("AWS_SESSION_TOKEN", "envtoken"),
            ("AWS_PROFILE", "admin"),
        ];
        let resolved = resolve(&home.env(&vars), None, None).unwrap();
        assert_eq!(resolved.source, CredentialSource::Environment);
        assert_eq!(
            resolved.credentials,
            Credentials {
                access_key_id: "AKIDENV".into(),
                secret_access_key: "envsecret".into(),
                session_token: Some("envtoken".into()),
            }
        );
        // `AWS_PROFILE` still picks the region.
        assert_eq!(resolved.region, "eu-west-1");
    }

    #[test]
    fn profile_flag_skips_the_environment_like_the_aws_cli() {
        let home = Home::new(Some(CREDENTIALS), None);
        let vars = [("AWS_ACCESS_KEY_ID", "AKIDENV"), ("AWS_SECRET_ACCESS_KEY", "envsecret")];
        let resolved = resolve(&home.env(&vars), Some("admin"), None).unwrap();
        assert_eq!(resolved.credentials.access_key_id, "AKIDADMIN");
        assert_eq!(resolved.credentials.secret_access_key, "secret=with=equals");
        assert_eq!(resolved.credentials.session_token.as_deref(), Some("TOKEN"));
        assert_eq!(
            resolved.source,
            CredentialSource::File {
                path: home.dir.path().join(".aws/credentials"),
                profile: "admin".into()
            }
        );
    }

    #[test]
    fn default_profile_from_the_shared_credentials_file() {
        let home = Home::new(Some(CREDENTIALS), None);
        let resolved = resolve(&home.env(&[("AWS_ACCESS_KEY_ID", "")]), None, None).unwrap();
        assert_eq!(resolved.credentials.access_key_id, "AKIDDEFAULT");
        assert_eq!(resolved.credentials.secret_access_key, SECRET);
        assert_eq!(resolved.credentials.session_token, None);
        assert_eq!(resolved.region, DEFAULT_REGION);
    }

    #[test]
    fn aws_profile_selects_the_profile() {
        let home = Home::new(Some(CREDENTIALS), None);
        let resolved = resolve(&home.env(&[("AWS_PROFILE", "admin")]), None, None).unwrap();
        assert_eq!(resolved.credentials.access_key_id, "AKIDADMIN");
    }

    #[test]
    fn file_locations_can_be_overridden() {
        let home = Home::new(None, None);
        let other = tempfile::tempdir().unwrap();
        let credentials = other.path().join("creds");
        let config = other.path().join("conf");
        std::fs::write(&credentials, CREDENTIALS).unwrap();
        std::fs::write(&config, "[profile admin]\nregion = ap-south-1\n").unwrap();
        let (credentials, config) = (credentials.display().to_string(), config.display().to_string());
        let vars = [
            ("AWS_SHARED_CREDENTIALS_FILE", credentials.as_str()),
            ("AWS_CONFIG_FILE", config.as_str()),
        ];
        let resolved = resolve(&home.env(&vars), Some("admin"), None).unwrap();
        assert_eq!(resolved.credentials.access_key_id, "AKIDADMIN");
        // The config file's region wins over the credentials file's.
        assert_eq!(resolved.region, "ap-south-1");
    }

    #[test]
    fn config_file_holds_keys_and_region_under_profile_sections() {
        let config = "\
[default]
region = us-west-2
[profile  ops ]
region = eu-central-1
s3 =
    max_concurrent_requests = 20
aws_access_key_id = AKIDOPS
aws_secret_access_key = opssecret
[ops]
aws_access_key_id = NOT-A-PROFILE-IN-CONFIG
";
        let home = Home::new(None, Some(config));
        let resolved = resolve(&home.env(&[]), Some("ops"), None).unwrap();
        assert_eq!(resolved.credentials.access_key_id, "AKIDOPS");
        assert_eq!(resolved.region, "eu-central-1");
        assert_eq!(
            resolve(
                &home.env(&[("AWS_ACCESS_KEY_ID", "A"), ("AWS_SECRET_ACCESS_KEY", "S")]),
                None,
                None
            )
            .unwrap()
            .region,
            "us-west-2"
        );
    }

    #[test]
    fn region_precedence() {
        let home = Home::new(Some(CREDENTIALS), Some("[profile admin]\nregion = ca-central-1\n"));
        let region =
            |vars: &[(&str, &str)], flag: Option<&str>| resolve(&home.env(vars), Some("admin"), flag).unwrap().region;
        let both = [("AWS_REGION", "r-env"), ("AWS_DEFAULT_REGION", "r-default")];
        assert_eq!(region(&both, Some("r-flag")), "r-flag");
        assert_eq!(region(&both, None), "r-env");
        assert_eq!(region(&both[1..], None), "r-default");
        assert_eq!(region(&[], None), "ca-central-1");
    }

    #[test]
    fn nothing_found_says_where_it_looked() {
        let home = Home::new(None, None);
        let error = resolve(&home.env(&[]), None, None).unwrap_err();
        let message = error.to_string();
        assert!(matches!(error, CredentialsError::NotFound { .. }), "{message}");
        assert!(message.contains("AWS_ACCESS_KEY_ID"), "{message}");
        assert!(message.contains(".aws/credentials` (absent)"), "{message}");
        assert!(message.contains(".aws/config` (absent)"), "{message}");

        let no_home = |_: &str| None;
        let message = resolve(&no_home, None, None).unwrap_err().to_string();
        assert!(
            message.contains("no `AWS_SHARED_CREDENTIALS_FILE` and no home directory"),
            "{message}"
        );
    }

    #[test]
    fn an_explicit_profile_that_exists_nowhere_is_named() {
        let home = Home::new(Some(CREDENTIALS), None);
        let error = resolve(&home.env(&[("AWS_PROFILE", "nobody")]), None, None).unwrap_err();
        assert!(matches!(error, CredentialsError::ProfileNotFound { ref profile, .. } if profile == "nobody"));
    }

    #[test]
    fn half_a_key_pair_is_an_error_that_shows_no_secret() {
        let home = Home::new(Some("[default]\naws_secret_access_key = TOPSECRET\n"), None);
        let error = resolve(&home.env(&[]), None, None).unwrap_err();
        let message = error.to_string();
        assert!(message.contains("`aws_access_key_id` is missing"), "{message}");
        assert!(!message.contains("TOPSECRET") && !format!("{error:?}").contains("TOPSECRET"));

        let error = resolve(&home.env(&[("AWS_ACCESS_KEY_ID", "AKID")]), None, None).unwrap_err();
        assert_eq!(
            error,
            CredentialsError::Partial {
                place: "the environment".into(),
                missing: "AWS_SECRET_ACCESS_KEY".into()
            }
        );
    }

    #[test]
    fn malformed_files_report_the_line_but_not_its_text() {
        let home = Home::new(Some("[default]\naws_access_key_id = A\nTOPSECRET\n"), None);
        let error = resolve(&home.env(&[]), None, None).unwrap_err();
        assert!(matches!(error, CredentialsError::Malformed { line: 3, .. }), "{error}");
        assert!(!error.to_string().contains("TOPSECRET"));

        assert_eq!(parse_ini("key = v").unwrap_err().0, 1);
        assert_eq!(parse_ini("[default").unwrap_err().0, 1);
    }

    #[test]
    fn resolved_debug_redacts_the_secret() {
        let home = Home::new(Some(CREDENTIALS), None);
        let resolved = resolve(&home.env(&[]), None, None).unwrap();
        assert!(!format!("{resolved:?}").contains(SECRET));
    }
}
