//! Pipeline configuration: `pipeline.toml -> PipelineConfig`.
//!
//! Source and mapping paths are resolved against the directory of the pipeline file; the
//! store path against the working directory. Unknown keys are rejected with the line.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::mapping::Mapping;
use crate::record::FieldGroup;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineFile {
    pub store: StoreConfig,
    #[serde(default)]
    pub sources: Vec<SourceConfig>,
    #[serde(default)]
    pub matching: MatchingConfig,
    #[serde(default)]
    pub survivorship: SurvivorshipConfig,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    pub path: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceFormat {
    Csv,
    Jsonl,
    Parquet,
}

/// What a sync does with a source row that is no longer in the export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DisappearPolicy {
    Ignore,
    #[default]
    Detach,
    MarkDeleted,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    pub name: String,
    pub path: PathBuf,
    pub format: SourceFormat,
    pub mapping: PathBuf,
    /// 1 is the most trusted source.
    #[serde(default = "default_trust")]
    pub trust: u32,
    #[serde(default)]
    pub shadow: bool,
    #[serde(default)]
    pub on_disappear: DisappearPolicy,
}

fn default_trust() -> u32 {
    100
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatchingConfig {
    /// Match probability at or above which two records are linked.
    #[serde(default = "default_threshold")]
    pub threshold: f64,
    /// Blocks larger than this are capped (skipped) and reported.
    #[serde(default = "default_max_block")]
    pub max_block_size: usize,
    /// The run stops with an error when blocking yields more candidate pairs than this.
    #[serde(default = "default_pair_budget")]
    pub pair_budget: u64,
    /// Seed of the random pair sample that estimates u: same seed, same model.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Random record pairs drawn to estimate u.
    #[serde(default = "default_u_sample")]
    pub u_sample_pairs: usize,
}

fn default_seed() -> u64 {
    42
}
fn default_u_sample() -> usize {
    2_000_000
}

fn default_threshold() -> f64 {
    0.95
}
fn default_max_block() -> usize {
    200
}
fn default_pair_budget() -> u64 {
    200_000_000
}

impl Default for MatchingConfig {
    fn default() -> Self {
        MatchingConfig {
            threshold: default_threshold(),
            max_block_size: default_max_block(),
            pair_budget: default_pair_budget(),
            seed: default_seed(),
            u_sample_pairs: default_u_sample(),
        }
    }
}

/// One step of the survivorship rule chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SurvivorRule {
    /// The field group's owners, in their listed order.
    Owner,
    /// The record with the latest source `updated_at` (else `created_at`).
    MostRecent,
    /// The most trusted source (lowest `trust`).
    Trust,
    /// The record that fills most of the group's fields.
    MostComplete,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SurvivorshipConfig {
    #[serde(default = "default_order")]
    pub order: Vec<SurvivorRule>,
    #[serde(default)]
    pub owners: BTreeMap<FieldGroup, Vec<String>>,
}

fn default_order() -> Vec<SurvivorRule> {
    vec![
        SurvivorRule::Owner,
        SurvivorRule::MostRecent,
        SurvivorRule::Trust,
        SurvivorRule::MostComplete,
    ]
}

impl Default for SurvivorshipConfig {
    fn default() -> Self {
        SurvivorshipConfig {
            order: default_order(),
            owners: BTreeMap::new(),
        }
    }
}

/// A source with its mapping loaded and paths resolved.
#[derive(Debug, Clone)]
pub struct Source {
    pub name: String,
    pub path: PathBuf,
    pub format: SourceFormat,
    pub mapping_path: PathBuf,
    pub mapping: Mapping,
    pub trust: u32,
    pub shadow: bool,
    pub on_disappear: DisappearPolicy,
}

/// A validated pipeline: every path resolved, every mapping parsed.
#[derive(Debug, Clone)]
pub struct Pipeline {
    pub config_path: PathBuf,
    /// SHA-256 of the pipeline file and every mapping file, hex.
    pub config_hash: String,
    pub store_path: PathBuf,
    pub sources: Vec<Source>,
    pub matching: MatchingConfig,
    pub survivorship: SurvivorshipConfig,
}

impl Pipeline {
    pub fn load(path: &Path) -> Result<Pipeline> {
        let text = read_text(path)?;
        let file: PipelineFile = toml::from_str(&text).map_err(|e| Error::toml(path, &text, &e))?;
        let base = path.parent().unwrap_or(Path::new("."));
        let mut hasher = crate::hash::Sha256Hex::new();
        hasher.update(text.as_bytes());
        let mut sources = Vec::with_capacity(file.sources.len());
        for s in file.sources {
            validate_source_name(path, &s.name)?;
            if sources.iter().any(|o: &Source| o.name == s.name) {
                return Err(Error::Config {
                    path: path.to_path_buf(),
                    message: format!("source `{}` is declared twice", s.name),
                });
            }
            let mapping_path = base.join(&s.mapping);
            let mapping_text = read_text(&mapping_path)?;
            hasher.update(mapping_text.as_bytes());
            let mapping = Mapping::parse(&mapping_path, &mapping_text, s.format)?;
            sources.push(Source {
                path: base.join(&s.path),
                name: s.name,
                format: s.format,
                mapping_path,
                mapping,
                trust: s.trust,
                shadow: s.shadow,
                on_disappear: s.on_disappear,
            });
        }
        if sources.is_empty() {
            return Err(Error::Config {
                path: path.to_path_buf(),
                message: "no [[sources]] declared".into(),
            });
        }
        for (group, owners) in &file.survivorship.owners {
            for owner in owners {
                if !sources.iter().any(|s| &s.name == owner) {
                    return Err(Error::Config {
                        path: path.to_path_buf(),
                        message: format!(
                            "survivorship.owners.{} names source `{owner}`, which is not declared",
                            group.name()
                        ),
                    });
                }
            }
        }
        let m = &file.matching;
        if !(m.threshold > 0.0 && m.threshold < 1.0) {
            return Err(Error::Config {
                path: path.to_path_buf(),
                message: format!(
                    "matching.threshold must be between 0 and 1, got {}",
                    m.threshold
                ),
            });
        }
        Ok(Pipeline {
            config_path: path.to_path_buf(),
            config_hash: hasher.finish(),
            store_path: file.store.path,
            sources,
            matching: file.matching,
            survivorship: file.survivorship,
        })
    }

    pub fn source_index(&self, name: &str) -> Option<usize> {
        self.sources.iter().position(|s| s.name == name)
    }
}

fn validate_source_name(path: &Path, name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(Error::Config {
            path: path.to_path_buf(),
            message: format!("source name `{name}` must be lower-case letters, digits and `_`"),
        })
    }
}

