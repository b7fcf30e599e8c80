//! `crmfuse synth`: a generator of realistic, messy customer exports with ground truth.
//!
//! It invents `people` persons and writes what five siloed systems of one company would
//! export about them, each with its own format and habits:
//!
//! | file               | system                 | format                                              |
//! |--------------------|------------------------|-----------------------------------------------------|
//! | `erp.csv`          | ERP customer master    | Windows-1252, `;`, CRLF, title line, "LAST, FIRST"  |
//! | `webshop.jsonl`    | online shop accounts   | JSON Lines, nested objects, ISO timestamps, phones[]|
//! | `support.csv`      | helpdesk contacts      | UTF-8 with BOM, `,`, "First Last", multi-line notes |
//! | `sales_sheet.csv`  | sales team spreadsheet | CRLF, two junk lines, messy headers, "N/A" values   |
//! | `newsletter.csv`   | marketing list         | e-mail, first name, consent                         |
//!
//! plus `mappings/*.toml`, `pipeline.toml` (see docs/FORMATS.md) and `truth.csv`
//! (`source,source_key,person_id,line`) naming the real person behind every row.
//!
//! Output is a pure function of `(people, seed)`: people are generated in fixed-size chunks,
//! chunk `i` from `Rng::new(seed).derive(i)`, in parallel, and written in chunk order.
//! Rows are shuffled within each chunk, so row order says little about who is who.
//!
//! Each person is in 1-4 systems (66% in one, 25% two, 7% three, 2% four; about 1.5
//! records per person) and sometimes twice in one system under another key. A record is the
//! person as that system saw them at one time (`updated_at`): before a move it shows the old
//! address, before a wedding the maiden name, before a change the old e-mail or mobile (and
//! now and then a system simply kept the stale value). On top come the system's habits:
//! nicknames, typos (substitution, transposition, deletion, doubling), ü -> ue / u, ALL CAPS,
//! lower case or forced proper case, street abbreviations, other city spellings, missing
//! fields, phone formats (E.164, national with spaces / slashes / brackets, 00 prefix),
//! e-mail case, Gmail dots and `+tags`, googlemail.com, legacy `?` for letters outside
//! Windows-1252, spreadsheet-stripped leading zeros, day-first dates in a month-first column.
//!
//! Distinct people who look alike, on purpose: twins (same family name, address, landline and
//! birth date; other given name and e-mail), father and son (same name and address, `Jr.` /
//! `Sr.` only sometimes written, birth dates 22-36 years apart), couples at one address
//! (shared landline, often the family name, sometimes one family mailbox), and namesakes
//! (same given and family name, usually in another city, sometimes the same birth year);
//! besides these, Zipf-weighted name pools make common names collide by chance.
//!
//! E-mail addresses are fictional: example.com/.org/.net, `*.example` company domains or
//! public providers with generated local parts. Phone numbers are random subscriber numbers
//! in valid national numbering (area codes of the person's city, mobile prefixes), because
//! the ranges reserved for fiction are either rejected by libphonenumber's validation (UK
//! 07700 900, FR 06 39 98) or so small that unrelated people would share numbers at scale.
//! They may coincide with real numbers; nothing ever dials them.

mod data;

use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::rng::Rng;
use data::{Block, City, Country, Culture, Given, Postcodes};

/// What to generate and where.
#[derive(Debug, Clone)]
pub struct SynthOptions {
    /// Number of distinct real persons.
    pub people: usize,
    /// Seed; the output is identical for identical `(people, seed)`.
    pub seed: u64,
    /// Output directory, created if missing.
    pub out: PathBuf,
}

/// What was written.
#[derive(Debug, Clone)]
pub struct SynthSummary {
    pub people: usize,
    /// Data rows per source, in `pipeline.toml` order.
    pub records_per_source: Vec<(String, usize)>,
    /// Every file written, data files first.
    pub files: Vec<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("--people must be at least 1")]
    NoPeople,
    #[error("--people {0} is too large (at most {max})", max = MAX_PEOPLE)]
    TooManyPeople(usize),
}

/// Upper bound on `people` (keeps person indices and key spaces comfortably in range).
pub const MAX_PEOPLE: usize = 100_000_000;

/// People per chunk. Fixed (not derived from the thread count) so output never depends on it.
const CHUNK: usize = 2048;
/// Chunks generated in parallel before they are written (bounds memory).
const BATCH: usize = 32;

// ---------------------------------------------------------------------------------------
// Sources
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Src {
    Erp = 0,
    Webshop = 1,
    Support = 2,
    Sales = 3,
    Newsletter = 4,
}

const SOURCES: [Src; 5] = [
    Src::Erp,
    Src::Webshop,
    Src::Support,
    Src::Sales,
    Src::Newsletter,
];

impl Src {
    fn name(self) -> &'static str {
        match self {
            Src::Erp => "erp",
            Src::Webshop => "webshop",
            Src::Support => "support",
            Src::Sales => "sales_sheet",
            Src::Newsletter => "newsletter",
        }
    }
    fn file(self) -> &'static str {
        match self {
            Src::Erp => "erp.csv",
            Src::Webshop => "webshop.jsonl",
            Src::Support => "support.csv",
            Src::Sales => "sales_sheet.csv",
            Src::Newsletter => "newsletter.csv",
        }
    }
    /// How likely a person is to be in this system (relative).
    fn weight(self) -> f64 {
        match self {
            Src::Erp => 0.38,
            Src::Webshop => 0.34,
            Src::Support => 0.12,
            Src::Sales => 0.06,
            Src::Newsletter => 0.10,
        }
    }
    /// Chance that a person present in this system has a second record there.
    fn dup_rate(self) -> f64 {
        match self {
            Src::Erp => 0.02,
            Src::Webshop => 0.05,
            Src::Support => 0.04,
            Src::Sales => 0.03,
            Src::Newsletter => 0.03,
        }
    }
    /// Everything before the first data row, exactly as written.
    fn preamble(self) -> &'static [u8] {
        match self {
            Src::Erp => ERP_PREAMBLE,
            Src::Webshop => b"",
            Src::Support => SUPPORT_PREAMBLE,
            Src::Sales => SALES_PREAMBLE,
            Src::Newsletter => NEWSLETTER_PREAMBLE,
        }
    }
    /// 1-based line of the first data row.
    fn first_data_line(self) -> u64 {
        self.preamble().iter().filter(|b| **b == b'\n').count() as u64 + 1
    }
    fn mapping(self) -> &'static str {
        match self {
            Src::Erp => ERP_MAPPING,
            Src::Webshop => WEBSHOP_MAPPING,
            Src::Support => SUPPORT_MAPPING,
            Src::Sales => SALES_MAPPING,
            Src::Newsletter => NEWSLETTER_MAPPING,
        }
    }
}

const ERP_PREAMBLE: &[u8] = b"Kundenstamm Export Mandant 01\r\n\
KUNDENNR;ANREDE;TITEL;NAME;GEBDAT;STRASSE;PLZ;ORT;LAND;TELEFON;TELEFON2;EMAIL;FIRMA;KDGRP;ANGELEGT;GEAENDERT\r\n";
const SUPPORT_PREAMBLE: &[u8] = b"\xEF\xBB\xBFcontact_id,name,email,phone,organization,city,country,language,created_at,updated_at,notes\n";
const SALES_PREAMBLE: &[u8] = b"Leads & contacts - shared sheet - DO NOT SORT\r\n\r\n\
Lead #,First Name,last_name,E-Mail Address,Phone (work),Cell,Company / Org,Street,Zip/Postcode,City,State,Country,DOB,Last Contact,Owner,Newsletter?,Notes\r\n";
const NEWSLETTER_PREAMBLE: &[u8] =
    b"subscriber_id,email,first_name,consent,optin_time,signup_channel\n";

const ERP_MAPPING: &str = r##"# ERP customer master (legacy, German locale)
encoding = "windows-1252"
delimiter = ";"
header_line = 2
key = "KUNDENNR"
empty = ["00.00.0000", "k.A."]
phone_region = "DE"
date_format = "%d.%m.%Y"
keep_unmapped = true

[fields]
title = "TITEL"
full_name = { column = "NAME", order = "last_first" }
birth_date = "GEBDAT"
address_line1 = "STRASSE"
postcode = "PLZ"
city = "ORT"
country = "LAND"
phone = ["TELEFON", "TELEFON2"]
email = "EMAIL"
company = "FIRMA"
created_at = { column = "ANGELEGT", format = "%d.%m.%Y %H:%M" }
updated_at = { column = "GEAENDERT", format = "%d.%m.%Y %H:%M" }
"##;

const WEBSHOP_MAPPING: &str = r##"# Online shop customer accounts (JSON Lines export)
key = "id"
phone_region = "DE"
date_format = "%Y-%m-%d"
keep_unmapped = true

[fields]
given_name = "customer.firstName"
family_name = "customer.lastName"
birth_date = "customer.dateOfBirth"
email = "contact.email"
phone = "contact.phones"
address_line1 = "addresses.0.street"
address_line2 = "addresses.0.street2"
postcode = "addresses.0.zip"
city = "addresses.0.city"
region = "addresses.0.state"
country = "addresses.0.country"
company = "company"
created_at = { column = "createdAt", format = "%Y-%m-%dT%H:%M:%SZ" }
updated_at = { column = "updatedAt", format = "%Y-%m-%dT%H:%M:%SZ" }
marketing_consent = "marketing.newsletter"
"##;

const SUPPORT_MAPPING: &str = r##"# Helpdesk contacts (UTF-8 with BOM)
encoding = "utf-8"
delimiter = ","
key = "contact_id"
phone_region = "GB"
date_format = "%Y-%m-%d %H:%M:%S"
keep_unmapped = true

[fields]
full_name = { column = "name", order = "auto" }
email = "email"
phone = "phone"
company = "organization"
city = "city"
country = "country"
created_at = "created_at"
updated_at = "updated_at"
"##;

const SALES_MAPPING: &str = r##"# Sales team's shared spreadsheet (shadow system)
delimiter = ","
header_line = 3
key = "Lead #"
empty = ["?", "TBD", "unknown", "#N/A"]
phone_region = "US"
date_format = "%m/%d/%Y"
keep_unmapped = true

[fields]
given_name = "First Name"
family_name = "last_name"
email = "E-Mail Address"
phone = ["Phone (work)", "Cell"]
company = "Company / Org"
address_line1 = "Street"
postcode = "Zip/Postcode"
city = "City"
region = "State"
country = "Country"
birth_date = "DOB"
updated_at = { column = "Last Contact", format = "%m/%d/%Y %H:%M" }
marketing_consent = "Newsletter?"
"##;

const NEWSLETTER_MAPPING: &str = r##"# Marketing list export
delimiter = ","
key = "subscriber_id"
keep_unmapped = true

[fields]
email = "email"
given_name = "first_name"
marketing_consent = { column = "consent", yes = ["subscribed"], no = ["unsubscribed", "cleaned"] }
created_at = { column = "optin_time", format = "%Y-%m-%d %H:%M:%S" }
"##;

fn pipeline_toml(people: usize, seed: u64) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# Generated by `crmfuse synth --people {people} --seed {seed}`.\n\
         # Run from this directory: `crmfuse run pipeline.toml` writes crm.db here.\n"
    );
    s.push_str("[store]\npath = \"crm.db\"\n");
    let trust = |src: Src| match src {
        Src::Erp => 1,
        Src::Webshop => 2,
        Src::Support => 3,
        Src::Newsletter => 4,
        Src::Sales => 5,
    };
    for src in SOURCES {
        let format = if src == Src::Webshop { "jsonl" } else { "csv" };
        let _ = write!(
            s,
            "\n[[sources]]\nname = \"{}\"\npath = \"{}\"\nformat = \"{format}\"\n\
             mapping = \"mappings/{}.toml\"\ntrust = {}\nshadow = {}\non_disappear = \"detach\"\n",
            src.name(),
            src.file(),
            src.name(),
            trust(src),
            src == Src::Sales,
        );
    }
    s.push_str(
        "\n[survivorship.owners]\n\
         name = [\"erp\", \"webshop\"]\n\
         address = [\"erp\", \"webshop\"]\n\
         birth_date = [\"erp\", \"webshop\"]\n\
         email = [\"webshop\", \"newsletter\", \"support\"]\n\
         phone = [\"support\", \"webshop\", \"erp\"]\n\
         company = [\"erp\", \"support\"]\n\
         marketing_consent = [\"newsletter\", \"webshop\"]\n",
    );
    s
}

