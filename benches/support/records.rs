//! Generated customer records for the cleansing benchmark (shared by `benches/cleanse.rs`).
//!
//! Deterministic, with the variety real exports have: names in several orders and cases
//! with titles, particles and umlauts; personal e-mail addresses (mostly distinct); phone
//! numbers in national and international forms (distinct); streets with house numbers
//! (mostly distinct); postcodes, cities, countries and given names that repeat, as they do
//! in customer data; birth dates and timestamps.

use std::path::Path;

use chrono::NaiveDate;
use crmfuse::config::SourceFormat;
use crmfuse::mapping::Mapping;
use crmfuse::record::{Field, SourceRecord};

/// xorshift64*: reproducible and dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

const GIVEN: &[&str] = &[
    "Anna",
    "Hans",
    "Jürgen",
    "Zoë",
    "Klaus",
    "Monika",
    "Thomas",
    "Stefan",
    "Sabine",
    "Andreas",
    "Michael",
    "Petra",
    "Wolfgang",
    "Ursula",
    "Bernd",
    "Käthe",
    "Jörg",
    "Ralf",
    "Birgit",
    "Markus",
    "Christiane",
    "Niklas",
    "Heike",
    "Dörte",
    "Elisabeth",
    "Veronika",
    "Lukas",
    "Johanna",
    "Maria",
    "Sven",
    "Gabriele",
    "Rüdiger",
    "Charlotte",
    "Emily",
    "Oliver",
    "James",
    "Sarah",
    "Katherine",
    "Robert",
    "William",
    "Benoît",
    "Élodie",
    "François",
    "Camille",
    "Léa",
    "Sophie",
    "Reto",
    "Regula",
    "Ayşe",
    "Mehmet",
    "Fatma",
    "Łukasz",
    "Zofia",
    "Jan",
    "Pieter",
    "Sanne",
    "Seán",
    "Siobhán",
    "Giulia",
    "Marco",
    "José",
    "Lucía",
    "Hans-Peter",
    "Jean-Luc",
    "Marie-Claire",
    "Bob",
    "Liz",
    "Chris",
    "Tom",
    "Kathi",
    "Sepp",
    "Franz",
];

const FAMILY: &[&str] = &[
    "Müller",
    "Schmidt",
    "Schneider",
    "Fischer",
    "Weber",
    "Meyer",
    "Wagner",
    "Becker",
    "Schulz",
    "Hoffmann",
    "Schäfer",
    "Koch",
    "Bauer",
    "Richter",
    "Klein",
    "Wolf",
    "Schröder",
    "Neumann",
    "Schwarz",
    "Zimmermann",
    "Braun",
    "Krüger",
    "Hofmann",
    "Hartmann",
    "Lange",
    "Schmitt",
    "Werner",
    "Schmitz",
    "Krause",
    "Meier",
    "Lehmann",
    "Schmid",
    "Schulze",
    "Maier",
    "Köhler",
    "Herrmann",
    "König",
    "Walter",
    "Mayer",
    "Huber",
    "Kaiser",
    "Fuchs",
    "Peters",
    "Lang",
    "Scholz",
    "Möller",
    "Weiß",
    "Jung",
    "Hahn",
    "Öztürk",
    "Yılmaz",
    "Kowalski",
    "Nowak",
    "van der Berg",
    "de Vries",
    "van Dijk",
    "von Bismarck",
    "de la Cruz",
    "McDonald",
    "O'Brien",
    "MacLeod",
    "Smith",
    "Jones",
    "Williams",
    "Taylor",
    "Evans",
    "Thompson",
    "Lefèvre",
    "Dubois",
    "Moreau",
    "Laurent",
    "Bürki",
    "Zürcher",
    "Rossi",
    "García",
    "Meyer-Lüdenscheid",
    "Gruber",
    "Pichler",
    "Steiner",
];

const TITLES: &[&str] = &["Dr.", "Prof. Dr.", "Herr", "Frau", "Mr", "Mrs", "Mme"];
const SUFFIXES: &[&str] = &["Jr.", "Sr.", "III"];

