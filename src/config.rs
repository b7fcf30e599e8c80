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
    #[serde(default)]
    pub gates: GatesConfig,
    #[serde(default)]
    pub sync: SyncConfig,
}

/// `[sync]`: how runs treat the CRM's own edits.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncConfig {
    /// Golden fields (columns of `customers`) whose source value overwrites a value that
    /// the CRM's users changed in the store. Every other edited field keeps the edit.
    #[serde(default)]
    pub source_wins: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    pub path: PathBuf,
    /// Page size of a new store, in bytes (see [`crate::store::PAGE_SIZE`]); a store that
    /// exists keeps its own.
    #[serde(default)]
    pub page_size: Option<u32>,
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
    500_000
}

fn default_threshold() -> f64 {
    0.9
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

/// Go-live gates: checks a run must pass before it loads (a dry run reports them). A failed
/// gate makes `crmfuse run` exit with code 3 and, for a real run, refuse to load unless
/// `--force`. Every gate but the balance is off until configured.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatesConfig {
    /// Every source: rows read = records loaded + rows quarantined.
    #[serde(default = "default_true")]
    pub reconciliation_must_balance: bool,
    /// Per source: the largest share of rows read that may be quarantined (0..=1).
    #[serde(default)]
    pub max_quarantine_rate: Option<f64>,
    /// Source name -> the fewest rows its export may have (catches a truncated file).
    #[serde(default)]
    pub min_rows: BTreeMap<String, u64>,
    /// The most source records one customer may merge (catches over-merging).
    #[serde(default)]
    pub max_cluster_size: Option<u64>,
    /// Per source with e-mails: the smallest share of records with an e-mail whose e-mail
    /// is valid (0..=1).
    #[serde(default)]
    pub min_email_validity: Option<f64>,
    /// The most existing golden values the load may overwrite with a different value
    /// (0: nothing edited in the CRM since the last load is clobbered).
    #[serde(default)]
    pub max_overwrites: Option<u64>,
    /// Per source: the largest share of the rows the store held from it that may have
    /// disappeared from its export (0..=1; catches an export cut short before a sync
    /// detaches or marks deleted what it lost).
    #[serde(default)]
    pub max_disappeared_rate: Option<f64>,
}

fn default_true() -> bool {
    true
}

impl Default for GatesConfig {
    fn default() -> Self {
        GatesConfig {
            reconciliation_must_balance: true,
            max_quarantine_rate: None,
            min_rows: BTreeMap::new(),
            max_cluster_size: None,
            min_email_validity: None,
            max_overwrites: None,
            max_disappeared_rate: None,
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
    /// `[store] page_size`, or [`crate::store::PAGE_SIZE`].
    pub store_page_size: u32,
    pub sources: Vec<Source>,
    pub matching: MatchingConfig,
    pub survivorship: SurvivorshipConfig,
    pub gates: GatesConfig,
    pub sync: SyncConfig,
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
        validate_gates(path, &file.gates, &sources)?;
        let page_size = file.store.page_size.unwrap_or(crate::store::PAGE_SIZE);
        if !(512..=65536).contains(&page_size) || !page_size.is_power_of_two() {
            return Err(Error::Config {
                path: path.to_path_buf(),
                message: format!(
                    "[store] page_size must be a power of two from 512 to 65536 (bytes), got {page_size}"
                ),
            });
        }
        if let Some(f) = file
            .sync
            .source_wins
            .iter()
            .find(|f| crate::record::GoldenField::from_name(f).is_none())
        {
            return Err(Error::Config {
                path: path.to_path_buf(),
                message: format!(
                    "[sync] source_wins: no golden field `{f}` (use a column of `customers`, e.g. email)"
                ),
            });
        }
        Ok(Pipeline {
            config_path: path.to_path_buf(),
            config_hash: hasher.finish(),
            store_path: file.store.path,
            store_page_size: page_size,
            sources,
            matching: file.matching,
            survivorship: file.survivorship,
            gates: file.gates,
            sync: file.sync,
        })
    }

    pub fn source_index(&self, name: &str) -> Option<usize> {
        self.sources.iter().position(|s| s.name == name)
    }
}

fn validate_gates(path: &Path, gates: &GatesConfig, sources: &[Source]) -> Result<()> {
    let err = |message: String| {
        Err(Error::Config {
            path: path.to_path_buf(),
            message,
        })
    };
    for (name, value) in [
        ("max_quarantine_rate", gates.max_quarantine_rate),
        ("min_email_validity", gates.min_email_validity),
        ("max_disappeared_rate", gates.max_disappeared_rate),
    ] {
        if let Some(v) = value
            && !(0.0..=1.0).contains(&v)
        {
            return err(format!(
                "gates.{name} is a share between 0 and 1 (0.05 = 5%), got {v}"
            ));
        }
    }
    if gates.max_cluster_size == Some(0) {
        return err("gates.max_cluster_size must be at least 1".into());
    }
    for name in gates.min_rows.keys() {
        if !sources.iter().any(|s| &s.name == name) {
            return err(format!(
                "gates.min_rows names source `{name}`, which is not declared"
            ));
        }
    }
    Ok(())
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
        assert_eq!(pipe.matching.threshold, 0.9);
        assert_eq!(pipe.config_hash.len(), 64);
        assert_eq!(pipe.store_page_size, crate::store::PAGE_SIZE);
    }