// ---------------------------------------------------------------------------------------
// Entry point
// ---------------------------------------------------------------------------------------

/// Writes the synthetic data set described in the module docs into `opts.out`.
pub fn generate(opts: &SynthOptions) -> Result<SynthSummary, SynthError> {
    if opts.people == 0 {
        return Err(SynthError::NoPeople);
    }
    if opts.people > MAX_PEOPLE {
        return Err(SynthError::TooManyPeople(opts.people));
    }
    let dir = &opts.out;
    let mappings_dir = dir.join("mappings");
    std::fs::create_dir_all(&mappings_dir).map_err(|e| io_err(&mappings_dir, e))?;

    let root = Rng::new(opts.seed);
    let ctx = Ctx {
        people: opts.people as u64,
        root: root.clone(),
        key_salts: std::array::from_fn(|i| root.derive(u64::MAX - i as u64).next_u64()),
    };

    let mut writers = Vec::with_capacity(SOURCES.len());
    for src in SOURCES {
        let path = dir.join(src.file());
        let mut w = Out::create(path)?;
        w.write(src.preamble())?;
        writers.push(w);
    }
    let mut truth = Out::create(dir.join("truth.csv"))?;
    truth.write(b"source,source_key,person_id,line\n")?;

    let mut next_line: Vec<u64> = SOURCES.iter().map(|s| s.first_data_line()).collect();
    let mut counts = [0usize; 5];
    let chunks = opts.people.div_ceil(CHUNK);
    let mut line = String::new();
    let mut mailboxes = Mailboxes::default();
    for batch_start in (0..chunks).step_by(BATCH) {
        let batch_end = (batch_start + BATCH).min(chunks);
        let mut people: Vec<(Vec<Person>, Rng)> = (batch_start..batch_end)
            .into_par_iter()
            .map(|c| gen_persons(&ctx, c))
            .collect();
        // In person order, so the result does not depend on the thread count.
        for (persons, _) in &mut people {
            for p in persons.iter_mut() {
                mailboxes.claim(p);
            }
        }
        let outs: Vec<ChunkOut> = people
            .into_par_iter()
            .map(|(persons, rng)| render_chunk(&ctx, &persons, rng))
            .collect();
        for out in outs {
            for (si, so) in out.srcs.iter().enumerate() {
                writers[si].write(&so.bytes)?;
                for row in &so.rows {
                    line.clear();
                    let _ = writeln!(
                        line,
                        "{},{},{},{}",
                        SOURCES[si].name(),
                        row.key,
                        person_id(row.person),
                        next_line[si]
                    );
                    truth.write(line.as_bytes())?;
                    next_line[si] += u64::from(row.lines);
                }
                counts[si] += so.rows.len();
            }
        }
    }

    let mut files = Vec::new();
    for w in writers {
        files.push(w.finish()?);
    }
    files.push(truth.finish()?);
    for src in SOURCES {
        let path = mappings_dir.join(format!("{}.toml", src.name()));
        std::fs::write(&path, src.mapping()).map_err(|e| io_err(&path, e))?;
        files.push(path);
    }
    let path = dir.join("pipeline.toml");
    std::fs::write(&path, pipeline_toml(opts.people, opts.seed)).map_err(|e| io_err(&path, e))?;
    files.push(path);

    Ok(SynthSummary {
        people: opts.people,
        records_per_source: SOURCES
            .iter()
            .zip(counts)
            .map(|(s, n)| (s.name().to_string(), n))
            .collect(),
        files,
    })
}

fn io_err(path: &Path, source: std::io::Error) -> SynthError {
    SynthError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A buffered output file that remembers its path for error messages.
struct Out {
    path: PathBuf,
    w: BufWriter<File>,
}

impl Out {
    fn create(path: PathBuf) -> Result<Self, SynthError> {
        let f = File::create(&path).map_err(|e| io_err(&path, e))?;
        Ok(Out {
            w: BufWriter::with_capacity(1 << 20, f),
            path,
        })
    }
    fn write(&mut self, bytes: &[u8]) -> Result<(), SynthError> {
        self.w.write_all(bytes).map_err(|e| io_err(&self.path, e))
    }
    fn finish(self) -> Result<PathBuf, SynthError> {
        let Out { path, w } = self;
        let f = w.into_inner().map_err(|e| io_err(&path, e.into_error()))?;
        f.sync_all().map_err(|e| io_err(&path, e))?;
        Ok(path)
    }
}

/// `P0000001` for person index 0.
fn person_id(idx: u64) -> String {
    format!("P{:07}", idx + 1)
}

// ---------------------------------------------------------------------------------------
// Tables (weighted samplers over the built-in pools)
// ---------------------------------------------------------------------------------------

struct Weighted {
    cum: Vec<f64>,
}

impl Weighted {
    fn new(weights: impl IntoIterator<Item = f64>) -> Self {
        let mut acc = 0.0;
        let cum = weights
            .into_iter()
            .map(|w| {
                acc += w;
                acc
            })
            .collect();
        Weighted { cum }
    }
    /// Zipf-like weights `1 / (rank + k)` for `n` items ordered by frequency.
    fn zipf(n: usize, k: f64) -> Self {
        Self::new((0..n).map(|r| 1.0 / (r as f64 + k)))
    }
    fn sample(&self, rng: &mut Rng) -> usize {
        let total = *self.cum.last().expect("non-empty sampler");
        let u = rng.f64() * total;
        self.cum
            .partition_point(|c| *c <= u)
            .min(self.cum.len() - 1)
    }
}

struct Tables {
    given: [[Weighted; 2]; 3],
    family: [Weighted; 3],
    cities: [(Vec<usize>, Weighted); 4],
}

fn tables() -> &'static Tables {
    static T: std::sync::OnceLock<Tables> = std::sync::OnceLock::new();
    T.get_or_init(|| {
        let gw = |l: &[Given]| Weighted::zipf(l.len(), 10.0);
        let cities = |c: Country| {
            let idx: Vec<usize> = (0..data::CITIES.len())
                .filter(|&i| data::CITIES[i].country == c)
                .collect();
            let w = Weighted::new(idx.iter().map(|&i| f64::from(data::CITIES[i].weight)));
            (idx, w)
        };
        Tables {
            given: [
                [gw(data::DE_MALE), gw(data::DE_FEMALE)],
                [gw(data::EN_MALE), gw(data::EN_FEMALE)],
                [gw(data::FR_MALE), gw(data::FR_FEMALE)],
            ],
            family: [
                Weighted::zipf(data::DE_FAMILY.len(), 15.0),
                Weighted::zipf(data::EN_FAMILY.len(), 15.0),
                Weighted::zipf(data::FR_FAMILY.len(), 15.0),
            ],
            cities: [
                cities(Country::De),
                cities(Country::Uk),
                cities(Country::Us),
                cities(Country::Fr),
            ],
        }
    })
}

fn cidx(c: Culture) -> usize {
    match c {
        Culture::De => 0,
        Culture::En => 1,
        Culture::Fr => 2,
    }
}

fn given_list(c: Culture, female: bool) -> &'static [Given] {
    match (c, female) {
        (Culture::De, false) => data::DE_MALE,
        (Culture::De, true) => data::DE_FEMALE,
        (Culture::En, false) => data::EN_MALE,
        (Culture::En, true) => data::EN_FEMALE,
        (Culture::Fr, false) => data::FR_MALE,
        (Culture::Fr, true) => data::FR_FEMALE,
    }
}

// ---------------------------------------------------------------------------------------
// Calendar (days since 1970-01-01; seconds for timestamps)
// ---------------------------------------------------------------------------------------

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

const DAY: i64 = 86_400;

/// Splits a timestamp (seconds) into (y, m, d, hh, mm, ss).
fn split_ts(ts: i64) -> (i64, u32, u32, i64, i64, i64) {
    let (y, m, d) = civil_from_days(ts.div_euclid(DAY));
    let s = ts.rem_euclid(DAY);
    (y, m, d, s / 3600, s / 60 % 60, s % 60)
}

/// A random working-hours timestamp on `day`.
fn ts_on(day: i64, rng: &mut Rng) -> i64 {
    day * DAY + rng.range_inclusive(7 * 3600, 19 * 3600 + 59 * 60)
}

struct Epoch {
    start: i64,
    end: i64,
}

fn epoch() -> Epoch {
    Epoch {
        start: days_from_civil(2010, 1, 1),
        end: days_from_civil(2025, 6, 30),
    }
}

// ---------------------------------------------------------------------------------------
// Persons
// ---------------------------------------------------------------------------------------

#[derive(Clone)]
struct Phone {
    country: Country,
    area: &'static str,
    /// Subscriber digits including extension digits.
    sub: String,
    /// How many trailing digits of `sub` are a direct-dial extension.
    ext: u8,
}

#[derive(Clone)]
struct Address {
    city: &'static City,
    street: &'static str,
    house: String,
    line2: Option<String>,
    postcode: String,
}

#[derive(Clone)]
struct Person {
    idx: u64,
    female: bool,
    culture: Culture,
    given: &'static Given,
    middle: Option<&'static str>,
    family: String,
    /// Family name used before `name_change` (maiden name, or the name before a divorce).
    old_family: Option<String>,
    name_change: i64,
    suffix: Option<&'static str>,
    title: Option<&'static str>,
    birth: i64,
    addr: Address,
    old_addr: Option<Address>,
    move_day: i64,
    email: String,
    old_email: Option<String>,
    email_change: i64,
    work_email: Option<String>,
    landline: Option<Phone>,
    mobile: Option<Phone>,
    old_mobile: Option<Phone>,
    phone_change: i64,
    company: Option<Employer>,
    consent: bool,
    /// First contact with the company (day).
    since: i64,
    /// Persons of one household may share a mailbox (a couple's family address); the
    /// index of the household's first person.
    household: u64,
}

impl Person {
    fn country(&self) -> Country {
        self.addr.city.country
    }
}

fn pick_country(rng: &mut Rng) -> Country {
    let u = rng.f64();
    if u < 0.50 {
        Country::De
    } else if u < 0.68 {
        Country::Uk
    } else if u < 0.85 {
        Country::Us
    } else {
        Country::Fr
    }
}

fn pick_culture(country: Country, rng: &mut Rng) -> Culture {
    let u = rng.f64();
    match country {
        Country::De if u < 0.86 => Culture::De,
        Country::De if u < 0.95 => Culture::En,
        Country::De => Culture::Fr,
        Country::Uk | Country::Us if u < 0.93 => Culture::En,
        Country::Uk | Country::Us if u < 0.97 => Culture::De,
        Country::Uk | Country::Us => Culture::Fr,
        Country::Fr if u < 0.89 => Culture::Fr,
        Country::Fr if u < 0.95 => Culture::En,
        Country::Fr => Culture::De,
    }
}

fn family_name(c: Culture, rng: &mut Rng) -> String {
    let t = tables();
    if rng.chance(0.72) {
        let list = match c {
            Culture::De => data::DE_FAMILY,
            Culture::En => data::EN_FAMILY,
            Culture::Fr => data::FR_FAMILY,
        };
        list[t.family[cidx(c)].sample(rng)].to_string()
    } else {
        match c {
            Culture::De => format!(
                "{}{}",
                rng.pick(data::DE_TAIL_ROOTS),
                rng.pick(data::DE_TAIL_SUFFIXES)
            ),
            Culture::En => format!(
                "{}{}",
                rng.pick(data::EN_TAIL_ROOTS),
                rng.pick(data::EN_TAIL_SUFFIXES)
            ),
            Culture::Fr => format!(
                "{}{}",
                rng.pick(data::FR_TAIL_PREFIXES),
                rng.pick(data::FR_TAIL_ROOTS)
            ),
        }
    }
}

