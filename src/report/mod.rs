//! Reports of runs and experiments: figures like the book's.

pub mod plot;
