//! crmfuse: consolidate customer data from siloed systems into one trustworthy CRM store.
//!
//! The pipeline reads as its stages: [`ingest`] -> [`cleanse`] -> [`block`] -> [`score`] ->
//! [`cluster`] -> [`survive`] -> [`load`], orchestrated by [`pipeline`] and [`run`].
//! [`explain`] reads what a run recorded; [`profile`] reports each source's quality before
//! a run.

pub mod block;
pub mod cleanse;
pub mod cluster;
pub mod config;
pub mod error;
pub mod evaluate;
pub mod explain;
pub mod hash;
pub mod ingest;
pub mod load;
pub mod mapping;
pub mod nicknames;
pub mod pipeline;
pub mod profile;
pub mod progress;
pub mod record;
pub mod run;
pub mod score;
pub mod store;
pub mod survive;

pub use error::{Error, Result};