fn given_name(c: Culture, female: bool, rng: &mut Rng) -> &'static Given {
    let list = given_list(c, female);
    &list[tables().given[cidx(c)][usize::from(female)].sample(rng)]
}

fn pick_city(country: Country, rng: &mut Rng) -> &'static City {
    let (idx, w) = &tables().cities[country as usize];
    &data::CITIES[idx[w.sample(rng)]]
}

fn gen_address(country: Country, rng: &mut Rng) -> Address {
    let city = pick_city(country, rng);
    gen_address_in(city, rng)
}

fn gen_address_in(city: &'static City, rng: &mut Rng) -> Address {
    let (street, house, line2) = match city.country {
        Country::De => {
            let mut h = rng.range_inclusive(1, 140).to_string();
            if rng.chance(0.08) {
                h.push(*rng.pick(&['a', 'b', 'c']));
            }
            let l2 = if rng.chance(0.06) {
                Some(
                    (*rng.pick(&["Hinterhaus", "2. OG", "c/o Meier", "Aufgang B", "WE 12"]))
                        .to_string(),
                )
            } else {
                None
            };
            (*rng.pick(data::DE_STREETS), h, l2)
        }
        Country::Uk => {
            let h = rng.range_inclusive(1, 220).to_string();
            let l2 = if rng.chance(0.12) {
                Some(format!("Flat {}", rng.range_inclusive(1, 24)))
            } else {
                None
            };
            (*rng.pick(data::UK_STREETS), h, l2)
        }
        Country::Us => {
            let h = rng.range_inclusive(10, 9899).to_string();
            let l2 = if rng.chance(0.15) {
                Some(match rng.below(3) {
                    0 => format!("Apt {}", rng.range_inclusive(1, 40)),
                    1 => format!(
                        "Apt {}{}",
                        rng.range_inclusive(1, 12),
                        rng.pick(&['A', 'B', 'C', 'D'])
                    ),
                    _ => format!("Suite {}", rng.range_inclusive(1, 9) * 100),
                })
            } else {
                None
            };
            (*rng.pick(data::US_STREETS), h, l2)
        }
        Country::Fr => {
            let mut h = rng.range_inclusive(1, 120).to_string();
            if rng.chance(0.05) {
                h.push_str(if rng.chance(0.7) { " bis" } else { " ter" });
            }
            let l2 = if rng.chance(0.08) {
                Some(match rng.below(2) {
                    0 => format!("Bâtiment {}", rng.pick(&["A", "B", "C"])),
                    _ => format!("Appartement {}", rng.range_inclusive(1, 60)),
                })
            } else {
                None
            };
            (*rng.pick(data::FR_STREETS), h, l2)
        }
    };
    let postcode = match city.postcodes {
        Postcodes::Range(lo, hi) => {
            format!("{:05}", rng.range_inclusive(i64::from(lo), i64::from(hi)))
        }
        Postcodes::Outward(outs) => {
            const L: &[u8] = b"ABDEFGHJLNPQRSTUWXYZ";
            format!(
                "{} {}{}{}",
                rng.pick(outs),
                rng.below(10),
                *rng.pick(L) as char,
                *rng.pick(L) as char
            )
        }
    };
    Address {
        city,
        street,
        house,
        line2,
        postcode,
    }
}

fn phone_in(country: Country, block: &Block, rng: &mut Rng) -> Phone {
    let mut sub = String::with_capacity(12);
    sub.push_str(block.prefix);
    for _ in 0..(block.free + block.ext) {
        sub.push((b'0' + rng.below(10) as u8) as char);
    }
    Phone {
        country,
        area: block.area,
        sub,
        ext: block.ext,
    }
}

fn landline_for(city: &'static City, rng: &mut Rng) -> Phone {
    let blocks: &[Block] = if city.landline.is_empty() {
        match city.country {
            // People outside the five German drama-number areas still get a number from
            // one of those blocks (kept from an earlier home, or an office line).
            Country::De => {
                let blocks: &&[Block] = rng.pick(data::DE_BLOCKS);
                blocks
            }
            Country::Uk => data::UK_LONDON,
            Country::Us | Country::Fr => pick_city(city.country, rng).landline,
        }
    } else {
        city.landline
    };
    phone_in(city.country, rng.pick(blocks), rng)
}

/// A mobile number. Germany has no usable reserved mobile range (only a dozen single
/// numbers), so German "second numbers" come from the reserved landline blocks too.
fn mobile_for(country: Country, rng: &mut Rng) -> Phone {
    match country {
        Country::De => phone_in(country, rng.pick(data::DE_MOBILE), rng),
        Country::Uk => phone_in(country, &data::UK_MOBILE, rng),
        Country::Fr => phone_in(country, &data::FR_MOBILE, rng),
        Country::Us => {
            let area = *rng.pick(data::US_MOBILE_AREAS);
            let block = Block {
                area,
                prefix: "5",
                free: 6,
                ext: 0,
            };
            phone_in(country, &block, rng)
        }
    }
}

/// Lower-case ASCII form of a name for e-mail local parts (`Müller` -> `mueller`).
fn mail_part(s: &str, fold: Fold) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in folded(s, fold).chars() {
        match ch {
            'a'..='z' | '0'..='9' => out.push(ch),
            'A'..='Z' => out.push(ch.to_ascii_lowercase()),
            '-' => out.push('-'),
            _ => {}
        }
    }
    out
}

fn make_email(given: &str, family: &str, birth: i64, country: Country, rng: &mut Rng) -> String {
    let fold = if rng.chance(0.8) {
        Fold::German
    } else {
        Fold::Strip
    };
    let g = mail_part(given, fold);
    let mut f = mail_part(family, fold);
    if rng.chance(0.5) {
        f.retain(|c| c != '-');
    }
    let g0 = g.chars().next().unwrap_or('x');
    let (y, _, _) = civil_from_days(birth);
    // Mailboxes are unique: most addresses carry digits, because the plain ones of common
    // names are long taken. Plain forms stay rare so unrelated namesakes seldom collide.
    let n = rng.range_inclusive(1, 9999);
    let local = match rng.below(100) {
        0..=5 => format!("{g}.{f}"),
        6..=8 => format!("{g}{f}"),
        9..=11 => format!("{g0}.{f}"),
        12..=25 => format!("{g}.{f}{y}"),
        26..=40 => format!("{g}.{f}{n}"),
        41..=50 => format!("{g}{f}{n}"),
        51..=58 => format!("{g0}{f}{n}"),
        59..=64 => format!("{f}.{g}{n}"),
        65..=70 => format!("{g}_{f}{:02}", y % 100),
        71..=78 => format!("{f}{g0}{n}"),
        79..=86 => format!("{g}.{f}.{n}"),
        _ => format!("{g}{}", rng.range_inclusive(100, 99_999)),
    };
    let domain = if rng.chance(0.2) {
        *rng.pick(data::EXAMPLE_MAIL)
    } else {
        let list = match country {
            Country::De => data::DE_MAIL,
            Country::Uk => data::UK_MAIL,
            Country::Us => data::US_MAIL,
            Country::Fr => data::FR_MAIL,
        };
        // gmail.com (first) is the most common provider everywhere.
        if rng.chance(0.3) {
            list[0]
        } else {
            *rng.pick(list)
        }
    };
    format!("{local}@{domain}")
}

fn work_email(given: &str, family: &str, co: &Employer, rng: &mut Rng) -> String {
    let g = mail_part(given, Fold::German);
    let f: String = mail_part(family, Fold::German)
        .chars()
        .filter(|c| *c != '-')
        .collect();
    let g0 = g.chars().next().unwrap_or('x');
    let local = match rng.below(10) {
        0..=6 => format!("{g}.{f}"),
        7 | 8 => format!("{g0}.{f}"),
        _ => format!("{g}.{f}{}", rng.range_inclusive(2, 9)),
    };
    format!("{local}@{}", co.domain)
}

/// An employer: its registered name, the other way people write it, its mail domain.
#[derive(Clone)]
struct Employer {
    name: String,
    variant: String,
    domain: String,
}

impl Employer {
    /// The name as a record shows it.
    fn shown(&self, rng: &mut Rng) -> &str {
        if rng.chance(0.4) {
            &self.variant
        } else {
            &self.name
        }
    }
}

/// A company from a few thousand generated ones (`root industry legal-form`), or now and
/// then one of the well-known fictional ones.
fn gen_employer(country: Country, rng: &mut Rng) -> Employer {
    if rng.chance(0.05) {
        let c = rng.pick(data::COMPANIES);
        return Employer {
            name: c.name.to_string(),
            variant: c.variant.to_string(),
            domain: format!("{}.example", c.slug),
        };
    }
    let (roots, industries, legal) = match country {
        Country::De => (data::DE_CO_ROOTS, data::DE_CO_INDUSTRIES, data::DE_CO_LEGAL),
        Country::Uk => (data::EN_CO_ROOTS, data::EN_CO_INDUSTRIES, data::UK_CO_LEGAL),
        Country::Us => (data::EN_CO_ROOTS, data::EN_CO_INDUSTRIES, data::US_CO_LEGAL),
        Country::Fr => (data::FR_CO_ROOTS, data::FR_CO_INDUSTRIES, data::FR_CO_LEGAL),
    };
    let root = *rng.pick(roots);
    let industry = *rng.pick(industries);
    let form = *rng.pick(legal);
    let name = if country == Country::Fr {
        format!("{industry} {root} {form}")
    } else {
        format!("{root} {industry} {form}")
    };
    let bare = if country == Country::Fr {
        format!("{industry} {root}")
    } else {
        format!("{root} {industry}")
    };
    let variant = match rng.below(4) {
        0 => bare.clone(),
        1 => {
            let alt = match form {
                "GmbH" => "G.m.b.H.",
                "GmbH & Co. KG" => "GmbH & Co KG",
                "Ltd" => "Limited",
                "Limited" => "Ltd.",
                "Inc." => "Incorporated",
                "LLC" => "L.L.C.",
                "Corp." => "Corporation",
                "SARL" => "S.A.R.L.",
                "SAS" => "S.A.S.",
                other => other,
            };
            format!("{bare} {alt}")
        }
        2 => folded(&name, Fold::German).into_owned(),
        _ => name.to_uppercase(),
    };
    let domain = format!(
        "{}-{}.example",
        mail_part(root, Fold::German),
        mail_part(industry, Fold::German)
    );
    Employer {
        name,
        variant,
        domain,
    }
}

