//! Where the matching errs on a `crmfuse synth` company: resolves `DIR/pipeline.toml` like
//! `crmfuse run` (no store written), compares with `DIR/truth.csv` and classifies every
//! missed pair (never a candidate / scored below the threshold / vetoed / linked but cut by
//! clustering / joined only through others) and every false pair (a direct link or a
//! chain). A development tool: `cargo run --release --example match_errors -- DIR [N]`
//! prints counts and up to N examples per class.

use std::collections::{BTreeMap, HashMap};

use crmfuse::block::CandidatePair;
use crmfuse::config::Pipeline;
use crmfuse::decisions::Decisions;
use crmfuse::evaluate;
use crmfuse::pipeline::{ResolveOptions, resolve};
use crmfuse::progress::Progress;
use crmfuse::score::{self, MatchRecord};

fn show(r: &MatchRecord, src: &str) -> String {
    let o = |v: &Option<crmfuse::record::Text>| v.as_deref().unwrap_or("-").to_string();
    format!(
        "[{src}] {} {} {} dob={} e={:?} p={:?} st={} pc={} city={}",
        o(&r.given),
        o(&r.family),
        r.suffix.clone().unwrap_or_default(),
        o(&r.birth_date),
        r.emails,
        r.phones,
        o(&r.street),
        o(&r.postcode),
        o(&r.city),
    )
}

