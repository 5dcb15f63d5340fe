//! The credentials file: `credentials.json` in the config directory, holding
//! the default profile at the top level (the `{"api_key","agent_id","agent_name"}`
//! shape the API document recommends) and named profiles under `profiles`.

use std::{
    collections::BTreeMap,
    fs,
    io::Write,
    os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt},
    path::{Path, PathBuf},
};

use serde::{Deserialize, Serialize};

use crate::error::CliError;

/// The name of the top-level profile.
pub const DEFAULT_PROFILE: &str = "default";
/// The service the CLI talks to when nothing else is configured.
pub const DEFAULT_URL: &str = "https://pinchwork.dev";
const FILE_NAME: &str = "credentials.json";

/// One identity: its key and, optionally, the server it was registered on.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    /// The agent's API key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
    /// The agent's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    /// The agent's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_name: Option<String>,
    /// The API base URL this profile belongs to (absent: the default URL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// The whole credentials file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Credentials {
    /// The default profile, stored at the top level.
    #[serde(flatten)]
    pub default: Profile,
    /// Named profiles other than the default.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub profiles: BTreeMap<String, Profile>,
}

impl Credentials {
    /// The profile called `name`, if it holds anything.
    pub fn profile(&self, name: &str) -> Option<&Profile> {
        if name == DEFAULT_PROFILE {
            Some(&self.default).filter(|p| **p != Profile::default())
        } else {
            self.profiles.get(name)
        }
    }

    /// Stores `profile` under `name`.
    pub fn set_profile(&mut self, name: &str, profile: Profile) {
        if name == DEFAULT_PROFILE {
            self.default = profile;
        } else {
            self.profiles.insert(name.to_string(), profile);
        }
    }
}

/// The config directory: the override, else `$XDG_CONFIG_HOME/pinchwork`, else
/// `~/.config/pinchwork`.
pub fn config_dir(overridden: Option<PathBuf>) -> Result<PathBuf, CliError> {
    if let Some(dir) = overridden.filter(|d| !d.as_os_str().is_empty()) {
        return Ok(dir);
    }
    let non_empty = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(xdg) = non_empty("XDG_CONFIG_HOME") {
        return Ok(PathBuf::from(xdg).join("pinchwork"));
    }
    non_empty("HOME")
        .map(|home| PathBuf::from(home).join(".config").join("pinchwork"))
        .ok_or_else(|| {
            CliError::Usage(
                "cannot find a config directory: set HOME or PINCHWORK_CONFIG_DIR".into(),
            )
        })
}

/// The credentials file inside `dir`.
pub fn credentials_path(dir: &Path) -> PathBuf {
    dir.join(FILE_NAME)
}

/// Reads the credentials file; a missing file is an empty one.
pub fn load(path: &Path) -> Result<Credentials, CliError> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Credentials::default()),
        Err(e) => {
            return Err(CliError::Local(format!(
                "cannot read {}: {e}",
                path.display()
            )));
        }
    };
    serde_json::from_str(&text).map_err(|e| {
        CliError::Local(format!(
            "{} is not valid credentials JSON: {e}",
            path.display()
        ))
    })
}

/// Writes the credentials file with mode 0600 (directory 0700), replacing it
/// atomically.
pub fn save(path: &Path, creds: &Credentials) -> Result<(), CliError> {
    let local = |what: &str, e: std::io::Error| CliError::Local(format!("cannot {what}: {e}"));
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| local(&format!("create {}", dir.display()), e))?;
    let tmp = path.with_extension("json.tmp");
    let text = serde_json::to_string_pretty(creds)
        .map_err(|e| CliError::Local(format!("cannot encode credentials: {e}")))?;
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| local(&format!("write {}", tmp.display()), e))?;
    // The mode above only applies to a newly created file.
    file.set_permissions(fs::Permissions::from_mode(0o600))
        .and_then(|()| file.write_all(format!("{text}\n").as_bytes()))
        .and_then(|()| file.sync_all())
        .map_err(|e| local(&format!("write {}", tmp.display()), e))?;
    fs::rename(&tmp, path).map_err(|e| local(&format!("write {}", path.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_single_profile_shape_is_the_default_profile() {
        let creds: Credentials = serde_json::from_str(
            r#"{"api_key": "pwk-x", "agent_id": "ag-1", "agent_name": "my-agent"}"#,
        )
        .unwrap();
        let p = creds.profile(DEFAULT_PROFILE).unwrap();
        assert_eq!(p.api_key.as_deref(), Some("pwk-x"));
        assert_eq!(p.agent_name.as_deref(), Some("my-agent"));
        assert!(creds.profile("other").is_none());
    }

    #[test]
    fn named_profiles_sit_beside_the_default_one() {
        let mut creds = Credentials::default();
        assert!(creds.profile(DEFAULT_PROFILE).is_none());
        creds.set_profile(
            "worker",
            Profile {
                api_key: Some("pwk-w".into()),
                ..Profile::default()
            },
        );
        let json = serde_json::to_value(&creds).unwrap();
        assert_eq!(json["profiles"]["worker"]["api_key"], "pwk-w");
        assert!(json.get("api_key").is_none());
    }
}