fn gen_person(idx: u64, rng: &mut Rng) -> Person {
    let ep = epoch();
    let country = pick_country(rng);
    let culture = pick_culture(country, rng);
    let female = rng.chance(0.5);
    let given = given_name(culture, female, rng);
    let middle = match culture {
        Culture::En if rng.chance(0.45) => Some(*rng.pick(if female {
            data::EN_MIDDLE_F
        } else {
            data::EN_MIDDLE_M
        })),
        Culture::De if rng.chance(0.15) => Some(*rng.pick(if female {
            data::DE_MIDDLE_F
        } else {
            data::DE_MIDDLE_M
        })),
        _ => None,
    }
    .filter(|m| *m != given.name);
    let family = family_name(culture, rng);
    let birth = rng.range_inclusive(days_from_civil(1935, 1, 1), days_from_civil(2006, 12, 31));
    let addr = gen_address(country, rng);
    let since = rng.range_inclusive(ep.start.max(birth + 18 * 365), ep.end - 120);
    let event = |rng: &mut Rng| rng.range_inclusive(since + 30, ep.end - 30);

    // Family name change (marriage; the record before it shows the maiden name).
    let (old_family, name_change) =
        if female && birth < days_from_civil(1998, 1, 1) && rng.chance(0.07) {
            (Some(family_name(culture, rng)), event(rng))
        } else {
            (None, i64::MAX)
        };
    let (old_addr, move_day) = if rng.chance(0.15) {
        let old = if rng.chance(0.5) {
            gen_address_in(addr.city, rng)
        } else {
            gen_address(
                if rng.chance(0.9) {
                    country
                } else {
                    pick_country(rng)
                },
                rng,
            )
        };
        (Some(old), event(rng))
    } else {
        (None, i64::MAX)
    };
    let email = make_email(given.name, &family, birth, country, rng);
    let (old_email, email_change) = if rng.chance(0.12) {
        let fam = old_family.as_deref().unwrap_or(&family);
        (
            Some(make_email(given.name, fam, birth, country, rng)),
            event(rng),
        )
    } else {
        (None, i64::MAX)
    };
    let company = rng.chance(0.3).then(|| gen_employer(country, rng));
    let work_email = company
        .as_ref()
        .map(|c| work_email(given.name, &family, c, rng));
    let landline_rate = match country {
        Country::De => 0.55,
        Country::Uk | Country::Fr => 0.45,
        Country::Us => 0.35,
    };
    let landline = rng
        .chance(landline_rate)
        .then(|| landline_for(addr.city, rng));
    let mobile = (landline.is_none() || rng.chance(0.8)).then(|| mobile_for(country, rng));
    let (old_mobile, phone_change) = if mobile.is_some() && rng.chance(0.15) {
        (Some(mobile_for(country, rng)), event(rng))
    } else {
        (None, i64::MAX)
    };
    let title = if birth < days_from_civil(1992, 1, 1) && rng.chance(0.04) {
        Some(if rng.chance(0.85) { "Dr." } else { "Prof. Dr." })
    } else {
        None
    };
    Person {
        idx,
        female,
        culture,
        given,
        middle,
        family,
        old_family,
        name_change,
        suffix: None,
        title,
        birth,
        addr,
        old_addr,
        move_day,
        email,
        old_email,
        email_change,
        work_email,
        landline,
        mobile,
        old_mobile,
        phone_change,
        company,
        consent: rng.chance(0.55),
        since,
        household: idx,
    }
}

/// Rebuilds what derives from name, birth and address after a group maker changed them:
/// e-mail addresses, phones of another country, the first-contact day.
fn refresh_derived(p: &mut Person, rng: &mut Rng) {
    // A group maker may have changed the birth date or moved the person to another
    // country: keep first contact after the 18th birthday and phones in the country.
    let ep = epoch();
    let adult = p.birth + 18 * 365;
    if p.since < adult {
        p.since = rng.range_inclusive(adult.min(ep.end - 120), ep.end - 120);
    }
    let c = p.country();
    if p.landline.as_ref().is_some_and(|ph| ph.country != c) {
        p.landline = Some(landline_for(p.addr.city, rng));
    }
    if p.mobile.as_ref().is_some_and(|ph| ph.country != c) {
        p.mobile = Some(mobile_for(c, rng));
    }
    if p.old_mobile.as_ref().is_some_and(|ph| ph.country != c) {
        p.old_mobile = Some(mobile_for(c, rng));
    }
    p.email = make_email(p.given.name, &p.family, p.birth, p.country(), rng);
    p.old_email = None;
    p.email_change = i64::MAX;
    p.work_email = p
        .company
        .as_ref()
        .map(|c| work_email(p.given.name, &p.family, c, rng));
}

/// Rebuilds `p`'s e-mail addresses so that none equals one of `other`'s (look-alikes share
/// names, so the same address could come out, but a mailbox has one owner).
fn refresh_unlike(p: &mut Person, other: &Person, rng: &mut Rng) {
    let clash = |p: &Person| {
        p.email == other.email || (p.work_email.is_some() && p.work_email == other.work_email)
    };
    refresh_derived(p, rng);
    for _ in 0..10 {
        if !clash(p) {
            return;
        }
        refresh_derived(p, rng);
    }
    if clash(p) {
        p.email = p.email.replacen('@', &format!("{}@", p.idx % 1000), 1);
        p.work_email = p.work_email.take().map(|w| w.replacen('@', "2@", 1));
    }
}

/// The kinds of look-alike groups generated on purpose (besides chance namesakes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Group {
    Single,
    Twins,
    JuniorSenior,
    Couple,
    Namesake,
}

fn pick_group(rng: &mut Rng, room: usize) -> Group {
    let u = rng.f64();
    if room >= 2 && u < 0.006 {
        Group::Twins
    } else if room >= 2 && u < 0.012 {
        Group::JuniorSenior
    } else if room >= 2 && u < 0.062 {
        Group::Couple
    } else if u < 0.075 {
        Group::Namesake
    } else {
        Group::Single
    }
}

/// Twins: same family name, address, landline and birth date; other given name and e-mail.
fn make_twin(a: &Person, b: &mut Person, rng: &mut Rng) {
    b.culture = a.culture;
    b.family = a.family.clone();
    b.old_family = None;
    b.name_change = i64::MAX;
    b.addr = a.addr.clone();
    b.old_addr = a.old_addr.clone();
    b.move_day = a.move_day;
    b.birth = a.birth;
    b.landline = a.landline.clone();
    b.middle = None;
    for _ in 0..20 {
        b.given = given_name(b.culture, b.female, rng);
        if b.given.name != a.given.name && !a.given.nicks.contains(&b.given.name) {
            break;
        }
    }
    refresh_unlike(b, a, rng);
}

/// Father and son with the same name at one address; different birth dates, e-mails, mobiles.
fn make_junior(sr: &mut Person, jr: &mut Person, rng: &mut Rng) {
    sr.female = false;
    sr.old_family = None;
    sr.name_change = i64::MAX;
    sr.given = given_name(sr.culture, false, rng);
    sr.birth = rng.range_inclusive(days_from_civil(1935, 1, 1), days_from_civil(1970, 12, 31));
    jr.female = false;
    jr.culture = sr.culture;
    jr.given = sr.given;
    jr.middle = if rng.chance(0.6) {
        sr.middle
    } else {
        jr.middle
    };
    jr.family = sr.family.clone();
    jr.old_family = None;
    jr.name_change = i64::MAX;
    jr.addr = sr.addr.clone();
    jr.old_addr = None;
    jr.move_day = i64::MAX;
    jr.landline = sr.landline.clone();
    jr.birth =
        (sr.birth + rng.range_inclusive(22 * 365, 36 * 365)).min(days_from_civil(2006, 12, 31));
    if rng.chance(0.3) {
        jr.company = sr.company.clone();
    }
    let (s, j) = match sr.culture {
        Culture::En => ("Sr.", "Jr."),
        Culture::De => ("sen.", "jun."),
        Culture::Fr => ("père", "fils"),
    };
    sr.suffix = Some(s);
    jr.suffix = Some(j);
    refresh_derived(sr, rng);
    refresh_unlike(jr, sr, rng);
}

/// Partners at one address: shared landline, often a shared family name (the wife's
/// records before the wedding show her maiden name), sometimes a shared family mailbox.
fn make_couple(a: &mut Person, b: &mut Person, rng: &mut Rng) {
    let ep = epoch();
    b.female = !a.female || rng.chance(0.05);
    b.culture = if rng.chance(0.8) {
        a.culture
    } else {
        b.culture
    };
    b.given = given_name(b.culture, b.female, rng);
    b.middle = None;
    b.birth = (a.birth + rng.range_inclusive(-6 * 365, 6 * 365))
        .clamp(days_from_civil(1935, 1, 1), days_from_civil(2006, 12, 31));
    b.addr = a.addr.clone();
    b.old_addr = a.old_addr.clone();
    b.move_day = a.move_day;
    b.landline = a.landline.clone();
    b.old_family = None;
    b.name_change = i64::MAX;
    if rng.chance(0.7) {
        let maiden = std::mem::replace(&mut b.family, a.family.clone());
        if b.female && rng.chance(0.4) {
            b.old_family = Some(maiden);
            b.name_change = rng.range_inclusive(b.since.max(ep.start) + 30, ep.end - 30);
        }
    }
    refresh_unlike(b, a, rng);
    if rng.chance(0.1) {
        // One mailbox for the household, e.g. familie.mueller@web.de.
        let fam = mail_part(&a.family, Fold::German);
        let n = if rng.chance(0.1) {
            String::new()
        } else {
            rng.range_inclusive(1, 999).to_string()
        };
        let local = match a.culture {
            Culture::De => format!("familie.{fam}{n}"),
            Culture::En => format!("the{fam}s{n}"),
            Culture::Fr => format!("famille.{fam}{n}"),
        };
        let domain = a.email.rsplit('@').next().unwrap_or("example.com");
        let shared = format!("{local}@{domain}");
        a.email = shared.clone();
        b.email = shared;
        b.household = a.household;
    }
}

/// A different person who happens to have the same name as `model`, usually elsewhere.
fn make_namesake(model: &Person, p: &mut Person, rng: &mut Rng) {
    p.culture = model.culture;
    p.female = model.female;
    p.given = model.given;
    p.family = model.family.clone();
    p.old_family = None;
    p.name_change = i64::MAX;
    if rng.chance(0.3) {
        // Born the same year: only the day tells them apart.
        let (y, _, _) = civil_from_days(model.birth);
        p.birth = rng.range_inclusive(days_from_civil(y, 1, 1), days_from_civil(y, 12, 31));
    }
    if p.addr.city.name == model.addr.city.name && rng.chance(0.7) {
        p.addr = gen_address(model.country(), rng);
        if p.landline.is_some() {
            p.landline = Some(landline_for(p.addr.city, rng));
        }
    }
    refresh_unlike(p, model, rng);
}

// ---------------------------------------------------------------------------------------
// Chunks
// ---------------------------------------------------------------------------------------

struct Ctx {
    people: u64,
    root: Rng,
    key_salts: [u64; 5],
}

struct RowMeta {
    key: String,
    person: u64,
    lines: u32,
}

#[derive(Default)]
struct SrcOut {
    bytes: Vec<u8>,
    rows: Vec<RowMeta>,
}

struct ChunkOut {
    srcs: [SrcOut; 5],
}

/// The persons of one chunk, and the chunk's generator where they leave it (the rows
/// continue from there).
fn gen_persons(ctx: &Ctx, chunk: usize) -> (Vec<Person>, Rng) {
    let mut rng = ctx.root.derive(chunk as u64);
    let start = (chunk * CHUNK) as u64;
    let end = (start + CHUNK as u64).min(ctx.people);

    // Persons of this chunk, in look-alike groups.
    let mut persons: Vec<Person> = Vec::with_capacity((end - start) as usize);
    let mut i = start;
    while i < end {
        match pick_group(&mut rng, (end - i) as usize) {
            Group::Single => persons.push(gen_person(i, &mut rng)),
            Group::Namesake => {
                let mut p = gen_person(i, &mut rng);
                if !persons.is_empty() {
                    let m = rng.below(persons.len() as u64) as usize;
                    let model = persons[m].clone();
                    make_namesake(&model, &mut p, &mut rng);
                }
                persons.push(p);
            }
            g => {
                let mut a = gen_person(i, &mut rng);
                let mut b = gen_person(i + 1, &mut rng);
                match g {
                    Group::Twins => make_twin(&a, &mut b, &mut rng),
                    Group::JuniorSenior => make_junior(&mut a, &mut b, &mut rng),
                    _ => make_couple(&mut a, &mut b, &mut rng),
                }
                persons.push(a);
                persons.push(b);
            }
        }
        i = start + persons.len() as u64;
    }
    (persons, rng)
}

/// Every mailbox handed out so far (a hash of the address) and the household holding it.
///
/// Chunks are generated independently, and common names drawn from Zipf pools make the
/// same address come out for two unrelated people (`patricia.price@gmail.com` for two
/// namesakes in different countries, or `familie.mueller@web.de` for two couples). A real
/// mailbox has one owner, so a later person who draws a taken address gets another one, as
/// a provider's sign-up would make them pick.
#[derive(Default)]
struct Mailboxes {
    owner: std::collections::HashMap<u64, u64>,
    /// A household's renamed shared mailbox: (household, old address hash) -> new address.
    renamed: std::collections::HashMap<(u64, u64), String>,
}

