//! Evaluate: `(truth.csv, customer assignment) -> Evaluation`: pairwise precision, recall
//! and F1, B-cubed precision and recall, and predicted against true customer counts.

use std::collections::HashMap;
use std::path::Path;

use serde::Serialize;

use crate::error::{Error, Result};

/// (source, source key) -> id.
pub type Assignment = HashMap<(String, String), String>;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Evaluation {
    /// Pairwise: of the record pairs put in one customer, the share that are one person.
    pub precision: f64,
    /// Pairwise: of the record pairs that are one person, the share put in one customer.
    pub recall: f64,
    pub f1: f64,
    pub bcubed_precision: f64,
    pub bcubed_recall: f64,
    pub bcubed_f1: f64,
    pub records: u64,
    pub predicted_customers: u64,
    pub true_customers: u64,
    pub true_pairs: u64,
    pub predicted_pairs: u64,
    pub correct_pairs: u64,
    /// Truth rows with no record in the assignment (quarantined rows, typically).
    pub unassigned_truth_rows: u64,
}

/// Read `truth.csv` (`source,source_key,person_id[,line]`). Rows without a key (rows that
/// must end in quarantine) are skipped.
pub fn read_truth(path: &Path) -> Result<Assignment> {
    let mut reader = csv::Reader::from_path(path)
        .map_err(|e| Error::Other(format!("{}: {e}", path.display())))?;
    let headers = reader
        .headers()
        .map_err(|e| Error::Other(format!("{}: {e}", path.display())))?
        .clone();
    let col = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| Error::Input {
                path: path.to_path_buf(),
                line: 1,
                message: format!("no `{name}` column (expected source,source_key,person_id)"),
            })
    };
    let (s, k, p) = (col("source")?, col("source_key")?, col("person_id")?);
    let mut out = Assignment::new();
    for (i, row) in reader.records().enumerate() {
        let row = row.map_err(|e| Error::Input {
            path: path.to_path_buf(),
            line: i as u64 + 2,
            message: e.to_string(),
        })?;
        let key = row.get(k).unwrap_or("").trim();
        if key.is_empty() {
            continue;
        }
        // A key that repeats (a duplicate row) keeps its first person.
        out.entry((row.get(s).unwrap_or("").to_string(), key.to_string()))
            .or_insert_with(|| row.get(p).unwrap_or("").to_string());
    }
    Ok(out)
}

/// Compare a predicted assignment with the truth over the records both know.
pub fn evaluate(truth: &Assignment, predicted: &Assignment) -> Evaluation {
    let mut both: Vec<(&str, &str)> = predicted
        .iter()
        .filter_map(|(k, pred)| truth.get(k).map(|t| (pred.as_str(), t.as_str())))
        .collect();
    both.sort_unstable();
    let unassigned = truth.keys().filter(|k| !predicted.contains_key(*k)).count() as u64;
    let pairs = |n: u64| n * n.saturating_sub(1) / 2;
    let mut pred_size: HashMap<&str, u64> = HashMap::new();
    let mut true_size: HashMap<&str, u64> = HashMap::new();
    let mut cell: HashMap<(&str, &str), u64> = HashMap::new();
    for &(p, t) in &both {
        *pred_size.entry(p).or_default() += 1;
        *true_size.entry(t).or_default() += 1;
        *cell.entry((p, t)).or_default() += 1;
    }
    let predicted_pairs: u64 = pred_size.values().map(|&n| pairs(n)).sum();
    let true_pairs: u64 = true_size.values().map(|&n| pairs(n)).sum();
    let correct_pairs: u64 = cell.values().map(|&n| pairs(n)).sum();
    let ratio = |a: u64, b: u64| if b == 0 { 1.0 } else { a as f64 / b as f64 };
    let precision = ratio(correct_pairs, predicted_pairs);
    let recall = ratio(correct_pairs, true_pairs);
    let n = both.len() as f64;
    // B-cubed: per record, the share of its predicted cluster that is its person, and the
    // share of its person that is in its predicted cluster.
    let (mut bp, mut br) = (0.0, 0.0);
    for (&(p, t), &c) in &cell {
        let c = c as f64;
        bp += c * c / pred_size[p] as f64;
        br += c * c / true_size[t] as f64;
    }
    let (bp, br) = if n > 0.0 {
        (bp / n, br / n)
    } else {
        (1.0, 1.0)
    };
    let f = |p: f64, r: f64| {
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    };
    Evaluation {
        precision,
        recall,
        f1: f(precision, recall),
        bcubed_precision: bp,
        bcubed_recall: br,
        bcubed_f1: f(bp, br),
        records: both.len() as u64,
        predicted_customers: pred_size.len() as u64,
        true_customers: true_size.len() as u64,
        true_pairs,
        predicted_pairs,
        correct_pairs,
        unassigned_truth_rows: unassigned,
    }
}

