//! crmfuse: consolidate customer data from siloed systems into one trustworthy CRM store.
//!
//! The pipeline reads as its stages: [`ingest`] -> [`cleanse`] -> [`block`] -> [`score`] ->
//! [`cluster`] -> [`survive`] -> [`load`], orchestrated by [`pipeline`] and [`run`].
//! [`gates`] judge a run before it loads, [`report`] describes it (with [`quality`]), a
//! steward's [`decisions`] feed back into clustering, and [`explain`] reads what a run
//! recorded; [`retire`] tells what switching a source off would lose; [`check`] verifies the store's invariants and [`profile`] reports each
//! source's quality before a run. Every CSV the tool writes goes through [`csv_out`].

pub mod block;
pub mod bulk;
pub mod check;
pub mod cleanse;
pub mod cluster;
pub mod config;
pub mod csv_out;
pub mod decisions;
pub mod digest;
pub mod error;
pub mod evaluate;
pub mod explain;
pub mod gates;
pub mod hash;
pub mod history;
pub mod incremental;
pub mod ingest;
pub mod interrupt;
pub mod load;
pub mod mapping;
pub mod nicknames;
pub mod overrides;
pub mod pipeline;
pub mod profile;
pub mod progress;
pub mod quality;
pub mod record;
pub mod report;
pub mod retire;
pub mod rng;
pub mod rollback;
pub mod run;
pub mod score;
pub mod store;
pub mod survive;
pub mod synth;
pub mod train;

pub use error::{Error, Result};