impl Mailboxes {
    fn claim(&mut self, p: &mut Person) {
        let (idx, household) = (p.idx, p.household);
        let mut fix = |email: &mut String, slot: u64| {
            let h = mailbox_hash(email);
            if let Some(new) = self.renamed.get(&(household, h)) {
                *email = new.clone();
                return;
            }
            match self.owner.get(&h) {
                None => {
                    self.owner.insert(h, household);
                }
                Some(&o) if o == household => {}
                Some(_) => {
                    let (local, domain) = email.split_once('@').unwrap_or((email, "example.com"));
                    let mut rng = Rng::new(idx).derive(slot);
                    let new = loop {
                        let n = rng.range_inclusive(10, 99_999);
                        let candidate = format!("{local}{n}@{domain}");
                        if !self.owner.contains_key(&mailbox_hash(&candidate)) {
                            break candidate;
                        }
                    };
                    self.owner.insert(mailbox_hash(&new), household);
                    self.renamed.insert((household, h), new.clone());
                    *email = new;
                }
            }
        };
        fix(&mut p.email, 0);
        if let Some(e) = p.old_email.as_mut() {
            fix(e, 1);
        }
        if let Some(e) = p.work_email.as_mut() {
            fix(e, 2);
        }
    }
}

/// One mailbox, one hash: Gmail ignores dots and answers at googlemail.com too.
fn mailbox_hash(email: &str) -> u64 {
    let email = email.to_ascii_lowercase();
    let (local, domain) = email.split_once('@').unwrap_or((&email, ""));
    let key = if domain == "gmail.com" || domain == "googlemail.com" {
        format!("{}@gmail.com", local.replace('.', ""))
    } else {
        email.clone()
    };
    xxhash_rust::xxh3::xxh3_64(key.as_bytes())
}

/// The rows of one chunk's persons, continuing the chunk's generator.
fn render_chunk(ctx: &Ctx, persons: &[Person], mut rng: Rng) -> ChunkOut {
    // Records, per source, in generation order; shuffled per chunk below so that row order
    // says nothing about who is who (and duplicates are not adjacent).
    let mut texts: [String; 5] = Default::default();
    let mut rows: [Vec<(std::ops::Range<usize>, RowMeta)>; 5] = Default::default();
    for p in persons {
        for (src, occ) in sources_for(&mut rng) {
            let key = source_key(ctx, src, p.idx, occ);
            let rec = Rec::new(p, src, occ, &mut rng);
            let text = &mut texts[src as usize];
            let begin = text.len();
            match src {
                Src::Erp => erp_row(text, &key, p, &rec, &mut rng),
                Src::Webshop => webshop_row(text, &key, p, &rec, &mut rng),
                Src::Support => support_row(text, &key, p, &rec, &mut rng),
                Src::Sales => sales_row(text, &key, p, &rec, &mut rng),
                Src::Newsletter => newsletter_row(text, &key, p, &rec, &mut rng),
            }
            let lines = text.as_bytes()[begin..]
                .iter()
                .filter(|b| **b == b'\n')
                .count() as u32;
            rows[src as usize].push((
                begin..text.len(),
                RowMeta {
                    key,
                    person: p.idx,
                    lines,
                },
            ));
        }
    }

    let mut out = ChunkOut {
        srcs: Default::default(),
    };
    for (si, mut list) in rows.into_iter().enumerate() {
        rng.shuffle(&mut list);
        let text = &texts[si];
        let so = &mut out.srcs[si];
        so.bytes.reserve(text.len());
        so.rows.reserve(list.len());
        for (range, meta) in list {
            let row = &text[range];
            if SOURCES[si] == Src::Erp {
                encode_cp1252(row, &mut so.bytes);
            } else {
                so.bytes.extend_from_slice(row.as_bytes());
            }
            so.rows.push(meta);
        }
    }
    out
}

/// Which systems know this person (and how often): most people in 1-3 systems.
fn sources_for(rng: &mut Rng) -> Vec<(Src, u8)> {
    let u = rng.f64();
    let k = if u < 0.66 {
        1
    } else if u < 0.91 {
        2
    } else if u < 0.98 {
        3
    } else {
        4
    };
    let mut chosen: Vec<Src> = Vec::with_capacity(k);
    while chosen.len() < k {
        let total: f64 = SOURCES
            .iter()
            .filter(|s| !chosen.contains(s))
            .map(|s| s.weight())
            .sum();
        let mut x = rng.f64() * total;
        for s in SOURCES {
            if chosen.contains(&s) {
                continue;
            }
            x -= s.weight();
            if x < 0.0 {
                chosen.push(s);
                break;
            }
        }
        if x >= 0.0 {
            // Floating-point edge: take the last remaining source.
            if let Some(s) = SOURCES.iter().rev().find(|s| !chosen.contains(s)) {
                chosen.push(*s);
            }
        }
    }
    chosen.sort_by_key(|s| *s as u8);
    let mut out = Vec::with_capacity(k + 1);
    for s in chosen {
        out.push((s, 0));
        if rng.chance(s.dup_rate()) {
            out.push((s, 1));
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// Source keys: a keyed bijection of (person, occurrence) into each source's key space, so
// keys are unique per file, look like the system's own numbering, and reveal nothing.
// ---------------------------------------------------------------------------------------

/// A bijection on `0..2^bits` (xor, odd multiply and xorshift steps, all invertible).
fn permute_bits(mut x: u64, bits: u32, salt: u64) -> u64 {
    let mask = if bits >= 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    };
    let shift = bits.div_ceil(2).max(1);
    let mut k = salt;
    for _ in 0..4 {
        k = k
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .wrapping_add(0x632B_E59B_D9B4_E019);
        x = (x ^ (k >> 7)) & mask;
        x = x.wrapping_mul(k | 1) & mask;
        x ^= x >> shift;
    }
    x
}

/// A bijection on `0..n` by cycle walking over the smallest covering power of two.
fn permute_below(x: u64, n: u64, salt: u64) -> u64 {
    debug_assert!(x < n);
    let bits = (64 - (n.max(2) - 1).leading_zeros()).max(2);
    let mut y = permute_bits(x, bits, salt);
    while y >= n {
        y = permute_bits(y, bits, salt);
    }
    y
}

fn source_key(ctx: &Ctx, src: Src, person: u64, occ: u8) -> String {
    let slot = person * 2 + u64::from(occ);
    let slots = ctx.people * 2;
    let salt = ctx.key_salts[src as usize];
    match src {
        Src::Erp => (100_000 + permute_below(slot, slots, salt)).to_string(),
        Src::Webshop => format!("W-{:08X}", permute_bits(slot, 32, salt)),
        Src::Support => format!(
            "T{}",
            1_000_000 + permute_below(slot, slots.max(8_999_999), salt)
        ),
        Src::Sales => format!("L-{}", 10_001 + permute_below(slot, slots, salt)),
        Src::Newsletter => format!("{:010x}", permute_bits(slot, 40, salt)),
    }
}

// ---------------------------------------------------------------------------------------
// Text corruption helpers
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fold {
    /// Keep diacritics.
    Keep,
    /// German transliteration: ü -> ue, ß -> ss; other accents dropped.
    German,
    /// Drop accents: ü -> u, ß -> ss.
    Strip,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Case {
    Keep,
    Upper,
    Lower,
    /// "Proper case" as some systems force it: McDonald -> Mcdonald, van der -> Van Der.
    Proper,
}

fn fold_char(c: char, german: bool) -> Option<&'static str> {
    Some(match c {
        'ä' => {
            if german {
                "ae"
            } else {
                "a"
            }
        }
        'ö' => {
            if german {
                "oe"
            } else {
                "o"
            }
        }
        'ü' => {
            if german {
                "ue"
            } else {
                "u"
            }
        }
        'Ä' => {
            if german {
                "Ae"
            } else {
                "A"
            }
        }
        'Ö' => {
            if german {
                "Oe"
            } else {
                "O"
            }
        }
        'Ü' => {
            if german {
                "Ue"
            } else {
                "U"
            }
        }
        'ß' => "ss",
        'à' | 'á' | 'â' | 'ã' | 'å' => "a",
        'À' | 'Á' | 'Â' | 'Ã' | 'Å' => "A",
        'æ' => "ae",
        'Æ' => "AE",
        'ç' | 'č' | 'ć' => "c",
        'Ç' | 'Č' | 'Ć' => "C",
        'è' | 'é' | 'ê' | 'ë' | 'ě' => "e",
        'È' | 'É' | 'Ê' | 'Ë' => "E",
        'ì' | 'í' | 'î' | 'ï' | 'ı' => "i",
        'Ì' | 'Í' | 'Î' | 'Ï' | 'İ' => "I",
        'ñ' | 'ń' => "n",
        'Ñ' => "N",
        'ò' | 'ó' | 'ô' | 'õ' | 'ø' => "o",
        'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ø' => "O",
        'œ' => "oe",
        'Œ' => "OE",
        'ù' | 'ú' | 'û' => "u",
        'Ù' | 'Ú' | 'Û' => "U",
        'ý' | 'ÿ' => "y",
        'ł' => "l",
        'Ł' => "L",
        'ś' | 'ş' | 'š' => "s",
        'Ś' | 'Ş' | 'Š' => "S",
        'ř' => "r",
        'Ř' => "R",
        'ğ' => "g",
        'Ğ' => "G",
        'ž' | 'ź' | 'ż' => "z",
        'Ž' | 'Ź' | 'Ż' => "Z",
        _ => return None,
    })
}

fn folded(s: &str, fold: Fold) -> std::borrow::Cow<'_, str> {
    if fold == Fold::Keep || s.is_ascii() {
        return std::borrow::Cow::Borrowed(s);
    }
    let german = fold == Fold::German;
    let mut out = String::with_capacity(s.len() + 4);
    for c in s.chars() {
        match fold_char(c, german) {
            Some(r) => out.push_str(r),
            None => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

fn cased(s: &str, case: Case) -> String {
    match case {
        Case::Keep => s.to_string(),
        Case::Upper => s.to_uppercase(),
        Case::Lower => s.to_lowercase(),
        Case::Proper => {
            let mut out = String::with_capacity(s.len());
            let mut start = true;
            for c in s.chars() {
                if c.is_alphabetic() {
                    if start {
                        out.extend(c.to_uppercase());
                    } else {
                        out.extend(c.to_lowercase());
                    }
                    start = false;
                } else {
                    out.push(c);
                    start = c == ' ' || c == '-';
                }
            }
            out
        }
    }
}

fn styled(s: &str, fold: Fold, case: Case) -> String {
    cased(&folded(s, fold), case)
}

fn keyboard_neighbours(c: char) -> &'static str {
    match c.to_ascii_lowercase() {
        'q' => "wa",
        'w' => "qes",
        'e' => "wrd",
        'r' => "etf",
        't' => "ryg",
        'y' => "tuh",
        'u' => "yij",
        'i' => "uok",
        'o' => "ipl",
        'p' => "ol",
        'a' => "qsz",
        's' => "adw",
        'd' => "sfe",
        'f' => "dgr",
        'g' => "fht",
        'h' => "gjy",
        'j' => "hku",
        'k' => "jli",
        'l' => "ko",
        'z' => "xas",
        'x' => "zcs",
        'c' => "xvd",
        'v' => "cbf",
        'b' => "vng",
        'n' => "bmh",
        'm' => "nj",
        _ => "",
    }
}

/// One typing error: substitution (neighbouring key), transposition, deletion or a
/// doubled letter. Names shorter than three letters are left alone.
fn typo(s: &str, rng: &mut Rng) -> String {
    let mut cs: Vec<char> = s.chars().collect();
    let letters: Vec<usize> = (1..cs.len()).filter(|&i| cs[i].is_alphabetic()).collect();
    if cs.len() < 3 || letters.is_empty() {
        return s.to_string();
    }
    let i = *rng.pick(&letters);
    match rng.below(4) {
        0 => {
            let n = keyboard_neighbours(cs[i]);
            if !n.is_empty() {
                let r = n.as_bytes()[rng.below(n.len() as u64) as usize] as char;
                cs[i] = if cs[i].is_uppercase() {
                    r.to_ascii_uppercase()
                } else {
                    r
                };
            } else {
                cs.remove(i);
            }
        }
        1 if i + 1 < cs.len() && cs[i + 1].is_alphabetic() && cs[i] != cs[i + 1] => {
            cs.swap(i, i + 1)
        }
        1 if cs[i - 1].is_alphabetic() && cs[i] != cs[i - 1] => cs.swap(i - 1, i),
        2 => {
            let c = cs[i];
            cs.insert(i, c);
        }
        _ => {
            cs.remove(i);
        }
    }
    cs.into_iter().collect()
}

/// Street abbreviations as different systems write them.
fn abbreviate_street(line: &str, country: Country) -> String {
    let mut s = line.to_string();
    let rules: &[(&str, &str)] = match country {
        Country::De => &[
            ("straße", "str."),
            ("Straße", "Str."),
            ("strasse", "str."),
            ("Strasse", "Str."),
            ("platz", "pl."),
        ],
        Country::Uk | Country::Us => &[
            (" Street", " St"),
            (" Road", " Rd"),
            (" Avenue", " Ave"),
            (" Lane", " Ln"),
            (" Drive", " Dr"),
            (" Boulevard", " Blvd"),
            (" Court", " Ct"),
            (" Place", " Pl"),
            (" Close", " Cl"),
            ("North ", "N "),
        ],
        Country::Fr => &[
            ("avenue ", "av. "),
            ("boulevard ", "bd "),
            ("place ", "pl. "),
            ("chemin ", "ch. "),
            ("Saint-", "St-"),
            ("Général", "Gal"),
        ],
    };
    for (from, to) in rules {
        if s.contains(from) {
            s = s.replacen(from, to, 1);
        }
    }
    s
}

/// Windows-1252 encoding; characters it cannot hold become `?`, as legacy systems do.
fn encode_cp1252(s: &str, out: &mut Vec<u8>) {
    for c in s.chars() {
        let u = c as u32;
        let b = if u < 0x80 || (0xA0..=0xFF).contains(&u) {
            u as u8
        } else {
            match c {
                '€' => 0x80,
                '‚' => 0x82,
                'ƒ' => 0x83,
                '„' => 0x84,
                '…' => 0x85,
                '†' => 0x86,
                '‡' => 0x87,
                'ˆ' => 0x88,
                '‰' => 0x89,
                'Š' => 0x8A,
                '‹' => 0x8B,
                'Œ' => 0x8C,
                'Ž' => 0x8E,
                '‘' => 0x91,
                '’' => 0x92,
                '“' => 0x93,
                '”' => 0x94,
                '•' => 0x95,
                '–' => 0x96,
                '—' => 0x97,
                '˜' => 0x98,
                '™' => 0x99,
                'š' => 0x9A,
                '›' => 0x9B,
                'œ' => 0x9C,
                'ž' => 0x9E,
                'Ÿ' => 0x9F,
                _ => b'?',
            }
        };
        out.push(b);
    }
}

/// Appends `field` CSV-quoted if it needs it.
fn csv_field(out: &mut String, field: &str, delim: char) {
    if field.contains([delim, '"', '\n', '\r']) {
        out.push('"');
        for c in field.chars() {
            if c == '"' {
                out.push('"');
            }
            out.push(c);
        }
        out.push('"');
    } else {
        out.push_str(field);
    }
}

fn csv_row(out: &mut String, fields: &[&str], delim: char, eol: &str) {
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(delim);
        }
        csv_field(out, f, delim);
    }
    out.push_str(eol);
}

fn json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn json_opt(out: &mut String, s: Option<&str>) {
    match s {
        Some(s) => json_str(out, s),
        None => out.push_str("null"),
    }
}

// ---------------------------------------------------------------------------------------
// Phone formatting
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PhoneFmt {
    /// +493023125123
    E164,
    /// +49 30 23125123
    Intl,
    /// +49 (0)30 23125123
    IntlTrunk,
    /// 0049 30 23125123
    Intl00,
    /// 030 23125123 / 020 7946 0123 / (212) 555-0142 / 01 99 00 12 34
    National,
    /// 030/23125123 / 212-555-0142 / 01.99.00.12.34
    NationalAlt,
    /// (030) 23125123-45 / 212.555.0142 / 0199001234
    NationalAlt2,
    /// 03023125123 / 2125550142
    NationalCompact,
}

fn cc(c: Country) -> &'static str {
    match c {
        Country::De => "49",
        Country::Uk => "44",
        Country::Us => "1",
        Country::Fr => "33",
    }
}

