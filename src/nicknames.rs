//! Given-name equivalence (Bob = Robert, Hans = Johannes), from `data/nicknames.csv`,
//! loaded once.

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::cleanse::name::name_key;

/// name key -> the groups it belongs to (a name may be in several: `chris`).
fn table() -> &'static HashMap<String, Vec<u32>> {
    static TABLE: OnceLock<HashMap<String, Vec<u32>>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut map: HashMap<String, Vec<u32>> = HashMap::new();
        let lines = include_str!("../data/nicknames.csv")
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'));
        for (group, line) in lines.enumerate() {
            for name in line.split(',') {
                let groups = map.entry(name_key(name)).or_default();
                if !groups.contains(&(group as u32)) {
                    groups.push(group as u32);
                }
            }
        }
        map
    })
}

/// Two given-name keys (as made by `name_key`) name the same first name.
pub fn same_name(a: &str, b: &str) -> bool {
    let t = table();
    match (t.get(a), t.get(b)) {
        (Some(ga), Some(gb)) => ga.iter().any(|g| gb.contains(g)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nicknames() {
        let k = name_key;
        for (a, b, want) in [
            ("Bob", "Robert", true),
            ("Liz", "Elizabeth", true),
            ("Hans", "Johannes", true),
            ("Juergen", "Jürgen", true),
            ("Kathi", "Katharina", true),
            ("Chris", "Christine", true),
            ("Chris", "Christopher", true),
            ("Christine", "Christopher", false),
            ("Bob", "Bill", false),
            ("Zwierzchowski", "Bob", false),
        ] {
            assert_eq!(same_name(&k(a), &k(b)), want, "{a} {b}");
        }
    }
}