pub(crate) fn read_text(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    String::from_utf8(bytes).map_err(|e| Error::Config {
        path: path.to_path_buf(),
        message: format!("not valid UTF-8 at byte {}", e.utf8_error().valid_up_to()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    const MAPPING: &str = "key = \"id\"\n[fields]\nemail = \"mail\"\n";

    #[test]
    fn loads_and_resolves_paths() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "m.toml", MAPPING);
        let p = write(
            dir.path(),
            "pipeline.toml",
            "[store]\npath = \"crm.db\"\n[[sources]]\nname = \"shop\"\npath = \"shop.csv\"\nformat = \"csv\"\nmapping = \"m.toml\"\n",
        );
        let pipe = Pipeline::load(&p).unwrap();
        assert_eq!(pipe.sources[0].path, dir.path().join("shop.csv"));
        assert_eq!(pipe.store_path, PathBuf::from("crm.db"));
        assert_eq!(pipe.matching.threshold, 0.95);
        assert_eq!(pipe.config_hash.len(), 64);
    }

    #[test]
    fn unknown_key_names_file_key_and_line() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "m.toml", MAPPING);
        let p = write(
            dir.path(),
            "pipeline.toml",
            "[store]\npath = \"crm.db\"\n\n[[sources]]\nname = \"shop\"\npath = \"shop.csv\"\nformat = \"csv\"\nmapping = \"m.toml\"\ntrsut = 1\n",
        );
        let msg = Pipeline::load(&p).unwrap_err().to_string();
        assert!(msg.contains("pipeline.toml"), "{msg}");
        assert!(msg.contains("line 9"), "{msg}");
        assert!(msg.contains("trsut"), "{msg}");
    }

    #[test]
    fn missing_mapping_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            "pipeline.toml",
            "[store]\npath = \"crm.db\"\n[[sources]]\nname = \"shop\"\npath = \"shop.csv\"\nformat = \"csv\"\nmapping = \"nope.toml\"\n",
        );
        let msg = Pipeline::load(&p).unwrap_err().to_string();
        assert!(msg.contains("nope.toml"), "{msg}");
    }

    #[test]
    fn owner_must_be_a_declared_source() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "m.toml", MAPPING);
        let p = write(
            dir.path(),
            "pipeline.toml",
            "[store]\npath = \"crm.db\"\n[[sources]]\nname = \"shop\"\npath = \"shop.csv\"\nformat = \"csv\"\nmapping = \"m.toml\"\n[survivorship.owners]\nemail = [\"erp\"]\n",
        );
        let msg = Pipeline::load(&p).unwrap_err().to_string();
        assert!(msg.contains("`erp`"), "{msg}");
    }
}