/// Subscriber digits grouped the local way.
fn grouped_sub(p: &Phone) -> String {
    let s = &p.sub;
    match p.country {
        Country::Uk if s.len() == 8 => format!("{} {}", &s[..4], &s[4..]),
        Country::Uk if s.len() == 7 => format!("{} {}", &s[..3], &s[3..]),
        Country::Fr => {
            let mut out = String::new();
            for (i, ch) in s.chars().enumerate() {
                if i > 0 && i % 2 == 0 {
                    out.push(' ');
                }
                out.push(ch);
            }
            out
        }
        Country::Us => format!("{}-{}", &s[..3], &s[3..]),
        _ => s.clone(),
    }
}

fn fmt_phone(p: &Phone, f: PhoneFmt) -> String {
    let cc = cc(p.country);
    let all: String = format!("{}{}", p.area, p.sub);
    let g = grouped_sub(p);
    match (f, p.country) {
        (PhoneFmt::E164, _) => format!("+{cc}{all}"),
        (PhoneFmt::Intl, Country::Us) => format!("+1 {} {}", p.area, g),
        (PhoneFmt::Intl, _) => format!("+{cc} {} {}", p.area, g),
        (PhoneFmt::IntlTrunk, Country::Us) => format!("+1 ({}) {}", p.area, g),
        (PhoneFmt::IntlTrunk, _) => format!("+{cc} (0){} {}", p.area, g),
        (PhoneFmt::Intl00, Country::Us) => format!("001 {} {}", p.area, g.replace('-', " ")),
        (PhoneFmt::Intl00, _) => format!("00{cc} {} {}", p.area, g),
        (PhoneFmt::National, Country::Us) => format!("({}) {}", p.area, g),
        (PhoneFmt::National, _) => format!("0{} {}", p.area, g),
        (PhoneFmt::NationalAlt, Country::De) => format!("0{}/{}", p.area, p.sub),
        (PhoneFmt::NationalAlt, Country::Us) => format!("{}-{}", p.area, g),
        (PhoneFmt::NationalAlt, Country::Fr) => format!("0{}.{}", p.area, g.replace(' ', ".")),
        (PhoneFmt::NationalAlt, Country::Uk) => format!("(0{}) {}", p.area, g),
        (PhoneFmt::NationalAlt2, Country::De) => {
            let cut = p.sub.len() - usize::from(p.ext);
            if p.ext > 0 {
                format!("(0{}) {}-{}", p.area, &p.sub[..cut], &p.sub[cut..])
            } else {
                format!("(0{}) {}", p.area, p.sub)
            }
        }
        (PhoneFmt::NationalAlt2, Country::Us) => format!("{}.{}", p.area, g.replace('-', ".")),
        (PhoneFmt::NationalAlt2, Country::Uk) => format!("0{}-{}", p.area, g.replace(' ', "-")),
        (PhoneFmt::NationalAlt2, Country::Fr) => format!("0{}{}", p.area, p.sub),
        (PhoneFmt::NationalCompact, Country::Us) => all,
        (PhoneFmt::NationalCompact, _) => format!("0{all}"),
    }
}

/// How a system writes a number: national styles for its home region, international ones
/// otherwise (and, rarely, a foreign number in its national form, which parses wrongly).
fn phone_text(
    p: &Phone,
    home: Country,
    national: &[PhoneFmt],
    intl: &[PhoneFmt],
    rng: &mut Rng,
) -> String {
    let f = if p.country == home {
        if rng.chance(0.85) {
            *rng.pick(national)
        } else {
            *rng.pick(intl)
        }
    } else if rng.chance(0.01) {
        PhoneFmt::National
    } else {
        *rng.pick(intl)
    };
    fmt_phone(p, f)
}

// ---------------------------------------------------------------------------------------
// One record: the person as one system saw them at one time, with that system's noise.
// ---------------------------------------------------------------------------------------

/// Per-source noise profile.
struct Profile {
    nickname: f64,
    typo: f64,
    upper: f64,
    lower: f64,
    proper: f64,
    german_fold: f64,
    strip_fold: f64,
    street_abbr: f64,
    city_alt: f64,
    middle_full: f64,
    middle_initial: f64,
    suffix: f64,
    email_case: f64,
    plus_tag: f64,
    gmail_dots: f64,
    email_typo: f64,
    /// Chance to show the work address instead of the private one (people with an employer).
    work_email: f64,
    /// Chance that a value changed in real life is still the old one in this system.
    stale: f64,
    /// First day the system existed.
    since: i64,
    /// Longest gap between creation and last update (days).
    max_age: i64,
}

fn profile(src: Src) -> Profile {
    let base = Profile {
        nickname: 0.0,
        typo: 0.0,
        upper: 0.0,
        lower: 0.0,
        proper: 0.0,
        german_fold: 0.0,
        strip_fold: 0.0,
        street_abbr: 0.0,
        city_alt: 0.0,
        middle_full: 0.0,
        middle_initial: 0.0,
        suffix: 0.0,
        email_case: 0.0,
        plus_tag: 0.0,
        gmail_dots: 0.0,
        email_typo: 0.0,
        work_email: 0.0,
        stale: 0.0,
        since: days_from_civil(2010, 1, 1),
        max_age: 6000,
    };
    match src {
        Src::Erp => Profile {
            nickname: 0.02,
            typo: 0.02,
            upper: 0.2,
            german_fold: 0.06,
            strip_fold: 0.01,
            street_abbr: 0.4,
            city_alt: 0.08,
            middle_full: 0.5,
            middle_initial: 0.1,
            suffix: 0.6,
            email_case: 0.1,
            email_typo: 0.005,
            work_email: 0.35,
            stale: 0.12,
            ..base
        },
        Src::Webshop => Profile {
            nickname: 0.08,
            typo: 0.02,
            lower: 0.05,
            upper: 0.01,
            german_fold: 0.08,
            strip_fold: 0.04,
            street_abbr: 0.3,
            city_alt: 0.06,
            middle_full: 0.1,
            middle_initial: 0.05,
            suffix: 0.2,
            email_case: 0.06,
            plus_tag: 0.05,
            gmail_dots: 0.06,
            work_email: 0.15,
            stale: 0.05,
            since: days_from_civil(2015, 3, 1),
            max_age: 3000,
            ..base
        },
        Src::Support => Profile {
            nickname: 0.15,
            typo: 0.04,
            lower: 0.06,
            upper: 0.01,
            german_fold: 0.12,
            strip_fold: 0.08,
            city_alt: 0.15,
            middle_full: 0.05,
            middle_initial: 0.1,
            suffix: 0.3,
            email_case: 0.12,
            plus_tag: 0.02,
            gmail_dots: 0.03,
            email_typo: 0.01,
            work_email: 0.3,
            stale: 0.05,
            since: days_from_civil(2017, 1, 1),
            max_age: 1500,
            ..base
        },
        Src::Sales => Profile {
            nickname: 0.12,
            typo: 0.03,
            upper: 0.03,
            lower: 0.03,
            proper: 0.1,
            german_fold: 0.15,
            strip_fold: 0.1,
            street_abbr: 0.5,
            city_alt: 0.2,
            middle_initial: 0.15,
            suffix: 0.5,
            email_case: 0.15,
            email_typo: 0.015,
            work_email: 0.6,
            stale: 0.3,
            since: days_from_civil(2019, 1, 1),
            max_age: 400,
            ..base
        },
        Src::Newsletter => Profile {
            nickname: 0.2,
            typo: 0.01,
            lower: 0.15,
            german_fold: 0.05,
            strip_fold: 0.05,
            email_case: 0.1,
            plus_tag: 0.08,
            gmail_dots: 0.05,
            work_email: 0.1,
            stale: 0.1,
            since: days_from_civil(2014, 1, 1),
            max_age: 2500,
            ..base
        },
    }
}