    #[test]
    fn a_store_page_size_is_a_power_of_two_sqlite_takes() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "m.toml", MAPPING);
        let load = |size: &str| {
            let p = write(
                dir.path(),
                "pipeline.toml",
                &format!(
                    "[store]\npath = \"crm.db\"\npage_size = {size}\n[[sources]]\nname = \"shop\"\npath = \"shop.csv\"\nformat = \"csv\"\nmapping = \"m.toml\"\n"
                ),
            );
            Pipeline::load(&p)
        };
        assert_eq!(load("4096").unwrap().store_page_size, 4096);
        assert_eq!(load("65536").unwrap().store_page_size, 65536);
        for bad in ["3000", "256", "131072", "0"] {
            let msg = load(bad).unwrap_err().to_string();
            assert!(
                msg.contains("[store] page_size must be a power of two"),
                "{bad}: {msg}"
            );
            assert!(msg.contains("pipeline.toml"), "{msg}");
        }
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

    const SOURCE: &str = "[store]\npath = \"crm.db\"\n[[sources]]\nname = \"shop\"\npath = \"shop.csv\"\nformat = \"csv\"\nmapping = \"m.toml\"\n";

    #[test]
    fn gates_default_to_the_balance_only_and_parse() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "m.toml", MAPPING);
        let p = write(dir.path(), "pipeline.toml", SOURCE);
        let gates = Pipeline::load(&p).unwrap().gates;
        assert_eq!(gates, GatesConfig::default());
        assert!(gates.reconciliation_must_balance);
        let p = write(
            dir.path(),
            "pipeline.toml",
            &format!(
                "{SOURCE}[gates]\nmax_quarantine_rate = 0.05\nreconciliation_must_balance = true\nmax_cluster_size = 20\nmin_email_validity = 0.9\nmin_rows = {{ shop = 100 }}\nmax_overwrites = 0\n"
            ),
        );
        let gates = Pipeline::load(&p).unwrap().gates;
        assert_eq!(gates.max_quarantine_rate, Some(0.05));
        assert_eq!(gates.max_cluster_size, Some(20));
        assert_eq!(gates.min_email_validity, Some(0.9));
        assert_eq!(gates.min_rows.get("shop"), Some(&100));
        assert_eq!(gates.max_overwrites, Some(0));
    }

    #[test]
    fn bad_gates_are_named() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "m.toml", MAPPING);
        let cases = [
            ("max_quarantine_rate = 5", "gates.max_quarantine_rate"),
            ("max_disappeared_rate = -0.1", "gates.max_disappeared_rate"),
            ("min_rows = { erp = 100 }", "source `erp`"),
            ("max_cluster_size = 0", "at least 1"),
            ("min_email_validty = 0.9", "min_email_validty"),
        ];
        for (line, want) in cases {
            let p = write(
                dir.path(),
                "pipeline.toml",
                &format!("{SOURCE}[gates]\n{line}\n"),
            );
            let msg = Pipeline::load(&p).unwrap_err().to_string();
            assert!(msg.contains(want), "{line}: {msg}");
        }
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