/// What two records share, as a short signature.
fn shared(x: &MatchRecord, y: &MatchRecord) -> String {
    let mut s = Vec::new();
    let eq = |a: &Option<crmfuse::record::Text>, b: &Option<crmfuse::record::Text>| {
        a.is_some() && a == b
    };
    if x.emails.iter().any(|e| y.emails.contains(e)) {
        s.push("email");
    } else if !x.emails.is_empty() && !y.emails.is_empty() {
        s.push("email≠");
    }
    if x.phones.iter().any(|e| y.phones.contains(e)) {
        s.push("phone");
    }
    if eq(&x.given, &y.given) {
        s.push("given");
    } else if x.given.is_some() && y.given.is_some() {
        s.push("given≠");
    }
    if eq(&x.family, &y.family) {
        s.push("family");
    } else if x.family.is_some() && y.family.is_some() {
        s.push("family≠");
    }
    if eq(&x.birth_date, &y.birth_date) {
        s.push("dob");
    } else if x.birth_date.is_some() && y.birth_date.is_some() {
        s.push("dob≠");
    }
    if eq(&x.street, &y.street) {
        s.push("street");
    }
    if eq(&x.postcode, &y.postcode) {
        s.push("pc");
    }
    if eq(&x.city, &y.city) {
        s.push("city");
    }
    s.join(",")
}

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = args.next().expect("DIR");
    let n_show: usize = args.next().map_or(8, |s| s.parse().expect("N"));
    std::env::set_current_dir(&dir).expect("cd DIR");
    let pipe = Pipeline::load(std::path::Path::new("pipeline.toml")).expect("pipeline");
    let opts = ResolveOptions {
        today: chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
        model: None,
        decisions: Decisions::default(),
        counts: None,
        // The pairs scored below the threshold are what this example explains.
        keep_pairs: true,
    };
    let res = resolve(&pipe, &opts, &mut Progress::new(false)).expect("resolve");
    let truth = evaluate::read_truth(std::path::Path::new("truth.csv")).expect("truth");
    let src = |i: usize| pipe.sources[res.records[i].source as usize].name.clone();
    let person: Vec<String> = (0..res.records.len())
        .map(|i| {
            truth
                .get(&(src(i), res.records[i].key.clone()))
                .cloned()
                .unwrap_or_default()
        })
        .collect();
    let mrs: Vec<MatchRecord> = res.records.iter().map(MatchRecord::from_customer).collect();
    let mut cluster = vec![0usize; mrs.len()];
    for (ci, c) in res.clusters.iter().enumerate() {
        for &m in c {
            cluster[m as usize] = ci;
        }
    }
    let scored: HashMap<CandidatePair, &score::ScoredPair> =
        res.scored.iter().map(|s| (s.pair, s)).collect();
    let mut predicted = evaluate::Assignment::new();
    for (i, r) in res.records.iter().enumerate() {
        predicted.insert((src(i), r.key.clone()), format!("C{}", cluster[i]));
    }
    let ev = evaluate::evaluate(&truth, &predicted);
    println!(
        "records {} P {:.4} R {:.4} F1 {:.4}  true pairs {} predicted {} correct {}",
        ev.records,
        ev.precision,
        ev.recall,
        ev.f1,
        ev.true_pairs,
        ev.predicted_pairs,
        ev.correct_pairs
    );
    println!(
        "model prior {:.2} threshold weight {:.2}",
        res.model.prior_weight,
        res.model.threshold_weight()
    );
    for cm in &res.model.comparisons {
        let ls: Vec<String> = cm
            .levels
            .iter()
            .map(|l| format!("{}={:.1}(m{:.3})", l.name, l.weight(), l.m))
            .collect();
        println!("  {:?}: {}", cm.comparison, ls.join(" "));
    }
    for s in &res.blocking {
        println!(
            "  rule {} pairs {} capped {}",
            s.rule, s.pairs, s.capped_blocks
        );
    }

    let mut by_person: BTreeMap<&str, Vec<u32>> = BTreeMap::new();
    for (i, p) in person.iter().enumerate() {
        by_person.entry(p.as_str()).or_default().push(i as u32);
    }
    let describe = |p: CandidatePair| -> String {
        let (a, b) = (p.a as usize, p.b as usize);
        let mut s = format!(
            "    {} | {}\n    {} | {}\n    shared: {}",
            person[a],
            show(&mrs[a], &src(a)),
            person[b],
            show(&mrs[b], &src(b)),
            shared(&mrs[a], &mrs[b])
        );
        let sp = score::score_pair(&res.model, &res.tf, &mrs[a], &mrs[b], p);
        let ev = score::evidence(&res.model, &res.tf, &sp);
        let parts: Vec<String> = ev
            .iter()
            .filter(|e| e.level != "null")
            .map(|e| format!("{:?}:{}({:+.1})", e.comparison, e.level, e.weight))
            .collect();
        s.push_str(&format!(
            "\n    w={:.1} p={:.3} veto={} cand={} {}",
            sp.weight,
            sp.probability,
            sp.vetoed,
            scored.contains_key(&p),
            parts.join(" ")
        ));
        s
    };

    // Missed pairs.
    let mut classes: BTreeMap<&str, Vec<CandidatePair>> = BTreeMap::new();
    let mut shared_hist: BTreeMap<(&str, String), u64> = BTreeMap::new();
    for recs in by_person.values() {
        for (i, &a) in recs.iter().enumerate() {
            for &b in &recs[i + 1..] {
                if cluster[a as usize] == cluster[b as usize] {
                    continue;
                }
                let p = CandidatePair {
                    a: a.min(b),
                    b: a.max(b),
                };
                let class = match scored.get(&p) {
                    None => "miss: never a candidate",
                    Some(s) if s.vetoed => "miss: vetoed",
                    Some(s) if !s.linked(&res.model) => "miss: below threshold",
                    Some(_) => "miss: linked, cut by clustering",
                };
                *shared_hist
                    .entry((class, shared(&mrs[a as usize], &mrs[b as usize])))
                    .or_default() += 1;
                classes.entry(class).or_default().push(p);
            }
        }
    }
    // Pairs in one predicted customer: false ones, and true links by what they share (to
    // weigh a change against the links it would cost).
    for c in &res.clusters {
        for (i, &a) in c.iter().enumerate() {
            for &b in &c[i + 1..] {
                let p = CandidatePair { a, b };
                let direct = scored.get(&p).is_some_and(|s| s.linked(&res.model));
                let same = person[a as usize] == person[b as usize];
                let class = match (same, direct) {
                    (false, true) => "false: direct link",
                    (false, false) => "false: chained",
                    (true, true) => "right: direct link",
                    (true, false) => "right: chained",
                };
                *shared_hist
                    .entry((class, shared(&mrs[a as usize], &mrs[b as usize])))
                    .or_default() += 1;
                let listed = classes.entry(class).or_default();
                if !same {
                    listed.push(p);
                }
            }
        }
    }
    // Missed pairs that share no identifying value (at most a given name or a city).
    let identifying = ["email", "phone", "family", "dob", "street", "pc"];
    for class in ["miss: never a candidate", "miss: below threshold"] {
        let n: u64 = shared_hist
            .iter()
            .filter(|((c, sig), _)| {
                *c == class && !sig.split(',').any(|f| identifying.contains(&f))
            })
            .map(|(_, n)| n)
            .sum();
        println!(
            "{class}: {n} share no e-mail, phone, family name, birth date, street or postcode"
        );
    }
    for (class, pairs) in &classes {
        println!("\n== {class}: {}", pairs.len());
        let mut hist: Vec<(&String, &u64)> = shared_hist
            .iter()
            .filter(|((c, _), _)| c == class)
            .map(|((_, s), n)| (s, n))
            .collect();
        hist.sort_by(|x, y| y.1.cmp(x.1).then(x.0.cmp(y.0)));
        for (s, n) in hist.iter().take(25) {
            println!("  {n:>6}  {s}");
        }
        // Spread examples over the list.
        let step = (pairs.len() / n_show.max(1)).max(1);
        for p in pairs.iter().step_by(step).take(n_show) {
            println!("{}", describe(*p));
        }
    }
}