/// The current assignment of a store: every cross-reference's customer.
pub fn store_assignment(conn: &rusqlite::Connection) -> rusqlite::Result<Assignment> {
    let mut stmt = conn.prepare("SELECT source, source_key, customer_id FROM customer_sources")?;
    let rows = stmt.query_map([], |r| Ok(((r.get(0)?, r.get(1)?), r.get(2)?)))?;
    rows.collect()
}

impl std::fmt::Display for Evaluation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{:<22} {:>9} {:>9} {:>9}",
            "", "precision", "recall", "f1"
        )?;
        writeln!(
            f,
            "{:<22} {:>9.4} {:>9.4} {:>9.4}",
            "pairwise", self.precision, self.recall, self.f1
        )?;
        writeln!(
            f,
            "{:<22} {:>9.4} {:>9.4} {:>9.4}",
            "b-cubed", self.bcubed_precision, self.bcubed_recall, self.bcubed_f1
        )?;
        writeln!(
            f,
            "records {}, customers predicted {} / true {}, pairs predicted {} / true {} / correct {}",
            self.records,
            self.predicted_customers,
            self.true_customers,
            self.predicted_pairs,
            self.true_pairs,
            self.correct_pairs
        )?;
        if self.unassigned_truth_rows > 0 {
            writeln!(
                f,
                "{} truth row(s) have no loaded record (quarantined)",
                self.unassigned_truth_rows
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assign(rows: &[(&str, &str)]) -> Assignment {
        rows.iter()
            .map(|(k, v)| (("s".to_string(), k.to_string()), v.to_string()))
            .collect()
    }

    #[test]
    fn perfect_and_imperfect() {
        let truth = assign(&[("1", "A"), ("2", "A"), ("3", "B"), ("4", "B"), ("5", "C")]);
        let e = evaluate(
            &truth,
            &assign(&[("1", "x"), ("2", "x"), ("3", "y"), ("4", "y"), ("5", "z")]),
        );
        assert_eq!((e.precision, e.recall, e.f1), (1.0, 1.0, 1.0));
        // Over-merge B and C: one wrong pair of three predicted... (3,4) ok, (3,5),(4,5) wrong.
        let e = evaluate(
            &truth,
            &assign(&[("1", "x"), ("2", "x"), ("3", "y"), ("4", "y"), ("5", "y")]),
        );
        assert_eq!(e.predicted_pairs, 4);
        assert_eq!(e.correct_pairs, 2);
        assert_eq!(e.precision, 0.5);
        assert_eq!(e.recall, 1.0);
        // Under-merge A.
        let e = evaluate(
            &truth,
            &assign(&[("1", "x"), ("2", "w"), ("3", "y"), ("4", "y"), ("5", "z")]),
        );
        assert_eq!(e.precision, 1.0);
        assert_eq!(e.recall, 0.5);
        assert!((e.bcubed_recall - 0.8).abs() < 1e-12);
    }
}