/// German street names are built from a stem and a type (`Goethe` + `straße`): with house
/// numbers, tens of thousands of distinct lines, as in a national customer base.
const STREET_STEMS_DE: &[&str] = &[
    "Haupt",
    "Bahnhof",
    "Garten",
    "Schul",
    "Dorf",
    "Berg",
    "Kirch",
    "Linden",
    "Mühlen",
    "Goethe",
    "Schiller",
    "Friedrich",
    "Wilhelm",
    "Kaiser-Joseph-",
    "Leopold",
    "König",
    "Oster",
    "Ring",
    "Wiesen",
    "Wald",
    "Birken",
    "Eichen",
    "Rosen",
    "Tannen",
    "Buchen",
    "Ahorn",
    "Sonnen",
    "Feld",
    "Mozart",
    "Beethoven",
    "Bismarck",
    "Lessing",
    "Heine",
    "Kant",
    "Luisen",
    "Marien",
    "Sophien",
    "Karl-Marx-",
    "Rathaus",
    "Markt",
    "Post",
    "Brunnen",
    "Burg",
    "Schloss",
    "Hafen",
    "Fluss",
    "Brücken",
    "Kloster",
    "Industrie",
    "Hammer ",
    "Gohliser ",
    "Mariahilfer ",
    "Podbielski",
    "Zülpicher ",
    "Alaun",
    "Warendorfer ",
    "Osnabrücker ",
    "Frankfurter ",
    "Münchner ",
    "Berliner ",
];
const STREET_TYPES_DE: &[&str] = &[
    "straße", "strasse", "str.", "weg", "platz", "allee", "gasse", "ring", "Straße", "Str.",
];
const STREETS_EN: &[&str] = &[
    "Main Street",
    "High Street",
    "Park Road",
    "Church Lane",
    "Wilmslow Road",
    "Station Road",
    "Albion Road",
    "Gloucester Rd",
    "Coldharbour Lane",
    "Elm Avenue",
    "North Main St",
    "Victoria Street",
    "King's Road",
    "Queen St.",
];
const STREETS_FR: &[&str] = &[
    "rue de la Paix",
    "Boulevard Haussmann",
    "avenue des Champs-Élysées",
    "place du Marché",
    "rue Victor Hugo",
    "chemin des Vignes",
];
const CITIES_DE: &[&str] = &[
    "Berlin",
    "Hamburg",
    "München",
    "Köln",
    "Frankfurt am Main",
    "Stuttgart",
    "Düsseldorf",
    "Leipzig",
    "Dortmund",
    "Essen",
    "Bremen",
    "Dresden",
    "Hannover",
    "Nürnberg",
    "Freiburg",
    "Münster",
    "Garmisch-Partenkirchen",
    "Muenchen",
    "KÖLN",
    "frankfurt am main",
];
const COUNTRIES_DE: &[&str] = &[
    "Deutschland",
    "DE",
    "D",
    "Germany",
    "de",
    "deutschland",
    "BRD",
    "Deutschland",
];
const COUNTRIES_OTHER: &[(&str, &str)] = &[
    ("Österreich", "AT"),
    ("A", "AT"),
    ("Schweiz", "CH"),
    ("CH", "CH"),
    ("UK", "GB"),
    ("Vereinigtes Königreich", "GB"),
    ("Großbritannien", "GB"),
    ("Frankreich", "FR"),
    ("France", "FR"),
    ("Niederlande", "NL"),
];
const DOMAINS: &[&str] = &[
    "gmail.com",
    "web.de",
    "gmx.de",
    "gmx.at",
    "t-online.de",
    "outlook.com",
    "yahoo.de",
    "example.de",
    "example.com",
    "bluewin.ch",
    "gmial.com",
    "hotmail.com",
    "icloud.com",
];
const MOBILE: &[&str] = &[
    "0151", "0152", "0160", "0170", "0171", "0172", "0176", "0157",
];
const AREA: &[&str] = &[
    "030", "040", "089", "0221", "069", "0711", "0211", "0341", "0351",
];

fn cap(s: &str) -> String {
    s.to_uppercase()
}

fn person_name(rng: &mut Rng, given: &str, family: &str) -> String {
    let title = if rng.chance(8) {
        format!("{} ", rng.pick(TITLES))
    } else {
        String::new()
    };
    let suffix = if rng.chance(2) {
        format!(" {}", rng.pick(SUFFIXES))
    } else {
        String::new()
    };
    let middle = if rng.chance(15) {
        format!(" {}.", (b'A' + rng.below(26) as u8) as char)
    } else {
        String::new()
    };
    match rng.below(10) {
        0..=3 => format!("{family}, {title}{given}{middle}{suffix}"),
        4..=6 => format!("{title}{given}{middle} {family}{suffix}"),
        7 => cap(&format!("{family}, {given}{middle}")),
        8 => cap(&format!("{given} {family}")),
        _ => format!("  {given}  {family} "),
    }
}

fn phone(rng: &mut Rng) -> String {
    let n = 1_000_000 + rng.below(9_000_000);
    match rng.below(10) {
        0..=2 => format!("{} {n}", rng.pick(MOBILE)),
        3 => format!("{}/{n}", rng.pick(MOBILE)),
        4 => format!("+49 {} {n}", &rng.pick(MOBILE)[1..]),
        5 => format!("0049 {} {n}", &rng.pick(AREA)[1..]),
        6 => format!("({}) {n}", rng.pick(AREA)),
        7 => format!("{}-{n}", rng.pick(AREA)),
        8 => format!("+49 (0){} {n}", &rng.pick(AREA)[1..]),
        _ => format!("+44 20 7946 {:04}", rng.below(10_000)),
    }
}

