pub mod rng;
pub mod synth;