/// A record's values, already noisy, before the source's formatting.
struct Rec<'a> {
    created: i64,
    updated: i64,
    given: String,
    middle: Option<String>,
    family: String,
    suffix: Option<&'static str>,
    title: Option<&'static str>,
    addr: &'a Address,
    street: String,
    city: String,
    email: String,
    /// Phones valid at the record's time: landline, then mobile.
    landline: Option<&'a Phone>,
    mobile: Option<&'a Phone>,
    fold: Fold,
    case: Case,
}

impl<'a> Rec<'a> {
    fn new(p: &'a Person, src: Src, occ: u8, rng: &mut Rng) -> Rec<'a> {
        let pr = profile(src);
        let ep = epoch();
        let lo = p.since.max(pr.since).min(ep.end - 1);
        let created_day = rng.range_inclusive(lo, ep.end - 1);
        let updated_day = rng.range_inclusive(created_day, (created_day + pr.max_age).min(ep.end));
        let created = ts_on(created_day, rng);
        let updated = ts_on(updated_day, rng).max(created);
        // Which real-life state the record reflects. A duplicate record is usually the
        // older one (a forgotten account), so it prefers the earlier state.
        let asof = if occ > 0 { created_day } else { updated_day };
        let current = |change: i64, rng: &mut Rng| asof >= change && !rng.chance(pr.stale);

        let fold = {
            let u = rng.f64();
            if u < pr.german_fold {
                Fold::German
            } else if u < pr.german_fold + pr.strip_fold {
                Fold::Strip
            } else {
                Fold::Keep
            }
        };
        let case = {
            let u = rng.f64();
            if u < pr.upper {
                Case::Upper
            } else if u < pr.upper + pr.lower {
                Case::Lower
            } else if u < pr.upper + pr.lower + pr.proper {
                Case::Proper
            } else {
                Case::Keep
            }
        };

        let mut given = if !p.given.nicks.is_empty() && rng.chance(pr.nickname) {
            (*rng.pick(p.given.nicks)).to_string()
        } else {
            p.given.name.to_string()
        };
        let mut family = match &p.old_family {
            Some(old) if !current(p.name_change, rng) => old.clone(),
            Some(old) if rng.chance(0.1) => format!("{}-{}", p.family, old),
            _ => p.family.clone(),
        };
        if rng.chance(pr.typo) {
            given = typo(&given, rng);
        }
        if rng.chance(pr.typo) {
            family = typo(&family, rng);
        }
        let middle = p.middle.and_then(|m| {
            let u = rng.f64();
            if u < pr.middle_full {
                Some(styled(m, fold, case))
            } else if u < pr.middle_full + pr.middle_initial {
                Some(format!("{}.", m.chars().next().unwrap_or('X')))
            } else {
                None
            }
        });
        let suffix = p.suffix.filter(|_| rng.chance(pr.suffix));
        let title = p.title.filter(|_| rng.chance(0.7));

        let addr = match &p.old_addr {
            Some(old) if !current(p.move_day, rng) => old,
            _ => &p.addr,
        };
        let mut street = format!("{}", StreetLine(addr));
        if rng.chance(pr.street_abbr) {
            street = abbreviate_street(&street, addr.city.country);
        }
        let street = styled(&street, fold, case);
        let city_name = if !addr.city.alts.is_empty() && rng.chance(pr.city_alt) {
            *rng.pick(addr.city.alts)
        } else {
            addr.city.name
        };
        let city = styled(city_name, fold, case);

        let base_email = match &p.old_email {
            Some(old) if !current(p.email_change, rng) => old.as_str(),
            _ => p.email.as_str(),
        };
        let base_email = match &p.work_email {
            Some(w) if rng.chance(pr.work_email) => w.as_str(),
            _ => base_email,
        };
        let email = email_variant(base_email, &pr, src, rng);
        let mobile = match &p.old_mobile {
            Some(old) if !current(p.phone_change, rng) => Some(old),
            _ => p.mobile.as_ref(),
        };

        Rec {
            created,
            updated,
            given: styled(&given, fold, case),
            middle,
            family: styled(&family, fold, case),
            suffix,
            title,
            addr,
            street,
            city,
            email,
            landline: p.landline.as_ref(),
            mobile,
            fold,
            case,
        }
    }

    fn postcode(&self) -> String {
        match self.case {
            Case::Upper | Case::Lower => cased(&self.addr.postcode, self.case),
            Case::Keep | Case::Proper => self.addr.postcode.clone(),
        }
    }

    /// Street line, with the second address line appended the way single-line systems do.
    fn street_with_line2(&self, rng: &mut Rng) -> String {
        match self.line2() {
            Some(l2) if rng.chance(0.5) => format!("{}, {l2}", self.street),
            _ => self.street.clone(),
        }
    }

    fn line2(&self) -> Option<String> {
        self.addr
            .line2
            .as_deref()
            .map(|l| styled(l, self.fold, self.case))
    }
}

/// `Hauptstraße 12` / `12 High Street` / `12 rue de la Paix`.
struct StreetLine<'a>(&'a Address);

impl std::fmt::Display for StreetLine<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let a = self.0;
        match a.city.country {
            Country::De => write!(f, "{} {}", a.street, a.house),
            _ => write!(f, "{} {}", a.house, a.street),
        }
    }
}

fn email_variant(email: &str, pr: &Profile, src: Src, rng: &mut Rng) -> String {
    let (local, domain) = email.split_once('@').unwrap_or((email, "example.com"));
    let mut local = local.to_string();
    let mut domain = domain.to_string();
    let gmail = domain == "gmail.com" || domain == "googlemail.com";
    if gmail && rng.chance(pr.gmail_dots) {
        // Gmail ignores dots: t.h.mueller, thmueller and th.mueller are one mailbox.
        if local.contains('.') {
            local.retain(|c| c != '.');
        } else if local.len() > 3 {
            let at = 1 + rng.below(local.len() as u64 - 2) as usize;
            if local.is_char_boundary(at) {
                local.insert(at, '.');
            }
        }
    }
    if gmail && rng.chance(0.05) {
        domain = if domain == "gmail.com" {
            "googlemail.com".into()
        } else {
            "gmail.com".into()
        };
    }
    if rng.chance(pr.plus_tag) {
        let tag = match src {
            Src::Webshop => "shop",
            Src::Newsletter => "news",
            _ => "crm",
        };
        local.push('+');
        local.push_str(tag);
    }
    if rng.chance(pr.email_typo) {
        local = typo(&local, rng);
    }
    let mut out = format!("{local}@{domain}");
    if rng.chance(pr.email_case) {
        out = match rng.below(3) {
            0 => out.to_uppercase(),
            1 => {
                // Thomas.Mueller@gmail.com
                let mut s = String::with_capacity(out.len());
                let mut start = true;
                let mut in_local = true;
                for c in out.chars() {
                    if start && in_local {
                        s.push(c.to_ascii_uppercase());
                    } else {
                        s.push(c);
                    }
                    in_local &= c != '@';
                    start = matches!(c, '.' | '_');
                }
                s
            }
            _ => {
                let (l, d) = out.split_once('@').unwrap_or((&out, ""));
                format!("{l}@{}", d.to_uppercase())
            }
        };
    }
    out
}

fn fmt_date(day: i64, style: DateStyle) -> String {
    let (y, m, d) = civil_from_days(day);
    match style {
        DateStyle::German => format!("{d:02}.{m:02}.{y:04}"),
        DateStyle::Iso => format!("{y:04}-{m:02}-{d:02}"),
        DateStyle::UsLoose => format!("{m}/{d}/{y:04}"),
        DateStyle::EuSlash => format!("{d:02}/{m:02}/{y:04}"),
    }
}

#[derive(Clone, Copy)]
enum DateStyle {
    German,
    Iso,
    UsLoose,
    EuSlash,
}

// ---------------------------------------------------------------------------------------
// Source formatters
// ---------------------------------------------------------------------------------------

fn erp_row(out: &mut String, key: &str, p: &Person, r: &Rec, rng: &mut Rng) {
    let anrede = if rng.chance(0.03) {
        ""
    } else if p.female {
        "Frau"
    } else {
        "Herr"
    };
    let mut name = format!("{}, {}", r.family, r.given);
    if let Some(m) = &r.middle {
        name.push(' ');
        name.push_str(m);
    }
    if let Some(s) = r.suffix {
        name.push(' ');
        name.push_str(&cased(s, r.case));
    }
    let birth = if rng.chance(0.015) {
        "00.00.0000".to_string()
    } else if rng.chance(0.3) {
        String::new()
    } else {
        fmt_date(p.birth, DateStyle::German)
    };
    let has_addr = !rng.chance(0.03);
    let country = match r.addr.city.country {
        Country::De if rng.chance(0.4) => "",
        Country::De if rng.chance(0.1) => "D",
        Country::De => "Deutschland",
        Country::Uk if rng.chance(0.3) => "GB",
        Country::Uk => "Großbritannien",
        Country::Us => "USA",
        Country::Fr => "Frankreich",
    };
    let nat = [
        PhoneFmt::National,
        PhoneFmt::NationalAlt,
        PhoneFmt::NationalAlt,
        PhoneFmt::NationalAlt2,
        PhoneFmt::NationalCompact,
    ];
    let intl = [
        PhoneFmt::Intl00,
        PhoneFmt::Intl00,
        PhoneFmt::Intl,
        PhoneFmt::IntlTrunk,
    ];
    let tel = r
        .landline
        .filter(|_| rng.chance(0.85))
        .map(|ph| phone_text(ph, Country::De, &nat, &intl, rng))
        .unwrap_or_default();
    let tel2 = r
        .mobile
        .filter(|_| rng.chance(0.7))
        .map(|ph| phone_text(ph, Country::De, &nat, &intl, rng))
        .unwrap_or_default();
    let email = if rng.chance(0.35) {
        String::new()
    } else {
        r.email.clone()
    };
    let firma = match &p.company {
        Some(c) if rng.chance(0.7) => c.shown(rng),
        _ => "",
    };
    let kdgrp = if firma.is_empty() {
        "Privat"
    } else {
        "Gewerbe"
    };
    let ts = |t: i64| {
        let (y, m, d, hh, mm, _) = split_ts(t);
        format!("{d:02}.{m:02}.{y:04} {hh:02}:{mm:02}")
    };
    let (street, plz, ort) = if has_addr {
        (r.street_with_line2(rng), r.postcode(), r.city.clone())
    } else {
        Default::default()
    };
    csv_row(
        out,
        &[
            key,
            anrede,
            r.title.unwrap_or(""),
            &name,
            &birth,
            &street,
            &plz,
            &ort,
            if has_addr { country } else { "" },
            &tel,
            &tel2,
            &email,
            firma,
            kdgrp,
            &ts(r.created),
            &ts(r.updated),
        ],
        ';',
        "\r\n",
    );
}

