//! Cleansing throughput: `cargo bench --bench cleanse` (figures in `benches/README.md`).
//!
//! Records are generated in `support/records.rs`, deterministically, with the variety real
//! exports have (see there).

#[path = "support/records.rs"]
mod records;

use crmfuse::cleanse::{self, CleanseContext};
use crmfuse::record::Field;
use divan::Bencher;
use divan::counter::ItemsCount;
use records::{mapping, records, today};

/// The binary's allocator (src/main.rs), so that the figures are the pipeline's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    // `CLEANSE_CPU=N cargo bench --bench cleanse`: cleanse N generated records (rayon, per-run
    // memo, as `million_records`) once and print the process CPU time of the cleansing alone
    // (user + system, all threads, from getrusage), without the generation that a
    // whole-process `/usr/bin/time` also counts.
    if let Some(n) = std::env::var("CLEANSE_CPU")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
    {
        cpu_time(n);
        return;
    }
    divan::main();
}

fn cpu_seconds() -> f64 {
    // SAFETY: getrusage only writes the struct it is given.
    let usage = unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut u);
        u
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

fn cpu_time(n: usize) {
    let m = mapping();
    let recs = records(n);
    let ctx = CleanseContext::new(&m, today());
    let (cpu, wall) = (cpu_seconds(), std::time::Instant::now());
    let out = cleanse::cleanse_all(recs, &ctx);
    let (cpu, wall) = (cpu_seconds() - cpu, wall.elapsed().as_secs_f64());
    println!(
        "{n} records: cleansing {cpu:.3} CPU-s ({:.3} per million), wall {wall:.3} s, {} customers",
        cpu * 1e6 / n as f64,
        out.len()
    );
    // The outputs are dropped outside the measurement, as divan does.
    std::hint::black_box(out);
}

/// Whole records, rayon-parallel, as the pipeline's cleanse stage runs them.
#[divan::bench(args = [10_000, 100_000], sample_count = 10)]
fn records_parallel(bencher: Bencher, n: usize) {
    let m = mapping();
    bencher
        .counter(ItemsCount::new(n))
        .with_inputs(|| records(n))
        .bench_values(|recs| {
            let ctx = CleanseContext::new(&m, today());
            cleanse::cleanse_all(recs, &ctx)
        });
}

/// The same without the per-run memo: what remembering repeated values saves.
#[divan::bench(args = [100_000], sample_count = 10)]
fn records_parallel_without_memo(bencher: Bencher, n: usize) {
    let m = mapping();
    bencher
        .counter(ItemsCount::new(n))
        .with_inputs(|| records(n))
        .bench_values(|recs| {
            let ctx = CleanseContext::without_memo(&m, today());
            cleanse::cleanse_all(recs, &ctx)
        });
}

/// One thread, to separate the work from the parallel speed-up.
#[divan::bench(args = [100_000], sample_count = 10)]
fn records_one_thread(bencher: Bencher, n: usize) {
    let m = mapping();
    bencher
        .counter(ItemsCount::new(n))
        .with_inputs(|| records(n))
        .bench_values(|recs| {
            let ctx = CleanseContext::new(&m, today());
            recs.into_iter()
                .map(|r| cleanse::cleanse(r, &ctx))
                .collect::<Vec<_>>()
        });
}

/// The target: one million records in under three seconds on two cores.
#[divan::bench(sample_count = 3, sample_size = 1)]
fn million_records(bencher: Bencher) {
    let n = 1_000_000;
    let m = mapping();
    bencher
        .counter(ItemsCount::new(n))
        .with_inputs(|| records(n))
        .bench_values(|recs| {
            let ctx = CleanseContext::new(&m, today());
            cleanse::cleanse_all(recs, &ctx)
        });
}