/// One generated source row.
fn record(rng: &mut Rng, i: usize) -> SourceRecord {
    let given = rng.pick(GIVEN);
    let family = rng.pick(FAMILY);
    let mut values: Vec<(Field, String)> = Vec::with_capacity(14);
    values.push((Field::FullName, person_name(rng, given, family)));
    if rng.chance(85) {
        let local = format!(
            "{}.{}{}",
            given.to_lowercase(),
            family.to_lowercase().replace(' ', ""),
            rng.below(1000)
        );
        let local = if rng.chance(10) {
            format!("{local}+shop")
        } else {
            local
        };
        values.push((Field::Email, format!("{local}@{}", rng.pick(DOMAINS))));
    }
    values.push((Field::Phone, phone(rng)));
    if rng.chance(30) {
        values.push((Field::Phone, phone(rng)));
    }
    let (country, street, postcode, city) = match rng.below(10) {
        0..=6 => (
            rng.pick(COUNTRIES_DE).to_string(),
            format!(
                "{}{} {}{}",
                rng.pick(STREET_STEMS_DE),
                rng.pick(STREET_TYPES_DE),
                1 + rng.below(180),
                if rng.chance(10) { "a" } else { "" }
            ),
            format!("{:05}", 1067 + rng.below(3000) * 31),
            rng.pick(CITIES_DE).to_string(),
        ),
        7 => {
            let (c, _) = COUNTRIES_OTHER[rng.below(3)];
            (
                c.to_string(),
                format!(
                    "{}{} {}",
                    rng.pick(STREET_STEMS_DE),
                    rng.pick(STREET_TYPES_DE),
                    1 + rng.below(120)
                ),
                format!("{}", 1010 + rng.below(900)),
                "Wien".to_string(),
            )
        }
        8 => (
            COUNTRIES_OTHER[4 + rng.below(3)].0.to_string(),
            format!("{} {}", 1 + rng.below(300), rng.pick(STREETS_EN)),
            rng.pick(&["SW1A 1AA", "m202rw", "EH1 2NG", "BS6 5QA", "N16 9PS"])
                .to_string(),
            rng.pick(&["London", "Manchester", "Edinburgh", "Bristol"])
                .to_string(),
        ),
        _ => (
            COUNTRIES_OTHER[7 + rng.below(2)].0.to_string(),
            format!("{} {}", 1 + rng.below(200), rng.pick(STREETS_FR)),
            format!("750{:02}", 1 + rng.below(20)),
            "Paris".to_string(),
        ),
    };
    values.push((Field::AddressLine1, street));
    values.push((Field::Postcode, postcode));
    values.push((Field::City, city));
    if rng.chance(80) {
        values.push((Field::Country, country));
    }
    if rng.chance(70) {
        let d = 1 + rng.below(28);
        let m = 1 + rng.below(12);
        let y = 1940 + rng.below(66);
        values.push((Field::BirthDate, format!("{d:02}.{m:02}.{y}")));
    }
    if rng.chance(10) {
        values.push((Field::Company, format!("Firma {} GmbH", rng.pick(FAMILY))));
    }
    let t = 1_200_000_000 + rng.below(500_000_000) as i64;
    let ts = chrono::DateTime::from_timestamp(t, 0)
        .map(|d| d.format("%d.%m.%Y %H:%M").to_string())
        .unwrap_or_default();
    values.push((Field::CreatedAt, ts.clone()));
    if rng.chance(60) {
        values.push((Field::UpdatedAt, ts));
    }
    values.push((
        Field::MarketingConsent,
        rng.pick(&["ja", "nein", "J", "N", "1", "0"]).to_string(),
    ));
    SourceRecord {
        source: 0,
        key: format!("K{i:08}"),
        line: i as u64 + 2,
        hash: i as u64,
        values,
        extra: Vec::new(),
    }
}

pub fn records(n: usize) -> Vec<SourceRecord> {
    let mut rng = Rng(0x5eed_cafe_f00d_0001);
    (0..n).map(|i| record(&mut rng, i)).collect()
}

pub fn mapping() -> Mapping {
    Mapping::parse(
        Path::new("bench.toml"),
        r#"
key = "id"
phone_region = "DE"
date_format = "%d.%m.%Y"
[fields]
full_name = { column = "NAME", order = "last_first" }
email = "EMAIL"
phone = ["TEL", "MOBIL"]
address_line1 = "STRASSE"
postcode = "PLZ"
city = "ORT"
country = "LAND"
birth_date = { column = "GEBDAT", format = "%d.%m.%Y" }
company = "FIRMA"
created_at = { column = "ANGELEGT", format = "%d.%m.%Y %H:%M" }
updated_at = { column = "GEAENDERT", format = "%d.%m.%Y %H:%M" }
marketing_consent = "NL"
"#,
        SourceFormat::Csv,
    )
    .expect("bench mapping parses")
}

pub fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 23).expect("a date")
}