fn webshop_row(out: &mut String, key: &str, p: &Person, r: &Rec, rng: &mut Rng) {
    let iso = |t: i64| {
        let (y, m, d, hh, mm, ss) = split_ts(t);
        format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}Z")
    };
    let guest = rng.chance(0.15);
    out.push_str("{\"id\":");
    json_str(out, key);
    out.push_str(",\"createdAt\":");
    json_str(out, &iso(r.created));
    out.push_str(",\"updatedAt\":");
    json_str(out, &iso(r.updated));
    let _ = write!(out, ",\"guest\":{guest}");

    out.push_str(",\"customer\":{");
    let salutation = match (p.culture, p.female) {
        (Culture::De, false) => "Herr",
        (Culture::De, true) => "Frau",
        (Culture::En, false) => "Mr",
        (Culture::En, true) => {
            if rng.chance(0.5) {
                "Ms"
            } else {
                "Mrs"
            }
        }
        (Culture::Fr, false) => "M.",
        (Culture::Fr, true) => "Mme",
    };
    out.push_str("\"salutation\":");
    json_opt(out, (!rng.chance(0.2)).then_some(salutation));
    let mut first = r.given.clone();
    if let Some(m) = &r.middle {
        first.push(' ');
        first.push_str(m);
    }
    let mut last = r.family.clone();
    if let Some(s) = r.suffix {
        last.push(' ');
        last.push_str(s);
    }
    out.push_str(",\"firstName\":");
    json_str(out, &first);
    out.push_str(",\"lastName\":");
    json_str(out, &last);
    let u = rng.f64();
    if u < 0.4 {
        out.push_str(",\"dateOfBirth\":");
        json_str(out, &fmt_date(p.birth, DateStyle::Iso));
    } else if u < 0.5 {
        out.push_str(",\"dateOfBirth\":null");
    }
    out.push('}');

    out.push_str(",\"contact\":{\"email\":");
    json_str(out, &r.email);
    out.push_str(",\"phones\":[");
    let intl = [
        PhoneFmt::E164,
        PhoneFmt::E164,
        PhoneFmt::E164,
        PhoneFmt::Intl,
    ];
    let nat = [
        PhoneFmt::National,
        PhoneFmt::NationalCompact,
        PhoneFmt::E164,
    ];
    let mut phones: Vec<String> = Vec::new();
    if let Some(m) = r.mobile.filter(|_| rng.chance(0.7)) {
        phones.push(phone_text(m, Country::De, &nat, &intl, rng));
    }
    if let Some(l) = r.landline.filter(|_| rng.chance(0.3)) {
        phones.push(phone_text(l, Country::De, &nat, &intl, rng));
    }
    for (i, ph) in phones.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        json_str(out, ph);
    }
    out.push_str("]}");

    out.push_str(",\"addresses\":[");
    if guest || !rng.chance(0.08) {
        let billing = AddrText {
            street: &r.street,
            line2: r.line2(),
            postcode: r.postcode(),
            city: &r.city,
            addr: r.addr,
        };
        webshop_address(out, "billing", &billing, rng);
        if rng.chance(0.1) {
            out.push(',');
            // A gift delivered somewhere else in town.
            let other = gen_address_in(r.addr.city, rng);
            let street = format!("{}", StreetLine(&other));
            let shipping = AddrText {
                street: &street,
                line2: None,
                postcode: other.postcode.clone(),
                city: &r.city,
                addr: &other,
            };
            webshop_address(out, "shipping", &shipping, rng);
        }
    }
    out.push(']');

    out.push_str(",\"company\":");
    let company = match &p.company {
        Some(c) if rng.chance(0.4) => Some(c.shown(rng)),
        _ => None,
    };
    json_opt(out, company);
    let consent = if rng.chance(0.9) {
        p.consent
    } else {
        !p.consent
    };
    let _ = write!(out, ",\"marketing\":{{\"newsletter\":{consent}}}");
    let orders = if guest { 1 } else { rng.below(25) };
    let _ = write!(out, ",\"orders\":{{\"count\":{orders}}}");
    out.push_str("}\n");
}

struct AddrText<'a> {
    street: &'a str,
    line2: Option<String>,
    postcode: String,
    city: &'a str,
    addr: &'a Address,
}

fn webshop_address(out: &mut String, kind: &str, t: &AddrText, rng: &mut Rng) {
    let a = t.addr;
    out.push_str("{\"type\":");
    json_str(out, kind);
    out.push_str(",\"street\":");
    json_str(out, t.street);
    out.push_str(",\"street2\":");
    json_opt(out, t.line2.as_deref());
    out.push_str(",\"zip\":");
    json_str(out, &t.postcode);
    out.push_str(",\"city\":");
    json_str(out, t.city);
    out.push_str(",\"state\":");
    json_opt(
        out,
        (a.city.country == Country::Us).then_some(a.city.region),
    );
    let iso = match a.city.country {
        Country::De => "DE",
        Country::Uk => {
            if rng.chance(0.1) {
                "UK"
            } else {
                "GB"
            }
        }
        Country::Us => "US",
        Country::Fr => "FR",
    };
    out.push_str(",\"country\":");
    json_str(out, iso);
    out.push('}');
}

fn support_row(out: &mut String, key: &str, p: &Person, r: &Rec, rng: &mut Rng) {
    let mut name = String::new();
    if rng.chance(0.03) {
        // Typed into the wrong order.
        let _ = write!(name, "{}, {}", r.family, r.given);
    } else {
        if let Some(t) = r.title.filter(|_| rng.chance(0.3)) {
            name.push_str(t);
            name.push(' ');
        }
        name.push_str(&r.given);
        if let Some(m) = &r.middle {
            name.push(' ');
            name.push_str(m);
        }
        name.push(' ');
        name.push_str(&r.family);
        if let Some(s) = r.suffix {
            name.push(' ');
            name.push_str(s);
        }
    }
    let email = if rng.chance(0.08) {
        String::new()
    } else {
        r.email.clone()
    };
    let nat = [
        PhoneFmt::National,
        PhoneFmt::National,
        PhoneFmt::NationalAlt,
        PhoneFmt::NationalAlt2,
        PhoneFmt::NationalCompact,
    ];
    let intl = [
        PhoneFmt::E164,
        PhoneFmt::Intl,
        PhoneFmt::IntlTrunk,
        PhoneFmt::Intl00,
    ];
    let mut phone = String::new();
    if !rng.chance(0.35) {
        let first = if rng.chance(0.6) {
            r.mobile.or(r.landline)
        } else {
            r.landline.or(r.mobile)
        };
        if let Some(ph) = first {
            phone = phone_text(ph, Country::Uk, &nat, &intl, rng);
            if rng.chance(0.03)
                && let (Some(a), Some(b)) = (r.landline, r.mobile)
            {
                let other = if std::ptr::eq(ph, a) { b } else { a };
                phone.push_str(" / ");
                phone.push_str(&phone_text(other, Country::Uk, &nat, &intl, rng));
            }
        }
    }
    let org = match &p.company {
        Some(c) if rng.chance(0.5) => c.shown(rng),
        _ => "",
    };
    let city = if rng.chance(0.4) {
        String::new()
    } else {
        r.city.clone()
    };
    let country = if rng.chance(0.2) {
        ""
    } else {
        match r.addr.city.country {
            Country::De => "Germany",
            Country::Uk => *rng.pick(&["United Kingdom", "UK", "Great Britain"]),
            Country::Us => *rng.pick(&["United States", "USA"]),
            Country::Fr => "France",
        }
    };
    let language = match p.culture {
        Culture::De => "de",
        Culture::En => "en",
        Culture::Fr => "fr",
    };
    let ts = |t: i64| {
        let (y, m, d, hh, mm, ss) = split_ts(t);
        format!("{y:04}-{m:02}-{d:02} {hh:02}:{mm:02}:{ss:02}")
    };
    let notes = *rng.pick(data::SUPPORT_NOTES);
    csv_row(
        out,
        &[
            key,
            &name,
            &email,
            &phone,
            org,
            &city,
            country,
            language,
            &ts(r.created),
            &ts(r.updated),
            notes,
        ],
        ',',
        "\n",
    );
}

fn sales_missing(rng: &mut Rng) -> &'static str {
    const TOKENS: [&str; 11] = [
        "", "", "", "N/A", "N/A", "n/a", "-", "?", "TBD", "#N/A", "unknown",
    ];
    TOKENS[rng.below(TOKENS.len() as u64) as usize]
}

fn sales_row(out: &mut String, key: &str, p: &Person, r: &Rec, rng: &mut Rng) {
    let (first, last) = if rng.chance(0.015) {
        // Whole name typed into the first-name column.
        (
            format!("{} {}", r.given, r.family),
            sales_missing(rng).to_string(),
        )
    } else {
        let mut first = r.given.clone();
        if let Some(m) = &r.middle {
            first.push(' ');
            first.push_str(m);
        }
        let mut last = r.family.clone();
        if let Some(s) = r.suffix {
            last.push(' ');
            last.push_str(s);
        }
        (first, last)
    };
    let or_missing = |v: String, p_missing: f64, rng: &mut Rng| {
        if v.is_empty() || rng.chance(p_missing) {
            sales_missing(rng).to_string()
        } else {
            v
        }
    };
    let email = or_missing(r.email.clone(), 0.15, rng);
    let nat = [
        PhoneFmt::National,
        PhoneFmt::National,
        PhoneFmt::NationalAlt,
        PhoneFmt::NationalAlt2,
        PhoneFmt::NationalCompact,
    ];
    let intl = [
        PhoneFmt::Intl,
        PhoneFmt::Intl00,
        PhoneFmt::E164,
        PhoneFmt::IntlTrunk,
    ];
    let work = r
        .landline
        .map(|ph| phone_text(ph, Country::Us, &nat, &intl, rng))
        .unwrap_or_default();
    let work = or_missing(work, 0.4, rng);
    let cell = r
        .mobile
        .map(|ph| phone_text(ph, Country::Us, &nat, &intl, rng))
        .unwrap_or_default();
    let cell = or_missing(cell, 0.3, rng);
    let company = p
        .company
        .as_ref()
        .map(|c| c.shown(rng).to_string())
        .unwrap_or_default();
    let company = or_missing(company, 0.2, rng);
    let street = r.street_with_line2(rng);
    let street = or_missing(street, 0.35, rng);
    let mut zip = r.postcode();
    if zip.starts_with('0') && zip.bytes().all(|b| b.is_ascii_digit()) && rng.chance(0.6) {
        // The spreadsheet turned the postcode into a number.
        zip = zip.trim_start_matches('0').to_string();
    }
    let zip = or_missing(zip, 0.2, rng);
    let city = or_missing(r.city.clone(), 0.1, rng);
    let state = if r.addr.city.country == Country::Us {
        or_missing(r.addr.city.region.to_string(), 0.2, rng)
    } else {
        sales_missing(rng).to_string()
    };
    let country = match r.addr.city.country {
        Country::Us => *rng.pick(&["USA", "US", "United States", ""]),
        Country::De => *rng.pick(&["Germany", "DE", "Deutschland"]),
        Country::Uk => *rng.pick(&["UK", "United Kingdom", "England", "GB"]),
        Country::Fr => *rng.pick(&["France", "FR"]),
    };
    let dob = if rng.chance(0.75) {
        sales_missing(rng).to_string()
    } else if rng.chance(0.02) {
        // A colleague from the European office: day first. Sometimes unparseable,
        // sometimes silently wrong.
        fmt_date(p.birth, DateStyle::EuSlash)
    } else {
        fmt_date(p.birth, DateStyle::UsLoose)
    };
    let last_contact = {
        let (y, m, d, hh, mm, _) = split_ts(r.updated);
        format!("{m}/{d}/{y:04} {hh:02}:{mm:02}")
    };
    let newsletter = match rng.below(4) {
        0 => "",
        _ if p.consent => *rng.pick(&["Y", "yes", "x"]),
        _ => *rng.pick(&["N", "no"]),
    };
    let owner = *rng.pick(data::SALES_OWNERS);
    let notes = *rng.pick(data::SALES_NOTES);
    csv_row(
        out,
        &[
            key,
            &first,
            &last,
            &email,
            &work,
            &cell,
            &company,
            &street,
            &zip,
            &city,
            &state,
            country,
            &dob,
            &last_contact,
            owner,
            newsletter,
            notes,
        ],
        ',',
        "\r\n",
    );
}

fn newsletter_row(out: &mut String, key: &str, p: &Person, r: &Rec, rng: &mut Rng) {
    let first = if rng.chance(0.2) {
        String::new()
    } else {
        r.given.clone()
    };
    let consent = if p.consent {
        if rng.chance(0.92) {
            "subscribed"
        } else {
            "cleaned"
        }
    } else if rng.chance(0.8) {
        "unsubscribed"
    } else {
        "subscribed"
    };
    let (y, m, d, hh, mm, ss) = split_ts(r.created);
    let optin = format!("{y:04}-{m:02}-{d:02} {hh:02}:{mm:02}:{ss:02}");
    let channel = *rng.pick(&["website", "checkout", "event", "import", "popup"]);
    csv_row(
        out,
        &[key, &r.email, &first, consent, &optin, channel],
        ',',
        "\n",
    );
}

#[cfg(test)]
mod tests;
