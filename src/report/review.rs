//! Review export: `&[ReviewPair] -> review.csv`, one borderline pair per row with both
//! records' key fields side by side and an empty `decision` column for a data steward
//! (`same` / `different`). `crmfuse run --decisions review.csv` reads it back
//! ([`crate::decisions`]); a pair decided in that run keeps its decision here.

use std::path::Path;

use crate::csv_out::{CsvCell, CsvOut};
use crate::decisions::{DECISION, KEY_A, KEY_B, SOURCE_A, SOURCE_B};
use crate::error::Result;

use super::{RecordView, ReviewPair};

type Pick = fn(&RecordView) -> Option<&str>;

/// The key fields compared side by side: (column stem, accessor).
const FIELDS: [(&str, Pick); 6] = [
    ("name", |r| r.name.as_deref()),
    ("email", |r| r.email.as_deref()),
    ("phone", |r| r.phone.as_deref()),
    ("birth_date", |r| r.birth_date.as_deref()),
    ("address", |r| r.address.as_deref()),
    ("company", |r| r.company.as_deref()),
];

pub fn write(path: &Path, pairs: &[ReviewPair]) -> Result<()> {
    let mut out = CsvOut::create(path)?;
    write_to(&mut out, pairs)?;
    out.finish()?;
    Ok(())
}

pub fn write_to<W: std::io::Write>(out: &mut CsvOut<W>, pairs: &[ReviewPair]) -> Result<()> {
    let mut header: Vec<String> = [
        "pair_id",
        DECISION,
        "position",
        "weight",
        "probability",
        SOURCE_A,
        KEY_A,
        SOURCE_B,
        KEY_B,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for (stem, _) in FIELDS {
        header.push(format!("{stem}_a"));
        header.push(format!("{stem}_b"));
    }
    out.row(header.iter().map(CsvCell::from))?;
    for p in pairs {
        let mut row: Vec<CsvCell<'_>> = vec![
            CsvCell::from(p.pair_id),
            CsvCell::from(p.decision.map(|d| d.name())),
            CsvCell::from(p.side),
            CsvCell::real(p.weight, 2),
            CsvCell::real(p.probability, 4),
            CsvCell::from(&p.a.source),
            CsvCell::from(&p.a.key),
            CsvCell::from(&p.b.source),
            CsvCell::from(&p.b.key),
        ];
        for (_, pick) in FIELDS {
            row.push(CsvCell::from(pick(&p.a)));
            row.push(CsvCell::from(pick(&p.b)));
        }
        out.row(row)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decisions::{Decisions, Verdict};

    fn view(source: &str, key: &str, name: &str) -> RecordView {
        RecordView {
            source: source.into(),
            key: key.into(),
            line: 2,
            name: Some(name.into()),
            email: None,
            phone: Some("+49 171 1234567".into()),
            birth_date: None,
            address: None,
            company: None,
        }
    }

    #[test]
    fn round_trips_through_the_decisions_reader() {
        let pairs = vec![
            ReviewPair {
                pair_id: 1,
                side: "above",
                weight: 4.5,
                probability: 0.96,
                linked: true,
                decision: Some(Verdict::Different),
                a: view("erp", "=1", "=HYPERLINK(\"x\")"),
                b: view("webshop", "W-1", "Anna"),
                evidence: vec![],
                vetoed_by: vec![],
            },
            ReviewPair {
                pair_id: 2,
                side: "below",
                weight: -1.25,
                probability: 0.3,
                linked: false,
                decision: None,
                a: view("erp", "2", "Bob"),
                b: view("webshop", "W-2", "Bob"),
                evidence: vec![],
                vetoed_by: vec![],
            },
        ];
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("review.csv");
        write(&path, &pairs).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("pair_id,decision,position,weight,probability,source_a,key_a,source_b,key_b,name_a,name_b,"), "{text}");
        // Formulas are neutralised, numbers stay numbers.
        assert!(text.contains(",'=1,"), "{text}");
        assert!(text.contains("\"'=HYPERLINK(\"\"x\"\")\""), "{text}");
        assert!(text.contains("'+49 171 1234567"), "{text}");
        assert!(text.contains(",-1.25,"), "{text}");
        let d = Decisions::read(&path).unwrap();
        assert_eq!(d.decisions.len(), 1);
        assert_eq!(d.decisions[0].a.key, "=1");
        assert_eq!(d.decisions[0].verdict, Verdict::Different);
    }
}