/// Generating the inputs alone, to subtract from whole-process CPU measurements of the
/// benches above (`/usr/bin/time`, `perf stat`).
#[divan::bench(args = [100_000, 1_000_000], sample_count = 3, sample_size = 1)]
fn generate_only(bencher: Bencher, n: usize) {
    bencher.bench(|| records(n));
}

/// Single fields, one thread, 10,000 generated values each: where the time goes.
mod field {
    use super::*;
    use crmfuse::cleanse::{address, date, email, name, phone};

    const N: usize = 10_000;

    fn values(field: Field) -> Vec<String> {
        records(N * 2)
            .into_iter()
            .flat_map(|r| r.values)
            .filter(|(f, _)| *f == field)
            .map(|(_, v)| v)
            .take(N)
            .collect()
    }

    #[divan::bench]
    fn full_names(bencher: Bencher) {
        let v = values(Field::FullName);
        bencher.counter(ItemsCount::new(v.len())).bench(|| {
            v.iter()
                .map(|s| name::parse_full_name(s, name::NameOrder::LastFirst))
                .collect::<Vec<_>>()
        });
    }

    #[divan::bench]
    fn name_keys(bencher: Bencher) {
        let v = values(Field::FullName);
        bencher
            .counter(ItemsCount::new(v.len()))
            .bench(|| v.iter().map(|s| name::name_key(s)).collect::<Vec<_>>());
    }

    #[divan::bench]
    fn emails(bencher: Bencher) {
        let v = values(Field::Email);
        bencher.counter(ItemsCount::new(v.len())).bench(|| {
            v.iter()
                .map(|s| email::cleanse_email(s))
                .collect::<Vec<_>>()
        });
    }

    #[divan::bench]
    fn phones(bencher: Bencher) {
        let v = values(Field::Phone);
        bencher.counter(ItemsCount::new(v.len())).bench(|| {
            v.iter()
                .map(|s| phone::cleanse_phone(s, Some("DE")))
                .collect::<Vec<_>>()
        });
    }

    #[divan::bench]
    fn streets(bencher: Bencher) {
        let v = values(Field::AddressLine1);
        bencher.counter(ItemsCount::new(v.len())).bench(|| {
            v.iter()
                .map(|s| address::clean_street(s, Some("DE")))
                .collect::<Vec<_>>()
        });
    }

    #[divan::bench]
    fn postcodes(bencher: Bencher) {
        let v = values(Field::Postcode);
        bencher.counter(ItemsCount::new(v.len())).bench(|| {
            v.iter()
                .map(|s| address::parse_postcode(s, Some("DE")))
                .collect::<Vec<_>>()
        });
    }

    #[divan::bench]
    fn countries(bencher: Bencher) {
        let v = values(Field::Country);
        bencher.counter(ItemsCount::new(v.len())).bench(|| {
            v.iter()
                .map(|s| address::country_code(s))
                .collect::<Vec<_>>()
        });
    }

    #[divan::bench]
    fn cities(bencher: Bencher) {
        let v = values(Field::City);
        bencher.counter(ItemsCount::new(v.len())).bench(|| {
            v.iter()
                .map(|s| address::place_key(&address::standardise_place(s)))
                .collect::<Vec<_>>()
        });
    }

    #[divan::bench]
    fn birth_dates(bencher: Bencher) {
        let v = values(Field::BirthDate);
        let format = date::DateFormat::new("%d.%m.%Y");
        bencher.counter(ItemsCount::new(v.len())).bench(|| {
            v.iter()
                .map(|s| date::parse_birth_date_with(s, Some(&format), today()))
                .collect::<Vec<_>>()
        });
    }

    #[divan::bench]
    fn timestamps(bencher: Bencher) {
        let v = values(Field::CreatedAt);
        let format = date::DateFormat::new("%d.%m.%Y %H:%M");
        bencher.counter(ItemsCount::new(v.len())).bench(|| {
            v.iter()
                .map(|s| date::parse_timestamp_with(s, Some(&format)))
                .collect::<Vec<_>>()
        });
    }
}
